"""Dunning on the test clock: a failed charge opens a case, retries recover it and lift
restrictions; a hard decline is never retried; restrictions come in order; a late fee
posts once; the final action happens; the books stay clean throughout."""

from __future__ import annotations

import itertools
from datetime import timedelta

import pytest

from dues.billing.models import Invoice, InvoiceLine, Restriction, Subscription
from dues.billing.restrictions import restrictions_in_force
from dues.billing.services import subscription_create
from dues.core.clock import local_date
from dues.core.models import OutboxEvent
from dues.dunning.models import CaseStatus, DunningCase, DunningPolicy, FinalAction, RetryMode
from dues.dunning.services import policy_default
from dues.ledger.check import ledger_check
from dues.ledger.models import JournalLine
from dues.ops.jobs import bill
from dues.payments.models import PaymentAttempt
from dues.payments.services import payment_take_at_desk
from tests.factories import LOST_CARD, add_card, d, join, make_member, make_plan

pytestmark = [pytest.mark.django_db, pytest.mark.both_gateways]

FAILS_TWICE = "4000000000003002"  # insufficient funds twice, then succeeds


def books_clean() -> None:
    assert {k: v for k, v in ledger_check().items() if v} == {}


def hours(clock, location, gateway, n, step=timedelta(hours=3)):
    """Run the scheduler's billing for ``n`` steps of ``step``, checking the books each day."""
    for i in range(n):
        clock.advance(step)
        bill(as_of=local_date(clock.now(), location.timezone), clock=clock, gateway=gateway)
        if i % 8 == 0:
            books_clean()


def in_force(sub: Subscription, clock) -> set[str]:
    return restrictions_in_force([sub.pk], clock.now())[sub.pk]


def test_smart_retries_recover_and_lift_restrictions(org, location, clock, gateway):
    policy = policy_default(organization_id=org.pk, clock=clock)
    policy.block_bookings_after_days = 2
    policy.grace_days = 0
    policy.save()
    member, sub = join(org, location, clock, FAILS_TWICE)
    bill(as_of=d("2026-01-15"), clock=clock, gateway=gateway)
    case = DunningCase.objects.get(payer=member)
    assert case.status == CaseStatus.OPEN
    assert case.last_decline_code == "insufficient_funds"
    assert case.next_retry_at is not None
    assert case.next_retry_at >= clock.now() + timedelta(hours=24)
    reminder = OutboxEvent.objects.get(topic="dunning.reminder", aggregate_id=case.pk)
    assert reminder.payload["tone"] == "friendly"
    assert reminder.payload["amount_due"] == 49900

    hours(clock, location, gateway, 8 * 30)  # up to 30 days, every 3 hours
    case.refresh_from_db()
    invoice = Invoice.objects.get(pk=case.invoice_id)
    assert invoice.status == "paid"
    assert case.status == CaseStatus.RECOVERED
    attempts = list(PaymentAttempt.objects.filter(invoice=invoice).order_by("attempt_number"))
    assert [a.status for a in attempts] == ["failed", "failed", "succeeded"]
    gaps = [b.created_at - a.created_at for a, b in itertools.pairwise(attempts)]
    assert all(g >= timedelta(hours=24) for g in gaps), gaps
    # Blocked from bookings on day 2, reinstated when the retry succeeded.
    placed = Restriction.objects.get(subscription=sub, kind="bookings")
    assert placed.ends_at is not None
    assert placed.ends_at >= attempts[-1].created_at
    assert in_force(sub, clock) == set()
    books_clean()


def test_hard_decline_is_never_retried_and_escalates_in_order(org, location, clock, gateway):
    policy = policy_default(organization_id=org.pk, clock=clock)
    policy.retry_mode = RetryMode.FIXED
    policy.retry_days = [3, 7]
    policy.grace_days = 3
    policy.block_bookings_after_days = 5
    policy.block_access_after_days = 12
    policy.late_fee_kind = "fixed"
    policy.late_fee_amount = 5000
    policy.late_fee_currency = "SEK"
    policy.late_fee_after_days = 10
    policy.max_days = 20
    policy.final_action = FinalAction.CANCEL
    policy.save()
    member, sub = join(org, location, clock, LOST_CARD)
    bill(as_of=d("2026-01-15"), clock=clock, gateway=gateway)
    case = DunningCase.objects.get(payer=member, is_fee=False)
    assert case.next_retry_at is None
    assert "never retried" in case.retry_note

    seen: list[tuple[int, frozenset[str]]] = []
    for day in range(1, 22):
        hours(clock, location, gateway, 8)
        seen.append((day, frozenset(in_force(sub, clock))))
    # Never retried: one attempt on the membership invoice, ever.
    assert PaymentAttempt.objects.filter(invoice_id=case.invoice_id).count() == 1
    # Bookings first (day 5), then access (day 12), in that order, never before grace.
    first_day = {
        kind: min(day for day, kinds in seen if kind in kinds) for kind in ("bookings", "access")
    }
    assert first_day == {"bookings": 5, "access": 12}
    # A late fee posted once, outside VAT, to late-fee revenue.
    fees = InvoiceLine.objects.filter(kind="late_fee")
    assert fees.count() == 1
    fee = fees.get()
    assert (fee.net_amount, fee.tax_amount, fee.revenue_category) == (5000, 0, "late_fee")
    assert JournalLine.objects.filter(
        entry__source_type="invoice", entry__source_id=fee.invoice_id, account__code__isnull=False
    ).exists()
    # Final action on day 20: the membership is cancelled.
    case.refresh_from_db()
    sub.refresh_from_db()
    assert case.status == CaseStatus.CANCELLED
    assert sub.status == "cancelled"
    final = OutboxEvent.objects.filter(topic="dunning.final_action", aggregate_id=case.pk)
    assert final.count() == 1
    # The final notice told the member when.
    tones = list(
        OutboxEvent.objects.filter(topic="dunning.reminder", aggregate_id=case.pk)
        .order_by("id")
        .values_list("payload__tone", flat=True)
    )
    assert tones[0] == "friendly"
    assert "final" not in tones[:-1]
    books_clean()


def test_paying_at_the_desk_reinstates_at_once(org, location, clock, gateway):
    policy = policy_default(organization_id=org.pk, clock=clock)
    policy.grace_days = 0
    policy.block_bookings_after_days = 1
    policy.block_access_after_days = 2
    policy.save()
    member, sub = join(org, location, clock, LOST_CARD)
    bill(as_of=d("2026-01-15"), clock=clock, gateway=gateway)
    hours(clock, location, gateway, 8 * 3)
    assert in_force(sub, clock) == {"bookings", "access"}
    invoice = Invoice.objects.get(dunning_case__payer=member)
    payment_take_at_desk(invoice=invoice, amount=invoice.amount_due, method="cash", clock=clock)
    hours(clock, location, gateway, 1, step=timedelta(minutes=1))
    assert in_force(sub, clock) == set()
    assert DunningCase.objects.get(invoice=invoice).status == CaseStatus.RECOVERED
    books_clean()


def test_paid_ahead_membership_is_not_blocked_by_another(org, location, clock, gateway):
    policy = policy_default(organization_id=org.pk, clock=clock)
    policy.grace_days = 0
    policy.block_bookings_after_days = 1
    policy.block_access_after_days = 1
    policy.save()
    member, overdue = join(org, location, clock, LOST_CARD)
    yearly_plan = make_plan(org, interval="year", price=499000)
    # Paid for the year at the desk, before the card failed on the monthly.
    yearly = subscription_create(
        member=member, plan=yearly_plan, location=location, start_date=d("2026-01-15"), clock=clock
    )
    year_invoice = Invoice.objects.get(lines__subscription=yearly)
    payment_take_at_desk(
        invoice=year_invoice, amount=year_invoice.amount_due, method="terminal", clock=clock
    )
    bill(as_of=d("2026-01-15"), clock=clock, gateway=gateway)
    hours(clock, location, gateway, 8 * 2)
    assert in_force(overdue, clock) == {"bookings", "access"}
    assert in_force(yearly, clock) == set()


def test_card_update_retries_at_once(org, location, clock, gateway):
    member, _sub = join(org, location, clock, LOST_CARD)
    bill(as_of=d("2026-01-15"), clock=clock, gateway=gateway)
    case = DunningCase.objects.get(payer=member)
    assert case.next_retry_at is None
    clock.advance(timedelta(hours=2))
    add_card(member, clock)  # a working card, now the default
    clock.advance(timedelta(minutes=1))
    bill(as_of=d("2026-01-15"), clock=clock, gateway=gateway)
    case.refresh_from_db()
    assert case.status == CaseStatus.RECOVERED
    assert Invoice.objects.get(pk=case.invoice_id).status == "paid"
    books_clean()


def test_uncollectible_final_action_writes_off_and_later_payment_reverses(
    org, location, clock, gateway
):
    policy = policy_default(organization_id=org.pk, clock=clock)
    policy.final_action = FinalAction.UNCOLLECTIBLE
    policy.max_days = 5
    policy.save()
    member, sub = join(org, location, clock, LOST_CARD)
    bill(as_of=d("2026-01-15"), clock=clock, gateway=gateway)
    hours(clock, location, gateway, 8 * 6)
    case = DunningCase.objects.get(payer=member)
    assert case.status == CaseStatus.UNCOLLECTIBLE
    invoice = Invoice.objects.get(pk=case.invoice_id)
    assert invoice.status == "uncollectible"
    assert in_force(sub, clock) == set()  # kept, and not blocked
    books_clean()
    payment_take_at_desk(invoice=invoice, amount=invoice.amount_due, method="cash", clock=clock)
    hours(clock, location, gateway, 1, step=timedelta(minutes=1))
    case.refresh_from_db()
    assert case.status == CaseStatus.RECOVERED
    books_clean()


def test_plan_policy_overrides_the_default(org, location, clock, gateway):
    plan = make_plan(org)
    DunningPolicy.objects.create(
        organization=org,
        name="Students",
        plan=plan,
        retry_mode=RetryMode.FIXED,
        retry_days=[2],
        created_at=clock.now(),
        updated_at=clock.now(),
    )
    member = make_member(org, clock)
    add_card(member, clock, "4000000000003001")
    subscription_create(
        member=member, plan=plan, location=location, start_date=d("2026-01-15"), clock=clock
    )
    bill(as_of=d("2026-01-15"), clock=clock, gateway=gateway)
    case = DunningCase.objects.get(payer=member)
    assert case.policy.name == "Students"
    assert case.next_retry_at == case.first_failed_at + timedelta(days=2)
