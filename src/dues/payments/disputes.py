"""Disputes (chargebacks), from the gateway's dispute objects.

The money follows the network: when a dispute becomes a chargeback the amount leaves
clearing for "disputed"; a win brings it back, a loss makes it an expense. Each movement is
posted once (journal entries are keyed by kind and source), and the dispute's state only
moves forward: an older event, or any event after the decision, changes nothing. So events
that arrive twice or out of order leave the same books.

Opening a dispute puts it on the member's timeline and gives staff a task, due when the
evidence is, holding what the gym has to answer with.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from django.db import transaction

from dues.billing.models import Invoice
from dues.core.clock import Clock
from dues.core.outbox import event_build, events_emit_bulk
from dues.crm.models import Task
from dues.ledger import chart
from dues.ledger.models import JournalEntry
from dues.ledger.services import EntrySpec, entries_post
from dues.notify.models import Message
from dues.payments.models import Dispute, Payment

# Stripe's dispute statuses. "warning_*" are inquiries: no money has moved.
STATUS = {
    "warning_needs_response": Dispute.Status.NEEDS_RESPONSE,
    "needs_response": Dispute.Status.NEEDS_RESPONSE,
    "warning_under_review": Dispute.Status.UNDER_REVIEW,
    "under_review": Dispute.Status.UNDER_REVIEW,
    "warning_closed": Dispute.Status.WON,
    "won": Dispute.Status.WON,
    "prevented": Dispute.Status.WON,
    "lost": Dispute.Status.LOST,
}
CLOSED = (Dispute.Status.WON, Dispute.Status.LOST)


def _at(timestamp: int | None) -> datetime | None:
    return datetime.fromtimestamp(timestamp, UTC) if timestamp else None


def dispute_apply(
    *, obj: dict[str, Any], payment: Payment, event_at: datetime, clock: Clock
) -> str:
    """Bring our dispute to what the gateway's object says; returns what was done."""
    status = STATUS.get(obj["status"])
    if status is None:
        return f"unknown dispute status {obj['status']!r}"
    with transaction.atomic():
        dispute = Dispute.objects.select_for_update().filter(reference=obj["id"]).first()
        created = dispute is None
        if dispute is None:
            dispute = Dispute(
                organization_id=payment.organization_id,
                payment=payment,
                reference=obj["id"],
                opened_at=_at(obj.get("created")) or event_at,
            )
        elif dispute.status in CLOSED:
            return "dispute already decided"
        elif event_at < dispute.gateway_updated_at:
            return "older than what we have"
        before = None if created else dispute.status
        dispute.amount = int(obj["amount"])
        dispute.currency = obj["currency"].upper()
        dispute.reason = (obj.get("reason") or "")[:60]
        dispute.status = status
        dispute.gateway_status = obj["status"]
        dispute.evidence_due_by = _at((obj.get("evidence_details") or {}).get("due_by"))
        dispute.gateway_updated_at = event_at
        if status in CLOSED:
            dispute.closed_at = event_at
        dispute.save()
        _post(dispute, at=event_at)
        if created:
            _task_open(dispute, clock)
        if status in CLOSED:
            Task.objects.filter(
                source_type="dispute", source_id=dispute.pk, status=Task.Status.OPEN
            ).update(status=Task.Status.DONE, done_at=clock.now())
        if status in CLOSED:
            events_emit_bulk([_event(dispute, "dispute.closed", clock)])
        elif created:
            events_emit_bulk([_event(dispute, "dispute.opened", clock)])
        elif before != status:
            events_emit_bulk([_event(dispute, "dispute.updated", clock)])
    return f"dispute {dispute.status}"


# Journal entry kind → (debit, credit).
MOVES = {
    "dispute_withdrawn": (chart.DISPUTED, chart.CLEARING),
    "dispute_won": (chart.CLEARING, chart.DISPUTED),
    "dispute_lost": (chart.CHARGEBACKS, chart.DISPUTED),
}


def dispute_entries(status: str, gateway_status: str) -> list[str]:
    """The entry kinds a dispute in this state has posted: none for an inquiry."""
    if gateway_status.startswith("warning_"):
        return []
    kinds = ["dispute_withdrawn"]
    if status == Dispute.Status.WON:
        kinds.append("dispute_won")
    if status == Dispute.Status.LOST:
        kinds.append("dispute_lost")
    return kinds


def _post(dispute: Dispute, *, at: datetime) -> None:
    """Post each money movement the dispute has reached and not yet posted."""
    posted = set(
        JournalEntry.objects.filter(source_type="dispute", source_id=dispute.pk).values_list(
            "kind", flat=True
        )
    )
    specs = []
    for kind in dispute_entries(dispute.status, dispute.gateway_status):
        if kind in posted:
            continue
        debit, credit = MOVES[kind]
        spec = EntrySpec(
            organization_id=dispute.organization_id,
            kind=kind,
            source_type="dispute",
            source_id=dispute.pk,
            posted_at=at,
            memo=dispute.reference,
        )
        spec.add(debit, dispute.amount, dispute.currency)
        spec.add(credit, -dispute.amount, dispute.currency)
        specs.append(spec)
    entries_post(specs)


def dispute_evidence(payment: Payment) -> dict[str, Any]:
    """What the gym holds to show the charge was owed: the invoice and what it was for,
    the membership's terms, the member's earlier payments and what we told them."""
    invoice: Invoice | None = payment.invoice
    payer = payment.payer
    evidence: dict[str, Any] = {
        "member": {"id": payer.pk, "name": payer.full_name, "email": payer.email},
        "payment": {
            "id": payment.pk,
            "amount": payment.amount,
            "currency": payment.currency,
            "received_at": payment.received_at.isoformat(),
            "gateway_reference": payment.gateway_reference,
        },
    }
    if invoice is not None:
        evidence["invoice"] = {
            "id": invoice.pk,
            "number": invoice.number,
            "total": invoice.total,
            "issue_date": invoice.issue_date.isoformat() if invoice.issue_date else None,
            "lines": [
                {
                    "description": line.description,
                    "period_start": line.period_start.isoformat() if line.period_start else None,
                    "period_end": line.period_end.isoformat() if line.period_end else None,
                    "amount": line.net_amount + line.tax_amount,
                }
                for line in invoice.lines.order_by("id")
            ],
        }
        evidence["messages"] = [
            {
                "template": m.template,
                "channel": m.channel,
                "sent_at": m.sent_at.isoformat() if m.sent_at else None,
            }
            for m in Message.objects.filter(invoice_id=invoice.pk, sent_at__isnull=False).order_by(
                "sent_at"
            )
        ]
    evidence["memberships"] = [
        {
            "plan": s.plan.name,
            "start_date": s.start_date.isoformat(),
            "minimum_term_end": s.minimum_term_end.isoformat() if s.minimum_term_end else None,
            "sold_online": s.sold_online,
            "status": s.status,
        }
        for s in payer.paid_subscriptions.select_related("plan").order_by("start_date")
    ]
    earlier = Payment.objects.filter(payer=payer, received_at__lt=payment.received_at)
    evidence["earlier_payments"] = {
        "count": earlier.count(),
        "undisputed": earlier.filter(disputes__isnull=True).count(),
    }
    return evidence


def _task_open(dispute: Dispute, clock: Clock) -> None:
    payment = dispute.payment
    Task.objects.create(
        organization_id=dispute.organization_id,
        member_id=payment.payer_id,
        kind=Task.Kind.DISPUTE_RESPONSE,
        title=f"Answer dispute {dispute.reference} ({dispute.reason}) before the deadline",
        detail={"dispute_id": dispute.pk, "evidence": dispute_evidence(payment)},
        due_at=dispute.evidence_due_by,
        source_type="dispute",
        source_id=dispute.pk,
        created_at=clock.now(),
    )


def _event(dispute: Dispute, topic: str, clock: Clock):  # type: ignore[no-untyped-def]
    return event_build(
        organization_id=dispute.organization_id,
        topic=topic,
        aggregate_type="dispute",
        aggregate_id=dispute.pk,
        payload={
            "dispute_id": dispute.pk,
            "payment_id": dispute.payment_id,
            "amount": dispute.amount,
            "currency": dispute.currency,
            "reason": dispute.reason,
            "status": dispute.status,
        },
        clock=clock,
    )
