"""A member's bookings as an iCalendar feed, parsed back with the icalendar library."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.core import signing
from icalendar import Calendar

from dues.classes.calendar import calendar_member, calendar_token, member_calendar
from dues.classes.services import booking_cancel, booking_create, session_cancel
from dues.core.tokens import LinkExpired
from tests.classes.conftest import STARTS


def _events(data: bytes) -> dict[str, object]:
    cal = Calendar.from_ical(data)
    return {str(e["UID"]): e for e in cal.walk("VEVENT")}


def test_the_feed_has_each_booking_with_its_local_time_and_status(gym):
    member, _ = gym.member()
    kept = booking_create(session=gym.session, member=member, clock=gym.clock)
    other = gym.session_at(STARTS + timedelta(days=1))
    dropped = booking_create(session=other, member=member, clock=gym.clock)
    booking_cancel(booking=dropped, clock=gym.clock)
    third = gym.session_at(STARTS + timedelta(days=2))
    gym_cancelled = booking_create(session=third, member=member, clock=gym.clock)
    session_cancel(session=third, reason="holiday", clock=gym.clock)

    data = member_calendar(member=member, clock=gym.clock)
    cal = Calendar.from_ical(data)
    assert [str(tz["TZID"]) for tz in cal.walk("VTIMEZONE")] == ["Europe/Stockholm"]
    events = _events(data)
    slug = gym.org.slug
    assert sorted(events) == sorted(
        f"booking-{b.pk}@{slug}.dues" for b in (kept, dropped, gym_cancelled)
    )
    event = events[f"booking-{kept.pk}@{slug}.dues"]
    start = event["DTSTART"]
    assert start.params["TZID"] == "Europe/Stockholm"
    assert start.dt == datetime(2026, 1, 17, 18, tzinfo=ZoneInfo("Europe/Stockholm"))
    assert start.dt.astimezone(UTC) == STARTS
    assert event["DTEND"].dt.astimezone(UTC) == STARTS + timedelta(hours=1)
    assert str(event["SUMMARY"]) == "Spinning"
    assert str(event["STATUS"]) == "CONFIRMED"
    assert str(event["LOCATION"]) == f"Studio, {gym.location.name}"
    assert str(events[f"booking-{dropped.pk}@{slug}.dues"]["STATUS"]) == "CANCELLED"
    assert str(events[f"booking-{gym_cancelled.pk}@{slug}.dues"]["STATUS"]) == "CANCELLED"


def test_another_member_s_bookings_are_not_in_the_feed(gym):
    member, _ = gym.member()
    other, _ = gym.member()
    booking_create(session=gym.session, member=other, clock=gym.clock)
    assert _events(member_calendar(member=member, clock=gym.clock)) == {}


def test_the_token_names_the_member_and_cannot_be_altered(gym):
    member, _ = gym.member()
    token = calendar_token(member=member, clock=gym.clock)
    assert calendar_member(token, clock=gym.clock) == member
    with pytest.raises(signing.BadSignature):
        calendar_member(token[:-2] + ("AA" if not token.endswith("AA") else "BB"), clock=gym.clock)
    gym.clock.advance(timedelta(days=3651))
    with pytest.raises(LinkExpired):
        calendar_member(token, clock=gym.clock)
