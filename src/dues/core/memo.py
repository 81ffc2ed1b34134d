"""Figures that sum every row of an organization (the dashboard, members per price), kept
for a minute per process: at 100,000 members each costs tens to hundreds of milliseconds
to add up (``bench.pages`` prints the cold time too), and a manager's screen can be a
minute behind. Nothing that moves money or decides entry reads through here."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from django.core.cache import cache

T = TypeVar("T")
FRESH_SECONDS = 60


def memoized(key: str, compute: Callable[[], T], seconds: int = FRESH_SECONDS) -> T:
    """``compute()``, or what it returned for ``key`` within the last ``seconds``."""
    key = f"dues:memo:{key}"
    found: T | None = cache.get(key)
    if found is not None:
        return found
    value = compute()
    cache.set(key, value, seconds)
    return value
