"""Dunning experiments: split a policy's payers between variants (a retry schedule, a
reminder text) and measure which recovers more, with a confidence interval.

Assignment is by a hash of (experiment, payer), so a payer keeps one variant for every
invoice during the experiment, and the split needs no stored randomness. A case counts
towards its variant's rate once decided (recovered, or ended without payment); cases still
in dunning or on a payment plan are reported apart. Intervals are Wilson score intervals
at 95% (sound for small samples and rates near 0 or 1, where the normal approximation is
not); the difference between two variants uses Newcombe's method built on them.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Count, Q

from dues.core.clock import Clock
from dues.dunning.models import (
    CaseStatus,
    DunningCase,
    DunningPolicy,
    Experiment,
    ExperimentVariant,
    ReminderStyle,
)
from dues.dunning.planner import PolicyView

Z95 = 1.959964


def experiment_start(
    *,
    policy: DunningPolicy,
    name: str,
    variants: list[dict[str, object]],
    clock: Clock,
    hypothesis: str = "",
) -> Experiment:
    """Start an experiment on ``policy`` with at least two variants (``key``, ``weight``,
    and any of ``retry_mode``, ``retry_days``, ``max_attempts``, ``reminder_style``)."""
    if len(variants) < 2:
        raise ValidationError({"variants": "an experiment compares at least two variants"})
    keys = [str(v.get("key", "")) for v in variants]
    if len(set(keys)) != len(keys) or not all(keys):
        raise ValidationError({"variants": "each variant needs its own key"})
    with transaction.atomic():
        if Experiment.objects.filter(policy=policy, stopped_at__isnull=True).exists():
            raise ValidationError({"policy": "this policy already has a running experiment"})
        experiment = Experiment.objects.create(
            organization_id=policy.organization_id,
            policy=policy,
            name=name,
            hypothesis=hypothesis,
            started_at=clock.now(),
        )
        for v in variants:
            variant = ExperimentVariant(
                organization_id=policy.organization_id, experiment=experiment, **v
            )
            variant.full_clean(exclude=["organization", "experiment"])
            variant.save()
    return experiment


def experiment_stop(*, experiment: Experiment, clock: Clock) -> None:
    if experiment.stopped_at is not None:
        raise ValidationError({"experiment": "the experiment has already stopped"})
    experiment.stopped_at = clock.now()
    experiment.save(update_fields=["stopped_at"])


def variant_assign(experiment: Experiment, payer_id: int) -> ExperimentVariant:
    """The payer's variant: stable, in proportion to the weights."""
    variants = sorted(experiment.variants.all(), key=lambda v: v.key)
    total = sum(v.weight for v in variants)
    digest = hashlib.sha256(f"{experiment.pk}:{payer_id}".encode()).digest()
    point = int.from_bytes(digest[:8], "big") % total
    for v in variants:
        if point < v.weight:
            return v
        point -= v.weight
    raise AssertionError("weights cover every point")


def running_experiment(policy: DunningPolicy) -> Experiment | None:
    return (
        Experiment.objects.filter(policy=policy, stopped_at__isnull=True)
        .prefetch_related("variants")
        .first()
    )


def policy_view(case: DunningCase) -> PolicyView:
    """The retry schedule for a case: its policy's, with its variant's changes."""
    policy = case.policy
    view = PolicyView(policy.retry_mode, policy.retry_days, policy.max_attempts, policy.max_days)
    variant = _variant(case)
    if variant is None:
        return view
    return PolicyView(
        variant.retry_mode or view.retry_mode,
        variant.retry_days if variant.retry_days is not None else view.retry_days,
        variant.max_attempts or view.max_attempts,
        view.max_days,
    )


def reminder_style(case: DunningCase) -> str:
    variant = _variant(case)
    return variant.reminder_style if variant else ReminderStyle.STANDARD


def _variant(case: DunningCase) -> ExperimentVariant | None:
    if case.experiment_id is None:
        return None
    return ExperimentVariant.objects.filter(
        experiment_id=case.experiment_id, key=case.variant
    ).first()


@dataclass(frozen=True)
class VariantResult:
    key: str
    decided: int
    recovered: int
    pending: int
    rate: float | None
    low: float | None
    high: float | None


def wilson(successes: int, n: int, z: float = Z95) -> tuple[float, float]:
    """Wilson score interval for a proportion."""
    if n == 0:
        return 0.0, 1.0
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    # At 0 or n successes the bound is exactly 0 or 1; rounding would report 0.9999999999999999.
    low = 0.0 if successes == 0 else max(0.0, centre - half)
    high = 1.0 if successes == n else min(1.0, centre + half)
    return low, high


def difference_interval(a: VariantResult, b: VariantResult) -> tuple[float, float, float] | None:
    """(b's rate − a's, low, high) by Newcombe's hybrid score method; None without data."""
    if not a.decided or not b.decided:
        return None
    pa, pb = a.recovered / a.decided, b.recovered / b.decided
    la, ua = wilson(a.recovered, a.decided)
    lb, ub = wilson(b.recovered, b.decided)
    d = pb - pa
    return (
        d,
        d - math.sqrt((pb - lb) ** 2 + (ua - pa) ** 2),
        d + math.sqrt((ub - pb) ** 2 + (pa - la) ** 2),
    )


def experiment_report(experiment: Experiment) -> list[VariantResult]:
    """Per variant: cases decided, recovered, the rate and its 95% interval."""
    pending = [CaseStatus.OPEN, CaseStatus.ON_PLAN]
    rows: dict[str, dict[str, Any]] = {
        r["variant"]: dict(r)
        for r in DunningCase.objects.filter(experiment=experiment)
        .values("variant")
        .annotate(
            decided=Count("id", filter=~Q(status__in=pending)),
            recovered=Count("id", filter=Q(status=CaseStatus.RECOVERED)),
            pending=Count("id", filter=Q(status__in=pending)),
        )
    }
    out = []
    for v in sorted(experiment.variants.all(), key=lambda v: v.key):
        r: dict[str, Any] = rows.get(v.key) or {}
        decided, recovered = int(r.get("decided", 0)), int(r.get("recovered", 0))
        low, high = wilson(recovered, decided) if decided else (None, None)
        out.append(
            VariantResult(
                key=v.key,
                decided=decided,
                recovered=recovered,
                pending=int(r.get("pending", 0)),
                rate=recovered / decided if decided else None,
                low=low,
                high=high,
            )
        )
    return out
