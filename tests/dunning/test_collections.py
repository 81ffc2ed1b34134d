"""Collections: the placement CSV lists accounts past the final step once, write-off moves
them to bad debt, and a later payment reverses the write-off and recovers the case."""

from __future__ import annotations

import csv
import io

import pytest
from django.core.management import call_command

from dues.billing.models import Invoice
from dues.dunning.collections import FIELDS, collections_export
from dues.dunning.models import CaseStatus, DunningCase, FinalAction
from dues.dunning.services import policy_default
from dues.ledger import chart
from dues.ledger.models import JournalLine
from dues.ops.jobs import bill
from dues.payments.services import payment_take_at_desk
from tests.dunning.test_dunning_run import books_clean, hours
from tests.factories import LOST_CARD, d, join

pytestmark = pytest.mark.django_db


def bad_debt(org) -> int:
    lines = JournalLine.objects.filter(
        entry__organization_id=org.pk, account__code=chart.BAD_DEBT
    ).values_list("amount", flat=True)
    return sum(lines)


def rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def test_placement_write_off_and_a_later_payment(org, location, clock, gateway, tmp_path):
    policy = policy_default(organization_id=org.pk, clock=clock)
    policy.final_action = FinalAction.COLLECTIONS
    policy.max_days = 10
    policy.save()
    member, _sub = join(org, location, clock, LOST_CARD)
    member.phone = "+46701234567"
    member.save()
    bill(as_of=d("2026-01-15"), clock=clock, gateway=gateway)
    hours(clock, location, gateway, 8 * 11)
    case = DunningCase.objects.get(payer=member)
    assert case.status == CaseStatus.COLLECTIONS
    invoice = Invoice.objects.get(pk=case.invoice_id)
    assert invoice.status == "open"  # handed over, still owed

    out = tmp_path / "placement.csv"
    call_command("collections_export", organization=org.slug, output=str(out), write_off=True)
    [row] = rows(out.read_text(encoding="utf-8"))
    assert list(row) == list(FIELDS)
    assert row["creditor_reference"] == f"DUES-{case.pk}"
    assert (row["debtor_first_name"], row["debtor_last_name"]) == (
        member.first_name,
        member.last_name,
    )
    assert row["phone"] == "+46701234567"
    assert (row["invoice_number"], row["principal"], row["currency"]) == (
        invoice.number,
        "499.00",
        "SEK",
    )
    assert row["first_failed_on"] == "2026-01-15"
    assert row["last_decline_code"] == "lost_card"
    assert row["last_reminder_on"] >= "2026-01-15"
    assert row["written_off"] == "yes"
    invoice.refresh_from_db()
    assert invoice.status == "uncollectible"
    assert bad_debt(org) == 49900
    books_clean()

    # Sent once: the next export is empty unless asked again.
    assert rows(collections_export(organization_id=org.pk, clock=clock)) == []
    assert len(rows(collections_export(organization_id=org.pk, clock=clock, again=True))) == 1

    # The agency collects: the payment reverses the bad debt and recovers the case.
    payment_take_at_desk(invoice=invoice, amount=49900, method="terminal", clock=clock)
    hours(clock, location, gateway, 1)
    invoice.refresh_from_db()
    case.refresh_from_db()
    assert invoice.status == "paid"
    assert bad_debt(org) == 0
    assert case.status == CaseStatus.RECOVERED
    assert rows(collections_export(organization_id=org.pk, clock=clock, again=True)) == []
    books_clean()


def test_unknown_organization_is_named(db):
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="no organization with slug 'nope'"):
        call_command("collections_export", organization="nope")
