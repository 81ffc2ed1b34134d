"""Experiments: payers split stably between variants, each variant's schedule and text
used for its cases, and recovery per variant reported with 95% intervals."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from dues.dunning.experiments import (
    VariantResult,
    difference_interval,
    experiment_report,
    experiment_start,
    variant_assign,
    wilson,
)
from dues.dunning.models import CaseStatus, DunningCase
from dues.dunning.services import policy_default
from dues.notify.models import Message
from dues.ops.jobs import bill, deliver
from tests.dunning.test_dunning_run import books_clean, hours
from tests.factories import d, join

pytestmark = pytest.mark.django_db

FAILS_TWICE = "4000000000003002"


def test_variants_use_their_schedule_and_text_and_are_reported(org, location, clock, gateway):
    policy = policy_default(organization_id=org.pk, clock=clock)
    policy.max_days = 12
    policy.save()
    experiment = experiment_start(
        policy=policy,
        name="One retry or three",
        variants=[
            {"key": "one-retry", "retry_mode": "fixed", "retry_days": [3], "max_attempts": 2},
            {
                "key": "daily-direct",
                "retry_mode": "fixed",
                "retry_days": [1, 2, 3],
                "reminder_style": "direct",
            },
        ],
        clock=clock,
    )
    members = [join(org, location, clock, FAILS_TWICE)[0] for _ in range(12)]
    bill(as_of=d("2026-01-15"), clock=clock, gateway=gateway)
    deliver(clock=clock)
    cases = {c.payer_id: c for c in DunningCase.objects.all()}
    assert len(cases) == 12
    by_variant: dict[str, list[int]] = {}
    for m in members:
        case = cases[m.pk]
        assert case.experiment_id == experiment.pk
        assert case.variant == variant_assign(experiment, m.pk).key  # stable
        by_variant.setdefault(case.variant, []).append(m.pk)
    assert set(by_variant) == {"one-retry", "daily-direct"}
    for pk in by_variant["one-retry"]:
        assert cases[pk].retry_note == "fixed: day 3"
    direct = Message.objects.filter(member_id__in=by_variant["daily-direct"], channel="email")
    assert {m.template for m in direct} == {"dunning/reminder_direct_friendly"}
    assert all(m.subject.startswith("Action needed: SEK499.00 unpaid at") for m in direct)
    standard = Message.objects.filter(member_id__in=by_variant["one-retry"], channel="email")
    assert {m.template for m in standard} == {"dunning/reminder_friendly"}

    hours(clock, location, gateway, 8 * 13)
    statuses = {pk: c.status for pk, c in ((pk, cases[pk]) for pk in cases)}
    for c in DunningCase.objects.all():
        statuses[c.payer_id] = c.status
    assert {statuses[pk] for pk in by_variant["one-retry"]} == {CaseStatus.CANCELLED}
    assert {statuses[pk] for pk in by_variant["daily-direct"]} == {CaseStatus.RECOVERED}
    report = {r.key: r for r in experiment_report(experiment)}
    one, smart = report["one-retry"], report["daily-direct"]
    assert (one.decided, one.recovered, one.pending) == (len(by_variant["one-retry"]), 0, 0)
    assert (smart.decided, smart.recovered) == (len(by_variant["daily-direct"]),) * 2
    assert one.rate == 0.0
    assert smart.rate == 1.0
    assert one.low == 0.0
    assert smart.high == 1.0
    diff = difference_interval(one, smart)
    assert diff is not None
    assert diff[0] == 1.0
    assert diff[1] > 0  # the interval excludes "no difference"
    books_clean()


def test_wilson_and_newcombe_match_published_values():
    low, high = wilson(8, 10)
    assert (round(low, 4), round(high, 4)) == (0.4902, 0.9433)
    # All or none recovered: the outer bound is exactly 1 or 0, for every n.
    for n in range(1, 200):
        assert wilson(n, n)[1] == 1.0
        assert wilson(0, n)[0] == 0.0
    # Newcombe (1998), example (a): 56/70 against 48/80 gives 0.2000 (0.0524 to 0.3339).
    a = VariantResult("a", 80, 48, 0, 0.6, None, None)
    b = VariantResult("b", 70, 56, 0, 0.8, None, None)
    d_, lo, hi = difference_interval(a, b)
    assert (round(d_, 4), round(lo, 4), round(hi, 4)) == (0.2, 0.0524, 0.3339)


def test_experiment_needs_two_distinct_variants_and_one_at_a_time(org, clock):
    policy = policy_default(organization_id=org.pk, clock=clock)
    with pytest.raises(ValidationError, match="at least two variants"):
        experiment_start(policy=policy, name="x", variants=[{"key": "a"}], clock=clock)
    with pytest.raises(ValidationError, match="its own key"):
        experiment_start(
            policy=policy, name="x", variants=[{"key": "a"}, {"key": "a"}], clock=clock
        )
    experiment_start(policy=policy, name="x", variants=[{"key": "a"}, {"key": "b"}], clock=clock)
    with pytest.raises(ValidationError, match="already has a running experiment"):
        experiment_start(
            policy=policy, name="y", variants=[{"key": "a"}, {"key": "b"}], clock=clock
        )
