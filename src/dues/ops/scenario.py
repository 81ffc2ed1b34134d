"""What-if scenarios for dunning: a TOML file describing a gym's members and how their
failed payments behave, read into frozen dataclasses with errors that name the field.

The format is documented in the README ("Simulating dunning") and by the shipped files
in ``scenarios/``. The scenario is the simulated world's truth; the gym's software never
sees it, only the declines and payments it produces.
"""

from __future__ import annotations

import tomllib
from bisect import bisect_right
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from dues.core.channels import Channel
from dues.dunning.declines import Category, decline_classify
from dues.dunning.models import FinalAction


class ScenarioError(ValueError):
    """The scenario file is malformed; the message names the field."""


@dataclass(frozen=True)
class Steps:
    """A step function: ``(from, factor)`` pairs; the factor of the last ``from`` ≤ x."""

    points: tuple[tuple[float, float], ...]

    def at(self, x: float) -> float:
        i = bisect_right([p[0] for p in self.points], x) - 1
        return self.points[max(i, 0)][1]


ONE = Steps(((0.0, 1.0),))


@dataclass(frozen=True)
class DeclineTruth:
    """How invoices that first failed with one code behave on later tries, same card."""

    code: str
    share: float  # of first-attempt failures
    retry: float  # chance a retry succeeds before the factors
    since_payday: Steps  # by whole days since the members' last payday
    weekday: tuple[float, ...]  # Monday first
    hour: Steps  # by local hour of the retry
    since_failure: Steps  # by hours since the first failure

    def chance(self, *, days_since_payday: int, weekday: int, hour: int, hours: float) -> float:
        p = (
            self.retry
            * self.since_payday.at(days_since_payday)
            * self.weekday[weekday]
            * self.hour.at(hour)
            * self.since_failure.at(hours)
        )
        return min(p, 0.99)


@dataclass(frozen=True)
class Scenario:
    name: str
    start: date
    months: int  # months of billing whose failures are counted
    members: int
    country: str
    timezone: str
    currency: str
    language: str  # the members' language for reminders
    price: int  # monthly, minor units
    paydays: tuple[int, ...]
    mastercard_share: float
    first_attempt_failure: float
    declines: tuple[DeclineTruth, ...]
    update_after: Mapping[str, float]  # channel → chance one message gets a new card
    update_delay_hours: tuple[int, int]
    new_card_success: float
    grace_days: int
    max_attempts: int
    max_days: int
    fixed_retry_days: tuple[int, ...]
    final_action: str


def scenario_load(path: Path) -> Scenario:
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ScenarioError(f"{path}: no such scenario file") from None
    except tomllib.TOMLDecodeError as e:
        raise ScenarioError(f"{path}: not valid TOML: {e}") from None
    return scenario_parse(raw)


def scenario_parse(raw: Mapping[str, Any]) -> Scenario:
    r = _Reader(raw, "")
    gym, failure, policy, update = (
        r.table("gym"),
        r.table("failure"),
        r.table("policy"),
        r.table("update"),
    )
    tz = gym.text("timezone")
    try:
        ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        raise ScenarioError(f"gym.timezone: unknown time zone {tz!r}") from None
    codes = r.table("codes")
    if not codes.raw:
        raise ScenarioError("codes: at least one decline code is needed")
    declines = tuple(_decline(codes.table(code), code) for code in codes.raw)
    total = sum(d.share for d in declines)
    if abs(total - 1) > 1e-6:
        raise ScenarioError(f"codes: the shares must add up to 1 (they add up to {total:g})")
    final = policy.text("final_action")
    if final not in FinalAction.values:
        raise ScenarioError(f"policy.final_action: one of {', '.join(FinalAction.values)}")
    chances = {}
    for channel in update.raw:
        if channel in ("delay_hours", "new_card_success"):
            continue
        if channel not in Channel.values:
            raise ScenarioError(f"update.{channel}: not a channel ({', '.join(Channel.values)})")
        chances[channel] = update.fraction(channel)
    delay = update.numbers("delay_hours", length=2)
    if not 0 <= delay[0] <= delay[1]:
        raise ScenarioError("update.delay_hours: [shortest, longest], 0 ≤ shortest ≤ longest")
    days = tuple(int(d) for d in policy.numbers("fixed_retry_days"))
    if not days or list(days) != sorted(set(days)) or days[0] < 1:
        raise ScenarioError("policy.fixed_retry_days: increasing whole days, the first ≥ 1")
    paydays = tuple(int(d) for d in gym.numbers("paydays", low=-1))
    if not paydays or any(not (1 <= d <= 31 or d == -1) for d in paydays):
        raise ScenarioError("gym.paydays: days of the month 1–31, or -1 for the last day")
    return Scenario(
        name=r.text("name"),
        start=gym.day("start"),
        months=gym.whole("months", 1, 36),
        members=gym.whole("members", 1, 100_000),
        country=gym.text("country").upper(),
        timezone=tz,
        currency=gym.text("currency").upper(),
        language=gym.text("language"),
        price=gym.whole("price", 1, 10**9),
        paydays=paydays,
        mastercard_share=gym.fraction("mastercard_share"),
        first_attempt_failure=failure.fraction("first_attempt"),
        declines=declines,
        update_after=chances,
        update_delay_hours=(int(delay[0]), int(delay[1])),
        new_card_success=update.fraction("new_card_success"),
        grace_days=policy.whole("grace_days", 0, 60),
        max_attempts=policy.whole("max_attempts", 2, 20),
        max_days=policy.whole("max_days", 1, 90),
        fixed_retry_days=days,
        final_action=final,
    )


def _decline(t: _Reader, code: str) -> DeclineTruth:
    category = decline_classify(code).category
    retry = t.fraction("retry")
    if category in (Category.HARD, Category.EXPIRED) and retry > 0:
        raise ScenarioError(
            f"{t.where}retry: {code} is a {category} decline; the same card never succeeds, "
            "so retry must be 0"
        )
    weekday = tuple(t.numbers("weekday", length=7)) if "weekday" in t.raw else (1.0,) * 7
    return DeclineTruth(
        code=code,
        share=t.fraction("share"),
        retry=retry,
        since_payday=t.steps("since_payday"),
        weekday=weekday,
        hour=t.steps("hour"),
        since_failure=t.steps("since_failure"),
    )


class _Reader:
    """Typed reads from one TOML table, naming ``where.key`` in every error."""

    def __init__(self, raw: Mapping[str, Any], where: str) -> None:
        self.raw = raw
        self.where = where

    def _get(self, key: str) -> Any:
        if key not in self.raw:
            raise ScenarioError(f"{self.where}{key}: missing")
        return self.raw[key]

    def table(self, key: str) -> _Reader:
        value = self._get(key)
        if not isinstance(value, dict):
            raise ScenarioError(f"{self.where}{key}: must be a table")
        return _Reader(value, f"{self.where}{key}.")

    def text(self, key: str) -> str:
        value = self._get(key)
        if not isinstance(value, str) or not value:
            raise ScenarioError(f"{self.where}{key}: must be a non-empty string")
        return value

    def day(self, key: str) -> date:
        value = self._get(key)
        if not isinstance(value, date):
            raise ScenarioError(f"{self.where}{key}: must be a date like 2026-01-01")
        return value

    def whole(self, key: str, low: int, high: int) -> int:
        value = self._get(key)
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise ScenarioError(f"{self.where}{key}: must be a whole number from {low} to {high}")
        return value

    def fraction(self, key: str) -> float:
        value = self._get(key)
        if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
            raise ScenarioError(f"{self.where}{key}: must be a number from 0 to 1")
        return float(value)

    def numbers(self, key: str, length: int | None = None, low: float = 0) -> list[float]:
        value = self._get(key)
        ok = isinstance(value, list) and all(
            isinstance(v, int | float) and not isinstance(v, bool) and v >= low for v in value
        )
        if not ok or (length is not None and len(value) != length):
            size = f"{length} " if length else ""
            raise ScenarioError(f"{self.where}{key}: must be a list of {size}numbers ≥ {low:g}")
        return [float(v) for v in value]

    def steps(self, key: str) -> Steps:
        if key not in self.raw:
            return ONE
        value = self.raw[key]
        pairs: Sequence[Any] = value if isinstance(value, list) else []
        ok = bool(pairs) and all(
            isinstance(p, list)
            and len(p) == 2
            and all(isinstance(v, int | float) and not isinstance(v, bool) for v in p)
            and p[1] >= 0
            for p in pairs
        )
        points = tuple((float(p[0]), float(p[1])) for p in pairs) if ok else ()
        if not ok or [p[0] for p in points] != sorted({p[0] for p in points}):
            raise ScenarioError(
                f"{self.where}{key}: must be [[from, factor], ...] with increasing 'from' "
                "and factors ≥ 0"
            )
        return Steps(points)
