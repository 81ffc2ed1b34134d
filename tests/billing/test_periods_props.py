"""Property tests for period arithmetic and proration (pure functions)."""

from __future__ import annotations

import calendar
from datetime import date, timedelta
from fractions import Fraction

from hypothesis import given, settings
from hypothesis import strategies as st

from dues.billing.periods import (
    first_anchor,
    index_containing,
    period_at,
    period_start,
)
from dues.billing.pricing import prorate

INTERVALS = ["week", "month", "quarter", "year"]
anchors = st.dates(min_value=date(2000, 1, 1), max_value=date(2090, 12, 31))
anchor_days = st.integers(min_value=1, max_value=31)
intervals = st.sampled_from(INTERVALS)
indexes = st.integers(min_value=-60, max_value=240)


def _anchor(anchor: date, day: int, interval: str) -> tuple[date, int]:
    return first_anchor(anchor, day, interval)


def test_anchor_31_clamps_each_month_from_the_anchor():
    a = date(2026, 1, 31)
    got = [period_start(a, 31, "month", i) for i in range(6)]
    assert got == [
        date(2026, 1, 31),
        date(2026, 2, 28),
        date(2026, 3, 31),
        date(2026, 4, 30),
        date(2026, 5, 31),
        date(2026, 6, 30),
    ]
    leap = date(2028, 1, 31)
    assert period_start(leap, 31, "month", 1) == date(2028, 2, 29)
    assert period_start(leap, 31, "month", 2) == date(2028, 3, 31)
    assert period_start(date(2026, 1, 31), 31, "month", -2) == date(2025, 11, 30)
    assert period_start(date(2028, 2, 29), 29, "year", 1) == date(2029, 2, 28)
    assert period_start(date(2028, 2, 29), 29, "year", 4) == date(2032, 2, 29)


@settings(deadline=None, max_examples=300)
@given(start=anchors, day=anchor_days, interval=intervals, index=indexes)
def test_period_start_strictly_monotonic(start, day, interval, index):
    anchor, anchor_day = _anchor(start, day, interval)
    a = period_start(anchor, anchor_day, interval, index)
    b = period_start(anchor, anchor_day, interval, index + 1)
    assert a < b
    lo, hi = {"week": (7, 7), "month": (28, 31), "quarter": (89, 92), "year": (365, 366)}[interval]
    assert lo <= (b - a).days <= hi
    if interval != "week":
        assert a.day == min(anchor_day, calendar.monthrange(a.year, a.month)[1])


@settings(deadline=None, max_examples=300)
@given(start=anchors, day=anchor_days, interval=intervals, index=indexes)
def test_index_containing_inverts_period_start(start, day, interval, index):
    anchor, anchor_day = _anchor(start, day, interval)
    s = period_start(anchor, anchor_day, interval, index)
    e = period_start(anchor, anchor_day, interval, index + 1)
    assert index_containing(anchor, anchor_day, interval, s) == index
    assert index_containing(anchor, anchor_day, interval, e - timedelta(days=1)) == index
    mid = s + (e - s) // 2
    assert index_containing(anchor, anchor_day, interval, mid) == index


@settings(deadline=None, max_examples=300)
@given(
    start=anchors,
    day=anchor_days,
    interval=intervals,
    offset=st.integers(min_value=0, max_value=400),
    price=st.integers(min_value=0, max_value=10_000_000),
)
def test_stub_fraction_in_unit_interval_and_prorates_within_price(
    start, day, interval, offset, price
):
    anchor, anchor_day = _anchor(start, day, interval)
    index = index_containing(anchor, anchor_day, interval, anchor + timedelta(days=offset))
    nominal = period_start(anchor, anchor_day, interval, index)
    end = period_start(anchor, anchor_day, interval, index + 1)
    stub_start = nominal + timedelta(days=offset % (end - nominal).days)
    p = period_at(anchor, anchor_day, interval, index, stub_start)
    assert 0 < p.fraction <= 1
    assert p.fraction == Fraction((end - stub_start).days, (end - nominal).days)
    assert p.is_stub == (stub_start != nominal)
    amount = prorate(price, p.fraction)
    assert 0 <= amount <= price


@settings(deadline=None, max_examples=300)
@given(
    days=st.integers(min_value=1, max_value=366),
    split=st.integers(min_value=0, max_value=366),
    price=st.integers(min_value=0, max_value=10_000_000),
)
def test_prorated_split_sums_within_one_of_whole(days, split, price):
    split = min(split, days)
    first = prorate(price, Fraction(split, days))
    second = prorate(price, Fraction(days - split, days))
    assert abs(first + second - price) <= 1


def test_stub_example_exact():
    # Joins Jan 20 on a plan anchored to the 1st: Jan 20 → Feb 1 is 12 of 31 days.
    anchor, day = first_anchor(date(2026, 1, 20), 1, "month")
    assert (anchor, day) == (date(2026, 2, 1), 1)
    p = period_at(anchor, day, "month", -1, date(2026, 1, 20))
    assert (p.nominal_start, p.end) == (date(2026, 1, 1), date(2026, 2, 1))
    assert p.fraction == Fraction(12, 31)
    assert prorate(49900, p.fraction) == 19316
