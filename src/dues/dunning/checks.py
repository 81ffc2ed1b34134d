"""What makes a dunning policy coherent; admin and API forms call ``policy_problems``."""

from __future__ import annotations

from typing import Any

from dues.core.channels import Channel
from dues.dunning.models import LateFeeKind, RetryMode, Tone

# A percent fee is at most the whole overdue invoice.
MAX_BP = 10000


def policy_problems(fields: dict[str, Any]) -> dict[str, str]:
    """Field name → what is wrong with it, for a policy's submitted fields."""
    problems: dict[str, str] = {}
    max_days = fields.get("max_days") or 0
    days = fields.get("retry_days") or []
    if not isinstance(days, list) or not all(isinstance(d, int) and d > 0 for d in days):
        problems["retry_days"] = "give whole days after the first failure, e.g. [3, 7]"
    elif days != sorted(set(days)):
        problems["retry_days"] = "retry days must rise, each once"
    elif days and days[-1] >= max_days:
        problems["retry_days"] = f"every retry must come before the final action (day {max_days})"
    elif fields.get("retry_mode") == RetryMode.FIXED and not days:
        problems["retry_days"] = "fixed mode needs at least one retry day"
    steps = [
        ("block_bookings_after_days", fields.get("block_bookings_after_days")),
        ("block_access_after_days", fields.get("block_access_after_days")),
        ("cancel_after_days", fields.get("cancel_after_days")),
    ]
    previous: tuple[str, int] | None = None
    for name, value in steps:
        if value is None:
            continue
        if previous and value < previous[1]:
            problems[name] = f"must not come before {previous[0].replace('_', ' ')}"
        previous = (name, value)
    kind = fields.get("late_fee_kind")
    if kind == LateFeeKind.FIXED:
        if not fields.get("late_fee_amount"):
            problems["late_fee_amount"] = "a fixed late fee needs an amount"
        if not fields.get("late_fee_currency"):
            problems["late_fee_currency"] = "a fixed late fee needs its currency"
    if kind == LateFeeKind.PERCENT and not fields.get("late_fee_bp"):
        problems["late_fee_bp"] = "a percent late fee needs a percentage"
    if (fields.get("late_fee_bp") or 0) > MAX_BP:
        problems["late_fee_bp"] = "a late fee is at most 100% of the overdue invoice"
    return problems


def steps_problems(steps: list[dict[str, Any]], *, max_days: int) -> dict[str, str]:
    """``steps[i].field`` → what is wrong, for a policy's reminder steps as a set: each on
    a day of its own, none after the final action (day ``max_days``, when the case ends)."""
    problems: dict[str, str] = {}
    seen: set[int] = set()
    for i, step in enumerate(steps):
        problem = channels_problem(step.get("channels"))
        if problem:
            problems[f"steps[{i}].channels"] = problem
        if step.get("tone") not in Tone.values:
            problems[f"steps[{i}].tone"] = f"tone must be one of {', '.join(Tone.values)}"
        day = step.get("day_offset")
        if not isinstance(day, int) or isinstance(day, bool) or day < 0:
            problems[f"steps[{i}].day_offset"] = "give whole days after the first failure"
        elif day > max_days:
            problems[f"steps[{i}].day_offset"] = (
                f"every reminder must come by the final action (day {max_days})"
            )
        elif day in seen:
            problems[f"steps[{i}].day_offset"] = f"another reminder is already on day {day}"
        else:
            seen.add(day)
    return problems


def channels_problem(channels: Any) -> str | None:
    if not isinstance(channels, list) or not channels:
        return "choose at least one channel"
    unknown = [c for c in channels if c not in Channel.values]
    if unknown:
        return f"unknown channel {unknown[0]!r}; use {', '.join(Channel.values)}"
    return None
