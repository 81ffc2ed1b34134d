"""DESIGN invariants 1 (a period is invoiced once), 4 (finalised invoices never change,
gapless numbers) and 5 (billing day in the location's time zone)."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from django.db import IntegrityError, transaction

from dues.billing.invoices import InvoiceSpec, invoices_issue
from dues.billing.models import FinalisedInvoiceError, Invoice, InvoiceLine
from dues.billing.pricing import line_build
from dues.billing.run import invoice_due
from dues.billing.services import subscription_create
from dues.core.clock import SimulatedClock
from dues.ledger.check import ledger_check
from dues.ops.jobs import bill
from dues.ops.scheduler import billing_tick
from tests.factories import add_card, d, make_location, make_member, make_org, make_plan

pytestmark = pytest.mark.django_db


class Boom(Exception):
    pass


def problems():
    return {k: v for k, v in ledger_check().items() if v}


def _subscribe(org, location, clock, start="2026-01-15", **plan_kw):
    plan = make_plan(org, currency=location.currency, **plan_kw)
    member = make_member(org, clock)
    add_card(member, clock)
    sub = subscription_create(
        member=member, plan=plan, location=location, start_date=d(start), clock=clock
    )
    return member, sub


# --- Invariant 1 -------------------------------------------------------------------------


def test_second_plan_line_for_same_period_is_refused_by_the_database(org, location, clock):
    _member, sub = _subscribe(org, location, clock)
    line = InvoiceLine.objects.get(subscription=sub, kind="plan")
    assert line.period_start == d("2026-01-15")
    with pytest.raises(IntegrityError), transaction.atomic():
        InvoiceLine.objects.create(
            organization=org,
            invoice=line.invoice,
            kind="plan",
            description="duplicate",
            subscription=sub,
            period_start=d("2026-01-15"),
            period_end=d("2026-02-15"),
            unit_amount=49900,
            net_amount=47075,
            tax_amount=2825,
            revenue_category=line.revenue_category,
        )
    # Other kinds may repeat (the constraint is partial), and another period is fine.
    InvoiceLine.objects.create(
        organization=org,
        invoice=line.invoice,
        kind="fee",
        description="not a period",
        subscription=sub,
        period_start=d("2026-01-15"),
        unit_amount=0,
        net_amount=0,
        revenue_category=line.revenue_category,
    )
    assert InvoiceLine.objects.filter(subscription=sub, kind="plan").count() == 1


def test_rerunning_the_same_day_invoices_nothing(org, location, clock, gateway):
    subs = []
    for _ in range(3):
        subs.append(_subscribe(org, location, clock, start="2026-01-20")[1])
    clock.set(datetime(2026, 1, 20, 12, tzinfo=UTC))
    first = bill(as_of=d("2026-01-20"), clock=clock, gateway=gateway)
    assert first["invoices"] == 3
    assert first["succeeded"] == 3
    again = bill(as_of=d("2026-01-20"), clock=clock, gateway=gateway)
    assert again["invoices"] == again["succeeded"] == again["failed"] == again["unknown"] == 0
    assert set(again.values()) == {0}
    assert Invoice.objects.filter(organization=org).count() == 3
    for sub in subs:
        assert InvoiceLine.objects.filter(subscription=sub, kind="plan").count() == 1
    assert problems() == {}


def test_invoice_due_twice_issues_once(org, location, clock):
    for _ in range(4):
        _subscribe(org, location, clock, start="2026-01-15")
    clock.set(datetime(2026, 2, 15, 12, tzinfo=UTC))
    assert invoice_due(as_of=d("2026-02-15"), clock=clock, batch_size=3) == 4
    assert invoice_due(as_of=d("2026-02-15"), clock=clock, batch_size=3) == 0
    periods = sorted(
        InvoiceLine.objects.filter(organization=org, kind="plan").values_list(
            "subscription_id", "period_start"
        )
    )
    assert len(periods) == 8
    assert len(set(periods)) == 8
    assert {p for _, p in periods} == {d("2026-01-15"), d("2026-02-15")}
    assert problems() == {}


# --- Invariant 4 -------------------------------------------------------------------------


def test_finalised_invoice_cannot_change_through_save(org, location, clock):
    member, _ = _subscribe(org, location, clock)
    inv = Invoice.objects.get(payer=member)
    assert inv.status == "open"
    inv.total = inv.total + 100
    inv.subtotal = inv.subtotal + 100
    with pytest.raises(FinalisedInvoiceError, match="subtotal, total"):
        inv.save()
    inv = Invoice.objects.get(pk=inv.pk)
    inv.number = "X-1"
    with pytest.raises(FinalisedInvoiceError, match="number"):
        inv.save()
    inv = Invoice.objects.get(pk=inv.pk)
    inv.issue_date = date(2026, 1, 1)
    with pytest.raises(FinalisedInvoiceError, match="issue_date"):
        inv.save(update_fields=["issue_date"])
    inv = Invoice.objects.get(pk=inv.pk)
    assert (inv.total, inv.number, inv.issue_date) == (
        49900,
        f"{org.invoice_prefix}-000001",
        d("2026-01-15"),
    )


def _spec(org, location, member, amount=10000):
    return InvoiceSpec(
        organization_id=org.pk,
        payer_id=member.pk,
        location_id=location.pk,
        currency="SEK",
        issue_date=d("2026-01-15"),
        due_date=d("2026-01-15"),
        lines=[
            line_build(
                kind="charge",
                description="Towel",
                unit_amount=amount,
                revenue_category="other",
                tax_rate_bp=600,
                prices_include_tax=True,
            )
        ],
    )


def test_rolled_back_issue_returns_its_number(org, location, clock):
    member = make_member(org, clock)
    with transaction.atomic():
        first = Invoice.objects.get(
            pk=invoices_issue([_spec(org, location, member)], clock=clock)[0]
        )
    assert first.sequence_number == 1
    taken: list[int] = []

    def issue_then_fail():
        with transaction.atomic():
            issued = invoices_issue([_spec(org, location, member) for _ in range(2)], clock=clock)
            taken.extend(Invoice.objects.get(pk=i).sequence_number for i in issued)
            raise Boom

    with pytest.raises(Boom):
        issue_then_fail()
    assert taken == [2, 3]
    with transaction.atomic():
        nxt = Invoice.objects.get(pk=invoices_issue([_spec(org, location, member)], clock=clock)[0])
    assert nxt.sequence_number == 2
    assert nxt.number == f"{org.invoice_prefix}-000002"
    assert sorted(
        Invoice.objects.filter(organization=org).values_list("sequence_number", flat=True)
    ) == [1, 2]
    assert problems() == {}


def test_numbers_are_per_organization(clock, location, org):
    other = make_org(clock)
    other_loc = make_location(other)
    a, b = make_member(org, clock), make_member(other, clock)
    with transaction.atomic():
        x = Invoice.objects.get(pk=invoices_issue([_spec(org, location, a)], clock=clock)[0])
        y = Invoice.objects.get(pk=invoices_issue([_spec(other, other_loc, b)], clock=clock)[0])
    assert (x.sequence_number, y.sequence_number) == (1, 1)


def test_ledger_check_reports_a_number_gap(org, location, clock):
    member = make_member(org, clock)
    with transaction.atomic():
        invs = invoices_issue([_spec(org, location, member) for _ in range(3)], clock=clock)
    assert problems() == {}
    Invoice.objects.filter(pk=invs[2]).update(sequence_number=5)
    found = problems()
    assert list(found) == ["numbers have no gaps"]
    assert found["numbers have no gaps"] == [
        f"invoice numbers of organization {org.pk} have gaps or duplicates: 3 numbers from 1 to 5"
    ]


# --- Invariant 5 -------------------------------------------------------------------------


def test_billing_day_is_the_locations_local_day():
    signup = SimulatedClock(datetime(2026, 2, 15, 6, tzinfo=UTC))
    bkk_org = make_org(signup)
    bkk = make_location(
        bkk_org, tz="Asia/Bangkok", currency="THB", country="TH", training_rate_bp=700
    )
    sto_org = make_org(signup)
    sto = make_location(sto_org)
    bkk_member, bkk_sub = _subscribe(bkk_org, bkk, signup, start="2026-02-15", price=150000)
    sto_member, sto_sub = _subscribe(sto_org, sto, signup, start="2026-02-15")
    assert bkk_sub.next_billing_date == sto_sub.next_billing_date == d("2026-03-15")

    # 2026-03-14 18:00 UTC is 2026-03-15 01:00 in Bangkok, 19:00 on the 14th in Stockholm.
    tick = SimulatedClock(datetime(2026, 3, 14, 18, tzinfo=UTC))
    billing_tick(clock=tick)
    assert list(
        Invoice.objects.filter(payer=bkk_member)
        .order_by("issue_date")
        .values_list("issue_date", flat=True)
    ) == [d("2026-02-15"), d("2026-03-15")]
    assert Invoice.objects.filter(payer=sto_member).count() == 1

    # Just before Stockholm's midnight (22:59 UTC) still nothing; at 23:00 UTC it bills.
    billing_tick(clock=SimulatedClock(datetime(2026, 3, 14, 22, 59, tzinfo=UTC)))
    assert Invoice.objects.filter(payer=sto_member).count() == 1
    billing_tick(clock=SimulatedClock(datetime(2026, 3, 14, 23, 0, tzinfo=UTC)))
    assert Invoice.objects.filter(payer=sto_member).count() == 2
    assert Invoice.objects.filter(payer=bkk_member).count() == 2
    new = Invoice.objects.get(payer=bkk_member, issue_date=d("2026-03-15"))
    assert (new.currency, new.total, new.tax) == ("THB", 150000, 9813)
    assert problems() == {}
