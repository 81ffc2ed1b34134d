"""On PostgreSQL, 50 members booking the last 10 places at the same moment: exactly 10
get a place, 40 go on the waitlist, the class never holds more than its capacity, and a
cancellation then promotes exactly one."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

import pytest
from django.db import connections

from dues.billing.services import subscription_create
from dues.classes.models import Booking, BookingStatus, ClassType, Room
from dues.classes.services import booking_cancel, booking_create, session_create
from dues.core.clock import SimulatedClock
from dues.core.models import OutboxEvent
from tests.factories import d, make_location, make_member, make_org, make_plan

pytestmark = [pytest.mark.postgres_only]

CAPACITY = 20
ALREADY = 10
RUSH = 50


@pytest.mark.django_db(transaction=True)
def test_fifty_members_rush_the_last_ten_places():
    clock = SimulatedClock(datetime(2026, 1, 15, 12, tzinfo=UTC))
    org = make_org(clock)
    location = make_location(org)
    plan = make_plan(org)
    class_type = ClassType.objects.create(organization=org, name="HIIT", code="hiit")
    class_type.plans.add(plan)
    room = Room.objects.create(organization=org, location=location, name="Box", capacity=CAPACITY)
    session = session_create(
        class_type=class_type,
        room=room,
        starts_at=datetime(2026, 1, 17, 17, tzinfo=UTC),
        clock=clock,
    )
    members = []
    for _ in range(ALREADY + RUSH):
        member = make_member(org, clock)
        subscription_create(
            member=member, plan=plan, location=location, start_date=d("2026-01-15"), clock=clock
        )
        members.append(member)
    for member in members[:ALREADY]:
        booking_create(session=session, member=member, clock=clock)

    barrier = threading.Barrier(RUSH)
    statuses: list[str] = []
    errors: list[BaseException] = []

    def book(member):
        try:
            barrier.wait()
            statuses.append(booking_create(session=session, member=member, clock=clock).status)
        except BaseException as exc:  # reported below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=book, args=(m,)) for m in members[ALREADY:]]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert errors == []
    assert sorted(statuses).count("booked") == 10
    assert sorted(statuses).count("waitlisted") == 40
    counts = {
        status: Booking.objects.filter(session=session, status=status).count()
        for status in ("booked", "waitlisted")
    }
    assert counts == {"booked": CAPACITY, "waitlisted": RUSH - 10}

    first_waiting = (
        Booking.objects.filter(session=session, status=BookingStatus.WAITLISTED)
        .order_by("waitlisted_at", "id")
        .first()
    )
    booking_cancel(booking=Booking.objects.get(member=members[0]), clock=clock)
    assert Booking.objects.filter(session=session, status="booked").count() == CAPACITY
    assert Booking.objects.filter(session=session, status="waitlisted").count() == RUSH - 11
    promoted = OutboxEvent.objects.filter(topic="class.promoted")
    assert [e.aggregate_id for e in promoted] == [first_waiting.pk]
    assert Booking.objects.get(pk=first_waiting.pk).status == "booked"
