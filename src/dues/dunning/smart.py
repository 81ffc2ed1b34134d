"""Smart retries: a Bayesian model of this organization's own retry outcomes.

Why this method: a gym has hundreds, not millions, of retries, so the model must start
from sensible priors, learn from little data, say how unsure it is, and explain itself to
an owner. A Beta–Bernoulli model per decline category with multiplicative "lifts" per
feature does all four:

- For each decline category c (funds, soft, processing) the chance a retry succeeds is
  Beta(a, b) from the prior below plus this organization's retries (successes, failures).
- For each feature (days since payday, weekday, hour of day, attempts so far) and each of
  its values v, the lift is the posterior success rate of retries with c and v divided by
  the posterior rate of c; its prior is the prior lift, worth ``PRIOR_WEIGHT`` retries.
- A candidate time's score is rate(c) × Π lift(c, f, v(t)), capped at 0.95 (naive Bayes:
  features are taken as independent, which keeps the model small enough to learn).

Choosing the next attempt: every whole hour in the allowed window (after the network and
decline waits, before the final action) is scored with values drawn from the posteriors
(Thompson sampling, seeded by the case and attempt, so runs are reproducible) and
discounted by 3% per day of waiting, since a member without access for longer is more
likely to leave. Sampling explores hours the gym has little data on; the posterior mean
alone would never learn that they are good.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo

from dues.dunning.declines import Category
from dues.dunning.paydays import days_since_payday

PRIOR_WEIGHT = 20.0
DAILY_DISCOUNT = 0.97
MAX_SCORE = 0.95

# Chance a retry succeeds, by category, before any data: roughly what published recovery
# figures imply per retry (see scenarios/ for sources).
PRIOR_RATE = {Category.FUNDS: 0.18, Category.SOFT: 0.22, Category.PROCESSING: 0.55}

# Prior lifts by feature value; unlisted values start at 1.
PRIOR_LIFT: dict[tuple[Category, str, str], float] = {
    (Category.FUNDS, "payday", "0-2"): 2.2,
    (Category.FUNDS, "payday", "3-7"): 1.2,
    (Category.FUNDS, "payday", "8+"): 0.6,
    (Category.SOFT, "payday", "0-2"): 1.2,
    (Category.SOFT, "payday", "8+"): 0.9,
    (Category.FUNDS, "hour", "00-05"): 0.9,
    (Category.FUNDS, "hour", "06-11"): 1.15,
    (Category.SOFT, "hour", "06-11"): 1.1,
    (Category.FUNDS, "tries", "3"): 0.8,
    (Category.FUNDS, "tries", "4+"): 0.6,
    (Category.SOFT, "tries", "3"): 0.8,
    (Category.SOFT, "tries", "4+"): 0.6,
}


def features(at_local: datetime, paydays: Sequence[int], tries: int) -> dict[str, str]:
    since = days_since_payday(at_local.date(), paydays)
    hour = at_local.hour
    return {
        "payday": "0-2" if since <= 2 else "3-7" if since <= 7 else "8+",
        "weekday": str(at_local.weekday()),
        "hour": f"{hour // 6 * 6:02d}-{hour // 6 * 6 + 5:02d}",
        "tries": "1" if tries <= 1 else "2" if tries == 2 else "3" if tries == 3 else "4+",
    }


@dataclass(frozen=True)
class Outcome:
    """One past retry: what it retried, when (local time), and whether it worked."""

    category: Category
    at_local: datetime
    paydays: tuple[int, ...]
    tries: int  # attempts on the invoice before this one
    succeeded: bool


@dataclass
class RecoveryModel:
    counts: dict[tuple[Category, str, str], list[int]] = field(default_factory=dict)
    totals: dict[Category, list[int]] = field(default_factory=dict)

    @classmethod
    def fit(cls, outcomes: Iterable[Outcome]) -> RecoveryModel:
        model = cls()
        for o in outcomes:
            slot = 0 if o.succeeded else 1
            model.totals.setdefault(o.category, [0, 0])[slot] += 1
            for name, value in features(o.at_local, o.paydays, o.tries).items():
                model.counts.setdefault((o.category, name, value), [0, 0])[slot] += 1
        return model

    def _rate_posterior(self, c: Category) -> tuple[float, float]:
        p = PRIOR_RATE.get(c, 0.2)
        won, lost = self.totals.get(c, (0, 0))
        return p * PRIOR_WEIGHT + won, (1 - p) * PRIOR_WEIGHT + lost

    def _lift_posterior(self, c: Category, name: str, value: str) -> tuple[float, float]:
        prior = min(PRIOR_RATE.get(c, 0.2) * PRIOR_LIFT.get((c, name, value), 1.0), MAX_SCORE)
        key = (c, name, value)
        won, lost = self.counts.get(key, (0, 0))
        return prior * PRIOR_WEIGHT + won, (1 - prior) * PRIOR_WEIGHT + lost

    def rate(self, c: Category) -> float:
        a, b = self._rate_posterior(c)
        return a / (a + b)

    def score(self, c: Category, feats: dict[str, str], rng: random.Random | None = None) -> float:
        """Chance a retry with these features succeeds: the posterior mean, or one draw."""

        def draw(ab: tuple[float, float]) -> float:
            a, b = ab
            return rng.betavariate(a, b) if rng else a / (a + b)

        base = draw(self._rate_posterior(c))
        mean_base = self.rate(c)
        value = base
        for name, v in feats.items():
            value *= draw(self._lift_posterior(c, name, v)) / mean_base
        return min(value, MAX_SCORE)


def best_time(
    *,
    model: RecoveryModel,
    category: Category,
    candidates: Sequence[datetime],
    tz: str,
    paydays: Sequence[int],
    tries: int,
    now: datetime,
    seed: int,
) -> tuple[datetime, float]:
    """The candidate with the best sampled, discounted score; ties go to the earliest."""
    rng = random.Random(seed)
    zone = ZoneInfo(tz)
    # One draw per feature value per decision, shared by every candidate (Thompson).
    drawn: dict[tuple[str, str], float] = {}
    base = model.score(category, {}, rng)
    mean_base = model.rate(category)
    best: tuple[float, datetime] | None = None
    for at in candidates:
        feats = features(at.astimezone(zone), paydays, tries)
        value = base
        for name, v in feats.items():
            if (name, v) not in drawn:
                a, b = model._lift_posterior(category, name, v)
                drawn[(name, v)] = rng.betavariate(a, b) / mean_base
            value *= drawn[(name, v)]
        value = min(value, MAX_SCORE) * DAILY_DISCOUNT ** ((at - now).total_seconds() / 86400)
        if best is None or value > best[0]:
            best = (value, at)
    assert best is not None, "no candidate times"
    return best[1], best[0]
