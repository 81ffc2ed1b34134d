"""Classes for staff: the week's schedule at a location, a session's roster with
check-in, cancelling or moving a session, and forgiving a late-cancellation or no-show
fee. Times are shown and typed in the location's time zone."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from dues.classes.models import Booking, ClassSession, Instructor, Room
from dues.classes.selectors import session_counts, session_roster, week_sessions
from dues.classes.services import ClassError, session_cancel, session_change
from dues.core.clock import SystemClock
from dues.core.models import Location
from dues.staff.class_services import staff_class_check_in, staff_fee_forgive
from dues.staff.roles import Action
from dues.staff.session import staff_view
from dues.staff.views.members import money, staff_of

CLOCK = SystemClock()


def _problem(exc: ClassError) -> str:
    return "; ".join(f"{field}: {m}" for field, msgs in exc.message_dict.items() for m in msgs)


def _session(request: HttpRequest, session_id: int) -> ClassSession:
    session = (
        ClassSession.objects.filter(pk=session_id, organization=staff_of(request).organization)
        .select_related("class_type", "location", "room", "instructor")
        .first()
    )
    if session is None:
        raise Http404
    return session


def _booking(request: HttpRequest, booking_id: int) -> Booking:
    booking = (
        Booking.objects.filter(pk=booking_id, organization=staff_of(request).organization)
        .select_related("session", "member")
        .first()
    )
    if booking is None:
        raise Http404
    return booking


def _roster_url(session_id: int) -> str:
    return reverse("staff-class-roster", args=[session_id])


@require_GET
@staff_view(Action.CLASSES_VIEW)
def week(request: HttpRequest) -> HttpResponse:
    staff = staff_of(request)
    locations = list(Location.objects.filter(organization=staff.organization))
    if not locations:
        raise Http404
    chosen = next((loc for loc in locations if str(loc.pk) == request.GET.get("location")), None)
    location = chosen or locations[0]
    tz = ZoneInfo(location.timezone)
    try:
        start = date.fromisoformat(request.GET.get("week", ""))
    except ValueError:
        start = CLOCK.now().astimezone(tz).date()
    start -= timedelta(days=start.weekday())
    sessions = list(week_sessions(location=location, week_start=start))
    counts = session_counts([s.pk for s in sessions])
    days: dict[date, list[dict[str, object]]] = {}
    for s in sessions:
        local = s.starts_at.astimezone(tz)
        days.setdefault(local.date(), []).append(
            {
                "session": s,
                "time": f"{local:%H:%M}–{s.ends_at.astimezone(tz):%H:%M}",
                "booked": counts[s.pk][0],
                "waiting": counts[s.pk][1],
            }
        )
    return render(
        request,
        "staff/classes.html",
        {
            "staff": staff,
            "location": location,
            "locations": locations,
            "days": [
                {"label": f"{d:%A %d %B %Y}", "rows": rows} for d, rows in sorted(days.items())
            ],
            "week": start,
            "previous": (start - timedelta(days=7)).isoformat(),
            "next": (start + timedelta(days=7)).isoformat(),
        },
    )


@require_GET
@staff_view(Action.CLASSES_VIEW)
def roster(request: HttpRequest, session_id: int) -> HttpResponse:
    staff = staff_of(request)
    session = _session(request, session_id)
    tz = ZoneInfo(session.location.timezone)
    rows = []
    bookings = session_roster(session)
    for b in bookings:
        fee = b.fee_invoice
        rows.append(
            {
                "booking": b,
                "fee": money(fee.total, fee.currency) if fee else "",
                "forgiven": b.fee_forgiven_at is not None,
            }
        )
    return render(
        request,
        "staff/class_roster.html",
        {
            "staff": staff,
            "session": session,
            "starts": session.starts_at.astimezone(tz),
            "ends": session.ends_at.astimezone(tz),
            "rows": rows,
            "booked": sum(1 for b in bookings if b.status == "booked"),
            "rooms": Room.objects.filter(location=session.location),
            "instructors": Instructor.objects.filter(organization=staff.organization, active=True),
        },
    )


@require_POST
@staff_view(Action.CLASSES_VIEW)
def check_in(request: HttpRequest, booking_id: int) -> HttpResponse:
    booking = _booking(request, booking_id)
    try:
        staff_class_check_in(user=staff_of(request).user, booking=booking, clock=CLOCK)
    except ClassError as exc:
        messages.error(request, _problem(exc))
    else:
        messages.success(request, f"{booking.member} is checked in.")
    return HttpResponseRedirect(_roster_url(booking.session_id))


@require_POST
@staff_view(Action.CLASSES_EDIT)
def cancel(request: HttpRequest, session_id: int) -> HttpResponse:
    session = _session(request, session_id)
    try:
        session_cancel(session=session, reason=request.POST.get("reason", ""), clock=CLOCK)
    except ClassError as exc:
        messages.error(request, _problem(exc))
    else:
        messages.success(request, "The class is cancelled; everyone booked is told.")
    return HttpResponseRedirect(_roster_url(session.pk))


@require_POST
@staff_view(Action.CLASSES_EDIT)
def change(request: HttpRequest, session_id: int) -> HttpResponse:
    """Move a session: a new local start (YYYY-MM-DDTHH:MM), room or instructor."""
    session = _session(request, session_id)
    tz = ZoneInfo(session.location.timezone)
    starts_at = None
    text = request.POST.get("starts_at", "").strip()
    if text:
        try:
            starts_at = datetime.fromisoformat(text).replace(tzinfo=tz)
        except ValueError:
            messages.error(request, "starts_at: write the new start as YYYY-MM-DD HH:MM")
            return HttpResponseRedirect(_roster_url(session.pk))
    room = Room.objects.filter(pk=request.POST.get("room") or 0, location=session.location).first()
    kwargs: dict[str, object] = {}
    if "instructor" in request.POST:
        kwargs["instructor"] = Instructor.objects.filter(
            pk=request.POST.get("instructor") or 0, organization_id=session.organization_id
        ).first()
    try:
        session_change(
            session=session,
            starts_at=starts_at,
            room=room,
            clock=CLOCK,
            reason=request.POST.get("reason", "").strip(),
            **kwargs,  # type: ignore[arg-type]
        )
    except ClassError as exc:
        messages.error(request, _problem(exc))
    else:
        messages.success(request, "The class is changed; everyone booked is told.")
    return HttpResponseRedirect(_roster_url(session.pk))


@require_POST
@staff_view(Action.FEE_FORGIVE)
def forgive(request: HttpRequest, booking_id: int) -> HttpResponse:
    booking = _booking(request, booking_id)
    try:
        staff_fee_forgive(
            user=staff_of(request).user,
            booking=booking,
            reason=request.POST.get("reason", ""),
            clock=CLOCK,
        )
    except ClassError as exc:
        messages.error(request, _problem(exc))
    else:
        messages.success(request, "The fee is forgiven (credit note issued).")
    return HttpResponseRedirect(_roster_url(booking.session_id))
