"""The member's classes: the week's schedule in the location's time zone, a class with
its book / waitlist buttons, cancelling (with the late fee shown before confirming), their
bookings, and their calendar feed (a signed link that needs no sign-in)."""

from __future__ import annotations

from datetime import date, timedelta
from zoneinfo import ZoneInfo

from babel.dates import format_date, format_time
from django.contrib import messages
from django.core import signing
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils import translation
from django.utils.text import capfirst
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from dues.billing.models import Subscription, SubscriptionStatus
from dues.classes.calendar import calendar_member, calendar_url, member_calendar
from dues.classes.models import (
    OPEN_STATUSES,
    Booking,
    BookingStatus,
    ClassSession,
    Entitlement,
    SessionStatus,
)
from dues.classes.selectors import (
    credit_balance,
    member_bookings,
    rules_for,
    session_counts,
    week_sessions,
)
from dues.classes.services import (
    ClassError,
    booking_cancel,
    booking_cancel_terms,
    booking_create,
)
from dues.core.clock import SystemClock
from dues.core.models import Location
from dues.members.models import Member
from dues.notify.render import date_text, money_text
from dues.portal.session import member_required

CLOCK = SystemClock()


def _locale() -> str:
    return translation.to_locale(translation.get_language() or "en")


def _when(session: ClassSession) -> dict[str, str]:
    tz = ZoneInfo(session.location.timezone)
    start, end = session.starts_at.astimezone(tz), session.ends_at.astimezone(tz)
    return {
        "day": format_date(start.date(), "full", locale=_locale()),
        "time": f"{format_time(start.time(), 'short', locale=_locale())}–"
        f"{format_time(end.time(), 'short', locale=_locale())}",
    }


def _location(member: Member) -> Location | None:
    """Where the member trains: their home location, else their membership's."""
    if member.home_location_id:
        return member.home_location
    sub = (
        Subscription.objects.filter(member=member)
        .exclude(status=SubscriptionStatus.CANCELLED)
        .select_related("location")
        .first()
    )
    if sub is not None:
        return sub.location
    return Location.objects.filter(organization_id=member.organization_id).first()


def _refusal(exc: ClassError) -> str:
    return capfirst(" ".join(str(m) for msgs in exc.message_dict.values() for m in msgs)) or ""


def _own_session(member: Member, session_id: int) -> ClassSession:
    session = (
        ClassSession.objects.filter(pk=session_id, organization_id=member.organization_id)
        .select_related("class_type", "location", "room", "instructor")
        .first()
    )
    if session is None:
        raise Http404
    return session


def _own_booking(member: Member, booking_id: int) -> Booking:
    booking = (
        Booking.objects.filter(pk=booking_id, member=member)
        .select_related("session__class_type", "session__location", "session__room")
        .first()
    )
    if booking is None:
        raise Http404
    return booking


def _row(session: ClassSession, mine: Booking | None, counts: tuple[int, int]) -> dict[str, object]:
    booked, waiting = counts
    return {
        "session": session,
        **_when(session),
        "left": max(session.capacity - booked, 0),
        "waiting": waiting,
        "cancelled": session.status == SessionStatus.CANCELLED,
        "mine": mine if mine is not None and mine.status in OPEN_STATUSES else None,
    }


@require_GET
@member_required
def schedule(request: HttpRequest) -> HttpResponse:
    member: Member = request.member  # type: ignore[attr-defined]
    location = _location(member)
    if location is None:
        raise Http404
    today = CLOCK.now().astimezone(ZoneInfo(location.timezone)).date()
    try:
        start = date.fromisoformat(request.GET.get("week", ""))
    except ValueError:
        start = today
    start -= timedelta(days=start.weekday())
    sessions = list(week_sessions(location=location, week_start=start))
    counts = session_counts([s.pk for s in sessions])
    mine = {
        b.session_id: b
        for b in Booking.objects.filter(member=member, session__in=[s.pk for s in sessions])
    }
    days: dict[date, list[dict[str, object]]] = {}
    tz = ZoneInfo(location.timezone)
    for s in sessions:
        day = s.starts_at.astimezone(tz).date()
        days.setdefault(day, []).append(_row(s, mine.get(s.pk), counts[s.pk]))
    return render(
        request,
        "portal/classes.html",
        {
            "gym": member.organization.name,
            "location": location,
            "days": [
                {"label": format_date(d, "full", locale=_locale()), "rows": rows}
                for d, rows in sorted(days.items())
            ],
            "week_label": date_text(start, translation.get_language() or "en"),
            "previous": (start - timedelta(days=7)).isoformat(),
            "next": (start + timedelta(days=7)).isoformat(),
        },
    )


@require_GET
@member_required
def session_page(request: HttpRequest, session_id: int) -> HttpResponse:
    member: Member = request.member  # type: ignore[attr-defined]
    session = _own_session(member, session_id)
    mine = Booking.objects.filter(session=session, member=member).first()
    counts = session_counts([session.pk])[session.pk]
    class_type = session.class_type
    drop_in = (
        money_text(
            class_type.drop_in_price,
            class_type.drop_in_currency or session.location.currency,
            translation.get_language() or "en",
        )
        if class_type.drop_in_price is not None
        else ""
    )
    rules = rules_for(class_type, session.location)
    return render(
        request,
        "portal/class_session.html",
        {
            "gym": member.organization.name,
            "row": _row(session, mine, counts),
            "full": counts[0] >= session.capacity,
            "started": CLOCK.now() >= session.starts_at,
            "drop_in": drop_in,
            "credits": credit_balance(member),
            "credits_needed": class_type.credits_per_booking,
            "cutoff_hours": rules.cancel_cutoff_hours,
        },
    )


@require_POST
@member_required
def book(request: HttpRequest, session_id: int) -> HttpResponse:
    member: Member = request.member  # type: ignore[attr-defined]
    session = _own_session(member, session_id)
    wanted = request.POST.get("entitlement") or None
    if wanted not in (None, Entitlement.DROP_IN):
        wanted = None
    try:
        booking = booking_create(session=session, member=member, clock=CLOCK, entitlement=wanted)
    except ClassError as exc:
        messages.error(request, _refusal(exc))
    else:
        if booking.status == BookingStatus.WAITLISTED:
            messages.success(
                request,
                _("The class is full, so you are on the waitlist."),
            )
        else:
            messages.success(request, _("You are booked."))
    return HttpResponseRedirect(reverse("portal-class", args=[session.pk]))


@require_http_methods(["GET", "POST"])
@member_required
def cancel(request: HttpRequest, booking_id: int) -> HttpResponse:
    member: Member = request.member  # type: ignore[attr-defined]
    booking = _own_booking(member, booking_id)
    session = booking.session
    if booking.status not in OPEN_STATUSES:
        messages.info(request, _("This booking is already cancelled."))
        return HttpResponseRedirect(reverse("portal-class-bookings"))
    late, fee = booking_cancel_terms(booking, CLOCK.now())
    if request.method == "POST":
        try:
            booking_cancel(booking=booking, clock=CLOCK, reason="cancelled by the member online")
        except ClassError as exc:
            messages.error(request, _refusal(exc))
        else:
            messages.success(request, _("Your booking is cancelled."))
        return HttpResponseRedirect(reverse("portal-class-bookings"))
    return render(
        request,
        "portal/class_cancel.html",
        {
            "gym": member.organization.name,
            "booking": booking,
            "row": _row(session, booking, session_counts([session.pk])[session.pk]),
            "late": late,
            "fee": money_text(fee, session.location.currency, translation.get_language() or "en")
            if fee
            else "",
        },
    )


@require_GET
@member_required
def bookings(request: HttpRequest) -> HttpResponse:
    member: Member = request.member  # type: ignore[attr-defined]
    now = CLOCK.now()
    upcoming: list[dict[str, object]] = []
    past: list[dict[str, object]] = []
    for b in member_bookings(member, since=now - timedelta(days=60)):
        row = {"booking": b, **_when(b.session), "status": _status_text(b)}
        (upcoming if b.session.ends_at > now else past).append(row)
    return render(
        request,
        "portal/class_bookings.html",
        {
            "gym": member.organization.name,
            "upcoming": upcoming,
            "past": list(reversed(past)),
            "credits": credit_balance(member),
            "feed_url": calendar_url(member=member, clock=CLOCK),
        },
    )


def _status_text(booking: Booking) -> str:
    if booking.session.status == SessionStatus.CANCELLED:
        return _("Cancelled by the gym")
    return {
        BookingStatus.BOOKED: _("Booked"),
        BookingStatus.WAITLISTED: _("On the waitlist"),
        BookingStatus.CANCELLED: _("Cancelled"),
        BookingStatus.LATE_CANCELLED: _("Cancelled late"),
        BookingStatus.ATTENDED: _("Attended"),
        BookingStatus.NO_SHOW: _("Missed"),
    }[BookingStatus(booking.status)]


@require_GET
def calendar_feed(request: HttpRequest, token: str) -> HttpResponse:
    """The member's bookings as iCalendar, for a calendar app to subscribe to."""
    try:
        member = calendar_member(token, clock=CLOCK)
    except (signing.BadSignature, Member.DoesNotExist):
        raise Http404 from None
    response = HttpResponse(
        member_calendar(member=member, clock=CLOCK), content_type="text/calendar; charset=utf-8"
    )
    response["Content-Disposition"] = 'inline; filename="classes.ics"'
    response["Cache-Control"] = "private, max-age=300"
    return response
