"""Reports on failed payments: what failed and what came back, by month and decline code;
and what is overdue now, by age. Reads only; amounts in minor units, per currency."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_EVEN, Decimal

from django.db.models import OuterRef, Subquery, Value

from dues.billing.models import Invoice, InvoiceStatus
from dues.billing.periods import add_periods
from dues.dunning.models import CaseStatus, DunningCase
from dues.members.models import Member
from dues.payments.models import PaymentAttempt

NO_CARD = "no_payment_method"


def ratio(part: int, whole: int) -> Decimal | None:
    """``part / whole`` to four places (banker's rounding); ``None`` when nothing failed."""
    if not whole:
        return None
    return (Decimal(part) / Decimal(whole)).quantize(Decimal("0.0001"), ROUND_HALF_EVEN)


def month_first(text: str) -> date:
    """The first day of a ``YYYY-MM`` month."""
    return date.fromisoformat(f"{text}-01")


def months_span(*, first: date | None, last: date | None, today: date) -> tuple[date, date]:
    """[first day of ``first``, first day after ``last``); by default the twelve months up
    to ``today``'s. ValueError when ``first`` comes after ``last``."""
    last = last or today.replace(day=1)
    first = first or add_periods(last, "month", -11)
    if first > last:
        raise ValueError("the first month comes after the last")
    return first, add_periods(last, "month", 1)


@dataclass(frozen=True)
class RecoveryRow:
    month: str  # YYYY-MM of the first failure, in the location's time zone
    currency: str
    decline_code: str  # of the first failed charge
    failed_invoices: int
    failed_amount: int
    recovered_invoices: int
    recovered_amount: int

    @property
    def recovery_rate(self) -> Decimal | None:
        return ratio(self.recovered_invoices, self.failed_invoices)

    @property
    def recovered_amount_rate(self) -> Decimal | None:
        return ratio(self.recovered_amount, self.failed_amount)


def recovery_by_month(
    *, organization_id: int, first: date, until: date, by_code: bool = True
) -> list[RecoveryRow]:
    """Invoices whose first charge failed in [first, until): how many and how much, and
    how much of it has been collected since, by any route (retry, new card, portal, desk,
    payment plan instalments). An invoice counts as recovered once paid in full; partial
    payments count in the amount. Late-fee invoices are left out: they are dunning's own.
    With ``by_code`` False, one row per month and currency (decline code ``*``)."""
    first_code = PaymentAttempt.objects.filter(
        invoice_id=OuterRef("invoice_id"), attempt_number=1
    ).values("decline_code")[:1]
    cases = (
        DunningCase.objects.filter(
            organization_id=organization_id,
            is_fee=False,
            first_failed_on__gte=first,
            first_failed_on__lt=until,
        )
        # The first charge's decline code only when rows are split by it (a subquery each).
        .annotate(code=Subquery(first_code) if by_code else Value(""))
        .values_list(
            "first_failed_on",
            "invoice__currency",
            "code",
            "status",
            "invoice__total",
            "invoice__credit_applied",
            "invoice__amount_paid",
        )
    )
    sums: dict[tuple[str, str, str], list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    for on, currency, code, status, total, credit, paid in cases:
        key = (on.strftime("%Y-%m"), currency, (code or NO_CARD) if by_code else "*")
        row = sums[key]
        row[0] += 1
        row[1] += total - credit
        row[2] += status == CaseStatus.RECOVERED
        row[3] += paid
    return [RecoveryRow(*key, *values) for key, values in sorted(sums.items())]


AGE_BUCKETS: tuple[tuple[str, int, int | None], ...] = (
    ("1-30", 1, 30),
    ("31-60", 31, 60),
    ("61-90", 61, 90),
    ("91+", 91, None),
)


def age_bucket(days_overdue: int) -> str:
    for label, low, high in AGE_BUCKETS:
        if days_overdue >= low and (high is None or days_overdue <= high):
            return label
    raise ValueError(f"not overdue: {days_overdue} days")


@dataclass(frozen=True)
class AgingRow:
    bucket: str  # days overdue: 1-30, 31-60, 61-90, 91+
    currency: str
    invoices: int
    amount: int


@dataclass(frozen=True)
class OverduePayer:
    payer_id: int
    name: str
    currency: str
    invoices: int
    amount: int
    oldest_due: date
    days_overdue: int  # of the oldest
    in_dunning: bool  # a dunning case is open or on a payment plan


@dataclass(frozen=True)
class Arrears:
    as_of: date
    buckets: list[AgingRow]
    payers: list[OverduePayer]  # largest amount first


@dataclass
class _Owed:
    invoices: int
    amount: int
    oldest: date


def arrears_aging(*, organization_id: int, as_of: date) -> Arrears:
    """Open invoices past their due date on ``as_of``, by age and by payer. Written-off
    invoices are not arrears (they are bad debt); invoices not yet due are not either."""
    rows = Invoice.objects.filter(
        organization_id=organization_id,
        status=InvoiceStatus.OPEN,
        amount_due__gt=0,
        due_date__lt=as_of,
    ).values_list("payer_id", "currency", "amount_due", "due_date")
    active = set(
        DunningCase.objects.filter(
            organization_id=organization_id, status__in=[CaseStatus.OPEN, CaseStatus.ON_PLAN]
        ).values_list("payer_id", flat=True)
    )
    by_age: dict[tuple[str, str], _Owed] = {}
    by_payer: dict[tuple[int, str], _Owed] = {}
    for payer_id, currency, amount, due in rows:
        assert due is not None  # the filter leaves no undated invoice
        for owed in (
            by_age.setdefault((age_bucket((as_of - due).days), currency), _Owed(0, 0, due)),
            by_payer.setdefault((payer_id, currency), _Owed(0, 0, due)),
        ):
            owed.invoices += 1
            owed.amount += amount
            owed.oldest = min(owed.oldest, due)
    names = {
        pk: f"{first} {last}".strip()
        for pk, first, last in Member.objects.filter(pk__in={p for p, _ in by_payer}).values_list(
            "pk", "first_name", "last_name"
        )
    }
    order = {label: i for i, (label, _, _) in enumerate(AGE_BUCKETS)}
    buckets = [
        AgingRow(label, currency, owed.invoices, owed.amount)
        for (label, currency), owed in sorted(
            by_age.items(), key=lambda kv: (kv[0][1], order[kv[0][0]])
        )
    ]
    payers = [
        OverduePayer(
            payer_id=payer,
            name=names.get(payer, ""),
            currency=currency,
            invoices=owed.invoices,
            amount=owed.amount,
            oldest_due=owed.oldest,
            days_overdue=(as_of - owed.oldest).days,
            in_dunning=payer in active,
        )
        for (payer, currency), owed in by_payer.items()
    ]
    payers.sort(key=lambda p: (-p.amount, p.currency, p.payer_id))
    return Arrears(as_of=as_of, buckets=buckets, payers=payers)
