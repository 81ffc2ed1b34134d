"""The class set-up (owners and managers): class types, rooms, instructors and the
timetable of recurring classes, each added here and recorded as a set-up change; ending a
recurring class cancels its sessions after the last day and tells the members booked.
The scheduler makes the sessions (``classes.services.sessions_materialize``); this page
makes the coming weeks' at once, so a new class can be booked straight away."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_http_methods

from dues.classes.models import ClassType, Instructor, Room, Schedule
from dues.classes.services import (
    class_type_create,
    instructor_create,
    room_create,
    schedule_create,
    schedule_end,
    sessions_materialize,
)
from dues.core.clock import SystemClock
from dues.core.money import from_decimal
from dues.reports.dashboard import organization_currencies
from dues.staff.class_forms import (
    WEEKDAYS,
    ClassTypeForm,
    InstructorForm,
    RoomForm,
    ScheduleEndForm,
    ScheduleForm,
)
from dues.staff.class_services import staff_class_setup
from dues.staff.roles import Action
from dues.staff.session import Staff, staff_view
from dues.staff.views.members import staff_of

CLOCK = SystemClock()
DAY_NAMES = dict(WEEKDAYS)


def _days(rrule: str) -> str:
    for part in rrule.split(";"):
        if part.startswith("BYDAY="):
            return ", ".join(DAY_NAMES.get(d, d) for d in part[6:].split(","))
    return rrule


def _add(request: HttpRequest, staff: Staff, form: Any) -> str | None:
    """Save the posted form; its success message, or None with the errors on the form."""
    org_id = staff.organization.pk
    data = form.cleaned_data

    def record(target: str, after: dict[str, Any], make: Any) -> Any:
        return staff_class_setup(
            user=staff.user,
            organization_id=org_id,
            target=target,
            summary=f"Added {target}",
            after=after,
            clock=CLOCK,
            make=make,
        )

    try:
        if isinstance(form, ClassTypeForm):
            price = data["drop_in_price"]
            currency = data["drop_in_currency"]
            made = record(
                f"class {data['name']}",
                {"name": data["name"], "minutes": data["duration_minutes"]},
                lambda: class_type_create(
                    organization_id=org_id,
                    name=data["name"],
                    duration_minutes=data["duration_minutes"],
                    plans=list(data["plans"]),
                    credits_per_booking=data["credits_per_booking"],
                    drop_in_price=None if price is None else from_decimal(price, currency),
                    drop_in_currency=currency if price is not None else "",
                ),
            )
            return f"Class “{made.name}” added."
        if isinstance(form, RoomForm):
            made = record(
                f"room {data['name']}",
                {"location": data["location"].pk, "capacity": data["capacity"]},
                lambda: room_create(
                    location=data["location"], name=data["name"], capacity=data["capacity"]
                ),
            )
            return f"Room “{made.name}” added."
        if isinstance(form, InstructorForm):
            made = record(
                f"instructor {data['name']}",
                {"name": data["name"]},
                lambda: instructor_create(
                    organization_id=org_id, name=data["name"], email=data["email"]
                ),
            )
            return f"Instructor “{made.name}” added."
        rule = form.rrule()

        def timetable() -> Schedule:
            schedule = schedule_create(
                class_type=data["class_type"],
                room=data["room"],
                instructor=data["instructor"],
                rrule=rule,
                starts_on=data["starts_on"],
                start_time=data["start_time"],
                ends_on=data["ends_on"],
                capacity=data["capacity"],
                clock=CLOCK,
            )
            sessions_materialize(clock=CLOCK, organization_id=org_id)
            return schedule

        made = record(
            f"timetable {data['class_type'].name}",
            {"rrule": rule, "start": data["start_time"].isoformat(), "room": data["room"].pk},
            timetable,
        )
        when = f"{_days(rule)} at {made.start_time:%H:%M}"
        return f"{made.class_type.name} added to the timetable: {when}."
    except ValidationError as exc:
        for field, problems in exc.message_dict.items():
            form.add_error(field if field in form.fields else None, problems)
        return None


def _end(request: HttpRequest, staff: Staff) -> str | None:
    schedule = (
        Schedule.objects.filter(
            organization=staff.organization, pk=request.POST.get("schedule") or 0
        )
        .select_related("room__location", "class_type")
        .first()
    )
    if schedule is None:
        raise Http404
    form = ScheduleEndForm(request.POST, schedule=schedule)
    if not form.is_valid():
        problems = form.errors.get_json_data()
        messages.error(
            request, "; ".join(f"{k}: {e['message']}" for k, es in problems.items() for e in es)
        )
        return None
    last_day, reason = form.cleaned_data["last_day"], form.cleaned_data["reason"]
    try:
        cancelled = staff_class_setup(
            user=staff.user,
            organization_id=staff.organization.pk,
            target=f"timetable {schedule.class_type.name}",
            summary=f"Ended after {last_day.isoformat()}",
            after={"ends_on": last_day.isoformat()},
            clock=CLOCK,
            make=lambda: schedule_end(
                schedule=schedule, last_day=last_day, reason=reason, clock=CLOCK
            ),
        )
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return None
    name, day = schedule.class_type.name, f"{last_day:%d %B %Y}"
    return f"{name} ends after {day}; {len(cancelled)} later classes cancelled."


@require_http_methods(["GET", "POST"])
@staff_view(Action.CATALOG_EDIT)
def setup(request: HttpRequest) -> HttpResponse:
    staff = staff_of(request)
    org_id = staff.organization.pk
    posted = request.POST.get("form") if request.method == "POST" else None
    data = request.POST if posted else None
    forms: dict[str, Any] = {
        "type": ClassTypeForm(
            data if posted == "type" else None,
            organization_id=org_id,
            currencies=organization_currencies(org_id),
        ),
        "room": RoomForm(data if posted == "room" else None, organization_id=org_id),
        "instructor": InstructorForm(data if posted == "instructor" else None),
        "schedule": ScheduleForm(data if posted == "schedule" else None, organization_id=org_id),
    }
    if posted == "end":
        done = _end(request, staff)
        if done:
            messages.success(request, done)
        return HttpResponseRedirect(reverse("staff-class-setup"))
    if posted in forms and forms[posted].is_valid():
        done = _add(request, staff, forms[posted])
        if done:
            messages.success(request, done)
            return HttpResponseRedirect(reverse("staff-class-setup"))
    schedules = Schedule.objects.filter(organization_id=org_id, active=True).select_related(
        "class_type", "room__location", "instructor"
    )
    return render(
        request,
        "staff/class_setup.html",
        {
            "staff": staff,
            "forms": forms,
            "class_types": ClassType.objects.filter(organization_id=org_id),
            "rooms": Room.objects.filter(organization_id=org_id).select_related("location"),
            "instructors": Instructor.objects.filter(organization_id=org_id, active=True),
            "timetable": [
                {
                    "schedule": s,
                    "days": _days(s.rrule),
                    "end_form": ScheduleEndForm(schedule=s),
                }
                for s in schedules
            ],
            "posted": posted,
        },
        status=400 if posted else 200,
    )
