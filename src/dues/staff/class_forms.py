"""The class set-up page's forms (owners and managers): class types, rooms, instructors,
and recurring classes as weekdays and a start time (made into an RFC 5545 rule)."""

from __future__ import annotations

from typing import Any

from django import forms

from dues.catalog.models import Plan
from dues.classes.models import ClassType, Instructor, Room, Schedule
from dues.core.models import Location

WEEKDAYS = [
    ("MO", "Monday"),
    ("TU", "Tuesday"),
    ("WE", "Wednesday"),
    ("TH", "Thursday"),
    ("FR", "Friday"),
    ("SA", "Saturday"),
    ("SU", "Sunday"),
]


class ClassTypeForm(forms.Form):
    prefix = "type"
    name = forms.CharField(max_length=120)
    duration_minutes = forms.IntegerField(label="Length (minutes)", min_value=1, initial=60)
    plans = forms.ModelMultipleChoiceField(
        queryset=Plan.objects.none(),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        label="Included in the membership of these plans",
    )
    credits_per_booking = forms.IntegerField(
        label="Class credits one booking uses (0: credits not accepted)", min_value=0, initial=1
    )
    drop_in_price = forms.DecimalField(
        label="Drop-in price (empty: no paid drop-in)",
        required=False,
        min_value=0,
        decimal_places=2,
        help_text="In the currency's main unit, e.g. 120.00.",
    )
    drop_in_currency = forms.ChoiceField(label="Drop-in currency", required=False)

    def __init__(self, *args: Any, organization_id: int, currencies: list[str], **kw: Any):
        super().__init__(*args, **kw)
        self.fields["plans"].queryset = Plan.objects.filter(  # type: ignore[attr-defined]
            organization_id=organization_id
        ).order_by("name")
        self.fields["drop_in_currency"].choices = [(c, c) for c in currencies]  # type: ignore[attr-defined]


class RoomForm(forms.Form):
    prefix = "room"
    location = forms.ModelChoiceField(queryset=Location.objects.none())
    name = forms.CharField(max_length=120)
    capacity = forms.IntegerField(label="Places", min_value=1)

    def __init__(self, *args: Any, organization_id: int, **kw: Any):
        super().__init__(*args, **kw)
        self.fields["location"].queryset = Location.objects.filter(  # type: ignore[attr-defined]
            organization_id=organization_id
        ).order_by("name")


class InstructorForm(forms.Form):
    prefix = "instructor"
    name = forms.CharField(max_length=120)
    email = forms.EmailField(required=False)


class ScheduleForm(forms.Form):
    prefix = "schedule"
    class_type = forms.ModelChoiceField(queryset=ClassType.objects.none(), label="Class")
    room = forms.ModelChoiceField(queryset=Room.objects.none())
    instructor = forms.ModelChoiceField(queryset=Instructor.objects.none(), required=False)
    days = forms.MultipleChoiceField(choices=WEEKDAYS, widget=forms.CheckboxSelectMultiple)
    start_time = forms.TimeField(
        label="Starts at (the location's local time)",
        widget=forms.TimeInput(attrs={"type": "time"}),
    )
    starts_on = forms.DateField(label="First day", widget=forms.DateInput(attrs={"type": "date"}))
    ends_on = forms.DateField(
        label="Last day (empty: no end)",
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
    )
    capacity = forms.IntegerField(label="Places (empty: the room's)", required=False, min_value=1)

    def __init__(self, *args: Any, organization_id: int, **kw: Any):
        super().__init__(*args, **kw)
        org = {"organization_id": organization_id}
        self.fields["class_type"].queryset = ClassType.objects.filter(  # type: ignore[attr-defined]
            active=True, **org
        )
        self.fields["room"].queryset = Room.objects.filter(**org).select_related(  # type: ignore[attr-defined]
            "location"
        )
        self.fields["instructor"].queryset = Instructor.objects.filter(  # type: ignore[attr-defined]
            active=True, **org
        )

    def rrule(self) -> str:
        days = [code for code, _ in WEEKDAYS if code in self.cleaned_data["days"]]
        return "FREQ=WEEKLY;BYDAY=" + ",".join(days)


class ScheduleEndForm(forms.Form):
    last_day = forms.DateField(label="Last day", widget=forms.DateInput(attrs={"type": "date"}))
    reason = forms.CharField(
        max_length=200, label="Why (booked members are told)", initial="The class is ending."
    )

    def __init__(self, *args: Any, schedule: Schedule, **kw: Any):
        super().__init__(*args, **kw)
        self.prefix = f"end{schedule.pk}"
