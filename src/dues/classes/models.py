"""Classes: class types (with who may book them and what it costs), instructors, rooms,
recurring schedules, the sessions they produce, bookings with their waitlist, and class
credits.

Rules (booking window, limits, fees) are set per class type, else per location
(``LocationClassRules``), else the defaults in ``selectors.DEFAULT_RULES``; a blank field
means "not set here"."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import models

from dues.billing.models import Invoice, Subscription
from dues.catalog.models import AddOn, Plan
from dues.core.models import AppendOnly, Location, OrgOwned, OrgScoped, validate_currency_field
from dues.members.models import Member


def validate_rrule(value: str) -> None:
    """An RFC 5545 recurrence rule (``FREQ=WEEKLY;BYDAY=MO,WE``), parsed by dateutil."""
    from datetime import datetime

    from dateutil.rrule import rrulestr

    text = value.strip()
    if text.upper().startswith("RRULE:"):
        text = text[6:]
    if not text:
        raise ValidationError("write a recurrence rule, e.g. FREQ=WEEKLY;BYDAY=MO,WE")
    if "DTSTART" in text.upper():
        raise ValidationError("leave DTSTART out: the schedule's first day and time set it")
    try:
        # naive on purpose: rules run on wall-clock times (see services.schedule_occurrences)
        rrulestr(text, dtstart=datetime(2026, 1, 1, 12))  # noqa: DTZ001
    except (ValueError, TypeError) as exc:
        raise ValidationError(f"not a valid RFC 5545 rule: {exc}") from exc


class ClassRules(models.Model):
    """The rule fields a class type or a location may set (blank: not set here)."""

    booking_opens_days = models.PositiveIntegerField(
        null=True, blank=True, help_text="Booking opens this many days before the class."
    )
    booking_closes_minutes = models.PositiveIntegerField(
        null=True, blank=True, help_text="Booking closes this many minutes before the class."
    )
    cancel_cutoff_hours = models.PositiveIntegerField(
        null=True, blank=True, help_text="Cancelling later than this many hours before is late."
    )
    waitlist_cutoff_minutes = models.PositiveIntegerField(
        null=True,
        blank=True,
        help_text="No promotion from the waitlist later than this many minutes before.",
    )
    max_open_bookings = models.PositiveIntegerField(
        null=True,
        blank=True,
        help_text="Upcoming bookings (and waitlist places) a member may hold.",
    )
    reminder_hours = models.PositiveIntegerField(
        null=True, blank=True, help_text="Remind booked members this many hours before (0: never)."
    )
    late_cancel_fee = models.PositiveBigIntegerField(
        null=True, blank=True, help_text="Minor units of the location's currency (0: none)."
    )
    no_show_fee = models.PositiveBigIntegerField(
        null=True, blank=True, help_text="Minor units of the location's currency (0: none)."
    )

    class Meta:
        abstract = True


class ClassType(OrgOwned, ClassRules):
    name = models.CharField(max_length=120)
    code = models.SlugField(max_length=60)
    description = models.TextField(blank=True)
    duration_minutes = models.PositiveIntegerField(default=60)
    plans = models.ManyToManyField(
        Plan, blank=True, related_name="+", help_text="Memberships of these plans include it."
    )
    credits_per_booking = models.PositiveIntegerField(
        default=1, help_text="Class credits one booking uses (0: credits not accepted)."
    )
    drop_in_price = models.PositiveBigIntegerField(
        null=True, blank=True, help_text="Minor units; blank: no paid drop-in."
    )
    drop_in_currency = models.CharField(
        max_length=3, blank=True, validators=[validate_currency_field]
    )
    active = models.BooleanField(default=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["organization", "code"], name="classtype_unique_code")
        ]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        if self.drop_in_price is not None and not self.drop_in_currency:
            raise ValidationError({"drop_in_currency": "a drop-in price needs its currency"})


class LocationClassRules(OrgOwned, ClassRules):
    location = models.OneToOneField(Location, on_delete=models.CASCADE, related_name="class_rules")

    def __str__(self) -> str:
        return f"Class rules at {self.location.name}"


class Instructor(OrgOwned):
    name = models.CharField(max_length=120)
    email = models.EmailField(blank=True)
    active = models.BooleanField(default=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Room(OrgOwned):
    location = models.ForeignKey(Location, on_delete=models.PROTECT, related_name="rooms")
    name = models.CharField(max_length=120)
    capacity = models.PositiveIntegerField()

    class Meta:
        ordering = ["location", "name"]
        constraints = [
            models.UniqueConstraint(fields=["location", "name"], name="room_unique_name"),
            models.CheckConstraint(condition=models.Q(capacity__gt=0), name="room_capacity_gt_0"),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.capacity})"


class Schedule(OrgOwned):
    """A class that recurs: ``rrule`` (RFC 5545, without DTSTART) from ``starts_on`` at
    ``start_time``, a wall-clock time in the room's location's time zone, so a 18:00 class
    stays at 18:00 across daylight-saving changes."""

    class_type = models.ForeignKey(ClassType, on_delete=models.PROTECT, related_name="schedules")
    room = models.ForeignKey(Room, on_delete=models.PROTECT, related_name="schedules")
    instructor = models.ForeignKey(
        Instructor, on_delete=models.PROTECT, null=True, blank=True, related_name="schedules"
    )
    rrule = models.CharField(
        max_length=400, validators=[validate_rrule], help_text="e.g. FREQ=WEEKLY;BYDAY=MO,WE"
    )
    starts_on = models.DateField()
    start_time = models.TimeField(help_text="Local time at the location.")
    ends_on = models.DateField(null=True, blank=True, help_text="Last day (blank: no end).")
    duration_minutes = models.PositiveIntegerField(null=True, blank=True)
    capacity = models.PositiveIntegerField(
        null=True, blank=True, help_text="Blank: the room's capacity."
    )
    active = models.BooleanField(default=True)

    class Meta:
        ordering = ["class_type", "starts_on"]

    def __str__(self) -> str:
        return f"{self.class_type} {self.rrule} {self.start_time:%H:%M}"


class SessionStatus(models.TextChoices):
    SCHEDULED = "scheduled", "Scheduled"
    CANCELLED = "cancelled", "Cancelled"


class ClassSession(OrgOwned):
    """One occurrence of a class. Those of a schedule are made ahead by
    ``services.sessions_materialize``, once each (unique schedule + ``occurrence``, the
    rule's start, which stays when the session is moved)."""

    schedule = models.ForeignKey(
        Schedule, on_delete=models.PROTECT, null=True, blank=True, related_name="sessions"
    )
    occurrence = models.DateTimeField(null=True, blank=True)
    class_type = models.ForeignKey(ClassType, on_delete=models.PROTECT, related_name="sessions")
    location = models.ForeignKey(Location, on_delete=models.PROTECT, related_name="+")
    room = models.ForeignKey(Room, on_delete=models.PROTECT, related_name="sessions")
    instructor = models.ForeignKey(
        Instructor, on_delete=models.PROTECT, null=True, blank=True, related_name="sessions"
    )
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField()
    capacity = models.PositiveIntegerField()
    status = models.CharField(
        max_length=10, choices=SessionStatus.choices, default=SessionStatus.SCHEDULED
    )
    cancel_reason = models.CharField(max_length=200, blank=True)
    cancelled_at = models.DateTimeField(null=True, blank=True)
    changed_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(
        null=True, blank=True, help_text="When no-shows were marked (after the class)."
    )
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["starts_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["schedule", "occurrence"],
                condition=models.Q(schedule__isnull=False),
                name="session_once_per_occurrence",
            ),
            models.CheckConstraint(
                condition=models.Q(ends_at__gt=models.F("starts_at")), name="session_ends_after"
            ),
        ]
        indexes = [models.Index(fields=["organization", "starts_at"])]

    def __str__(self) -> str:
        return f"{self.class_type} {self.starts_at:%Y-%m-%d %H:%M}Z"


class BookingStatus(models.TextChoices):
    BOOKED = "booked", "Booked"
    WAITLISTED = "waitlisted", "On the waitlist"
    CANCELLED = "cancelled", "Cancelled"
    LATE_CANCELLED = "late_cancelled", "Cancelled late"
    ATTENDED = "attended", "Attended"
    NO_SHOW = "no_show", "No-show"


# The one place booking transitions are allowed; services.booking_transition enforces.
BOOKING_TRANSITIONS: dict[str, set[str]] = {
    BookingStatus.BOOKED: {
        BookingStatus.CANCELLED,
        BookingStatus.LATE_CANCELLED,
        BookingStatus.ATTENDED,
        BookingStatus.NO_SHOW,
    },
    BookingStatus.WAITLISTED: {BookingStatus.BOOKED, BookingStatus.CANCELLED},
    # booking again after cancelling in time reuses the row
    BookingStatus.CANCELLED: {BookingStatus.BOOKED, BookingStatus.WAITLISTED},
    BookingStatus.LATE_CANCELLED: set(),
    BookingStatus.ATTENDED: set(),
    BookingStatus.NO_SHOW: set(),
}

# Statuses that hold (or wait for) a place.
OPEN_STATUSES = (BookingStatus.BOOKED, BookingStatus.WAITLISTED)


class Entitlement(models.TextChoices):
    PLAN = "plan", "Included in the membership"
    CREDITS = "credits", "Class credits"
    DROP_IN = "drop_in", "Paid drop-in"


class Booking(OrgOwned):
    session = models.ForeignKey(ClassSession, on_delete=models.PROTECT, related_name="bookings")
    member = models.ForeignKey(Member, on_delete=models.PROTECT, related_name="class_bookings")
    status = models.CharField(max_length=16, choices=BookingStatus.choices)
    entitlement = models.CharField(max_length=10, choices=Entitlement.choices)
    subscription = models.ForeignKey(
        Subscription, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    credits_used = models.PositiveIntegerField(default=0)
    drop_in_invoice = models.ForeignKey(
        Invoice, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    fee_invoice = models.ForeignKey(
        Invoice, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    fee_forgiven_at = models.DateTimeField(null=True, blank=True)
    fee_forgiven_reason = models.CharField(max_length=200, blank=True)
    waitlisted_at = models.DateTimeField(null=True, blank=True)
    booked_at = models.DateTimeField(null=True, blank=True)
    cancelled_at = models.DateTimeField(null=True, blank=True)
    attended_at = models.DateTimeField(null=True, blank=True)
    reminded_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["session", "id"]
        constraints = [
            models.UniqueConstraint(fields=["session", "member"], name="booking_once_per_member")
        ]
        indexes = [
            models.Index(fields=["session", "status"]),
            models.Index(fields=["member", "status"]),
        ]

    def __str__(self) -> str:
        return f"{self.member_id} @ {self.session_id} ({self.status})"


class ClassCreditAccount(OrgOwned):
    """A member's class credits: the balance, never below zero (a database check), changed
    only by ``services`` together with a ``ClassCreditEntry``."""

    member = models.OneToOneField(Member, on_delete=models.PROTECT, related_name="class_credits")
    balance = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=models.Q(balance__gte=0), name="class_credits_not_negative"
            )
        ]

    def __str__(self) -> str:
        return f"{self.member_id}: {self.balance} credits"


class ClassCreditEntry(AppendOnly, OrgScoped):
    append_only_name = "the class-credit history"

    class Kind(models.TextChoices):
        PACK = "pack", "Pack bought"
        GRANT = "grant", "Granted by staff"
        USE = "use", "Used for a booking"
        RETURN = "return", "Returned (cancelled in time)"

    account = models.ForeignKey(
        ClassCreditAccount, on_delete=models.PROTECT, related_name="entries"
    )
    amount = models.IntegerField(help_text="Credits added (positive) or used (negative).")
    kind = models.CharField(max_length=8, choices=Kind.choices)
    booking = models.ForeignKey(
        Booking, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    addon = models.ForeignKey(
        AddOn, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    invoice = models.ForeignKey(
        Invoice, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    reason = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.amount:+d} {self.kind}"
