"""A member's copy of everything Dues holds about them (the right of access and to data
portability): profile, status history, memberships, invoices with their lines, payments,
saved payment methods (the gateway's token is ours, not theirs: brand and last digits
only), messages sent to them, notes staff wrote, their notification preferences and the
history of their marketing consent. Amounts stay in minor units with their currency,
dates in ISO 8601, so the file reads back exactly.

``member_export`` gathers it (the JSON download); ``member_export_zip`` lays the same data
out as spreadsheets, one CSV file per section, without reading anything again."""

from __future__ import annotations

import csv
import io
import re
import zipfile
from collections.abc import Iterable
from datetime import UTC
from typing import Any

from dues.billing.models import InvoiceLine
from dues.core.channels import Channel
from dues.core.clock import Clock
from dues.members.models import Member
from dues.members.selectors import PAYMENT_ALWAYS_ON, consent_history
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
        "notification_preferences": {
            "service_email": member.service_email,
            "service_sms": member.service_sms,
            "service_in_app": member.service_in_app,
            # Email and in-app cannot be turned off for payment messages.
            "payment_email": Channel.EMAIL in PAYMENT_ALWAYS_ON,
            "payment_sms": member.payment_sms,
            "payment_in_app": Channel.IN_APP in PAYMENT_ALWAYS_ON,
        },
        "consent_history": [
            {
                "channel": c.channel,
                "granted": c.granted,
                "source": c.source,
                "changed_by": c.changed_by,
                "ip_address": c.ip_address,
                "wording_version": c.wording_version,
                "language": c.language,
                "changed_at": _iso(c.changed_at),
            }
            for c in consent_history(member)
        ],
    }


# The spreadsheet files and their columns, in order: every key of the section in
# ``member_export`` (a test holds the two together). Invoice lines get their own file,
# each line naming its invoice.
CSV_FILES: dict[str, tuple[str, ...]] = {
    "profile": (
        "organization",
        "member_number",
        "first_name",
        "last_name",
        "email",
        "phone",
        "date_of_birth",
        "address",
        "language",
        "status",
        "created_at",
    ),
    "status_history": ("from", "to", "reason", "at"),
    "emergency_contacts": ("name", "relationship", "phone"),
    "memberships": (
        "member",
        "plan",
        "location",
        "status",
        "price",
        "currency",
        "interval",
        "start_date",
        "minimum_term_end",
        "cancel_at",
        "sold_online",
    ),
    "invoices": (
        "number",
        "status",
        "currency",
        "issue_date",
        "due_date",
        "total",
        "tax",
        "amount_paid",
        "amount_due",
    ),
    "invoice_lines": (
        "invoice",
        "description",
        "quantity",
        "net_amount",
        "tax_amount",
        "tax_rate_bp",
        "period_start",
        "period_end",
    ),
    "payments": ("invoice", "method", "amount", "amount_refunded", "currency", "received_at"),
    "payment_methods": ("kind", "brand", "last4", "exp_month", "exp_year", "status", "default"),
    "messages": ("channel", "to", "subject", "body", "status", "created_at"),
    "notes": ("text", "author", "created_at"),
    "notification_preferences": (
        "service_email",
        "service_sms",
        "service_in_app",
        "payment_email",
        "payment_sms",
        "payment_in_app",
    ),
    "consent_history": (
        "channel",
        "granted",
        "source",
        "changed_by",
        "ip_address",
        "wording_version",
        "language",
        "changed_at",
    ),
}

# A cell a spreadsheet would run as a formula (=, +, -, @ first) gets a leading apostrophe,
# so a note or a name can never run anything on the member's computer; plain numbers and
# phone numbers ("+46 70-123 45 67") stay as they are.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_NUMBER_LIKE = re.compile(r"[+-]?[\d\s().\-/]*\Z")


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    text = str(value)
    if text.startswith(_FORMULA_START) and not _NUMBER_LIKE.match(text):
        return "'" + text
    return text


def csv_rows(data: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """The sections of ``member_export``'s result as rows, one list per CSV file."""
    profile = {"organization": data["organization"], **data["profile"]}
    lines = [
        {"invoice": invoice["number"], **line}
        for invoice in data["invoices"]
        for line in invoice["lines"]
    ]
    invoices = [{k: v for k, v in i.items() if k != "lines"} for i in data["invoices"]]
    return {
        "profile": [profile],
        "status_history": data["status_history"],
        "emergency_contacts": data["emergency_contacts"],
        "memberships": data["memberships"],
        "invoices": invoices,
        "invoice_lines": lines,
        "payments": data["payments"],
        "payment_methods": data["payment_methods"],
        "messages": data["messages"],
        "notes": data["notes"],
        "notification_preferences": [data["notification_preferences"]],
        "consent_history": data["consent_history"],
    }


def _csv_bytes(columns: tuple[str, ...], rows: Iterable[dict[str, Any]]) -> bytes:
    """UTF-8 with a byte-order mark: without it Excel reads the file in the computer's
    legacy code page and Swedish, Thai or Chinese text comes out garbled."""
    out = io.StringIO()
    writer = csv.writer(out)  # RFC 4180: commas, quotes where needed, CRLF
    writer.writerow(columns)
    for row in rows:
        writer.writerow([_cell(row[name]) for name in columns])
    return out.getvalue().encode("utf-8-sig")


def member_export_zip(member: Member, *, clock: Clock) -> bytes:
    """``member_export`` as a ZIP of CSV files (``profile.csv``, ``invoices.csv``, ...),
    each with a header row, also when the section is empty."""
    sections = csv_rows(member_export(member))
    now = clock.now().astimezone(UTC)
    stamp = (now.year, now.month, now.day, now.hour, now.minute, now.second)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, columns in CSV_FILES.items():
            info = zipfile.ZipInfo(f"{name}.csv", date_time=stamp)
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, _csv_bytes(columns, sections[name]))
    return buffer.getvalue()
