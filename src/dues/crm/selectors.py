"""A member's timeline: every message, payment attempt, restriction, dunning case and
payment dispute, newest first, so staff see at a glance what the member was told and
what happened."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from dues.billing.models import Restriction
from dues.dunning.models import DunningCase
from dues.members.models import Member
from dues.notify.models import Message
from dues.payments.models import Dispute, PaymentAttempt


@dataclass(frozen=True)
class Entry:
    at: datetime
    kind: str  # message, payment_attempt, restriction, dunning_case, dispute
    summary: str
    detail: dict[str, Any]


def member_timeline(member: Member, *, limit: int = 200) -> list[Entry]:
    """The ``limit`` newest entries. Payments are the payer's: a household member's
    timeline shows their messages and restrictions, the payer's shows the money."""
    entries: list[Entry] = []
    for m in Message.objects.filter(member=member).order_by("-created_at", "-id")[:limit]:
        entries.append(
            Entry(
                m.created_at,
                "message",
                f"{m.get_channel_display()}: {m.subject or m.template} ({m.get_status_display()})",
                {
                    "id": m.pk,
                    "channel": m.channel,
                    "template": m.template,
                    "language": m.language,
                    "status": m.status,
                    "to": m.to,
                    "error": m.error,
                    "sent_at": m.sent_at,
                    "read_at": m.read_at,
                    "invoice_id": m.invoice_id,
                },
            )
        )
    attempts = (
        PaymentAttempt.objects.filter(invoice__payer=member)
        .select_related("invoice", "payment_method")
        .order_by("-created_at", "-id")[:limit]
    )
    for a in attempts:
        card = a.payment_method
        outcome = a.status if not a.decline_code else f"{a.status}: {a.decline_code}"
        entries.append(
            Entry(
                a.created_at,
                "payment_attempt",
                f"Charge {a.attempt_number} for invoice {a.invoice.number}: {outcome}",
                {
                    "id": a.pk,
                    "invoice_id": a.invoice_id,
                    "attempt_number": a.attempt_number,
                    "amount": a.amount,
                    "currency": a.currency,
                    "status": a.status,
                    "decline_code": a.decline_code,
                    "advice_code": a.advice_code,
                    "card": f"{card.brand} •••• {card.last4}",
                },
            )
        )
    restrictions = Restriction.objects.filter(subscription__member=member).order_by("-starts_at")
    for r in restrictions[:limit]:
        entries.append(
            Entry(
                r.starts_at,
                "restriction",
                f"{r.get_kind_display()} blocked: {r.reason}",
                {"id": r.pk, "kind": r.kind, "source": r.source, "ends_at": r.ends_at},
            )
        )
        if r.ends_at:
            entries.append(
                Entry(
                    r.ends_at,
                    "restriction",
                    f"{r.get_kind_display()} unblocked: {r.lifted_reason}",
                    {"id": r.pk, "kind": r.kind, "source": r.source, "ends_at": r.ends_at},
                )
            )
    cases = DunningCase.objects.filter(payer=member).select_related("invoice")
    for c in cases.order_by("-opened_at")[:limit]:
        entries.append(
            Entry(
                c.opened_at,
                "dunning_case",
                f"Invoice {c.invoice.number} overdue: {c.last_decline_code}",
                {"id": c.pk, "invoice_id": c.invoice_id, "status": c.status},
            )
        )
        if c.closed_at:
            entries.append(
                Entry(
                    c.closed_at,
                    "dunning_case",
                    f"Invoice {c.invoice.number}: {c.get_status_display()}",
                    {"id": c.pk, "invoice_id": c.invoice_id, "status": c.status},
                )
            )
    disputes = Dispute.objects.filter(payment__payer=member).order_by("-opened_at", "-id")
    for dispute in disputes[:limit]:
        detail = {
            "id": dispute.pk,
            "payment_id": dispute.payment_id,
            "reference": dispute.reference,
            "amount": dispute.amount,
            "currency": dispute.currency,
            "reason": dispute.reason,
            "status": dispute.status,
            "evidence_due_by": dispute.evidence_due_by,
            "closed_at": dispute.closed_at,
        }
        entries.append(
            Entry(
                dispute.opened_at,
                "dispute",
                f"Payment disputed: {dispute.reason} ({dispute.get_status_display()})",
                detail,
            )
        )
        if dispute.closed_at:
            entries.append(
                Entry(
                    dispute.closed_at,
                    "dispute",
                    f"Payment dispute {dispute.get_status_display().lower()}: {dispute.reason}",
                    detail,
                )
            )
    entries.sort(key=lambda e: e.at, reverse=True)
    return entries[:limit]
