"""The member timeline: payment disputes show on the payer's timeline, opened and closed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from dues.crm.selectors import member_timeline
from dues.ops.jobs import bill
from dues.payments.disputes import dispute_apply
from dues.payments.models import Dispute, Payment
from tests.api.conftest import authed_client
from tests.factories import d, join, make_member

pytestmark = pytest.mark.django_db

EVIDENCE_DUE = datetime(2026, 1, 25, 23, 59, 59, tzinfo=UTC)


@pytest.fixture
def paid(org, location, clock, gateway) -> Payment:
    """A member whose first invoice was paid by card."""
    payer, _ = join(org, location, clock)
    bill(as_of=d("2026-01-15"), clock=clock, gateway=gateway)
    return Payment.objects.get(payer=payer)


def _dispute(payment: Payment, status: str, created: datetime) -> dict[str, object]:
    """A gateway's dispute object (Stripe's shape), as ``dispute_apply`` reads it."""
    return {
        "id": "dp_1Timeline",
        "amount": payment.amount,
        "currency": payment.currency.lower(),
        "reason": "fraudulent",
        "status": status,
        "created": int(created.timestamp()),
        "evidence_details": {"due_by": int(EVIDENCE_DUE.timestamp())},
    }


def test_dispute_is_on_the_payers_timeline_when_opened_and_when_closed(org, clock, paid):
    payment, payer = paid, paid.payer
    opened_at = clock.now()
    dispute_apply(
        obj=_dispute(payment, "needs_response", opened_at),
        payment=payment,
        event_at=opened_at,
        clock=clock,
    )
    dispute = Dispute.objects.get()
    detail = {
        "id": dispute.pk,
        "payment_id": payment.pk,
        "reference": "dp_1Timeline",
        "amount": payment.amount,
        "currency": "SEK",
        "reason": "fraudulent",
        "status": "needs_response",
        "evidence_due_by": EVIDENCE_DUE,
        "closed_at": None,
    }
    entries = [e for e in member_timeline(payer) if e.kind == "dispute"]
    assert [(e.at, e.summary, e.detail) for e in entries] == [
        (opened_at, "Payment disputed: fraudulent (Needs response)", detail),
    ]

    clock.advance(timedelta(days=20))
    closed_at = clock.now()
    dispute_apply(
        obj=_dispute(payment, "lost", opened_at), payment=payment, event_at=closed_at, clock=clock
    )
    timeline = member_timeline(payer)
    entries = [e for e in timeline if e.kind == "dispute"]
    detail |= {"status": "lost", "closed_at": closed_at}
    assert [(e.at, e.summary, e.detail) for e in entries] == [
        (closed_at, "Payment dispute lost: fraudulent", detail),
        (opened_at, "Payment disputed: fraudulent (Lost)", detail),
    ]
    assert timeline[0].kind == "dispute"  # the newest thing that happened

    body = authed_client(org, clock).get(f"/api/v1/members/{payer.pk}/timeline/").json()
    assert [(e["kind"], e["summary"]) for e in body if e["kind"] == "dispute"] == [
        ("dispute", "Payment dispute lost: fraudulent"),
        ("dispute", "Payment disputed: fraudulent (Lost)"),
    ]
    assert body[0]["detail"]["payment_id"] == payment.pk
    assert body[0]["detail"]["evidence_due_by"] == "2026-01-25T23:59:59Z"


def test_dispute_is_not_on_a_household_members_timeline(org, clock, paid):
    payment, payer = paid, paid.payer
    child = make_member(org, clock, payer=payer)
    dispute_apply(
        obj=_dispute(payment, "needs_response", clock.now()),
        payment=payment,
        event_at=clock.now(),
        clock=clock,
    )
    assert [e for e in member_timeline(child) if e.kind == "dispute"] == []
    assert [e.kind for e in member_timeline(payer)].count("dispute") == 1
