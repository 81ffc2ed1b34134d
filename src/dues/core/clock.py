"""The injected clock (DESIGN invariant 5).

Domain code never calls ``datetime.now()``; it receives a ``Clock``. Production passes
``SystemClock``; tests and the simulator pass a ``SimulatedClock`` they move by hand, so
years of billing run in seconds.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo


class Clock(Protocol):
    def now(self) -> datetime:
        """The current instant, timezone-aware, in UTC."""
        ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class SimulatedClock:
    """A clock that only moves when told to."""

    def __init__(self, start: datetime) -> None:
        if start.tzinfo is None:
            raise ValueError("SimulatedClock needs a timezone-aware start")
        self._now = start.astimezone(UTC)

    def now(self) -> datetime:
        return self._now

    def set(self, instant: datetime) -> None:
        if instant.tzinfo is None:
            raise ValueError("SimulatedClock.set needs a timezone-aware instant")
        self._now = instant.astimezone(UTC)

    def advance(self, delta: timedelta) -> None:
        self._now += delta


def local_date(instant: datetime, tz: str) -> date:
    """The calendar date at ``instant`` in the time zone ``tz``."""
    return instant.astimezone(ZoneInfo(tz)).date()


def local_midnight(day: date, tz: str) -> datetime:
    """The UTC instant at which ``day`` starts in ``tz``.

    Built from the wall-clock midnight with ``fold=0``; no zone in use shifts DST at
    midnight, and for ones that would, zoneinfo resolves the gap forward.
    """
    wall = datetime(day.year, day.month, day.day, tzinfo=ZoneInfo(tz))
    return wall.astimezone(UTC)
