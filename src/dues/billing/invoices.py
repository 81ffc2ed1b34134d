"""Issuing invoices, credit notes and member credit (DESIGN invariants 3 and 4).

``invoices_issue`` is the one path by which invoices come to exist, used by the billing
run (thousands at a time, set-based) and by one-off charges alike: numbers are taken from
the organization's gapless sequence, member credit is applied, and the journal entries
and outbox events are written in the same transaction.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import NamedTuple

from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.models import Sum

from dues.billing.models import (
    INVOICE_TRANSITIONS,
    CreditNote,
    CreditNoteLine,
    Invoice,
    InvoiceLine,
    InvoiceStatus,
    MemberCreditEntry,
)
from dues.billing.pricing import LineSpec
from dues.core.clock import Clock
from dues.core.db import require_transaction
from dues.core.models import Organization
from dues.core.money import allocate
from dues.core.outbox import Event, event_build, events_emit_bulk
from dues.core.rows import rows_insert, rows_update
from dues.core.sequences import sequence_take
from dues.ledger import chart
from dues.ledger.services import EntrySpec, entries_post, entry_post


class InvoiceError(ValidationError):
    pass


@dataclass
class InvoiceSpec:
    organization_id: int
    payer_id: int
    location_id: int
    currency: str
    issue_date: date
    due_date: date
    lines: list[LineSpec] = field(default_factory=list)
    billing_run_date: date | None = None


def invoice_transition_check(invoice: Invoice, to: str) -> None:
    if to not in INVOICE_TRANSITIONS[invoice.status]:
        raise InvoiceError(f"invoice {invoice} cannot go from {invoice.status} to {to}")


def credit_balances(payer_ids: Sequence[int]) -> dict[tuple[int, str], int]:
    rows = (
        MemberCreditEntry.objects.filter(payer_id__in=payer_ids)
        .values_list("payer_id", "currency")
        .annotate(total=Sum("amount"))
    )
    return {(payer, cur): int(total) for payer, cur, total in rows if total}


def credit_balance(payer_id: int, currency: str) -> int:
    return credit_balances([payer_id]).get((payer_id, currency), 0)


INVOICE_COLUMNS = [
    "organization_id",
    "number",
    "sequence_number",
    "payer_id",
    "location_id",
    "status",
    "currency",
    "subtotal",
    "tax",
    "total",
    "credit_applied",
    "amount_paid",
    "amount_credited",
    "amount_due",
    "issue_date",
    "due_date",
    "finalised_at",
    "paid_at",
    "attempt_count",
    "billing_run_date",
    "created_at",
]
LINE_COLUMNS = [
    "organization_id",
    "invoice_id",
    "kind",
    "description",
    "subscription_id",
    "period_start",
    "period_end",
    "quantity",
    "unit_amount",
    "discount_amount",
    "tax_rate_bp",
    "net_amount",
    "tax_amount",
    "revenue_category",
]


class Amounts(NamedTuple):
    tax: int
    total: int
    credit_applied: int
    amount_due: int


@dataclass
class Written:
    """Invoices written but not yet numbered: ``invoices_number`` finishes them."""

    specs: Sequence[InvoiceSpec]
    ids: list[int]
    amounts: list[Amounts]


def invoices_issue(specs: Sequence[InvoiceSpec], *, clock: Clock) -> list[int]:
    """Create and finalise invoices with their lines, credit, ledger entries and events;
    returns their ids in the order of ``specs``.

    Must run inside a transaction (the billing run's batch or a service's operation).
    """
    written = invoices_write(specs, clock=clock)
    invoices_number(written, clock=clock)
    return written.ids


def invoices_write(specs: Sequence[InvoiceSpec], *, clock: Clock) -> Written:
    """The part of issuing that needs no number: invoices, lines, credit and ledger.

    The caller must call ``invoices_number`` in the same transaction before it commits;
    until then no one else sees these rows.
    """
    require_transaction("issuing invoices")
    now = clock.now()
    credits = credit_balances([s.payer_id for s in specs])
    rows = []
    amounts: list[Amounts] = []
    journal: list[EntrySpec] = []
    for spec in specs:
        subtotal = sum(line.net_amount for line in spec.lines)
        tax = sum(line.tax_amount for line in spec.lines)
        total = subtotal + tax
        if total < 0:
            raise InvoiceError("an invoice total cannot be negative; issue a credit note")
        available = credits.get((spec.payer_id, spec.currency), 0)
        applied = min(max(available, 0), total)
        credits[(spec.payer_id, spec.currency)] = available - applied
        due = total - applied
        amounts.append(Amounts(tax, total, applied, due))
        rows.append(
            (
                spec.organization_id,
                None,  # number and sequence number: see invoices_number
                None,
                spec.payer_id,
                spec.location_id,
                InvoiceStatus.OPEN if due else InvoiceStatus.PAID,
                spec.currency,
                subtotal,
                tax,
                total,
                applied,
                0,
                0,
                due,
                spec.issue_date,
                spec.due_date,
                now,
                None if due else now,
                0,
                spec.billing_run_date,
                now,
            )
        )
    ids = rows_insert(Invoice, INVOICE_COLUMNS, rows, returning=True)

    lines: list[tuple[object, ...]] = []
    credit_entries: list[MemberCreditEntry] = []
    for spec, amount, inv_id in zip(specs, amounts, ids, strict=True):
        lines.extend(
            (
                spec.organization_id,
                inv_id,
                line.kind,
                line.description,
                line.subscription_id,
                line.period_start,
                line.period_end,
                line.quantity,
                line.unit_amount,
                line.discount_amount,
                line.tax_rate_bp,
                line.net_amount,
                line.tax_amount,
                line.revenue_category,
            )
            for line in spec.lines
        )
        if amount.credit_applied:
            credit_entries.append(
                MemberCreditEntry(
                    organization_id=spec.organization_id,
                    payer_id=spec.payer_id,
                    currency=spec.currency,
                    amount=-amount.credit_applied,
                    kind=MemberCreditEntry.Kind.APPLIED,
                    invoice_id=inv_id,
                    created_at=now,
                )
            )
        journal.append(_invoice_entry(spec, inv_id, amount, now))
    rows_insert(InvoiceLine, LINE_COLUMNS, lines)
    MemberCreditEntry.objects.bulk_create(credit_entries, batch_size=1000)
    entries_post(journal)
    return Written(specs, ids, amounts)


def invoices_number(written: Written, *, clock: Clock) -> None:
    """Number written invoices from their organizations' gapless sequences and announce
    them. Kept to the end of the transaction: the sequence row stays locked until commit,
    so the less that follows it, the less concurrent billing workers wait on each other.
    """
    require_transaction("numbering invoices")
    if not written.ids:
        return
    if connection.vendor == "postgresql":
        # Run the deferred foreign-key checks now, before the lock is taken.
        with connection.cursor() as cursor:
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
    specs = written.specs
    by_org: dict[int, list[int]] = defaultdict(list)
    for i, spec in enumerate(specs):
        by_org[spec.organization_id].append(i)
    prefixes = dict(Organization.objects.filter(pk__in=by_org).values_list("pk", "invoice_prefix"))
    numbers: list[tuple[int, str, int]] = [(0, "", 0)] * len(specs)
    for org_id, indexes in sorted(by_org.items()):  # one lock order for every worker
        first = sequence_take(organization_id=org_id, name="invoice", count=len(indexes))
        for offset, i in enumerate(indexes):
            seq = first + offset
            numbers[i] = (written.ids[i], f"{prefixes[org_id]}-{seq:06d}", seq)
    rows_update(Invoice, ["number", "sequence_number"], numbers)
    now = clock.now()
    events: list[Event] = []
    for spec, (inv_id, number, _), amount in zip(specs, numbers, written.amounts, strict=True):
        payload = {
            "invoice_id": inv_id,
            "number": number,
            "payer_id": spec.payer_id,
            "total": amount.total,
            "amount_due": amount.amount_due,
            "currency": spec.currency,
        }
        org = spec.organization_id
        events.append(Event(org, "invoice.finalized", "invoice", inv_id, payload, now))
        if not amount.amount_due:
            events.append(Event(org, "invoice.paid", "invoice", inv_id, payload, now))
    events_emit_bulk(events)


def _invoice_entry(spec: InvoiceSpec, inv_id: int, amount: Amounts, now: datetime) -> EntrySpec:
    # The memo stays empty: the number is taken last (invoices_number); the entry's source
    # is the invoice.
    entry = EntrySpec(
        organization_id=spec.organization_id,
        kind="invoice",
        source_type="invoice",
        source_id=inv_id,
        posted_at=now,
    )
    cur = spec.currency
    entry.add(chart.RECEIVABLE, amount.total, cur, spec.payer_id)
    revenue: dict[str, int] = defaultdict(int)
    for line in spec.lines:
        revenue[chart.REVENUE_BY_CATEGORY[line.revenue_category]] += line.net_amount
    for account, net in sorted(revenue.items()):
        entry.add(account, -net, cur)
    entry.add(chart.TAX_PAYABLE, -amount.tax, cur)
    if amount.credit_applied:
        entry.add(chart.MEMBER_CREDIT, amount.credit_applied, cur, spec.payer_id)
        entry.add(chart.RECEIVABLE, -amount.credit_applied, cur, spec.payer_id)
    return entry


def credit_note_split(invoice: Invoice, amount: int) -> list[tuple[InvoiceLine, int, int]]:
    """Spread ``amount`` over the invoice's positive lines in proportion to their totals,
    and each line's share over its net and tax in proportion too (largest remainder)."""
    lines = [line for line in invoice.lines.all() if line.total_amount > 0]
    if not lines:
        raise InvoiceError("this invoice has nothing to credit")
    shares = allocate(amount, [line.total_amount for line in lines])
    result = []
    for line, share in zip(lines, shares, strict=True):
        if share:
            net, tax = allocate(share, [line.net_amount, line.tax_amount])
            result.append((line, net, tax))
    return result


def invoice_creditable(invoice: Invoice) -> int:
    """How much of ``invoice`` may still be credited: its total less earlier credit notes."""
    already = CreditNote.objects.filter(invoice=invoice).aggregate(s=Sum("total"))["s"] or 0
    return max(invoice.total - already, 0)


def credit_note_create(
    *,
    invoice: Invoice,
    amount: int,
    reason: str,
    clock: Clock,
    refund_amount: int = 0,
    refund_account: str = chart.CLEARING,
    to_member_credit: bool = False,
) -> CreditNote:
    """Credit ``amount`` of a finalised invoice.

    The part up to what is still owed reduces the invoice (``applied``); the part backed
    by a refund (``refund_amount``, recorded by the refund service once the gateway has paid
    it back) credits clearing; what remains goes to the member's credit balance when
    ``to_member_credit`` or when nothing is owed.
    """
    if invoice.status in (InvoiceStatus.DRAFT, InvoiceStatus.VOID):
        raise InvoiceError({"invoice": f"a {invoice.status} invoice cannot be credited"})
    if amount <= 0:
        raise InvoiceError({"amount": "a credit note amount must be greater than zero"})
    if not reason.strip():
        raise InvoiceError({"reason": "say why the invoice is being credited"})
    with transaction.atomic():
        invoice = Invoice.objects.select_for_update().get(pk=invoice.pk)
        creditable = invoice_creditable(invoice)
        if amount > creditable:
            raise InvoiceError({"amount": f"at most {creditable} of this invoice can be credited"})
        if refund_amount < 0 or refund_amount > amount:
            raise InvoiceError({"refund_amount": "refund must be between 0 and the credit"})
        remaining = amount - refund_amount
        applied = 0 if to_member_credit else min(remaining, invoice.amount_due)
        member_credit = remaining - applied
        parts = credit_note_split(invoice, amount)
        subtotal = sum(net for _, net, _ in parts)
        tax = sum(t for _, _, t in parts)
        seq = sequence_take(organization_id=invoice.organization_id, name="credit_note")
        note = CreditNote.objects.create(
            organization_id=invoice.organization_id,
            number=f"CN-{seq:06d}",
            sequence_number=seq,
            invoice=invoice,
            payer_id=invoice.payer_id,
            currency=invoice.currency,
            subtotal=subtotal,
            tax=tax,
            total=amount,
            applied_amount=applied,
            credit_amount=member_credit,
            refund_amount=refund_amount,
            reason=reason.strip(),
            created_at=clock.now(),
        )
        CreditNoteLine.objects.bulk_create(
            [
                CreditNoteLine(
                    organization_id=invoice.organization_id,
                    credit_note=note,
                    invoice_line=line,
                    net_amount=net,
                    tax_amount=t,
                )
                for line, net, t in parts
            ]
        )
        if member_credit:
            MemberCreditEntry.objects.create(
                organization_id=invoice.organization_id,
                payer_id=invoice.payer_id,
                currency=invoice.currency,
                amount=member_credit,
                kind=MemberCreditEntry.Kind.CREDIT_NOTE,
                credit_note=note,
                created_at=clock.now(),
            )
        entry = EntrySpec(
            organization_id=invoice.organization_id,
            kind="credit_note",
            source_type="credit_note",
            source_id=note.pk,
            posted_at=clock.now(),
            memo=note.number,
        )
        cur = invoice.currency
        entry.add(chart.REFUNDS, subtotal, cur)
        entry.add(chart.TAX_PAYABLE, tax, cur)
        receivable_credit = applied
        if invoice.status == InvoiceStatus.UNCOLLECTIBLE and applied:
            # The receivable was already written off; crediting it reverses bad debt instead.
            entry.add(chart.BAD_DEBT, -applied, cur)
            receivable_credit = 0
        entry.add(chart.RECEIVABLE, -receivable_credit, cur, invoice.payer_id)
        entry.add(chart.MEMBER_CREDIT, -member_credit, cur, invoice.payer_id)
        entry.add(refund_account, -refund_amount, cur)
        entry_post(entry)
        if applied:
            invoice.amount_credited += applied
            invoice.amount_due -= applied
            fields = ["amount_credited", "amount_due"]
            if invoice.amount_due == 0:
                invoice.status = InvoiceStatus.PAID
                invoice.paid_at = clock.now()
                fields += ["status", "paid_at"]
            invoice.save(update_fields=fields)
        events_emit_bulk(
            [
                event_build(
                    organization_id=invoice.organization_id,
                    topic="credit_note.created",
                    aggregate_type="credit_note",
                    aggregate_id=note.pk,
                    payload={
                        "credit_note_id": note.pk,
                        "invoice_id": invoice.pk,
                        "total": amount,
                        "currency": cur,
                    },
                    clock=clock,
                )
            ]
        )
    return note


def invoice_void(*, invoice: Invoice, clock: Clock, reason: str) -> CreditNote | None:
    """Void an unpaid invoice: a credit note for what is owed (the number stays used)."""
    if invoice.amount_paid:
        raise InvoiceError("an invoice with payments cannot be voided; refund it instead")
    invoice_transition_check(invoice, InvoiceStatus.VOID)
    with transaction.atomic():
        note = None
        if invoice.amount_due:
            note = credit_note_create(
                invoice=invoice, amount=invoice.amount_due, reason=reason, clock=clock
            )
        Invoice.objects.filter(pk=invoice.pk).update(status=InvoiceStatus.VOID)
        events_emit_bulk(
            [
                event_build(
                    organization_id=invoice.organization_id,
                    topic="invoice.voided",
                    aggregate_type="invoice",
                    aggregate_id=invoice.pk,
                    payload={"invoice_id": invoice.pk, "reason": reason},
                    clock=clock,
                )
            ]
        )
    return note


def invoice_write_off(*, invoice: Invoice, clock: Clock, reason: str) -> Invoice:
    """Mark an open invoice uncollectible; what is owed moves from receivable to bad debt."""
    with transaction.atomic():
        invoice = Invoice.objects.select_for_update().get(pk=invoice.pk)
        invoice_transition_check(invoice, InvoiceStatus.UNCOLLECTIBLE)
        entry = EntrySpec(
            organization_id=invoice.organization_id,
            kind="write_off",
            source_type="invoice",
            source_id=invoice.pk,
            posted_at=clock.now(),
            memo=reason,
        )
        entry.add(chart.BAD_DEBT, invoice.amount_due, invoice.currency)
        entry.add(chart.RECEIVABLE, -invoice.amount_due, invoice.currency, invoice.payer_id)
        entry_post(entry)
        invoice.status = InvoiceStatus.UNCOLLECTIBLE
        invoice.save(update_fields=["status"])
        events_emit_bulk(
            [
                event_build(
                    organization_id=invoice.organization_id,
                    topic="invoice.uncollectible",
                    aggregate_type="invoice",
                    aggregate_id=invoice.pk,
                    payload={"invoice_id": invoice.pk, "amount_due": invoice.amount_due},
                    clock=clock,
                )
            ]
        )
    return invoice
