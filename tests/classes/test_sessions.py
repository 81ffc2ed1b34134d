"""Schedules become sessions in the location's time zone (DST-correct, once each); a
session moved or cancelled tells everyone booked, and gives back what they paid."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import pytest

from dues.billing.models import InvoiceStatus
from dues.classes.models import Booking, ClassSession, Room, Schedule
from dues.classes.selectors import credit_balance, week_sessions
from dues.classes.services import (
    ClassError,
    booking_create,
    class_credits_grant,
    schedule_create,
    session_cancel,
    session_change,
    sessions_materialize,
)
from dues.core.models import OutboxEvent
from tests.classes.conftest import STARTS
from tests.factories import clock_at, make_location, make_member


def _schedule(gym, rrule="FREQ=WEEKLY;BYDAY=MO,TH", **kw) -> Schedule:
    fields = {
        "class_type": gym.class_type,
        "room": gym.room,
        "rrule": rrule,
        "starts_on": date(2026, 1, 1),
        "start_time": time(18, 0),
        "clock": gym.clock,
    }
    fields.update(kw)
    return schedule_create(**fields)


def test_a_weekly_class_stays_at_18_local_across_the_spring_change(gym):
    schedule = _schedule(gym, rrule="FREQ=WEEKLY;BYDAY=TH")
    clock = clock_at(2026, 3, 20)
    made = sessions_materialize(clock=clock, days=14)
    starts = list(
        ClassSession.objects.filter(schedule=schedule).values_list("starts_at", flat=True)
    )
    # Thursday 26 March is still winter time (UTC+1); 2 April summer time (UTC+2).
    assert starts == [
        datetime(2026, 3, 26, 17, tzinfo=UTC),
        datetime(2026, 4, 2, 16, tzinfo=UTC),
    ]
    assert made == 2
    assert sessions_materialize(clock=clock, days=14) == 0
    assert ClassSession.objects.filter(schedule=schedule).count() == 2
    s = ClassSession.objects.filter(schedule=schedule).first()
    assert (s.capacity, s.room_id, s.ends_at - s.starts_at) == (2, gym.room.pk, timedelta(hours=1))


def test_materializing_respects_the_end_day_count_and_the_horizon(gym):
    _schedule(gym, rrule="FREQ=DAILY;COUNT=20", ends_on=date(2026, 1, 18))
    made = sessions_materialize(clock=gym.clock, days=28)
    # from 15 January 12:00 UTC: the 15th (18:00 local is later), 16th, 17th, 18th
    assert made == 4


def test_a_moved_session_is_not_made_again(gym):
    schedule = _schedule(gym, rrule="FREQ=DAILY")
    sessions_materialize(clock=gym.clock, days=2)
    first = ClassSession.objects.filter(schedule=schedule).order_by("starts_at").first()
    session_change(session=first, starts_at=first.starts_at + timedelta(hours=1), clock=gym.clock)
    assert sessions_materialize(clock=gym.clock, days=2) == 0


@pytest.mark.parametrize(
    ("rule", "problem"),
    [
        ("FREQ=SOMETIMES", "not a valid RFC 5545 rule"),
        ("", "write a recurrence rule"),
        ("DTSTART:20260101T100000\nRRULE:FREQ=DAILY", "leave DTSTART out"),
    ],
)
def test_a_bad_rule_is_refused_naming_the_field(gym, rule, problem):
    with pytest.raises(ClassError) as exc:
        _schedule(gym, rrule=rule)
    assert list(exc.value.message_dict) == ["rrule"]
    assert exc.value.message_dict["rrule"][0].startswith(problem)
    assert not Schedule.objects.exists()


def test_a_schedule_cannot_hold_more_than_its_room(gym):
    with pytest.raises(ClassError) as exc:
        _schedule(gym, capacity=3)
    assert exc.value.message_dict == {"capacity": ["between 1 and the room's capacity, 2"]}


def test_the_week_is_the_location_s_local_week(gym):
    late = gym.session_at(datetime(2026, 1, 18, 22, 30, tzinfo=UTC))  # 23:30 Sunday local
    monday = gym.session_at(datetime(2026, 1, 18, 23, 30, tzinfo=UTC))  # 00:30 Monday local
    week = list(week_sessions(location=gym.location, week_start=date(2026, 1, 12)))
    assert [s.pk for s in week] == [gym.session.pk, late.pk]
    assert monday not in week


def test_cancelling_a_session_cancels_its_bookings_gives_back_and_tells_each(gym):
    member, _ = gym.member()
    credits_member = make_member(gym.org, gym.clock)
    class_credits_grant(member=credits_member, amount=1, reason="gift", clock=gym.clock)
    drop_in = make_member(gym.org, gym.clock)
    b1 = booking_create(session=gym.session, member=member, clock=gym.clock)
    b2 = booking_create(session=gym.session, member=credits_member, clock=gym.clock)
    b3 = booking_create(session=gym.session, member=drop_in, clock=gym.clock, entitlement="drop_in")
    assert b3.status == "waitlisted"  # full: nothing charged yet
    with pytest.raises(ClassError) as exc:
        session_cancel(session=gym.session, reason="", clock=gym.clock)
    assert list(exc.value.message_dict) == ["reason"]
    session_cancel(session=gym.session, reason="instructor ill", clock=gym.clock)
    assert set(Booking.objects.values_list("status", flat=True)) == {"cancelled"}
    assert credit_balance(credits_member) == 1
    events = OutboxEvent.objects.filter(topic="class.session_cancelled").order_by("id")
    assert [e.aggregate_id for e in events] == [b1.pk, b2.pk, b3.pk]
    assert events[0].payload["reason"] == "instructor ill"
    with pytest.raises(ClassError) as exc:
        booking_create(session=gym.session, member=member, clock=gym.clock)
    assert exc.value.message_dict == {"session": ["this class is cancelled"]}


def test_cancelling_a_session_voids_a_drop_in(gym):
    drop_in = make_member(gym.org, gym.clock)
    b = booking_create(session=gym.session, member=drop_in, clock=gym.clock, entitlement="drop_in")
    session_cancel(session=gym.session, reason="flood", clock=gym.clock)
    b.refresh_from_db()
    assert b.drop_in_invoice_id is None
    assert OutboxEvent.objects.filter(topic="invoice.voided").count() == 1
    from dues.billing.models import Invoice

    assert Invoice.objects.get(payer=drop_in).status == InvoiceStatus.VOID


def test_changing_a_session_tells_the_booked_and_re_arms_the_reminder(gym):
    member, _ = gym.member()
    booking = booking_create(session=gym.session, member=member, clock=gym.clock)
    Booking.objects.filter(pk=booking.pk).update(reminded_at=gym.clock.now())
    big = Room.objects.create(organization=gym.org, location=gym.location, name="Hall", capacity=20)
    session = session_change(
        session=gym.session,
        starts_at=STARTS + timedelta(hours=1),
        room=big,
        instructor=None,
        clock=gym.clock,
        reason="bigger room",
    )
    assert (session.starts_at, session.ends_at) == (
        STARTS + timedelta(hours=1),
        STARTS + timedelta(hours=2),
    )
    assert (session.room_id, session.capacity, session.instructor_id) == (big.pk, 20, None)
    event = OutboxEvent.objects.get(topic="class.session_changed")
    assert event.payload["changes"] == ["time", "room", "instructor"]
    assert event.payload["old_starts_at"] == "2026-01-17T17:00:00+00:00"
    assert event.payload["starts_at"] == "2026-01-17T18:00:00+00:00"
    assert Booking.objects.get(pk=booking.pk).reminded_at is None


def test_a_room_too_small_for_the_booked_is_refused(gym):
    for _ in range(2):
        booking_create(session=gym.session, member=gym.member()[0], clock=gym.clock)
    tiny = Room.objects.create(organization=gym.org, location=gym.location, name="Nook", capacity=1)
    with pytest.raises(ClassError) as exc:
        session_change(session=gym.session, room=tiny, clock=gym.clock)
    assert exc.value.message_dict == {"room": ["Nook holds 1; 2 are booked"]}
    other = Room.objects.create(
        organization=gym.org, location=make_location(gym.org), name="Far", capacity=9
    )
    with pytest.raises(ClassError) as exc:
        session_change(session=gym.session, room=other, clock=gym.clock)
    assert exc.value.message_dict == {"room": ["the room is at another location"]}
    with pytest.raises(ClassError) as exc:
        session_change(session=gym.session, clock=gym.clock)
    assert exc.value.message_dict == {"session": ["nothing to change"]}
    assert not OutboxEvent.objects.filter(topic="class.session_changed").exists()


def test_a_bigger_room_promotes_the_waitlist(gym):
    for _ in range(3):
        booking_create(session=gym.session, member=gym.member()[0], clock=gym.clock)
    big = Room.objects.create(organization=gym.org, location=gym.location, name="Hall", capacity=9)
    session_change(session=gym.session, room=big, clock=gym.clock)
    assert Booking.objects.filter(status="booked").count() == 3
    assert OutboxEvent.objects.filter(topic="class.promoted").count() == 1
