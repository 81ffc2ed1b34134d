"""A member's copy of everything Dues holds about them (the right of access and to data
portability): profile, status history, memberships, invoices with their lines, payments,
saved payment methods (the gateway's token is ours, not theirs: brand and last digits
only), messages sent to them and notes staff wrote. Amounts stay in minor units with
their currency, dates in ISO 8601, so the file reads back exactly."""

from __future__ import annotations

from typing import Any

from dues.billing.models import InvoiceLine
from dues.members.models import Member
from dues.notify.models import Message
from dues.payments.models import PaymentMethod
from dues.portal.selectors import member_invoices, member_memberships, member_payments


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def member_export(member: Member) -> dict[str, Any]:
    invoices = list(member_invoices(member))
    lines: dict[int, list[dict[str, Any]]] = {}
    for line in InvoiceLine.objects.filter(invoice__in=invoices).order_by("id"):
        lines.setdefault(line.invoice_id, []).append(
            {
                "description": line.description,
                "quantity": line.quantity,
                "net_amount": line.net_amount,
                "tax_amount": line.tax_amount,
                "tax_rate_bp": line.tax_rate_bp,
                "period_start": _iso(line.period_start),
                "period_end": _iso(line.period_end),
            }
        )
    return {
        "format": "dues.member-export/1",
        "organization": member.organization.name,
        "profile": {
            "member_number": member.member_number,
            "first_name": member.first_name,
            "last_name": member.last_name,
            "email": member.email,
            "phone": member.phone,
            "date_of_birth": _iso(member.date_of_birth),
            "address": member.address,
            "language": member.language,
            "status": member.status,
            "created_at": _iso(member.created_at),
        },
        "status_history": [
            {
                "from": c.from_status,
                "to": c.to_status,
                "reason": c.reason,
                "at": _iso(c.changed_at),
            }
            for c in member.status_history.order_by("changed_at", "id")
        ],
        "emergency_contacts": [
            {"name": c.name, "relationship": c.relationship, "phone": c.phone}
            for c in member.emergency_contacts.order_by("id")
        ],
        "memberships": [
            {
                "member": s.member.full_name,
                "plan": s.plan.name,
                "location": s.location.name,
                "status": s.status,
                "price": s.price,
                "currency": s.currency,
                "interval": s.interval,
                "start_date": _iso(s.start_date),
                "minimum_term_end": _iso(s.minimum_term_end),
                "cancel_at": _iso(s.cancel_at),
                "sold_online": s.sold_online,
            }
            for s in member_memberships(member)
        ],
        "invoices": [
            {
                "number": i.number,
                "status": i.status,
                "currency": i.currency,
                "issue_date": _iso(i.issue_date),
                "due_date": _iso(i.due_date),
                "total": i.total,
                "tax": i.tax,
                "amount_paid": i.amount_paid,
                "amount_due": i.amount_due,
                "lines": lines.get(i.pk, []),
            }
            for i in invoices
        ],
        "payments": [
            {
                "invoice": p.invoice.number if p.invoice else None,
                "method": p.method,
                "amount": p.amount,
                "amount_refunded": p.amount_refunded,
                "currency": p.currency,
                "received_at": _iso(p.received_at),
            }
            for p in member_payments(member)
        ],
        "payment_methods": [
            {
                "kind": m.kind,
                "brand": m.brand,
                "last4": m.last4,
                "exp_month": m.exp_month,
                "exp_year": m.exp_year,
                "status": m.status,
                "default": m.is_default,
            }
            for m in PaymentMethod.objects.filter(
                organization_id=member.organization_id, payer=member
            ).order_by("id")
        ],
        "messages": [
            {
                "channel": m.channel,
                "to": m.to,
                "subject": m.subject,
                "body": m.body,
                "status": m.status,
                "created_at": _iso(m.created_at),
            }
            for m in Message.objects.filter(
                organization_id=member.organization_id, member=member
            ).order_by("created_at", "id")
        ],
        "notes": [
            {"text": n.text, "author": n.author, "created_at": _iso(n.created_at)}
            for n in member.notes.order_by("created_at", "id")
        ],
    }
