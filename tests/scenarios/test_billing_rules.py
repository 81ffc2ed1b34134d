"""Billing rules with exact figures: stubs, coupons, trials, households, plan changes,
credit, desk payments, refunds and write-offs."""

from __future__ import annotations

from datetime import timedelta

import pytest

from dues.billing.invoices import credit_note_create, invoice_write_off
from dues.billing.models import Invoice, InvoiceLine
from dues.billing.services import subscription_change_plan, subscription_create
from dues.catalog.models import Coupon
from dues.core.clock import local_date
from dues.ledger.check import ledger_check
from dues.ops.jobs import bill
from dues.payments.models import Payment
from dues.payments.services import payment_take_at_desk, refund_create
from tests.factories import DECLINE_FUNDS, add_card, d, make_member, make_plan

pytestmark = [pytest.mark.django_db, pytest.mark.both_gateways]


def books_clean():
    return {k: v for k, v in ledger_check().items() if v} == {}


def days(clock, location, gateway, n):
    for _ in range(n):
        clock.advance(timedelta(days=1))
        bill(as_of=local_date(clock.now(), location.timezone), clock=clock, gateway=gateway)


def test_anchor_day_gives_prorated_stub_then_full_periods(org, location, clock, gateway):
    plan = make_plan(org, price=31000)
    member = make_member(org, clock)
    add_card(member, clock)
    subscription_create(
        member=member,
        plan=plan,
        location=location,
        start_date=d("2026-01-15"),
        clock=clock,
        billing_anchor_day=1,
    )
    days(clock, location, gateway, 20)  # to Feb 4
    lines = list(InvoiceLine.objects.filter(kind="plan").order_by("period_start"))
    # Jan 15 → Feb 1 is 17 of January's 31 days: 31000 × 17/31 = 17000.
    assert [(ln.period_start, ln.period_end, ln.unit_amount) for ln in lines] == [
        (d("2026-01-15"), d("2026-02-01"), 17000),
        (d("2026-02-01"), d("2026-03-01"), 31000),
    ]
    assert books_clean()


def test_coupon_applies_for_its_periods_only_and_tax_is_exact(org, location, clock, gateway):
    plan = make_plan(org, price=50000)
    coupon = Coupon.objects.create(
        organization=org,
        code="HALF",
        name="Half off",
        kind="percent",
        percent_bp=5000,
        duration_periods=2,
    )
    member = make_member(org, clock)
    add_card(member, clock)
    subscription_create(
        member=member,
        plan=plan,
        location=location,
        start_date=d("2026-01-15"),
        clock=clock,
        coupon=coupon,
    )
    days(clock, location, gateway, 62)  # Jan 15, Feb 15, Mar 15
    invoices = list(Invoice.objects.order_by("sequence_number"))
    assert [i.total for i in invoices] == [25000, 25000, 50000]
    # 6% VAT included: 25000 → tax round(25000 × 6/106) = 1415.
    assert [i.tax for i in invoices] == [1415, 1415, 2830]
    assert books_clean()


def test_trial_bills_from_trial_end_with_joining_fee(org, location, clock, gateway):
    plan = make_plan(org, price=40000, joining_fee=10000, trial_days=7)
    member = make_member(org, clock)
    add_card(member, clock)
    sub = subscription_create(
        member=member, plan=plan, location=location, start_date=d("2026-01-15"), clock=clock
    )
    assert sub.status == "trialing"
    assert Invoice.objects.count() == 0
    days(clock, location, gateway, 7)  # Jan 22
    inv = Invoice.objects.get()
    assert inv.issue_date == d("2026-01-22")
    assert inv.total == 50000
    assert inv.status == "paid"


def test_household_payer_gets_one_invoice_for_both(org, location, clock, gateway):
    plan = make_plan(org, price=30000)
    parent = make_member(org, clock)
    child = make_member(org, clock, payer=parent)
    add_card(parent, clock)
    for who in (parent, child):
        subscription_create(
            member=who, plan=plan, location=location, start_date=d("2026-01-20"), clock=clock
        )
    days(clock, location, gateway, 5)
    days(clock, location, gateway, 31)  # Feb 20 renewal for both
    renewal = Invoice.objects.filter(issue_date=d("2026-02-20")).get()
    assert renewal.payer_id == parent.pk
    assert renewal.total == 60000
    assert renewal.lines.filter(kind="plan").count() == 2
    assert books_clean()


def test_upgrade_now_prorates_and_downgrade_waits(org, location, clock, gateway):
    basic = make_plan(org, price=30000)
    premium = make_plan(org, price=60000)
    member = make_member(org, clock)
    add_card(member, clock)
    sub = subscription_create(
        member=member, plan=basic, location=location, start_date=d("2026-01-01"), clock=clock
    )
    # On Jan 15, 17 of January's 31 days remain: −30000×17/31 = −16452, +60000×17/31 = 32903.
    sub = subscription_change_plan(sub=sub, new_plan=premium, clock=clock)
    bill(as_of=d("2026-01-15"), clock=clock, gateway=gateway)
    proration = Invoice.objects.filter(issue_date=d("2026-01-15")).get()
    assert sorted(ln.unit_amount for ln in proration.lines.all()) == [-16452, 32903]
    assert proration.total == 16451
    assert sub.plan_id == premium.pk
    sub = subscription_change_plan(sub=sub, new_plan=basic, clock=clock)
    assert sub.pending_plan_id == basic.pk
    days(clock, location, gateway, 20)  # Feb 1 renewal on the cheaper plan
    feb = Invoice.objects.filter(issue_date=d("2026-02-01")).get()
    assert feb.total == 30000
    assert books_clean()


def test_credit_note_credit_is_applied_to_next_invoice(org, location, clock, gateway):
    plan = make_plan(org, price=40000)
    member = make_member(org, clock)
    add_card(member, clock)
    subscription_create(
        member=member, plan=plan, location=location, start_date=d("2026-01-15"), clock=clock
    )
    bill(as_of=d("2026-01-15"), clock=clock, gateway=gateway)
    first = Invoice.objects.get()
    note = credit_note_create(invoice=first, amount=15000, reason="Pool closed", clock=clock)
    assert note.credit_amount == 15000
    days(clock, location, gateway, 31)
    second = Invoice.objects.get(issue_date=d("2026-02-15"))
    assert second.credit_applied == 15000
    assert second.amount_paid == 25000
    assert books_clean()


def test_partial_refund_and_desk_payment_and_write_off(org, location, clock, gateway):
    plan = make_plan(org, price=40000)
    payer = make_member(org, clock)
    add_card(payer, clock)
    subscription_create(
        member=payer, plan=plan, location=location, start_date=d("2026-01-15"), clock=clock
    )
    bill(as_of=d("2026-01-15"), clock=clock, gateway=gateway)
    payment = Payment.objects.get()
    refund = refund_create(
        payment=payment, amount=10000, reason="Goodwill", clock=clock, gateway=gateway
    )
    assert refund.status == "succeeded"
    assert refund.credit_note.refund_amount == 10000
    with pytest.raises(Exception, match="at most 30000"):
        refund_create(
            payment=payment, amount=30001, reason="Too much", clock=clock, gateway=gateway
        )

    debtor = make_member(org, clock)
    add_card(debtor, clock, DECLINE_FUNDS)
    subscription_create(
        member=debtor, plan=plan, location=location, start_date=d("2026-01-15"), clock=clock
    )
    bill(as_of=d("2026-01-15"), clock=clock, gateway=gateway)
    owed = Invoice.objects.get(payer=debtor)
    payment_take_at_desk(invoice=owed, amount=15000, method="cash", clock=clock)
    owed.refresh_from_db()
    assert owed.amount_due == 25000
    invoice_write_off(invoice=owed, clock=clock, reason="Moved away")
    payment_take_at_desk(invoice=owed, amount=25000, method="cash", clock=clock)
    owed.refresh_from_db()
    assert owed.status == "paid"
    assert books_clean()
