"""Each member's bookings as an iCalendar (RFC 5545) feed, at a signed URL that needs no
login: the token names the member and their organization and is signed with the secret
key (``core.tokens``), so it cannot be guessed or altered; it works for years, as a
calendar subscription must."""

from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from icalendar import Calendar, Event

from dues.classes.models import BookingStatus, SessionStatus
from dues.classes.selectors import member_bookings
from dues.core.clock import Clock
from dues.core.tokens import token_read, token_sign
from dues.members.models import Member

SALT = "dues.classes.calendar"
LIFETIME = timedelta(days=3650)
# How far back the feed goes.
HISTORY = timedelta(days=90)

_STATUS: dict[str, str] = {
    BookingStatus.BOOKED: "CONFIRMED",
    BookingStatus.ATTENDED: "CONFIRMED",
    BookingStatus.NO_SHOW: "CONFIRMED",
    BookingStatus.WAITLISTED: "TENTATIVE",
    BookingStatus.CANCELLED: "CANCELLED",
    BookingStatus.LATE_CANCELLED: "CANCELLED",
}


def calendar_token(*, member: Member, clock: Clock) -> str:
    return token_sign(
        {"m": member.pk, "o": member.organization_id}, salt=SALT, lifetime=LIFETIME, clock=clock
    )


def calendar_url(*, member: Member, clock: Clock) -> str:
    token = calendar_token(member=member, clock=clock)
    return f"{settings.DUES_PUBLIC_URL}/me/classes/calendar/{token}.ics"


def calendar_member(token: str, *, clock: Clock) -> Member:
    """The member a token names; ``signing.BadSignature`` (or ``LinkExpired``) if forged,
    altered or expired, ``Member.DoesNotExist`` if they are gone."""
    data = token_read(token, salt=SALT, clock=clock)
    return Member.objects.get(pk=data["m"], organization_id=data["o"])


def member_calendar(*, member: Member, clock: Clock) -> bytes:
    """The member's bookings from the last 90 days on: one event per booking, its start
    and end in the location's time zone (with the VTIMEZONE), cancelled ones (by the
    member or the gym) with STATUS:CANCELLED, waitlist places TENTATIVE."""
    now = clock.now()
    cal = Calendar()
    cal.add("prodid", "-//Dues//Class bookings//EN")
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("x-wr-calname", f"{member.organization.name}: classes")
    for booking in member_bookings(member, since=now - HISTORY):
        session = booking.session
        tz = ZoneInfo(session.location.timezone)
        event = Event()
        event.add("uid", f"booking-{booking.pk}@{member.organization.slug}.dues")
        event.add("dtstamp", now)
        event.add("dtstart", session.starts_at.astimezone(tz))
        event.add("dtend", session.ends_at.astimezone(tz))
        event.add("summary", session.class_type.name)
        event.add("location", f"{session.room.name}, {session.location.name}")
        cancelled = session.status == SessionStatus.CANCELLED
        event.add("status", "CANCELLED" if cancelled else _STATUS[booking.status])
        stamp = max(
            t
            for t in (
                session.created_at,
                session.changed_at,
                booking.booked_at,
                booking.cancelled_at,
                session.cancelled_at,
                booking.created_at,
            )
            if t
        )
        event.add("last-modified", stamp)
        event.add("sequence", 1 if session.changed_at or cancelled or booking.cancelled_at else 0)
        cal.add_component(event)
    cal.add_missing_timezones()
    ical: bytes = cal.to_ical()
    return ical
