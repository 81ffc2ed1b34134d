"""Recovery by month and decline code, and open arrears by age, from a real billing run:
a hard decline, a card that recovers on retry, a member with no card, and one who pays."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from django.core.management import CommandError, call_command

from dues.billing.invoices import invoice_write_off
from dues.billing.models import Invoice, InvoiceStatus
from dues.billing.services import subscription_create
from dues.dunning.models import CaseStatus, DunningCase
from dues.ops.jobs import bill
from dues.reports.selectors import age_bucket, arrears_aging, recovery_by_month
from tests.dunning.test_dunning_run import FAILS_TWICE, books_clean, hours
from tests.factories import LOST_CARD, VISA_OK, d, join, make_member, make_plan

pytestmark = pytest.mark.django_db


@pytest.fixture
def month(org, location, clock, gateway):
    """January: four members join on the 15th; the run goes on to 4 February."""
    lost, _ = join(org, location, clock, LOST_CARD)
    retried, _ = join(org, location, clock, FAILS_TWICE)
    paid, _ = join(org, location, clock, VISA_OK)
    no_card = make_member(org, clock)
    plan = make_plan(org)
    start = d("2026-01-15")
    subscription_create(member=no_card, plan=plan, location=location, start_date=start, clock=clock)
    bill(as_of=d("2026-01-15"), clock=clock, gateway=gateway)
    hours(clock, location, gateway, 8 * 20)
    books_clean()
    assert DunningCase.objects.get(payer=retried).status == CaseStatus.RECOVERED
    return {"lost": lost, "retried": retried, "paid": paid, "no_card": no_card}


def _price(member) -> int:
    return Invoice.objects.filter(payer=member).order_by("pk").first().total


def test_recovery_by_month_and_decline_code(org, month):
    rows = recovery_by_month(organization_id=org.pk, first=date(2026, 1, 1), until=date(2026, 2, 1))
    by_code = {r.decline_code: r for r in rows}
    assert set(by_code) == {"lost_card", "insufficient_funds", "no_payment_method"}
    assert {r.month for r in rows} == {"2026-01"}
    lost, funds = by_code["lost_card"], by_code["insufficient_funds"]
    none = by_code["no_payment_method"]
    assert (lost.failed_invoices, lost.recovered_invoices, lost.recovered_amount) == (1, 0, 0)
    assert lost.failed_amount == _price(month["lost"])
    assert (funds.failed_invoices, funds.recovered_invoices) == (1, 1)
    assert funds.recovered_amount == funds.failed_amount == _price(month["retried"])
    assert funds.recovery_rate == funds.recovered_amount_rate == Decimal("1.0000")
    assert lost.recovery_rate == none.recovery_rate == Decimal("0.0000")

    (total,) = recovery_by_month(
        organization_id=org.pk, first=date(2026, 1, 1), until=date(2026, 2, 1), by_code=False
    )
    assert (total.decline_code, total.failed_invoices, total.recovered_invoices) == ("*", 3, 1)
    assert total.recovery_rate == Decimal("0.3333")
    assert total.failed_amount == sum(r.failed_amount for r in rows)
    # The month is the first failure's: nothing failed first in February.
    february = recovery_by_month(
        organization_id=org.pk, first=date(2026, 2, 1), until=date(2026, 3, 1)
    )
    assert february == []


def test_arrears_by_age_and_payer(org, month, clock):
    not_due = arrears_aging(organization_id=org.pk, as_of=date(2026, 1, 15))
    assert not_due.buckets == []  # due today is not overdue yet
    assert not_due.payers == []
    now = arrears_aging(organization_id=org.pk, as_of=date(2026, 2, 4))
    owed = _price(month["lost"]) + _price(month["no_card"])
    assert [(b.bucket, b.invoices, b.amount) for b in now.buckets] == [("1-30", 2, owed)]
    assert {p.payer_id for p in now.payers} == {month["lost"].pk, month["no_card"].pk}
    assert all(p.days_overdue == 20 and p.in_dunning for p in now.payers)
    later = arrears_aging(organization_id=org.pk, as_of=date(2026, 4, 20))
    assert [b.bucket for b in later.buckets] == ["91+"]

    # A written-off invoice is bad debt, not arrears.
    invoice = Invoice.objects.get(payer=month["lost"], status=InvoiceStatus.OPEN)
    invoice_write_off(invoice=invoice, clock=clock, reason="test")
    after = arrears_aging(organization_id=org.pk, as_of=date(2026, 2, 4))
    assert [p.payer_id for p in after.payers] == [month["no_card"].pk]
    books_clean()


@pytest.mark.parametrize(
    ("days", "bucket"), [(1, "1-30"), (30, "1-30"), (31, "31-60"), (90, "61-90"), (91, "91+")]
)
def test_age_buckets_have_no_gaps(days, bucket):
    assert age_bucket(days) == bucket


def test_age_bucket_refuses_what_is_not_overdue():
    with pytest.raises(ValueError, match="not overdue"):
        age_bucket(0)


def test_report_commands(org, month, capsys):
    call_command(
        "report_recovery", organization=org.slug, first="2026-01", last="2026-01", format="csv"
    )
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("month,currency,decline_code,failed_invoices,failed_amount")
    funds = next(line for line in lines if ",insufficient_funds," in line)
    major = Decimal(_price(month["retried"])) / 100
    assert funds == f"2026-01,SEK,insufficient_funds,1,{major:.2f},1,{major:.2f},1.0000,1.0000"

    call_command("report_arrears", organization=org.slug, as_of="2026-02-04")
    text = capsys.readouterr().out
    assert "1-30" in text
    assert "By payer, largest first" in text

    with pytest.raises(CommandError, match="no organization with slug 'nope'"):
        call_command("report_arrears", organization="nope")
    with pytest.raises(CommandError, match="is not a month"):
        call_command("report_recovery", organization=org.slug, first="2026-13")
    with pytest.raises(CommandError, match="--from must not be after --to"):
        call_command("report_recovery", organization=org.slug, first="2026-03", last="2026-01")
