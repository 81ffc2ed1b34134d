"""Paydays per location: insufficient-funds retries aim just after money arrives."""

from __future__ import annotations

import calendar
from collections.abc import Sequence
from datetime import date

# Where a location has no Payday row: Swedish salaries arrive on the 25th; in France,
# Thailand and most places salaries are paid at the end of the month (-1 = last day).
COUNTRY_PAYDAYS: dict[str, tuple[int, ...]] = {"SE": (25,), "NO": (20,), "FI": (15, -1)}
DEFAULT_PAYDAYS: tuple[int, ...] = (-1,)


def paydays_for_country(country: str) -> tuple[int, ...]:
    return COUNTRY_PAYDAYS.get(country.upper(), DEFAULT_PAYDAYS)


def _payday_in(year: int, month: int, day: int) -> date:
    last = calendar.monthrange(year, month)[1]
    return date(year, month, last if day == -1 or day > last else day)


def days_since_payday(day: date, paydays: Sequence[int]) -> int:
    """Days since the latest payday on or before ``day`` (0 = payday itself)."""
    best = 62
    for months_back in (0, 1):
        y, m = day.year, day.month - months_back
        if m == 0:
            y, m = y - 1, 12
        for p in paydays:
            pay = _payday_in(y, m, p)
            if pay <= day:
                best = min(best, (day - pay).days)
    return best
