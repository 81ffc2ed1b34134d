"""Billing-period arithmetic: pure functions of dates, no database, no clock.

Month-based periods are always counted from the anchor month with the anchor *day*
clamped to each month's length, never from the previous period: an anchor on the 31st
gives Jan 31 → Feb 28 (29 in leap years) → Mar 31 → Apr 30 → May 31.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date, timedelta
from fractions import Fraction

MONTHS_PER_INTERVAL = {"month": 1, "quarter": 3, "year": 12}


class PeriodError(ValueError):
    pass


def clamp_day(year: int, month: int, day: int) -> date:
    return date(year, month, min(day, calendar.monthrange(year, month)[1]))


def period_start(anchor: date, anchor_day: int, interval: str, index: int) -> date:
    """Start of period ``index`` (0 = the anchor's own period; may be negative)."""
    if interval == "week":
        return anchor + timedelta(weeks=index)
    step = MONTHS_PER_INTERVAL.get(interval)
    if step is None:
        raise PeriodError(f"unknown interval {interval!r}")
    months = anchor.year * 12 + (anchor.month - 1) + step * index
    return clamp_day(months // 12, months % 12 + 1, anchor_day)


@dataclass(frozen=True)
class Period:
    index: int
    start: date
    end: date  # exclusive
    nominal_start: date  # where a full period would start; differs for a first stub

    @property
    def is_stub(self) -> bool:
        return self.start != self.nominal_start

    @property
    def fraction(self) -> Fraction:
        """Share of a full period this one covers (1 for a full period)."""
        return Fraction((self.end - self.start).days, (self.end - self.nominal_start).days)


def period_at(anchor: date, anchor_day: int, interval: str, index: int, start: date) -> Period:
    nominal = period_start(anchor, anchor_day, interval, index)
    end = period_start(anchor, anchor_day, interval, index + 1)
    if not nominal <= start < end:
        raise PeriodError(f"{start} is outside period {index} ({nominal} – {end})")
    return Period(index=index, start=start, end=end, nominal_start=nominal)


def first_anchor(first_day: date, anchor_day: int | None, interval: str) -> tuple[date, int]:
    """The anchor date and anchor day for a subscription whose first billable day is
    ``first_day``. With no anchor day (or a weekly plan) periods start on ``first_day``;
    otherwise the anchor is the first date ≥ ``first_day`` that falls on ``anchor_day``
    (clamped), and the days before it form a prorated stub."""
    if anchor_day is None or interval == "week":
        return first_day, first_day.day
    if not 1 <= anchor_day <= 31:
        raise PeriodError("billing anchor day must be between 1 and 31")
    candidate = clamp_day(first_day.year, first_day.month, anchor_day)
    if candidate < first_day:
        months = first_day.year * 12 + first_day.month  # next month, 0-based month + 1
        candidate = clamp_day(months // 12, months % 12 + 1, anchor_day)
    return candidate, anchor_day


def index_containing(anchor: date, anchor_day: int, interval: str, day: date) -> int:
    """Index of the period that contains ``day``."""
    if interval == "week":
        return (day - anchor).days // 7
    step = MONTHS_PER_INTERVAL[interval]
    months = (day.year - anchor.year) * 12 + (day.month - anchor.month)
    index = months // step
    while period_start(anchor, anchor_day, interval, index) > day:
        index -= 1
    while period_start(anchor, anchor_day, interval, index + 1) <= day:
        index += 1
    return index


def add_periods(day: date, interval: str, count: int) -> date:
    """``day`` moved by ``count`` intervals, clamping the day of month."""
    return period_start(day, day.day, interval, count)
