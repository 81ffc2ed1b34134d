"""The card networks' retry limits, per card, and the check that a history keeps them.

- Visa: at most 15 attempts on a card in any 30 days (the "excessive reattempts" rule
  counts reattempts; counting every attempt is stricter).
- Mastercard: at most 10 in any 24 hours and 35 in any 30 days.
- Other cards and bank debits: Visa's limit.
- Ours: at most one attempt per invoice on a card in 24 hours, unless the last one failed
  with a processing error. A new card is a new authorization and is tried at once.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import NamedTuple


class Window(NamedTuple):
    limit: int
    span: timedelta


NETWORK_WINDOWS: dict[str, tuple[Window, ...]] = {
    "visa": (Window(15, timedelta(days=30)),),
    "mastercard": (Window(10, timedelta(hours=24)), Window(35, timedelta(days=30))),
}
OTHER_WINDOWS = NETWORK_WINDOWS["visa"]
INVOICE_GAP = timedelta(hours=24)


def windows_for(network: str) -> tuple[Window, ...]:
    return NETWORK_WINDOWS.get(network.lower(), OTHER_WINDOWS)


def earliest_allowed(
    *,
    network: str,
    card_attempts: Iterable[datetime],
    last_invoice_attempt: datetime | None,
    last_was_processing_error: bool,
    not_before: datetime,
) -> datetime:
    """The earliest moment from ``not_before`` at which one more attempt on this card, for
    this invoice, keeps every limit. With ``n`` allowed in a window, the new attempt must
    come a full window after the n-th latest attempt."""
    at = not_before
    if last_invoice_attempt is not None and not last_was_processing_error:
        at = max(at, last_invoice_attempt + INVOICE_GAP)
    times = sorted(card_attempts)
    for window in windows_for(network):
        if len(times) >= window.limit:
            # Strictly after: an attempt exactly one span later still shares the window.
            at = max(at, times[-window.limit] + window.span + timedelta(seconds=1))
    return at


class Violation(NamedTuple):
    rule: str
    at: datetime


def violations(*, network: str, card_attempts: Sequence[datetime]) -> list[Violation]:
    """Every attempt that broke a network window (a window ending at that attempt holds
    more than the limit)."""
    times = sorted(card_attempts)
    found: list[Violation] = []
    for window in windows_for(network):
        lo = 0
        for hi, t in enumerate(times):
            while times[lo] <= t - window.span:
                lo += 1
            if hi - lo + 1 > window.limit:
                found.append(Violation(f"{network}: more than {window.limit} in {window.span}", t))
    return found


def invoice_gap_violations(attempts: Sequence[tuple[datetime, bool]]) -> list[Violation]:
    """Attempts on one invoice closer than 24 hours to the previous one, unless that one
    failed with a processing error. ``attempts`` are (time, was a processing error)."""
    ordered = sorted(attempts)
    return [
        Violation("one attempt per invoice in 24 h", b[0])
        for a, b in itertools.pairwise(ordered)
        if not a[1] and b[0] - a[0] < INVOICE_GAP
    ]
