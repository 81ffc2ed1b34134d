from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import pytest

from dues.billing.models import Subscription
from dues.billing.services import subscription_create
from dues.catalog.models import Plan
from dues.classes.models import ClassSession, ClassType, Instructor, Room
from dues.classes.services import session_create
from dues.core.clock import SimulatedClock
from dues.core.models import Location, Organization
from dues.members.models import Member
from tests.factories import d, make_member, make_plan

# The class: Saturday 17 January 2026, 18:00 in Stockholm (17:00 UTC), an hour long.
STARTS = datetime(2026, 1, 17, 17, tzinfo=UTC)


@dataclass
class Gym:
    org: Organization
    location: Location
    clock: SimulatedClock
    plan: Plan
    class_type: ClassType
    room: Room
    instructor: Instructor
    session: ClassSession

    def member(self, *, plan: Plan | None = None, **kw: object) -> tuple[Member, Subscription]:
        """A member with a membership (by default of a plan that includes the class)."""
        member = make_member(self.org, self.clock, **kw)
        sub = subscription_create(
            member=member,
            plan=plan or self.plan,
            location=self.location,
            start_date=d("2026-01-15"),
            clock=self.clock,
        )
        return member, sub

    def session_at(self, starts_at: datetime, **kw: object) -> ClassSession:
        return session_create(
            class_type=self.class_type,
            room=self.room,
            starts_at=starts_at,
            clock=self.clock,
            **kw,  # type: ignore[arg-type]
        )


@pytest.fixture
def gym(org, location, clock) -> Gym:
    plan = make_plan(org)
    class_type = ClassType.objects.create(
        organization=org,
        name="Spinning",
        code="spinning",
        duration_minutes=60,
        drop_in_price=15000,
        drop_in_currency="SEK",
    )
    class_type.plans.add(plan)
    room = Room.objects.create(organization=org, location=location, name="Studio", capacity=2)
    instructor = Instructor.objects.create(organization=org, name="Kim")
    session = session_create(
        class_type=class_type, room=room, starts_at=STARTS, clock=clock, instructor=instructor
    )
    return Gym(org, location, clock, plan, class_type, room, instructor, session)
