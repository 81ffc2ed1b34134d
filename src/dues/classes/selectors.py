"""Reads: the rules in force for a class, the week's schedule, a roster, a member's
bookings and credits."""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import date, datetime, timedelta

from django.db.models import Count, Q, QuerySet

from dues.classes.models import (
    OPEN_STATUSES,
    Booking,
    BookingStatus,
    ClassCreditAccount,
    ClassSession,
    ClassType,
    LocationClassRules,
)
from dues.core.clock import local_midnight
from dues.core.models import Location
from dues.members.models import Member


@dataclass(frozen=True)
class Rules:
    booking_opens_days: int
    booking_closes_minutes: int
    cancel_cutoff_hours: int
    waitlist_cutoff_minutes: int
    max_open_bookings: int
    reminder_hours: int
    late_cancel_fee: int
    no_show_fee: int


# Used where neither the class type nor the location says otherwise.
DEFAULT_RULES = Rules(
    booking_opens_days=7,
    booking_closes_minutes=0,
    cancel_cutoff_hours=2,
    waitlist_cutoff_minutes=60,
    max_open_bookings=10,
    reminder_hours=2,
    late_cancel_fee=0,
    no_show_fee=0,
)


def rules_for(class_type: ClassType, location: Location) -> Rules:
    """The class type's own value for each rule, else the location's, else the default."""
    at_location = LocationClassRules.objects.filter(location=location).first()
    values = {}
    for f in fields(Rules):
        value = getattr(class_type, f.name)
        if value is None and at_location is not None:
            value = getattr(at_location, f.name)
        values[f.name] = getattr(DEFAULT_RULES, f.name) if value is None else value
    return Rules(**values)


def session_counts(session_ids: list[int]) -> dict[int, tuple[int, int]]:
    """(booked, waitlisted) per session."""
    rows = (
        Booking.objects.filter(session_id__in=session_ids)
        .values("session_id")
        .annotate(
            booked=Count("id", filter=Q(status=BookingStatus.BOOKED)),
            waiting=Count("id", filter=Q(status=BookingStatus.WAITLISTED)),
        )
    )
    found = {pk: (0, 0) for pk in session_ids}
    for row in rows:
        found[row["session_id"]] = (row["booked"], row["waiting"])
    return found


def week_sessions(*, location: Location, week_start: date) -> QuerySet[ClassSession]:
    """The sessions at ``location`` in the seven local days from ``week_start``."""
    start = local_midnight(week_start, location.timezone)
    end = local_midnight(week_start + timedelta(days=7), location.timezone)
    return (
        ClassSession.objects.filter(location=location, starts_at__gte=start, starts_at__lt=end)
        .select_related("class_type", "room", "instructor")
        .order_by("starts_at", "id")
    )


def session_roster(session: ClassSession) -> list[Booking]:
    """Who is booked, who waits (in promotion order), then who cancelled or did not come."""
    order: dict[str, int] = {
        BookingStatus.BOOKED: 0,
        BookingStatus.ATTENDED: 0,
        BookingStatus.NO_SHOW: 0,
        BookingStatus.WAITLISTED: 1,
        BookingStatus.LATE_CANCELLED: 2,
        BookingStatus.CANCELLED: 3,
    }
    rows = list(session.bookings.select_related("member", "fee_invoice"))
    rows.sort(key=lambda b: (order[b.status], b.waitlisted_at or b.created_at, b.pk))
    return rows


def waitlist(session: ClassSession) -> QuerySet[Booking]:
    return session.bookings.filter(status=BookingStatus.WAITLISTED).order_by("waitlisted_at", "id")


def member_bookings(member: Member, *, since: datetime | None = None) -> QuerySet[Booking]:
    qs = Booking.objects.filter(member=member, organization_id=member.organization_id)
    if since is not None:
        qs = qs.filter(session__ends_at__gte=since)
    return qs.select_related(
        "session", "session__class_type", "session__room", "session__location", "fee_invoice"
    ).order_by("session__starts_at", "id")


def member_open_bookings(member: Member, now: datetime) -> int:
    """Upcoming bookings and waitlist places the member holds (the per-member limit)."""
    return Booking.objects.filter(
        member=member, status__in=OPEN_STATUSES, session__starts_at__gt=now
    ).count()


def credit_balance(member: Member) -> int:
    account = ClassCreditAccount.objects.filter(member=member).first()
    return account.balance if account else 0
