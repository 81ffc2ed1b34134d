"""The figures on the owner's dashboard: revenue, money collected, MRR, memberships
started and ended, failed and recovered payments, arrears. Reads only; money in minor
units, per ISO currency; every function takes the organization and the day or instant it
reports on (the staff page passes its clock), never the wall clock.

Months are calendar months in the organization's time zone, which is the time zone of its
first location (the one created first, lowest id); UTC while it has none. A figure "per
month" is a list aligned with ``months``: the first days of this month and the twelve
before it, oldest first (``MONTHS`` = 13, so this month can be set against the same month
a year ago). Every figure is summed by the database, in a fixed number of queries that
indexes answer without reading table rows (the indexes named in each app's models say
which query they serve); only sums and groups of equal dates reach Python, never one row
per member.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from django.db.models import Case, Count, IntegerField, Max, Min, Q, QuerySet, Sum, Value, When

from dues.billing.models import Freeze, Subscription
from dues.billing.periods import add_periods
from dues.core.clock import local_date, local_midnight
from dues.core.models import Location
from dues.core.selectors import organization_zone
from dues.ledger.chart import REFUNDS, REVENUE_BY_CATEGORY
from dues.ledger.models import Account, JournalLine
from dues.payments.models import Payment, Refund
from dues.reports.mrr import monthly_price
from dues.reports.selectors import Arrears, arrears_aging, ratio, recovery_by_month

MONTHS = 13


def organization_currencies(organization_id: int) -> list[str]:
    """The currencies its locations bill in, sorted."""
    return sorted(
        set(
            Location.objects.filter(organization_id=organization_id).values_list(
                "currency", flat=True
            )
        )
    )


def month_firsts(today: date, count: int = MONTHS) -> list[date]:
    """The first days of ``today``'s month and the ``count - 1`` months before it, oldest
    first."""
    this = today.replace(day=1)
    return [add_periods(this, "month", k - count + 1) for k in range(count)]


def month_ends(months: Sequence[date], today: date) -> list[date]:
    """The day MRR is taken for each month: its last day, and ``today`` for the month
    ``today`` is in (or any later month)."""
    return [min(add_periods(m, "month", 1) - timedelta(days=1), today) for m in months]


def _bounds(months: Sequence[date], tz: str) -> list[datetime]:
    """Local midnight starting each month, and the one after the last: ``len + 1`` instants."""
    days = [*months, add_periods(months[-1], "month", 1)]
    return [local_midnight(day, tz) for day in days]


def _month_of(field: str, bounds: Sequence[datetime], lo: int = 0, hi: int | None = None) -> Any:
    """The index of the month ``field`` falls in, for a query that keeps it inside
    ``bounds``: a balanced tree of comparisons (four for thirteen months, not up to
    thirteen), as it runs once per row."""
    hi = len(bounds) - 1 if hi is None else hi
    if hi - lo == 1:
        return Value(lo)
    mid = (lo + hi) // 2
    return Case(
        When(**{f"{field}__lt": bounds[mid]}, then=_month_of(field, bounds, lo, mid)),
        default=_month_of(field, bounds, mid, hi),
        output_field=IntegerField(),
    )


def _add(out: dict[str, list[int]], currency: str, index: int, amount: int, count: int) -> None:
    out.setdefault(currency, [0] * count)[index] += amount


def _sums_by_month(
    rows: QuerySet[Any], field: str, bounds: Sequence[datetime]
) -> dict[str, list[int]]:
    """``amount`` summed per currency for each month of ``bounds`` by ``field``. One
    query, a UNION ALL of one range per month, each of which an index on
    (organization, ``field``, currency, amount) answers from the index alone and without
    sorting: a month in one currency (the usual case) needs no GROUP BY; only a month
    with several is summed again per currency."""
    count = len(bounds) - 1
    months = [
        rows.filter(**{f"{field}__gte": bounds[i], f"{field}__lt": bounds[i + 1]})
        for i in range(count)
    ]
    arms = [
        month.annotate(month=Value(i, output_field=IntegerField()))
        .values("month")
        .annotate(lo=Min("currency"), hi=Max("currency"), amount=Sum("amount"))
        .order_by()
        for i, month in enumerate(months)
    ]
    out: dict[str, list[int]] = {}
    for got in arms[0].union(*arms[1:], all=True):
        i = got["month"]
        if got["lo"] is None:
            continue
        if got["lo"] == got["hi"]:
            _add(out, got["lo"], i, got["amount"], count)
            continue
        for currency, amount in (
            months[i].values_list("currency").annotate(amount=Sum("amount")).order_by()
        ):
            _add(out, currency, i, amount, count)
    return out


def revenue_by_month(
    *, organization_id: int, months: Sequence[date], tz: str
) -> dict[str, list[int]]:
    """Revenue recognised in each month, net of tax, from the ledger: credits to the
    income accounts of ``ledger.chart.REVENUE_BY_CATEGORY`` (memberships, fees, add-ons,
    products, ...) less debits to the ``REFUNDS`` contra account (credit notes and
    refunds), by the month of the journal entry's ``posted_at`` in ``tz``. Revenue is
    recognised when the invoice is finalised, whether or not it is paid; a written-off
    invoice stays revenue (the loss is bad debt, an expense). Per currency; a currency
    with no posting in the window is absent."""
    codes = [*REVENUE_BY_CATEGORY.values(), REFUNDS]
    accounts = list(
        Account.objects.filter(organization_id=organization_id, code__in=codes).values_list(
            "pk", flat=True
        )
    )
    bounds = _bounds(months, tz)
    rows = (
        JournalLine.objects.filter(
            organization_id=organization_id,
            account_id__in=accounts,
            entry__posted_at__gte=bounds[0],
            entry__posted_at__lt=bounds[-1],
        )
        .annotate(month=_month_of("entry__posted_at", bounds))
        .values_list("currency", "month")
        .annotate(amount=Sum("amount"))
        .order_by()
    )
    out: dict[str, list[int]] = {}
    for currency, index, amount in rows:
        # Credits are negative in the ledger: revenue is their negation.
        _add(out, currency, index, -amount, len(months))
    return out


def collected_by_month(
    *, organization_id: int, months: Sequence[date], tz: str
) -> dict[str, list[int]]:
    """Money collected in each month: payments received (``Payment.received_at``, any
    method) less refunds paid back (``Refund.completed_at`` of succeeded refunds), by
    month in ``tz``, per currency."""
    bounds = _bounds(months, tz)
    payments = Payment.objects.filter(organization_id=organization_id)
    out = _sums_by_month(payments, "received_at", bounds)
    # Refunds are few: one grouped query over the window is cheaper than a query a month.
    refunds = (
        Refund.objects.filter(
            organization_id=organization_id,
            status=Refund.Status.SUCCEEDED,
            completed_at__gte=bounds[0],
            completed_at__lt=bounds[-1],
        )
        .annotate(month=_month_of("completed_at", bounds))
        .values_list("currency", "month")
        .annotate(amount=Sum("amount"))
        .order_by()
    )
    for currency, index, amount in refunds:
        _add(out, currency, index, -amount, len(months))
    return out


@dataclass(frozen=True)
class _Span:
    """Memberships with the same currency, interval and dates, summed."""

    currency: str
    interval: str
    start: date  # the first day it exists (trials included)
    paying: date  # the first day after any trial
    end: date | None  # the first day it no longer exists (``cancel_at``)
    price: int  # the sum of their prices per interval
    count: int

    def paying_on(self, day: date) -> bool:
        return self.paying <= day and (self.end is None or day < self.end)


@dataclass(frozen=True)
class _FrozenSpan:
    span: _Span  # price and count: of the frozen memberships only
    start: date
    end: date  # the first day back


def _spans(*, organization_id: int, first: date, last: date) -> list[_Span]:
    """Memberships that existed at some time in [first, last], grouped by their dates.
    One that ended on or before the day it started (cancelled before it began) never
    existed."""
    rows = (
        Subscription.objects.filter(organization_id=organization_id, start_date__lte=last)
        .filter(Q(cancel_at__isnull=True) | Q(cancel_at__gte=first))
        .values_list("currency", "interval", "start_date", "trial_end", "cancel_at")
        .annotate(price=Sum("price"), count=Count("id"))
        .order_by()
    )
    return [
        _Span(currency, interval, start, trial_end or start, end, price, count)
        for currency, interval, start, trial_end, end, price, count in rows
        if end is None or end > start
    ]


def _frozen(*, organization_id: int, first: date, last: date) -> list[_FrozenSpan]:
    """Freezes (scheduled, running or ended; not called off) overlapping [first, last]."""
    rows = (
        Freeze.objects.filter(
            organization_id=organization_id, start_date__lte=last, end_date__gt=first
        )
        .exclude(status=Freeze.Status.CANCELLED)
        .values_list(
            "subscription__currency",
            "subscription__interval",
            "subscription__start_date",
            "subscription__trial_end",
            "subscription__cancel_at",
            "start_date",
            "end_date",
        )
        .annotate(price=Sum("subscription__price"), count=Count("id"))
        .order_by()
    )
    return [
        _FrozenSpan(
            _Span(currency, interval, start, trial_end or start, end, price, count), f_start, f_end
        )
        for currency, interval, start, trial_end, end, f_start, f_end, price, count in rows
    ]


def _mrr(
    spans: Sequence[_Span], frozen: Sequence[_FrozenSpan], days: Sequence[date]
) -> dict[str, list[int]]:
    prices: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0] * len(days))
    for span in spans:
        row = prices[span.currency, span.interval]
        for i, day in enumerate(days):
            if span.paying_on(day):
                row[i] += span.price
    for f in frozen:
        row = prices[f.span.currency, f.span.interval]
        for i, day in enumerate(days):
            if f.start <= day < f.end and f.span.paying_on(day):
                row[i] -= f.span.price
    out: dict[str, list[int]] = {}
    for (currency, interval), row in sorted(prices.items()):
        total = out.setdefault(currency, [0] * len(days))
        for i, price in enumerate(row):
            total[i] += monthly_price(price, interval)
    return out


def mrr_by_day(*, organization_id: int, days: Sequence[date]) -> dict[str, list[int]]:
    """Monthly recurring revenue on each of ``days``, per currency (the definition Stripe
    Billing uses): the monthly-normalised price (``reports.mrr.monthly_price``) of every
    membership paying that day, that is started (``start_date`` on or before it), past
    its trial (``trial_end`` on or before it), not ended (``cancel_at``, the first day
    without the membership, after it; a cancellation given notice still counts until
    then) and not frozen (a freeze not called off covering it). The price is the
    membership's price per interval without coupons, add-ons or joining fees, and as it
    stands now: a plan change rewrites it, so past days show the new price. Prices are
    summed per currency and interval first and normalised once per sum (rounded down)."""
    if not days:
        return {}
    first, last = min(days), max(days)
    spans = _spans(organization_id=organization_id, first=first, last=last)
    frozen = _frozen(organization_id=organization_id, first=first, last=last)
    return _mrr(spans, frozen, days)


@dataclass(frozen=True)
class MembershipChanges:
    """Memberships (not members: a member with two memberships counts twice) per month."""

    new: list[int]  # started that month (``start_date``; a trial counts from its start)
    ended: list[int]  # ended that month (``cancel_at`` on or before today)
    ending: int  # notice given, ends after today


def _changes(spans: Sequence[_Span], months: Sequence[date], today: date) -> MembershipChanges:
    new = [0] * len(months)
    ended = [0] * len(months)
    ending = 0
    firsts = [*months, add_periods(months[-1], "month", 1)]

    def index(day: date) -> int | None:
        for i in range(len(months)):
            if firsts[i] <= day < firsts[i + 1]:
                return i
        return None

    for span in spans:
        if span.start <= today and (i := index(span.start)) is not None:
            new[i] += span.count
        if span.end is not None:
            if span.end > today:
                ending += span.count
            elif (i := index(span.end)) is not None:
                ended[i] += span.count
    return MembershipChanges(new=new, ended=ended, ending=ending)


def memberships_by_month(
    *, organization_id: int, months: Sequence[date], today: date
) -> MembershipChanges:
    """Memberships started and ended in each month, up to ``today``; one cancelled before
    it began counts in neither. Dates are the membership's own (its location's calendar)."""
    last = add_periods(months[-1], "month", 1) - timedelta(days=1)
    spans = _spans(organization_id=organization_id, first=months[0], last=max(last, today))
    return _changes(spans, months, today)


@dataclass(frozen=True)
class Recovery:
    """Invoices whose first charge failed in each month (``recovery_by_month``) and how
    many of them have been paid in full since, by now; counts over all currencies."""

    failed: list[int]
    recovered: list[int]
    failed_amount: dict[str, list[int]]
    recovered_amount: dict[str, list[int]]

    def rate(self, index: int = -1) -> Decimal | None:
        """Share of the month's failed invoices recovered (``None`` when none failed)."""
        return ratio(self.recovered[index], self.failed[index])


def recovery_months(*, organization_id: int, months: Sequence[date]) -> Recovery:
    rows = recovery_by_month(
        organization_id=organization_id,
        first=months[0],
        until=add_periods(months[-1], "month", 1),
        by_code=False,
    )
    index = {m.strftime("%Y-%m"): i for i, m in enumerate(months)}
    n = len(months)
    failed, recovered = [0] * n, [0] * n
    failed_amount: dict[str, list[int]] = {}
    recovered_amount: dict[str, list[int]] = {}
    for row in rows:
        i = index[row.month]
        failed[i] += row.failed_invoices
        recovered[i] += row.recovered_invoices
        failed_amount.setdefault(row.currency, [0] * n)[i] += row.failed_amount
        recovered_amount.setdefault(row.currency, [0] * n)[i] += row.recovered_amount
    return Recovery(failed, recovered, failed_amount, recovered_amount)


@dataclass(frozen=True)
class Dashboard:
    today: date  # in ``timezone``
    timezone: str
    currencies: list[str]  # every currency with a figure, sorted
    months: list[date]  # first days, oldest first; the last is this month
    revenue: dict[str, list[int]]  # per currency, aligned with ``months``
    collected: dict[str, list[int]]
    mrr_days: list[date]  # the last day of each month; today for this month
    mrr: dict[str, list[int]]  # aligned with ``mrr_days``
    memberships: MembershipChanges
    recovery: Recovery
    arrears: Arrears

    def arrears_total(self, currency: str) -> int:
        return sum(b.amount for b in self.arrears.buckets if b.currency == currency)


def _filled(
    figures: dict[str, list[int]], currencies: Iterable[str], n: int
) -> dict[str, list[int]]:
    return {c: figures.get(c, [0] * n) for c in currencies}


def dashboard_figures(*, organization_id: int, now: datetime, months: int = MONTHS) -> Dashboard:
    """Every figure on the dashboard at the instant ``now``."""
    tz = organization_zone(organization_id=organization_id)
    today = local_date(now, tz)
    firsts = month_firsts(today, months)
    days = month_ends(firsts, today)
    n = len(firsts)
    revenue = revenue_by_month(organization_id=organization_id, months=firsts, tz=tz)
    collected = collected_by_month(organization_id=organization_id, months=firsts, tz=tz)
    spans = _spans(organization_id=organization_id, first=firsts[0], last=today)
    frozen = _frozen(organization_id=organization_id, first=days[0], last=today)
    mrr = _mrr(spans, frozen, days)
    arrears = arrears_aging(organization_id=organization_id, as_of=today)
    recovery = recovery_months(organization_id=organization_id, months=firsts)
    currencies = sorted(
        set(organization_currencies(organization_id))
        | set(revenue)
        | set(collected)
        | set(mrr)
        | set(recovery.failed_amount)
        | {b.currency for b in arrears.buckets}
    )
    return Dashboard(
        today=today,
        timezone=tz,
        currencies=currencies,
        months=firsts,
        revenue=_filled(revenue, currencies, n),
        collected=_filled(collected, currencies, n),
        mrr_days=days,
        mrr=_filled(mrr, currencies, n),
        memberships=_changes(spans, firsts, today),
        recovery=recovery,
        arrears=arrears,
    )
