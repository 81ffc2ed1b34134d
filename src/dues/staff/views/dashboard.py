"""The owner's and managers' dashboard: this month's key figures, then a chart (with the
same numbers in a table) for revenue, MRR, memberships, failed payments and arrears. The
figures come from ``reports.dashboard``; this module only formats them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from babel.dates import format_date
from babel.numbers import format_percent
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import translation
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_GET

from dues.core.clock import SystemClock
from dues.core.memo import memoized
from dues.notify.render import date_text
from dues.reports.dashboard import Dashboard, dashboard_figures
from dues.reports.selectors import AGE_BUCKETS, ratio
from dues.staff.charts import (
    Format,
    Series,
    bar_chart,
    count_format,
    line_chart,
    money_format,
    money_unit,
)
from dues.staff.roles import Action
from dues.staff.session import staff_view
from dues.staff.views.members import lang, staff_of

CLOCK = SystemClock()

# The payers listed under the arrears chart.
TOP_PAYERS = 10


@dataclass(frozen=True)
class Figure:
    """One key figure: its value and a line under it (the change, or what it counts)."""

    value: str
    note: str = ""


@dataclass(frozen=True)
class Card:
    title: str
    figures: list[Figure]


def _locale() -> str:
    return translation.to_locale(lang())


def _percent(part: int, whole: int) -> str:
    share = ratio(part, whole)
    return "" if share is None else str(format_percent(share, "#,##0.0%", locale=_locale()))


def _change(now: int, before: int, fmt: Format, month: str, *, since_end: bool = False) -> str:
    """The change in words, never by colour alone: "Up SEK 120.00 (5.0%) on February
    2026", or for a figure taken at a month's end, "... since the end of February 2026"."""
    if now == before:
        if since_end:
            return _("No change since the end of %(month)s") % {"month": month}
        return _("Same as %(month)s") % {"month": month}
    values = {
        "diff": fmt(abs(now - before)),
        "share": f" ({_percent(abs(now - before), before)})" if before > 0 else "",
        "month": month,
    }
    if since_end:
        if now > before:
            return _("Up %(diff)s%(share)s since the end of %(month)s") % values
        return _("Down %(diff)s%(share)s since the end of %(month)s") % values
    if now > before:
        return _("Up %(diff)s%(share)s on %(month)s") % values
    return _("Down %(diff)s%(share)s on %(month)s") % values


@dataclass(frozen=True)
class MonthNames:
    full: list[str]  # "March 2026"
    short: list[str]  # "Mar", along a chart's bottom
    years: list[str]  # under the first month and each January, else ""


def _month_names(months: Sequence[date]) -> MonthNames:
    locale = _locale()
    return MonthNames(
        full=[format_date(m, "LLLL y", locale=locale) for m in months],
        short=[format_date(m, "LLL", locale=locale) for m in months],
        years=[
            format_date(m, "y", locale=locale) if i == 0 or m.month == 1 else ""
            for i, m in enumerate(months)
        ],
    )


def _cards(fig: Dashboard, names: MonthNames) -> list[Card]:
    language = lang()
    count = count_format(language)
    last = names.full[-2]
    revenue: list[Figure] = []
    mrr: list[Figure] = []
    arrears: list[Figure] = []
    for c in fig.currencies:
        money = money_format(c, language)
        now, before = fig.revenue[c][-1], fig.revenue[c][-2]
        revenue.append(Figure(money(now), _change(now, before, money, last)))
        collected = fig.collected[c][-1]
        revenue.append(Figure(money(collected), _("Collected (payments received less refunds)")))
        now, before = fig.mrr[c][-1], fig.mrr[c][-2]
        mrr.append(Figure(money(now), _change(now, before, money, last, since_end=True)))
        owed = [b for b in fig.arrears.buckets if b.currency == c]
        invoices = sum(b.invoices for b in owed)
        arrears.append(
            Figure(
                money(fig.arrears_total(c)),
                ngettext("%(count)s overdue invoice", "%(count)s overdue invoices", invoices)
                % {"count": count(invoices)},
            )
        )
    m = fig.memberships
    r = fig.recovery
    rate = _percent(r.recovered[-1], r.failed[-1])
    return [
        Card(_("Revenue this month"), revenue),
        Card(_("MRR now"), mrr),
        Card(
            _("Memberships this month"),
            [
                Figure(count(m.new[-1]), _("started")),
                Figure(count(m.ended[-1]), _("ended")),
                Figure(count(m.ending), _("notice given, ending later")),
            ],
        ),
        Card(
            _("Failed payments this month"),
            [
                Figure(count(r.failed[-1]), _("invoices whose first charge failed")),
                Figure(
                    count(r.recovered[-1]),
                    _("recovered since (%(rate)s)") % {"rate": rate}
                    if rate
                    else _("recovered since"),
                ),
            ],
        ),
        Card(_("Arrears now"), arrears),
    ]


def _sections(fig: Dashboard, names: MonthNames) -> list[dict[str, Any]]:
    """The chart sections, in page order: revenue, MRR, memberships, failed payments and
    arrears (the template adds the payers table to the last)."""
    language = lang()
    count = count_format(language)
    month = _("Month")
    full, short, years = names.full, names.short, names.years
    revenue, mrr, arrears = [], [], []
    mrr_labels = [date_text(day, language) for day in fig.mrr_days]
    buckets = [label for label, _low, _high in AGE_BUCKETS]
    bucket_names = [_("%(days)s days") % {"days": b.replace("-", "–")} for b in buckets]
    for c in fig.currencies:
        money, unit = money_format(c, language), money_unit(c)
        revenue.append(
            bar_chart(
                uid=f"revenue-{c}",
                title=_("Revenue by month, net of tax, %(currency)s") % {"currency": c},
                heading=month,
                series=[Series(_("Revenue"), list(zip(full, fig.revenue[c], strict=True)))],
                fmt=money,
                unit=unit,
                ticks=short,
                second_line=years,
            )
        )
        mrr.append(
            line_chart(
                uid=f"mrr-{c}",
                title=_("MRR at the end of each month, and today, %(currency)s") % {"currency": c},
                heading=_("Day"),
                series=[Series(_("MRR"), list(zip(mrr_labels, fig.mrr[c], strict=True)))],
                fmt=money,
                unit=unit,
                ticks=short,
                second_line=years,
            )
        )
        owed = {b.bucket: b.amount for b in fig.arrears.buckets if b.currency == c}
        arrears.append(
            bar_chart(
                uid=f"arrears-{c}",
                title=_("Arrears by days overdue, %(currency)s") % {"currency": c},
                heading=_("Overdue"),
                series=[
                    Series(
                        _("Owed"),
                        [
                            (name, owed.get(b, 0))
                            for name, b in zip(bucket_names, buckets, strict=True)
                        ],
                    )
                ],
                fmt=money,
                unit=unit,
                ticks=buckets,
            )
        )
    m, r = fig.memberships, fig.recovery
    memberships = bar_chart(
        uid="memberships",
        title=_("Memberships started and ended by month"),
        heading=month,
        series=[
            Series(_("Started"), list(zip(full, m.new, strict=True))),
            Series(_("Ended"), list(zip(full, m.ended, strict=True))),
        ],
        fmt=count,
        ticks=short,
        second_line=years,
    )
    payments = bar_chart(
        uid="payments",
        title=_("Failed first charges and how many were recovered, by month"),
        heading=month,
        series=[
            Series(_("Failed"), list(zip(full, r.failed, strict=True))),
            Series(_("Recovered since"), list(zip(full, r.recovered, strict=True))),
        ],
        fmt=count,
        ticks=short,
        second_line=years,
    )
    return [
        {
            "id": "revenue",
            "heading": _("Revenue"),
            "intro": _(
                "Revenue recognised from invoices, net of tax, less credit notes and refunds, "
                "by the month it was booked."
            ),
            "charts": revenue,
        },
        {
            "id": "mrr",
            "heading": _("Monthly recurring revenue"),
            "intro": _(
                "Memberships paying on the day, each price made monthly; memberships in "
                "their trial or frozen do not count."
            ),
            "charts": mrr,
        },
        {
            "id": "memberships",
            "heading": _("Memberships"),
            "intro": _("Memberships (not members) by the month they started and ended."),
            "charts": [memberships],
        },
        {
            "id": "payments",
            "heading": _("Failed payments"),
            "intro": _(
                "Invoices by the month their first charge failed; recovered means paid in "
                "full since, by any route."
            ),
            "charts": [payments],
        },
        {
            "id": "arrears",
            "heading": _("Arrears"),
            "intro": _("Open invoices past their due date, by how long overdue."),
            "charts": arrears,
        },
    ]


def _payers(fig: Dashboard) -> list[dict[str, Any]]:
    language = lang()
    return [
        {
            "payer_id": p.payer_id,
            "name": p.name,
            "amount": money_format(p.currency, language)(p.amount),
            "invoices": p.invoices,
            "oldest": date_text(p.oldest_due, language),
            "days": p.days_overdue,
            "in_dunning": p.in_dunning,
        }
        for p in fig.arrears.payers[:TOP_PAYERS]
    ]


@require_GET
@staff_view(Action.DASHBOARD_VIEW)
def dashboard(request: HttpRequest) -> HttpResponse:
    staff = staff_of(request)
    org_id, now = staff.organization.pk, CLOCK.now()
    fig = memoized(
        f"dashboard:{org_id}:{now:%Y-%m-%dT%H:%M}",
        lambda: dashboard_figures(organization_id=org_id, now=now),
    )
    names = _month_names(fig.months)
    return render(
        request,
        "staff/dashboard.html",
        {
            "staff": staff,
            "today": date_text(fig.today, lang()),
            "timezone": fig.timezone,
            "first_month": names.full[0],
            "this_month": names.full[-1],
            "cards": _cards(fig, names),
            "sections": _sections(fig, names),
            "payers": _payers(fig),
            "more_payers": max(len(fig.arrears.payers) - TOP_PAYERS, 0),
        },
    )
