"""Attendance from the decision log: local hours and weekdays, per location and plan, and
the at-risk list."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from dues.access.decide import access_decide
from dues.access.models import CredentialKind
from dues.access.selectors import (
    VisitsRow,
    at_risk_members,
    at_risk_queryset,
    visits_by_hour_and_weekday,
    visits_by_location_and_plan,
)
from dues.access.services import credential_issue, visit_pack_grant
from dues.billing.services import subscription_cancel
from tests.factories import join, make_location, make_member

SINCE = datetime(2026, 1, 1, tzinfo=UTC)
UNTIL = datetime(2026, 3, 1, tzinfo=UTC)


def _enter(location, clock, member, at):
    clock.set(at)
    return access_decide(location=location, clock=clock, member=member)


def test_visits_by_local_hour_and_weekday_per_location_and_plan(org, location, clock):
    bangkok = make_location(org, tz="Asia/Bangkok", currency="SEK")
    anna, anna_sub = join(org, location, clock)
    bo, bo_sub = join(org, location, clock)
    # Stockholm (UTC+1 in January): Monday 19 January 06:30 UTC is 07:30 local.
    _enter(location, clock, anna, datetime(2026, 1, 19, 6, 30, tzinfo=UTC))
    _enter(location, clock, bo, datetime(2026, 1, 19, 6, 45, tzinfo=UTC))
    # Bangkok (UTC+7): Monday 19 January 20:00 UTC is Tuesday 03:00 local.
    _enter(bangkok, clock, anna, datetime(2026, 1, 19, 20, 0, tzinfo=UTC))
    # refused entries (anti-passback) are not visits
    assert not _enter(location, clock, anna, datetime(2026, 1, 19, 6, 33, tzinfo=UTC)).allowed

    grid = visits_by_hour_and_weekday(organization_id=org.pk, since=SINCE, until=UNTIL)
    assert {(d, h): n for d, row in enumerate(grid) for h, n in enumerate(row) if n} == {
        (0, 7): 2,
        (1, 3): 1,
    }
    only_bangkok = visits_by_hour_and_weekday(
        organization_id=org.pk, since=SINCE, until=UNTIL, location_id=bangkok.pk
    )
    assert sum(map(sum, only_bangkok)) == 1
    only_bo = visits_by_hour_and_weekday(
        organization_id=org.pk, since=SINCE, until=UNTIL, plan_id=bo_sub.plan_id
    )
    assert only_bo[0][7] == 1
    assert sum(map(sum, only_bo)) == 1
    assert visits_by_location_and_plan(organization_id=org.pk, since=SINCE, until=UNTIL) == sorted(
        [
            VisitsRow(location.name, anna_sub.plan.name, 1, 1),
            VisitsRow(location.name, bo_sub.plan.name, 1, 1),
            VisitsRow(bangkok.name, anna_sub.plan.name, 1, 1),
        ],
        key=lambda r: (r.location, r.plan),
    )


def test_at_risk_members_not_seen_for_n_days(org, location, clock):
    regular, _ = join(org, location, clock)
    lapsed, _ = join(org, location, clock)
    never, _ = join(org, location, clock)
    _gone, gone_sub = join(org, location, clock)
    drop_in = make_member(org, clock)
    visit_pack_grant(member=drop_in, entries=3, clock=clock)
    credential_issue(member=regular, kind=CredentialKind.RFID, value="REG-1", clock=clock)
    subscription_cancel(sub=gone_sub, clock=clock, immediately=True)
    _enter(location, clock, lapsed, datetime(2026, 1, 20, 9, tzinfo=UTC))
    _enter(location, clock, regular, datetime(2026, 2, 10, 9, tzinfo=UTC))
    clock.set(datetime(2026, 2, 14, 12, tzinfo=UTC))
    risk = at_risk_members(organization_id=org.pk, days=14, clock=clock)
    assert [(r.member, r.last_visit) for r in risk] == [
        (never, None),
        (lapsed, datetime(2026, 1, 20, 9, tzinfo=UTC)),
    ]
    # within N days of joining a member who never came is not yet at risk
    clock.set(datetime(2026, 1, 20, 12, tzinfo=UTC))
    assert list(at_risk_queryset(organization_id=org.pk, days=14, clock=clock)) == []
    with pytest.raises(ValueError, match="days: must be at least 1"):
        at_risk_members(organization_id=org.pk, days=0, clock=clock)
    assert clock.now() - timedelta(days=14) < datetime(2026, 1, 15, 12, tzinfo=UTC)
