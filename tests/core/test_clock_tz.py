"""Local dates and midnights per time zone, including DST days (DESIGN invariant 5)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dues.core.clock import SimulatedClock, local_date, local_midnight

STHLM = "Europe/Stockholm"
BKK = "Asia/Bangkok"


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def test_stockholm_spring_forward_day():
    # 2026-03-29: clocks go 02:00 → 03:00; the day starts at CET (+1) and is 23 hours long.
    assert local_midnight(date(2026, 3, 29), STHLM) == utc(2026, 3, 28, 23)
    assert local_midnight(date(2026, 3, 30), STHLM) == utc(2026, 3, 29, 22)
    assert local_midnight(date(2026, 3, 30), STHLM) - local_midnight(
        date(2026, 3, 29), STHLM
    ) == timedelta(hours=23)
    assert local_date(utc(2026, 3, 28, 22, 59), STHLM) == date(2026, 3, 28)
    assert local_date(utc(2026, 3, 28, 23, 0), STHLM) == date(2026, 3, 29)
    assert local_date(utc(2026, 3, 29, 21, 59), STHLM) == date(2026, 3, 29)
    assert local_date(utc(2026, 3, 29, 22, 0), STHLM) == date(2026, 3, 30)


def test_stockholm_fall_back_day():
    # 2026-10-25: clocks go 03:00 → 02:00; the day starts at CEST (+2) and is 25 hours long.
    assert local_midnight(date(2026, 10, 25), STHLM) == utc(2026, 10, 24, 22)
    assert local_midnight(date(2026, 10, 26), STHLM) == utc(2026, 10, 25, 23)
    assert local_midnight(date(2026, 10, 26), STHLM) - local_midnight(
        date(2026, 10, 25), STHLM
    ) == timedelta(hours=25)
    assert local_date(utc(2026, 10, 24, 21, 59), STHLM) == date(2026, 10, 24)
    assert local_date(utc(2026, 10, 24, 22, 0), STHLM) == date(2026, 10, 25)
    assert local_date(utc(2026, 10, 25, 22, 59), STHLM) == date(2026, 10, 25)
    assert local_date(utc(2026, 10, 25, 23, 0), STHLM) == date(2026, 10, 26)


@settings(deadline=None, max_examples=200)
@given(day=st.dates(min_value=date(2000, 1, 1), max_value=date(2090, 12, 31)))
def test_bangkok_is_a_fixed_plus_seven(day):
    midnight = local_midnight(day, BKK)
    prev = day - timedelta(days=1)
    assert midnight == datetime(prev.year, prev.month, prev.day, 17, tzinfo=UTC)
    assert local_date(midnight, BKK) == day
    assert local_date(midnight - timedelta(microseconds=1), BKK) == prev


@settings(deadline=None, max_examples=200)
@given(
    day=st.dates(min_value=date(2000, 1, 1), max_value=date(2090, 12, 31)),
    tz=st.sampled_from([STHLM, BKK, "America/New_York", "Australia/Sydney", "UTC"]),
)
def test_local_midnight_starts_the_local_day(day, tz):
    midnight = local_midnight(day, tz)
    assert midnight.utcoffset() == timedelta(0)
    assert local_date(midnight, tz) == day
    assert local_date(midnight - timedelta(seconds=1), tz) == day - timedelta(days=1)
    nxt = local_midnight(day + timedelta(days=1), tz)
    assert timedelta(hours=23) <= nxt - midnight <= timedelta(hours=25)


def test_simulated_clock_needs_aware_times_and_only_moves_when_told():
    with pytest.raises(ValueError, match="timezone-aware"):
        SimulatedClock(datetime(2026, 1, 1))  # noqa: DTZ001
    clock = SimulatedClock(utc(2026, 1, 1, 12))
    assert clock.now() == clock.now() == utc(2026, 1, 1, 12)
    clock.advance(timedelta(days=400))
    assert clock.now() == utc(2027, 2, 5, 12)
