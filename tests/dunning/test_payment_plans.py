"""Payment plans: an overdue balance split into instalments that bill on their own dates;
dunning pauses while the plan holds and resumes when it breaks; the books stay clean."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from dues.billing.models import Invoice
from dues.dunning.models import (
    CaseStatus,
    DunningCase,
    Instalment,
    PlanStatus,
)
from dues.dunning.plans import instalments_split, payment_plan_create
from dues.dunning.services import policy_default
from dues.ops.jobs import bill
from dues.payments.models import Payment
from tests.dunning.test_dunning_run import books_clean, hours, in_force
from tests.factories import LOST_CARD, VISA_OK, add_card, d, join

pytestmark = pytest.mark.django_db

NO_FUNDS = "4000000000009995"


@pytest.fixture
def overdue(org, location, clock, gateway):
    policy = policy_default(organization_id=org.pk, clock=clock)
    policy.grace_days = 0
    policy.block_bookings_after_days = 1
    policy.block_access_after_days = 2
    policy.max_days = 60
    policy.save()
    member, sub = join(org, location, clock, LOST_CARD)
    bill(as_of=d("2026-01-15"), clock=clock, gateway=gateway)
    hours(clock, location, gateway, 8 * 3)  # to 18 January
    assert in_force(sub, clock) == {"bookings", "access"}
    return member, sub, DunningCase.objects.get(payer=member)


def test_split_is_exact_and_monthly():
    assert instalments_split(total=49900, count=3, first_on=d("2026-01-31")) == [
        (d("2026-01-31"), 16634),
        (d("2026-02-28"), 16633),
        (d("2026-03-31"), 16633),
    ]


def test_plan_pays_off_in_instalments(org, location, clock, gateway, overdue):
    member, sub, case = overdue
    plan = payment_plan_create(
        payer=member,
        instalments=[(d("2026-01-20"), 16634), (d("2026-01-27"), 16633), (d("2026-02-03"), 16633)],
        clock=clock,
        note="agreed at the desk",
    )
    add_card(member, clock, VISA_OK)  # the new card does not pay it all at once: a plan holds
    case.refresh_from_db()
    assert case.status == CaseStatus.ON_PLAN
    assert in_force(sub, clock) == set()  # reinstated on agreeing
    reminders_before = case.reminders_sent
    hours(clock, location, gateway, 8 * 3)  # to 21 January
    invoice = Invoice.objects.get(pk=case.invoice_id)
    assert invoice.amount_due == 49900 - 16634
    assert list(Payment.objects.filter(invoice=invoice).values_list("amount", flat=True)) == [16634]
    hours(clock, location, gateway, 8 * 14)  # to 4 February
    invoice.refresh_from_db()
    case.refresh_from_db()
    plan.refresh_from_db()
    assert invoice.status == "paid"
    assert sorted(Payment.objects.filter(invoice=invoice).values_list("amount", flat=True)) == [
        16633,
        16633,
        16634,
    ]
    assert plan.status == PlanStatus.COMPLETED
    assert case.status == CaseStatus.RECOVERED
    assert case.reminders_sent == reminders_before  # no reminders while on the plan
    assert in_force(sub, clock) == set()
    books_clean()


def test_broken_plan_resumes_dunning(org, location, clock, gateway, overdue):
    member, sub, case = overdue
    plan = payment_plan_create(
        payer=member,
        instalments=[(d("2026-01-20"), 24950), (d("2026-02-20"), 24950)],
        clock=clock,
    )
    add_card(member, clock, NO_FUNDS)
    hours(clock, location, gateway, 8 * 7)  # to 25 January: tried on the 20th and 23rd
    plan.refresh_from_db()
    case.refresh_from_db()
    first = Instalment.objects.get(plan=plan, number=1)
    assert (first.status, first.tries, first.last_decline_code) == (
        "failed",
        2,
        "insufficient_funds",
    )
    assert plan.status == PlanStatus.BROKEN
    assert case.status == CaseStatus.OPEN
    assert case.next_retry_at is not None  # retries resume, decline-aware
    assert in_force(sub, clock) == {"bookings", "access"}  # restrictions back
    books_clean()


def test_plan_must_cover_exactly_what_is_owed(org, location, clock, gateway, overdue):
    member, _sub, case = overdue
    with pytest.raises(ValidationError, match="instalments add up to 40000 but 49900 SEK is owed"):
        payment_plan_create(payer=member, instalments=[(d("2026-02-01"), 40000)], clock=clock)
    with pytest.raises(ValidationError, match="before today"):
        payment_plan_create(payer=member, instalments=[(d("2026-01-01"), 49900)], clock=clock)
    with pytest.raises(ValidationError, match="dates must rise"):
        payment_plan_create(
            payer=member,
            instalments=[(d("2026-02-01"), 24950), (d("2026-02-01"), 24950)],
            clock=clock,
        )
    case.refresh_from_db()
    assert case.status == CaseStatus.OPEN  # nothing half-written
