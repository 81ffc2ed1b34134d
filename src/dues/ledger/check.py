"""``dues ledger check``: every money invariant, verified from the rows themselves.

Each check returns human-readable violations; an empty list everywhere means the books
are consistent. Checks are set-based SQL aggregates so they run on large databases.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable

from django.db.models import Count, Exists, Max, Min, OuterRef, Q, Sum

from dues.billing.models import CreditNote, Invoice, InvoiceLine, InvoiceStatus, MemberCreditEntry
from dues.ledger import chart
from dues.ledger.models import Account, JournalEntry, JournalLine
from dues.members.models import Member
from dues.payments.disputes import dispute_entries
from dues.payments.models import AttemptStatus, Dispute, Payment, PaymentAttempt, Refund

Violation = str


def entries_balanced() -> list[Violation]:
    rows = (
        JournalLine.objects.values("entry_id", "currency")
        .annotate(total=Sum("amount"))
        .exclude(total=0)
    )
    return [f"journal entry {r['entry_id']} is off by {r['total']} {r['currency']}" for r in rows]


def entries_exist() -> list[Violation]:
    out: list[Violation] = []
    posted = set(JournalEntry.objects.values_list("kind", "source_id"))
    finalised = Invoice.objects.exclude(status=InvoiceStatus.DRAFT).filter(total__gt=0)
    for pk, number in finalised.values_list("pk", "number"):
        if ("invoice", pk) not in posted:
            out.append(f"invoice {number} has no journal entry")
    for pk in Payment.objects.values_list("pk", flat=True):
        if ("payment", pk) not in posted:
            out.append(f"payment {pk} has no journal entry")
    for pk, number in CreditNote.objects.values_list("pk", "number"):
        if ("credit_note", pk) not in posted:
            out.append(f"credit note {number} has no journal entry")
    for pk in Invoice.objects.filter(status=InvoiceStatus.UNCOLLECTIBLE).values_list(
        "pk", flat=True
    ):
        if ("write_off", pk) not in posted:
            out.append(f"uncollectible invoice {pk} has no write-off entry")
    return out


def invoices_consistent() -> list[Violation]:
    out: list[Violation] = []
    line_sums = {
        r["invoice_id"]: r
        for r in InvoiceLine.objects.values("invoice_id").annotate(
            net=Sum("net_amount"), tax=Sum("tax_amount")
        )
    }
    paid = dict(
        Payment.objects.filter(invoice__isnull=False)
        .values("invoice_id")
        .annotate(s=Sum("amount"))
        .values_list("invoice_id", "s")
    )
    fields = (
        "pk",
        "number",
        "status",
        "subtotal",
        "tax",
        "total",
        "credit_applied",
        "amount_paid",
        "amount_credited",
        "amount_due",
    )
    for pk, number, status, subtotal, tax, total, credit, amount_paid, credited, due in (
        Invoice.objects.exclude(status=InvoiceStatus.DRAFT).values_list(*fields).iterator(2000)
    ):
        sums = line_sums.get(pk, {"net": 0, "tax": 0})
        if (sums["net"] or 0) != subtotal or (sums["tax"] or 0) != tax:
            out.append(f"invoice {number}: totals differ from its lines")
        if due != total - credit - amount_paid - credited:
            out.append(f"invoice {number}: amount due {due} does not add up")
        if paid.get(pk, 0) < amount_paid:
            out.append(f"invoice {number}: payments {paid.get(pk, 0)} < amount paid {amount_paid}")
        if amount_paid > total - credit:
            out.append(f"invoice {number}: paid {amount_paid} more than it asked for")
        if status == InvoiceStatus.PAID and due != 0:
            out.append(f"invoice {number}: paid with {due} still due")
        if status == InvoiceStatus.OPEN and due == 0:
            out.append(f"invoice {number}: open with nothing due")
    twice = (
        PaymentAttempt.objects.filter(status=AttemptStatus.SUCCEEDED)
        .values("invoice_id")
        .annotate(n=Count("id"), s=Sum("amount"))
        .filter(n__gt=1)
    )
    for row in twice:
        inv = Invoice.objects.get(pk=row["invoice_id"])
        if row["s"] > inv.total - inv.credit_applied:
            out.append(f"invoice {inv.number} was charged {row['n']} times ({row['s']})")
    return out


def numbering_gapless() -> list[Violation]:
    out: list[Violation] = []
    for model, label in ((Invoice, "invoice"), (CreditNote, "credit note")):
        rows = (
            model.objects.filter(sequence_number__isnull=False)
            .values("organization_id")
            .annotate(n=Count("id"), distinct=Count("sequence_number", distinct=True))
        )
        for r in rows:
            numbers = model.objects.filter(organization_id=r["organization_id"]).aggregate(
                lo=Min("sequence_number"), hi=Max("sequence_number")
            )
            if numbers["lo"] != 1 or numbers["hi"] != r["n"] or r["distinct"] != r["n"]:
                out.append(
                    f"{label} numbers of organization {r['organization_id']} have gaps or "
                    f"duplicates: {r['n']} numbers from {numbers['lo']} to {numbers['hi']}"
                )
    return out


def receivables_match() -> list[Violation]:
    """A member's receivable equals their open invoices; their credit account equals their
    unapplied credit (so receivable − credit = open invoices − unapplied credit)."""
    out: list[Violation] = []
    ledger_recv: dict[tuple[int, str], int] = defaultdict(int)
    ledger_credit: dict[tuple[int, str], int] = defaultdict(int)
    rows = (
        JournalLine.objects.filter(account__code__in=[chart.RECEIVABLE, chart.MEMBER_CREDIT])
        .values_list("account__code", "member_id", "currency")
        .annotate(total=Sum("amount"))
    )
    for code, member, cur, total in rows:
        target = ledger_recv if code == chart.RECEIVABLE else ledger_credit
        target[(member, cur)] += total
    open_due: dict[tuple[int, str], int] = defaultdict(int)
    for payer, cur, total in (
        Invoice.objects.filter(status=InvoiceStatus.OPEN)
        .values_list("payer_id", "currency")
        .annotate(total=Sum("amount_due"))
    ):
        open_due[(payer, cur)] += total
    for key in set(ledger_recv) | set(open_due):
        if ledger_recv.get(key, 0) != open_due.get(key, 0):
            out.append(
                f"member {key[0]} receivable {ledger_recv.get(key, 0)} {key[1]} ≠ open invoices "
                f"{open_due.get(key, 0)}"
            )
    credit_rows = MemberCreditEntry.objects.values_list("payer_id", "currency").annotate(
        total=Sum("amount")
    )
    credit = {(p, c): t for p, c, t in credit_rows}
    for key in set(credit) | set(ledger_credit):
        if -ledger_credit.get(key, 0) != credit.get(key, 0):
            out.append(
                f"member {key[0]} credit account {-ledger_credit.get(key, 0)} {key[1]} ≠ "
                f"unapplied credit {credit.get(key, 0)}"
            )
        if credit.get(key, 0) < 0:
            out.append(f"member {key[0]} has negative credit {credit[key]} {key[1]}")
    return out


def refunds_consistent() -> list[Violation]:
    out: list[Violation] = []
    refunded = dict(
        Refund.objects.filter(status=Refund.Status.SUCCEEDED)
        .values("payment_id")
        .annotate(s=Sum("amount"))
        .values_list("payment_id", "s")
    )
    for pk, amount, amount_refunded in Payment.objects.filter(
        Q(amount_refunded__gt=0) | Q(pk__in=refunded)
    ).values_list("pk", "amount", "amount_refunded"):
        if refunded.get(pk, 0) != amount_refunded or amount_refunded > amount:
            out.append(
                f"payment {pk}: refunded {amount_refunded}, refunds say {refunded.get(pk, 0)}"
            )
    return out


def disputes_posted() -> list[Violation]:
    """Each chargeback has the entries its state needs, and what the network holds
    (the disputed account) is exactly the open chargebacks."""
    out: list[Violation] = []
    posted = set(
        JournalEntry.objects.filter(source_type="dispute").values_list("kind", "source_id")
    )
    held: dict[tuple[int, str], int] = defaultdict(int)
    for pk, org, status, gateway_status, amount, cur in Dispute.objects.values_list(
        "pk", "organization_id", "status", "gateway_status", "amount", "currency"
    ):
        kinds = dispute_entries(status, gateway_status)
        for kind in kinds:
            if (kind, pk) not in posted:
                out.append(f"dispute {pk} ({status}) has no {kind} entry")
        if kinds == ["dispute_withdrawn"]:
            held[(org, cur)] += amount
    balances = (
        JournalLine.objects.filter(account__code=chart.DISPUTED)
        .values("organization_id", "currency")
        .annotate(total=Sum("amount"))
    )
    seen = {(b["organization_id"], b["currency"]): b["total"] for b in balances}
    for key in set(seen) | set(held):
        if seen.get(key, 0) != held.get(key, 0):
            out.append(
                f"organization {key[0]}: disputed account holds {seen.get(key, 0)} {key[1]}, "
                f"open chargebacks are {held.get(key, 0)}"
            )
    return out


def lines_reference_their_organization() -> list[Violation]:
    """Each journal line's entry, account and member exist and belong to the line's own
    organization (the columns carry no per-row constraint; see JournalLine)."""
    same_org = {"organization_id": OuterRef("organization_id")}
    bad = JournalLine.objects.filter(
        ~Exists(JournalEntry.objects.filter(pk=OuterRef("entry_id"), **same_org))
        | ~Exists(Account.objects.filter(pk=OuterRef("account_id"), **same_org))
        | (
            Q(member_id__isnull=False)
            & ~Exists(Member.objects.filter(pk=OuterRef("member_id"), **same_org))
        )
    ).values_list("pk", "entry_id", "account_id", "member_id", "organization_id")
    return [
        f"journal line {pk} (entry {entry}, account {account}, member {member}) points outside "
        f"organization {org} or at nothing"
        for pk, entry, account, member, org in bad[:1000]
    ]


CHECKS: dict[str, Callable[[], list[Violation]]] = {
    "journal lines stay in their organization": lines_reference_their_organization,
    "entries balance": entries_balanced,
    "every money movement is posted": entries_exist,
    "invoices add up": invoices_consistent,
    "numbers have no gaps": numbering_gapless,
    "receivables match open invoices": receivables_match,
    "refunds match payments": refunds_consistent,
    "disputes are posted": disputes_posted,
}


def ledger_check() -> dict[str, list[Violation]]:
    return {name: check() for name, check in CHECKS.items()}
