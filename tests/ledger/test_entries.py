"""DESIGN invariant 3: every money movement posts one balanced entry in the same
transaction; ``ledger_check`` notices when rows are tampered with."""

from __future__ import annotations

import pytest
from django.db.models import Sum

from dues.billing.invoices import credit_note_create, invoice_write_off
from dues.billing.models import Invoice
from dues.billing.services import subscription_create
from dues.ledger.check import ledger_check
from dues.ledger.models import JournalEntry, JournalLine
from dues.ops.jobs import bill
from dues.payments.models import Payment
from dues.payments.services import refund_create
from tests.factories import DECLINE_FUNDS, add_card, d, make_member, make_plan

pytestmark = pytest.mark.django_db


def problems():
    return {k: v for k, v in ledger_check().items() if v}


def lines_of(kind, source_id):
    entry = JournalEntry.objects.get(kind=kind, source_id=source_id)
    return sorted(
        (line.account.code, line.amount, line.member_id)
        for line in JournalLine.objects.filter(entry=entry).select_related("account")
    )


def _invoice(org, location, clock, card="4242424242424242", **plan_kw):
    plan = make_plan(org, **plan_kw)
    member = make_member(org, clock)
    add_card(member, clock, card)
    subscription_create(
        member=member, plan=plan, location=location, start_date=d("2026-01-15"), clock=clock
    )
    return member, Invoice.objects.get(payer=member)


def test_invoice_and_payment_entries_exact(org, location, clock, gateway):
    member, inv = _invoice(org, location, clock)
    assert (inv.subtotal, inv.tax, inv.total) == (47075, 2825, 49900)
    m = member.pk
    assert lines_of("invoice", inv.pk) == [
        ("1100", 49900, m),
        ("2200", -2825, None),
        ("4000", -47075, None),
    ]
    bill(as_of=d("2026-01-15"), clock=clock, gateway=gateway)
    payment = Payment.objects.get(invoice=inv)
    assert lines_of("payment", payment.pk) == [("1100", -49900, m), ("1200", 49900, None)]
    assert problems() == {}


def test_joining_fee_goes_to_its_own_revenue_account(org, location, clock):
    member, inv = _invoice(org, location, clock, joining_fee=19900)
    # 19900 incl. 6%: tax round(19900·600/10600) = 1126, net 18774.
    assert lines_of("invoice", inv.pk) == [
        ("1100", 69800, member.pk),
        ("2200", -3951, None),
        ("4000", -47075, None),
        ("4010", -18774, None),
    ]


def test_refund_credit_note_and_write_off_entries(org, location, clock, gateway):
    _member, inv = _invoice(org, location, clock)
    bill(as_of=d("2026-01-15"), clock=clock, gateway=gateway)
    payment = Payment.objects.get(invoice=inv)
    refund = refund_create(
        payment=payment, amount=10000, reason="Gym closed a week", clock=clock, gateway=gateway
    )
    note = refund.credit_note
    assert (note.subtotal, note.tax, note.total, note.refund_amount) == (9434, 566, 10000, 10000)
    assert lines_of("credit_note", note.pk) == [
        ("1200", -10000, None),
        ("2200", 566, None),
        ("4900", 9434, None),
    ]
    assert problems() == {}

    other, open_inv = _invoice(org, location, clock, card=DECLINE_FUNDS)
    bill(as_of=d("2026-01-15"), clock=clock, gateway=gateway)
    open_inv.refresh_from_db()
    assert open_inv.status == "open"
    cn = credit_note_create(invoice=open_inv, amount=9900, reason="Goodwill", clock=clock)
    assert lines_of("credit_note", cn.pk) == [
        ("1100", -9900, other.pk),
        ("2200", 560, None),
        ("4900", 9340, None),
    ]
    open_inv.refresh_from_db()
    assert open_inv.amount_due == 40000
    invoice_write_off(invoice=open_inv, clock=clock, reason="Moved abroad")
    assert lines_of("write_off", open_inv.pk) == [("1100", -40000, other.pk), ("6100", 40000, None)]
    assert problems() == {}
    for entry_id, total in (
        JournalLine.objects.values("entry_id")
        .annotate(s=Sum("amount"))
        .values_list("entry_id", "s")
    ):
        assert total == 0, entry_id
    assert JournalEntry.objects.filter(kind="invoice").count() == 2
    assert JournalEntry.objects.filter(kind="payment").count() == 1


def test_check_detects_a_deleted_journal_line(org, location, clock):
    _member, inv = _invoice(org, location, clock)
    entry = JournalEntry.objects.get(kind="invoice", source_id=inv.pk)
    JournalLine.objects.filter(entry=entry, account__code="2200").delete()
    found = problems()
    assert found["entries balance"] == [f"journal entry {entry.pk} is off by 2825 SEK"]


def test_check_detects_a_missing_entry(org, location, clock):
    member, inv = _invoice(org, location, clock)
    entry = JournalEntry.objects.filter(kind="invoice", source_id=inv.pk)
    JournalLine.objects.filter(entry__in=entry).delete()
    entry.delete()
    found = problems()
    assert found["every money movement is posted"] == [f"invoice {inv.number} has no journal entry"]
    assert found["receivables match open invoices"] == [
        f"member {member.pk} receivable 0 SEK ≠ open invoices 49900"
    ]


def test_check_detects_amount_due_tampering(org, location, clock):
    member, inv = _invoice(org, location, clock)
    Invoice.objects.filter(pk=inv.pk).update(amount_due=100)
    found = problems()
    assert f"invoice {inv.number}: amount due 100 does not add up" in found["invoices add up"]
    assert found["receivables match open invoices"] == [
        f"member {member.pk} receivable 49900 SEK ≠ open invoices 100"
    ]


def test_check_detects_total_tampering(org, location, clock):
    _member, inv = _invoice(org, location, clock)
    Invoice.objects.filter(pk=inv.pk).update(subtotal=47000, total=49825, amount_due=49825)
    assert problems()["invoices add up"] == [f"invoice {inv.number}: totals differ from its lines"]


def test_check_detects_lines_pointing_at_another_organizations_account_or_member(
    org, location, clock
):
    from dues.ledger.models import Account
    from tests.factories import make_org

    member, inv = _invoice(org, location, clock)
    other = make_org(clock)
    stranger = make_member(other, clock)
    line = JournalLine.objects.get(entry__source_id=inv.pk, account__code="1100")
    assert problems() == {}
    # Another organization's receivable account: the same code, the wrong books.
    foreign = Account.objects.create(organization=other, code="1100", name="AR", type="asset")
    JournalLine.objects.filter(pk=line.pk).update(account=foreign)
    found = problems()["journal lines stay in their organization"]
    assert found == [
        f"journal line {line.pk} (entry {line.entry_id}, account {foreign.pk}, member "
        f"{member.pk}) points outside organization {org.pk} or at nothing"
    ]
    JournalLine.objects.filter(pk=line.pk).update(account=line.account_id, member=stranger)
    assert len(problems()["journal lines stay in their organization"]) == 1
    JournalLine.objects.filter(pk=line.pk).update(member=member)
    assert "journal lines stay in their organization" not in problems()
