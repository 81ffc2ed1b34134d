"""A member's year on the test clock: join, renew, fail, pay, freeze, cancel."""

from __future__ import annotations

from datetime import timedelta

import pytest

from dues.billing.models import Invoice, InvoiceLine, Subscription
from dues.billing.services import subscription_cancel, subscription_create, subscription_freeze
from dues.core.clock import local_date
from dues.core.models import OutboxEvent
from dues.ledger.check import ledger_check
from dues.ops.jobs import bill
from tests.factories import DECLINE_FUNDS, add_card, d, make_member, make_plan

pytestmark = [pytest.mark.django_db, pytest.mark.both_gateways]


def run_days(clock, location, gateway, days):
    for _ in range(days):
        clock.advance(timedelta(days=1))
        bill(as_of=local_date(clock.now(), location.timezone), clock=clock, gateway=gateway)


def assert_books_clean():
    problems = {k: v for k, v in ledger_check().items() if v}
    assert problems == {}


def test_join_renew_and_cancel(org, location, clock, gateway):
    plan = make_plan(org, price=49900, joining_fee=19900, minimum_term_periods=3, notice_days=30)
    member = make_member(org, clock)
    add_card(member, clock)
    sub = subscription_create(
        member=member, plan=plan, location=location, start_date=d("2026-01-15"), clock=clock
    )
    first = Invoice.objects.get(payer=member)
    assert first.total == 49900 + 19900
    bill(as_of=d("2026-01-15"), clock=clock, gateway=gateway)
    first.refresh_from_db()
    assert first.status == "paid"
    assert first.number.endswith("000001")
    run_days(clock, location, gateway, 75)  # to 2026-03-31
    invoices = list(Invoice.objects.filter(payer=member).order_by("sequence_number"))
    assert [i.issue_date for i in invoices] == [d("2026-01-15"), d("2026-02-15"), d("2026-03-15")]
    assert all(i.status == "paid" for i in invoices)
    sub.refresh_from_db()
    # Minimum term ends 2026-04-15; notice 30 days from 2026-04-01 → first boundary 2026-05-15.
    clock.advance(timedelta(days=1))
    sub = subscription_cancel(sub=sub, clock=clock)
    assert sub.cancel_at == d("2026-05-15")
    run_days(clock, location, gateway, 60)
    sub.refresh_from_db()
    assert sub.status == "cancelled"
    # Periods from Jan 15, Feb 15, Mar 15 and Apr 15; the one from May 15 is past the end.
    assert Invoice.objects.filter(payer=member).count() == 4
    assert_books_clean()


def test_declined_card_leaves_invoice_open_and_emits_failure(org, location, clock, gateway):
    plan = make_plan(org)
    member = make_member(org, clock)
    add_card(member, clock, DECLINE_FUNDS)
    subscription_create(
        member=member, plan=plan, location=location, start_date=d("2026-01-15"), clock=clock
    )
    result = bill(as_of=d("2026-01-15"), clock=clock, gateway=gateway)
    assert result["failed"] == 1
    inv = Invoice.objects.get(payer=member)
    assert inv.status == "open"
    assert inv.amount_due == 49900
    assert OutboxEvent.objects.filter(topic="payment.failed", aggregate_id=inv.pk).count() == 1
    again = bill(as_of=d("2026-01-15"), clock=clock, gateway=gateway)
    assert again["failed"] == 0
    assert again["invoices"] == 0
    assert_books_clean()


def test_freeze_pauses_billing_and_extends(org, location, clock, gateway):
    plan = make_plan(org, freeze_fee=5000)
    member = make_member(org, clock)
    add_card(member, clock)
    sub = subscription_create(
        member=member, plan=plan, location=location, start_date=d("2026-01-15"), clock=clock
    )
    bill(as_of=d("2026-01-15"), clock=clock, gateway=gateway)
    # Freeze Feb 1 – Mar 1: 14 paid days remain (Feb 1 → Feb 15), so billing resumes Mar 15.
    subscription_freeze(sub=sub, start_date=d("2026-02-01"), end_date=d("2026-03-01"), clock=clock)
    run_days(clock, location, gateway, 65)
    sub.refresh_from_db()
    periods = list(
        InvoiceLine.objects.filter(subscription=sub, kind="plan")
        .order_by("period_start")
        .values_list("period_start", flat=True)
    )
    assert periods == [d("2026-01-15"), d("2026-03-15")]
    assert InvoiceLine.objects.filter(subscription=sub, kind="freeze_fee").count() == 1
    assert sub.status == "active"
    assert Subscription.objects.get(pk=sub.pk).next_billing_date == d("2026-04-15")
    assert_books_clean()
