"""When to try a failed invoice again: a pure function of the case, its card's history,
the policy and (in smart mode) the learned model. Nothing here reads the database."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from dues.dunning.declines import Category, Decline
from dues.dunning.limits import earliest_allowed
from dues.dunning.models import RetryMode
from dues.dunning.smart import RecoveryModel, best_time

# How far ahead smart mode looks, by category (from the earliest allowed moment): soft
# declines clear in one to three days, processing errors in hours; for insufficient funds
# the window reaches past the next payday.
SEARCH_SPAN = {
    Category.PROCESSING: timedelta(hours=12),
    Category.SOFT: timedelta(days=2),
    Category.FUNDS: timedelta(days=10),
}


@dataclass(frozen=True)
class RetryInputs:
    first_failed_at: datetime
    last_attempt_at: datetime
    attempts: int  # on this invoice so far
    decline: Decline
    network: str
    card_attempts: Sequence[datetime]  # on this card, any invoice, last 30 days at least
    same_card_as_last: bool
    tz: str
    paydays: Sequence[int]
    seed: int


@dataclass(frozen=True)
class PolicyView:
    retry_mode: str
    retry_days: Sequence[int]
    max_attempts: int
    max_days: int


@dataclass(frozen=True)
class RetryPlan:
    at: datetime | None
    note: str


def retry_plan(
    x: RetryInputs, policy: PolicyView, *, now: datetime, model: RecoveryModel | None = None
) -> RetryPlan:
    if not x.same_card_as_last:
        # A different card than the one that failed: the decline said nothing about it,
        # so it is tried as soon as its own network limits allow.
        at = earliest_allowed(
            network=x.network,
            card_attempts=x.card_attempts,
            last_invoice_attempt=None,
            last_was_processing_error=False,
            not_before=now,
        )
        return RetryPlan(at, "new card on file: retry at once")
    if x.attempts >= policy.max_attempts:
        return RetryPlan(None, f"all {policy.max_attempts} attempts used")
    if x.decline.category == Category.HARD:
        return RetryPlan(None, f"never retried ({x.decline.reason}); waiting for a new card")
    if x.decline.category == Category.EXPIRED:
        return RetryPlan(None, f"{x.decline.reason}; waiting for the card to be updated")
    deadline = x.first_failed_at + timedelta(days=policy.max_days) - timedelta(hours=1)
    earliest = earliest_allowed(
        network=x.network,
        card_attempts=x.card_attempts,
        last_invoice_attempt=x.last_attempt_at,
        last_was_processing_error=x.decline.category == Category.PROCESSING,
        not_before=max(now, x.last_attempt_at + x.decline.retry_after),
    )
    if policy.retry_mode == RetryMode.FIXED:
        retry_number = x.attempts  # the first retry follows the first attempt
        if retry_number > len(policy.retry_days):
            return RetryPlan(None, "no fixed retry day left")
        day = policy.retry_days[retry_number - 1]
        at = max(x.first_failed_at + timedelta(days=day), earliest)
        note = f"fixed: day {day}"
    else:
        span = SEARCH_SPAN[x.decline.category]
        end = min(earliest + span, deadline)
        if end < earliest:
            return RetryPlan(None, "no attempt fits before the final action")
        candidates = _hours(earliest, end)
        at, score = best_time(
            model=model or RecoveryModel(),
            category=x.decline.category,
            candidates=candidates,
            tz=x.tz,
            paydays=x.paydays,
            tries=x.attempts,
            now=now,
            seed=x.seed,
        )
        note = f"smart: {x.decline.category} retry, expected success {score:.0%}"
    if at > deadline:
        return RetryPlan(None, "no attempt fits before the final action")
    return RetryPlan(at, note)


def _hours(start: datetime, end: datetime) -> list[datetime]:
    """``start`` and every whole hour after it up to ``end``."""
    out = [start]
    t = start.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
    while t <= end:
        out.append(t)
        t += timedelta(hours=1)
    return out
