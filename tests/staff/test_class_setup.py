"""The class set-up page: a manager adds a class, a room, an instructor and a recurring
class (weekdays and a local start time), whose sessions can be booked at once; each is a
recorded set-up change; bad input is refused on its field with nothing written; ending a
recurring class cancels its later sessions and the bookings on them; the front desk may
not set up classes."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.urls import reverse

from dues.classes.models import (
    Booking,
    BookingStatus,
    ClassSession,
    ClassType,
    Instructor,
    Room,
    Schedule,
    SessionStatus,
)
from dues.classes.services import booking_create
from dues.staff.models import StaffChange
from dues.staff.roles import Role
from tests.factories import join, make_location, make_org
from tests.staff.conftest import client_for, make_staff

pytestmark = pytest.mark.django_db
URL = reverse("staff-class-setup")


@pytest.fixture
def client(org, staff_clock):
    return client_for(make_staff(org, Role.MANAGER, staff_clock, device=True), org)


def _add_room(client, location, name: str, capacity: int):
    return client.post(
        URL,
        {
            "form": "room",
            "room-location": location.pk,
            "room-name": name,
            "room-capacity": str(capacity),
        },
    )


def _add_basics(client, location):
    assert (
        client.post(
            URL,
            {
                "form": "type",
                "type-name": "Spin 45",
                "type-duration_minutes": "45",
                "type-credits_per_booking": "1",
                "type-drop_in_price": "120.00",
                "type-drop_in_currency": "SEK",
            },
        ).status_code
        == 302
    )
    assert _add_room(client, location, "Studio", 12).status_code == 302
    assert (
        client.post(
            URL, {"form": "instructor", "instructor-name": "Ida", "instructor-email": ""}
        ).status_code
        == 302
    )
    return ClassType.objects.get(), Room.objects.get(), Instructor.objects.get()


def _add_weekly(client, class_type, room, instructor, first: date):
    return client.post(
        URL,
        {
            "form": "schedule",
            "schedule-class_type": class_type.pk,
            "schedule-room": room.pk,
            "schedule-instructor": instructor.pk,
            "schedule-days": ["MO", "WE"],
            "schedule-start_time": "18:00",
            "schedule-starts_on": first.isoformat(),
        },
    )


def test_a_manager_sets_up_a_weekly_class_that_can_be_booked_at_once(
    org, location, client, staff_clock
):
    class_type, room, instructor = _add_basics(client, location)
    assert (class_type.code, class_type.duration_minutes) == ("spin-45", 45)
    assert (class_type.drop_in_price, class_type.drop_in_currency) == (12000, "SEK")
    assert (room.capacity, room.location_id) == (12, location.pk)
    response = _add_weekly(client, class_type, room, instructor, date(2026, 1, 19))
    assert response.status_code == 302
    schedule = Schedule.objects.get()
    assert schedule.rrule == "FREQ=WEEKLY;BYDAY=MO,WE"
    sessions = list(ClassSession.objects.filter(schedule=schedule).order_by("starts_at"))
    assert sessions, "the coming weeks' sessions are made at once"
    tz = ZoneInfo(location.timezone)
    assert {s.starts_at.astimezone(tz).strftime("%a %H:%M") for s in sessions} == {
        "Mon 18:00",
        "Wed 18:00",
    }
    assert all(
        s.capacity == 12 and s.ends_at - s.starts_at == timedelta(minutes=45) for s in sessions
    )
    member = join(org, location, staff_clock)[0]
    booking = booking_create(
        session=sessions[0], member=member, clock=staff_clock, entitlement="drop_in"
    )
    assert booking.status == BookingStatus.BOOKED
    assert StaffChange.objects.filter(organization=org).count() == 4
    page = client.get(URL).content.decode()
    assert "Monday, Wednesday at 18:00" in page
    assert "Studio" in page


def test_bad_input_is_refused_on_its_field_and_nothing_is_written(location, client):
    class_type, room, instructor = _add_basics(client, location)
    response = client.post(
        URL,
        {
            "form": "schedule",
            "schedule-class_type": class_type.pk,
            "schedule-room": room.pk,
            "schedule-start_time": "18:00",
            "schedule-starts_on": "2026-01-19",
            "schedule-capacity": "30",
        },
    )
    assert response.status_code == 400
    assert "This field is required." in response.content.decode()  # no weekday chosen
    response = _add_weekly(client, class_type, room, instructor, date(2026, 1, 19))
    assert response.status_code == 302
    too_big = client.post(
        URL,
        {
            "form": "schedule",
            "schedule-class_type": class_type.pk,
            "schedule-room": room.pk,
            "schedule-days": ["FR"],
            "schedule-start_time": "07:00",
            "schedule-starts_on": "2026-01-19",
            "schedule-capacity": "30",
        },
    )
    assert too_big.status_code == 400
    assert "the room&#x27;s capacity, 12" in too_big.content.decode()
    # the location has a Studio already
    assert _add_room(client, location, "Studio", 8).status_code == 400
    assert (
        client.post(
            URL, {"form": "type", "type-name": "Yoga", "type-duration_minutes": "0"}
        ).status_code
        == 400
    )
    assert (Schedule.objects.count(), Room.objects.count(), ClassType.objects.count()) == (1, 1, 1)


def test_ending_a_class_cancels_its_later_sessions_and_their_bookings(
    org, location, client, staff_clock
):
    class_type, room, instructor = _add_basics(client, location)
    _add_weekly(client, class_type, room, instructor, date(2026, 1, 19))
    schedule = Schedule.objects.get()
    sessions = list(ClassSession.objects.filter(schedule=schedule).order_by("starts_at"))
    member = join(org, location, staff_clock)[0]
    staff_clock.set(datetime(2026, 1, 20, 9, tzinfo=UTC))  # both in their booking windows
    early = booking_create(
        session=sessions[1], member=member, clock=staff_clock, entitlement="drop_in"
    )
    late = booking_create(
        session=sessions[2], member=member, clock=staff_clock, entitlement="drop_in"
    )
    last_day = sessions[1].starts_at.astimezone(ZoneInfo(location.timezone)).date()
    response = client.post(
        URL,
        {
            "form": "end",
            "schedule": schedule.pk,
            f"end{schedule.pk}-last_day": last_day.isoformat(),
            f"end{schedule.pk}-reason": "Ida moves away.",
        },
    )
    assert response.status_code == 302
    schedule.refresh_from_db()
    assert schedule.ends_on == last_day
    statuses = [
        s.status for s in ClassSession.objects.filter(schedule=schedule).order_by("starts_at")
    ]
    assert statuses[:2] == [SessionStatus.SCHEDULED] * 2
    assert set(statuses[2:]) == {SessionStatus.CANCELLED}
    assert Booking.objects.get(pk=early.pk).status == BookingStatus.BOOKED
    assert Booking.objects.get(pk=late.pk).status == BookingStatus.CANCELLED
    assert ClassSession.objects.filter(schedule=schedule, cancel_reason="Ida moves away.").exists()


def test_the_front_desk_may_not_set_up_classes(org, staff_clock):
    desk = client_for(make_staff(org, Role.FRONT_DESK, staff_clock), org)
    assert desk.get(URL).status_code == 403
    assert desk.post(URL, {"form": "instructor", "instructor-name": "X"}).status_code == 403
    assert not Instructor.objects.exists()


def test_a_class_of_another_organization_cannot_be_ended(org, location, client, staff_clock):
    other = make_org(staff_clock)
    other_client = client_for(make_staff(other, Role.MANAGER, staff_clock, device=True), other)
    class_type, room, instructor = _add_basics(client, location)
    _add_weekly(client, class_type, room, instructor, date(2026, 1, 19))
    schedule = Schedule.objects.get()
    make_location(other)
    response = other_client.post(
        URL,
        {
            "form": "end",
            "schedule": schedule.pk,
            f"end{schedule.pk}-last_day": "2026-01-20",
            f"end{schedule.pk}-reason": "x",
        },
    )
    assert response.status_code == 404
    schedule.refresh_from_db()
    assert schedule.ends_on is None
