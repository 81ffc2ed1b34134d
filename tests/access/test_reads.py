"""The door reads memberships in one SQL statement (``access/reads.py``); these tests hold
it to the rules the rest of Dues uses: ``billing.restrictions.restrictions_in_force`` for
restrictions, and the freeze rule (a scheduled or active freeze covers its start date up to
the day before its end date), on random cases with their edges (a restriction starting or
ending at the very instant, a freeze ending today)."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta

from dues.access.reads import memberships_read
from dues.billing.models import Freeze, Restriction, RestrictionKind, SubscriptionStatus
from dues.billing.restrictions import restrictions_in_force
from dues.catalog.models import Plan
from tests.factories import join, make_location

NOW = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
TODAY = date(2026, 3, 10)  # Stockholm's date at NOW


EDGES = [timedelta(0), timedelta(microseconds=1), -timedelta(microseconds=1), -timedelta(hours=1)]


def test_restrictions_read_as_restrictions_in_force_says(org, location, clock):
    """One access restriction per membership, for every pair of start and end around the
    instant (ending at the very instant is not in force; starting at it is), and others
    of another kind that must not count."""
    cases = [(s, e) for s in EDGES for e in [None, *EDGES] if e is None or e >= s]
    subs = [join(org, location, clock)[1] for _ in range(len(cases) + 2)]
    for i, (sub, (start, end)) in enumerate(zip(subs, cases, strict=False)):
        Restriction.objects.create(
            organization_id=org.pk,
            subscription=sub,
            kind=RestrictionKind.ACCESS,
            source="staff",
            source_id=i,
            reason="test",
            starts_at=NOW + start,
            ends_at=None if end is None else NOW + end,
        )
    for sub in subs[-2:]:
        Restriction.objects.create(
            organization_id=org.pk,
            subscription=sub,
            kind=RestrictionKind.BOOKINGS,
            source="staff",
            reason="test",
            starts_at=NOW - timedelta(days=1),
        )
    expected = {
        pk: RestrictionKind.ACCESS in kinds
        for pk, kinds in restrictions_in_force([s.pk for s in subs], NOW).items()
    }
    read = {m.id: m.restricted for m in memberships_read(location=location, today=TODAY, now=NOW)}
    assert read == expected
    assert sum(expected.values()) == 6  # start at or before the instant, no end or a later one


def test_freezes_read_as_the_freeze_rule_says(org, location, clock):
    """A freeze per membership for each start, end and status around today; then random
    pairs of freezes on one membership."""
    days = [TODAY - timedelta(days=5), TODAY, TODAY + timedelta(days=1)]
    cases = [
        [(start, end, status)]
        for start in days
        for end in [TODAY, TODAY + timedelta(days=1)]
        for status in Freeze.Status.values
        if end > start
    ]
    rng = random.Random(11)
    for _ in range(6):
        cases.append(
            [
                (
                    TODAY + timedelta(days=(start := rng.randrange(-20, 3))),
                    TODAY + timedelta(days=start + rng.randrange(1, 25)),
                    rng.choice(Freeze.Status.values),
                )
                for _ in range(2)
            ]
        )
    frozen: dict[int, bool] = {}
    over: dict[int, bool] = {}
    for freezes in cases:
        sub = join(org, location, clock)[1]
        covering = ended = False
        for start, end, status in freezes:
            Freeze.objects.create(
                organization_id=org.pk,
                subscription=sub,
                start_date=start,
                end_date=end,
                status=status,
                created_at=NOW,
            )
            if status in (Freeze.Status.SCHEDULED, Freeze.Status.ACTIVE) and start <= TODAY:
                covering |= end > TODAY
                ended |= end <= TODAY
        frozen[sub.pk], over[sub.pk] = covering, ended and not covering
    read = memberships_read(location=location, today=TODAY, now=NOW)
    assert {m.id: m.frozen_today for m in read} == frozen
    assert {m.id: m.freeze_over for m in read} == over
    assert any(frozen.values())
    assert any(over.values())


def test_one_members_read_matches_the_organizations(org, location, clock):
    """The two shapes of the statement (a member, the whole organization) agree, and the
    member's also lists a membership cancelled lately, newest first."""
    other = make_location(org)
    member, first = join(org, location, clock)
    _, someone_else = join(org, location, clock)
    plan = Plan.objects.get(pk=first.plan_id)
    plan.locations.set([other])
    first.status = SubscriptionStatus.CANCELLED
    first.cancelled_at = NOW - timedelta(days=30)
    first.save(update_fields=["status", "cancelled_at"])
    second = join(org, location, clock, member_kw={})[1]
    second.member = member
    second.save(update_fields=["member"])
    mine = memberships_read(location=location, today=TODAY, now=NOW, member_id=member.pk)
    assert [m.id for m in mine] == [second.pk, first.pk]
    assert mine[1].wrong_location
    assert not mine[0].wrong_location
    whole = {m.id: m for m in memberships_read(location=location, today=TODAY, now=NOW)}
    assert set(whole) == {second.pk, someone_else.pk}  # the cancelled one is not live
    assert whole[second.pk] == mine[0]
    elsewhere = memberships_read(location=other, today=TODAY, now=NOW, member_id=member.pk)
    assert not elsewhere[1].wrong_location
