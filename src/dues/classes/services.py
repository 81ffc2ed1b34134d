"""Class operations: schedules and their sessions, booking with the waitlist, cancelling,
check-in, no-shows and their fees, fee forgiveness, reminders and class credits.

Every operation takes the clock and runs in one transaction. Capacity holds under
concurrency because each booking, cancellation and promotion first locks the session's
row (``SELECT … FOR UPDATE`` on PostgreSQL; SQLite runs one writing transaction at a
time), then counts the places taken: two members can never both get the last place.
The per-member limit is held the same way by locking the member's row after the session's
(always in that order, so two bookings never wait on each other).

Money goes through billing: a drop-in, a late-cancellation fee and a no-show fee are each
a one-off invoice (``billing.services.invoice_issue_one_off`` when the member has a
membership at the location in that currency, the same invoice engine otherwise), which
posts to the ledger; giving one back voids the invoice or credits it with a credit note.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from dateutil.rrule import rrulestr
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils.text import slugify
from django.utils.translation import gettext as _

from dues.billing.invoices import (
    credit_note_create,
    invoice_creditable,
    invoice_void,
)
from dues.billing.models import (
    Freeze,
    Invoice,
    InvoiceLine,
    InvoiceStatus,
    RestrictionKind,
    Subscription,
    SubscriptionStatus,
)
from dues.billing.restrictions import restrictions_in_force
from dues.billing.services import invoice_issue_charge, invoice_issue_one_off
from dues.catalog.models import AddOn, Plan, RevenueCategory, TaxCategory
from dues.classes import events
from dues.classes.models import (
    BOOKING_TRANSITIONS,
    OPEN_STATUSES,
    Booking,
    BookingStatus,
    ClassCreditAccount,
    ClassCreditEntry,
    ClassSession,
    ClassType,
    Entitlement,
    Instructor,
    Room,
    Schedule,
    SessionStatus,
    validate_rrule,
)
from dues.classes.selectors import member_open_bookings, rules_for, waitlist
from dues.core.clock import Clock
from dues.core.models import Location
from dues.core.outbox import Event, events_emit_bulk
from dues.members.models import Member

# Check-in opens this long before a class and closes when it ends.
CHECK_IN_OPENS = timedelta(minutes=60)
# Sessions are made this far ahead by default (the booking window must fit inside).
HORIZON_DAYS = 28
# Reminders are looked for up to this far ahead (a class type's reminder_hours beyond it
# are cut to it).
REMINDER_LOOKAHEAD = timedelta(days=7)


class ClassError(ValidationError):
    """A class operation refused; ``message_dict`` names the field."""


def _refuse(field: str, message: str) -> ClassError:
    return ClassError({field: message})


# --- the booking state machine ------------------------------------------------------------


def booking_transition(booking: Booking, to: str, now: datetime) -> None:
    """Move ``booking`` to ``to`` (the allowed moves are ``models.BOOKING_TRANSITIONS``)."""
    if to not in BOOKING_TRANSITIONS[booking.status]:
        raise _refuse("status", f"the booking is {booking.status}; it cannot become {to}")
    booking.status = to
    if to == BookingStatus.BOOKED:
        booking.booked_at = now
        booking.cancelled_at = None
    elif to == BookingStatus.WAITLISTED:
        booking.waitlisted_at = now
        booking.cancelled_at = None
    elif to in (BookingStatus.CANCELLED, BookingStatus.LATE_CANCELLED):
        booking.cancelled_at = now
    elif to == BookingStatus.ATTENDED:
        booking.attended_at = now


# --- schedules and sessions ---------------------------------------------------------------


def schedule_create(
    *,
    class_type: ClassType,
    room: Room,
    rrule: str,
    starts_on: date,
    start_time: time,
    clock: Clock,
    instructor: Instructor | None = None,
    ends_on: date | None = None,
    duration_minutes: int | None = None,
    capacity: int | None = None,
) -> Schedule:
    org_id = class_type.organization_id
    if room.organization_id != org_id:
        raise _refuse("room", "the room belongs to another organization")
    if instructor is not None and instructor.organization_id != org_id:
        raise _refuse("instructor", "the instructor belongs to another organization")
    try:
        validate_rrule(rrule)
    except ValidationError as exc:
        raise _refuse("rrule", exc.messages[0]) from exc
    if ends_on is not None and ends_on < starts_on:
        raise _refuse("ends_on", "the last day is before the first")
    if capacity is not None and not 0 < capacity <= room.capacity:
        raise _refuse("capacity", f"between 1 and the room's capacity, {room.capacity}")
    if duration_minutes is not None and duration_minutes <= 0:
        raise _refuse("duration_minutes", "a class lasts at least a minute")
    rule = rrule.strip()
    if rule.upper().startswith("RRULE:"):
        rule = rule[6:]
    return Schedule.objects.create(
        organization_id=org_id,
        class_type=class_type,
        room=room,
        instructor=instructor,
        rrule=rule,
        starts_on=starts_on,
        start_time=start_time,
        ends_on=ends_on,
        duration_minutes=duration_minutes,
        capacity=capacity,
    )


def class_type_create(
    *,
    organization_id: int,
    name: str,
    duration_minutes: int,
    plans: list[Plan] | None = None,
    credits_per_booking: int = 1,
    drop_in_price: int | None = None,
    drop_in_currency: str = "",
) -> ClassType:
    """A kind of class; its ``code`` (for links and exports) is made from the name."""
    name = name.strip()
    if not name:
        raise _refuse("name", "a class needs a name")
    if duration_minutes <= 0:
        raise _refuse("duration_minutes", "a class lasts at least a minute")
    base = slugify(name)[:50] or "class"
    taken = set(
        ClassType.objects.filter(
            organization_id=organization_id, code__startswith=base
        ).values_list("code", flat=True)
    )
    code = next(c for c in [base, *(f"{base}-{n}" for n in range(2, 1000))] if c not in taken)
    class_type = ClassType(
        organization_id=organization_id,
        name=name,
        code=code,
        duration_minutes=duration_minutes,
        credits_per_booking=credits_per_booking,
        drop_in_price=drop_in_price,
        drop_in_currency=drop_in_currency.upper() if drop_in_price is not None else "",
    )
    class_type.full_clean(exclude=["organization"])
    plans = plans or []
    if any(p.organization_id != organization_id for p in plans):
        raise _refuse("plans", "a plan belongs to another organization")
    with transaction.atomic():
        class_type.save()
        class_type.plans.set(plans)
    return class_type


def room_create(*, location: Location, name: str, capacity: int) -> Room:
    name = name.strip()
    if not name:
        raise _refuse("name", "a room needs a name")
    if capacity <= 0:
        raise _refuse("capacity", "a room holds at least one person")
    if Room.objects.filter(location=location, name=name).exists():
        raise _refuse("name", f"{location.name} already has a room {name!r}")
    return Room.objects.create(
        organization_id=location.organization_id, location=location, name=name, capacity=capacity
    )


def instructor_create(*, organization_id: int, name: str, email: str = "") -> Instructor:
    name = name.strip()
    if not name:
        raise _refuse("name", "an instructor needs a name")
    instructor = Instructor(organization_id=organization_id, name=name, email=email.strip())
    instructor.full_clean(exclude=["organization"])
    instructor.save()
    return instructor


def schedule_end(
    *, schedule: Schedule, last_day: date, reason: str, clock: Clock
) -> list[ClassSession]:
    """Take a recurring class off the timetable after ``last_day`` (local): the sessions
    already made for later days are cancelled with ``reason``, their members told and
    given back what they paid with; returns those sessions."""
    if not reason.strip():
        raise _refuse("reason", "say why the class ends (booked members are told)")
    zone = ZoneInfo(schedule.room.location.timezone)
    after = datetime.combine(last_day + timedelta(days=1), time(), zone)
    now = clock.now()
    with transaction.atomic():
        schedule.ends_on = last_day
        schedule.active = last_day >= schedule.starts_on
        schedule.save(update_fields=["ends_on", "active"])
        later = list(
            ClassSession.objects.filter(
                schedule=schedule,
                starts_at__gte=max(after, now),
                status=SessionStatus.SCHEDULED,
            )
        )
        for session in later:
            session_cancel(session=session, reason=reason, clock=clock)
    return later


def schedule_occurrences(schedule: Schedule, start: datetime, end: datetime) -> list[datetime]:
    """The UTC starts of ``schedule``'s classes in ``[start, end)``.

    The rule runs on wall-clock times in the location's zone, each converted to UTC on its
    own, so a 18:00 class is at 18:00 local in winter and in summer (17:00 and 16:00 UTC
    in Stockholm). A wall time skipped by a spring-forward change is read with the offset
    before the change (02:30 becomes 03:30 local); an ambiguous one is its first instance.
    """
    tz = ZoneInfo(schedule.room.location.timezone)
    rule = rrulestr(
        schedule.rrule, dtstart=datetime.combine(schedule.starts_on, schedule.start_time)
    )
    lo = start.astimezone(tz).replace(tzinfo=None) - timedelta(days=1)
    hi = end.astimezone(tz).replace(tzinfo=None) + timedelta(days=1)
    found = []
    for wall in rule.between(lo, hi, inc=True):
        if schedule.ends_on is not None and wall.date() > schedule.ends_on:
            continue
        instant = wall.replace(tzinfo=tz).astimezone(start.tzinfo)
        if start <= instant < end:
            found.append(instant)
    return found


def sessions_materialize(
    *, clock: Clock, days: int = HORIZON_DAYS, organization_id: int | None = None
) -> int:
    """Make the sessions of every active schedule for the next ``days`` days; returns how
    many were new. Running it again (or twice at once) makes none twice: the unique
    (schedule, occurrence) constraint."""
    now = clock.now()
    end = now + timedelta(days=days)
    schedules = Schedule.objects.filter(active=True, class_type__active=True).select_related(
        "class_type", "room", "room__location"
    )
    if organization_id is not None:
        schedules = schedules.filter(organization_id=organization_id)
    made = 0
    for schedule in schedules:
        wanted = schedule_occurrences(schedule, now, end)
        have = set(
            ClassSession.objects.filter(schedule=schedule, occurrence__in=wanted).values_list(
                "occurrence", flat=True
            )
        )
        minutes = schedule.duration_minutes or schedule.class_type.duration_minutes
        new = [
            ClassSession(
                organization_id=schedule.organization_id,
                schedule=schedule,
                occurrence=at,
                class_type=schedule.class_type,
                location=schedule.room.location,
                room=schedule.room,
                instructor=schedule.instructor,
                starts_at=at,
                ends_at=at + timedelta(minutes=minutes),
                capacity=schedule.capacity or schedule.room.capacity,
                created_at=now,
            )
            for at in wanted
            if at not in have
        ]
        with transaction.atomic():
            ClassSession.objects.bulk_create(new, ignore_conflicts=True)
        made += len(new)
    return made


def session_create(
    *,
    class_type: ClassType,
    room: Room,
    starts_at: datetime,
    clock: Clock,
    instructor: Instructor | None = None,
    capacity: int | None = None,
) -> ClassSession:
    """A one-off class, outside any schedule."""
    if starts_at.tzinfo is None:
        raise _refuse("starts_at", "give the start with its time zone")
    if room.organization_id != class_type.organization_id:
        raise _refuse("room", "the room belongs to another organization")
    if capacity is not None and not 0 < capacity <= room.capacity:
        raise _refuse("capacity", f"between 1 and the room's capacity, {room.capacity}")
    return ClassSession.objects.create(
        organization_id=class_type.organization_id,
        class_type=class_type,
        location=room.location,
        room=room,
        instructor=instructor,
        starts_at=starts_at,
        ends_at=starts_at + timedelta(minutes=class_type.duration_minutes),
        capacity=capacity or room.capacity,
        created_at=clock.now(),
    )


_UNCHANGED: Any = object()


def session_change(
    *,
    session: ClassSession,
    clock: Clock,
    starts_at: datetime | None = None,
    room: Room | None = None,
    instructor: Instructor | None = _UNCHANGED,
    reason: str = "",
) -> ClassSession:
    """Move one session (time, room, instructor); everyone booked or waiting is told."""
    now = clock.now()
    with transaction.atomic():
        session = _locked(session)
        if session.status == SessionStatus.CANCELLED:
            raise _refuse("session", "this class is cancelled")
        if now >= session.starts_at:
            raise _refuse("session", "this class has already started")
        old_starts_at = session.starts_at
        changes = []
        if starts_at is not None and starts_at != session.starts_at:
            if starts_at.tzinfo is None:
                raise _refuse("starts_at", "give the start with its time zone")
            if starts_at <= now:
                raise _refuse("starts_at", "the new start is in the past")
            length = session.ends_at - session.starts_at
            session.starts_at, session.ends_at = starts_at, starts_at + length
            changes.append("time")
        if room is not None and room.pk != session.room_id:
            if room.location_id != session.location_id:
                raise _refuse("room", "the room is at another location")
            booked = session.bookings.filter(status=BookingStatus.BOOKED).count()
            if booked > room.capacity:
                raise _refuse("room", f"{room.name} holds {room.capacity}; {booked} are booked")
            session.room, session.capacity = room, room.capacity
            changes.append("room")
        if instructor is not _UNCHANGED and (instructor.pk if instructor else None) != (
            session.instructor_id
        ):
            if instructor is not None and instructor.organization_id != session.organization_id:
                raise _refuse("instructor", "the instructor belongs to another organization")
            session.instructor = instructor
            changes.append("instructor")
        if not changes:
            raise _refuse("session", "nothing to change")
        session.changed_at = now
        session.save()
        affected = list(session.bookings.filter(status__in=OPEN_STATUSES).select_related("session"))
        if "time" in changes:
            Booking.objects.filter(pk__in=[b.pk for b in affected]).update(reminded_at=None)
        events_emit_bulk(
            [
                events.booking_event(
                    b,
                    events.SESSION_CHANGED,
                    clock,
                    changes=changes,
                    old_starts_at=old_starts_at.isoformat(),
                    reason=reason,
                )
                for b in affected
            ]
        )
        if "room" in changes:
            _promote(session, clock)
    return session


def session_cancel(*, session: ClassSession, reason: str, clock: Clock) -> ClassSession:
    """Cancel one session: every booking and waitlist place is cancelled with its credits
    and drop-in given back, and each member is told."""
    if not reason.strip():
        raise _refuse("reason", "say why the class is cancelled (members are told)")
    now = clock.now()
    with transaction.atomic():
        session = _locked(session)
        if session.status == SessionStatus.CANCELLED:
            raise _refuse("session", "this class is already cancelled")
        if now >= session.ends_at:
            raise _refuse("session", "this class is over")
        session.status = SessionStatus.CANCELLED
        session.cancelled_at = now
        session.cancel_reason = reason.strip()
        session.save()
        emitted: list[Event] = []
        for booking in session.bookings.filter(status__in=OPEN_STATUSES).select_related(
            "session", "member"
        ):
            booking_transition(booking, BookingStatus.CANCELLED, now)
            _give_back(booking, clock, reason=f"class cancelled: {reason.strip()}")
            booking.save()
            emitted.append(
                events.booking_event(
                    booking, events.SESSION_CANCELLED, clock, reason=reason.strip()
                )
            )
        events_emit_bulk(emitted)
    return session


def _locked(session: ClassSession) -> ClassSession:
    return (
        ClassSession.objects.select_for_update(of=("self",))
        .select_related("class_type", "location", "room", "instructor")
        .get(pk=session.pk)
    )


# --- entitlement --------------------------------------------------------------------------


def _memberships(member: Member) -> list[Subscription]:
    return list(
        Subscription.objects.filter(member=member)
        .exclude(status=SubscriptionStatus.CANCELLED)
        .select_related("plan", "location", "organization")
    )


def _entitlement(
    member: Member, session: ClassSession, now: datetime, want: str | None
) -> tuple[str, Subscription | None]:
    """How ``member`` may take this class: included in an active, unfrozen membership of a
    plan that includes the class type; else class credits; else (only when asked for) a
    paid drop-in. A bookings restriction (dunning's, or staff's) on any of the member's
    memberships stops every kind."""
    class_type = session.class_type
    subs = _memberships(member)
    blocked = restrictions_in_force([s.pk for s in subs], now)
    if any(RestrictionKind.BOOKINGS in kinds for kinds in blocked.values()):
        raise _refuse(
            "member", _("class bookings are paused on this membership; please settle what is owed")
        )
    day = session.starts_at.astimezone(ZoneInfo(session.location.timezone)).date()
    if want in (None, Entitlement.PLAN):
        plan_ids = set(class_type.plans.values_list("pk", flat=True))
        frozen = set(
            Freeze.objects.filter(
                subscription__in=subs,
                status__in=("scheduled", "active"),
                start_date__lte=day,
                end_date__gt=day,
            ).values_list("subscription_id", flat=True)
        )
        for sub in subs:
            if (
                sub.plan_id in plan_ids
                and sub.status in (SubscriptionStatus.ACTIVE, SubscriptionStatus.TRIALING)
                and sub.pk not in frozen
                and (sub.cancel_at is None or sub.cancel_at > day)
                and _plan_valid_at(sub, session.location_id)
            ):
                return Entitlement.PLAN, sub
        if want == Entitlement.PLAN:
            raise _refuse("entitlement", _("your membership does not include this class"))
    if want in (None, Entitlement.CREDITS) and class_type.credits_per_booking:
        account = ClassCreditAccount.objects.filter(member=member).first()
        if account and account.balance >= class_type.credits_per_booking:
            return Entitlement.CREDITS, _sub_at(subs, session.location)
        if want == Entitlement.CREDITS:
            raise _refuse(
                "entitlement",
                _("this class takes %(needed)s class credits; you have %(have)s")
                % {
                    "needed": class_type.credits_per_booking,
                    "have": account.balance if account else 0,
                },
            )
    if want == Entitlement.DROP_IN:
        if class_type.drop_in_price is None:
            raise _refuse("entitlement", _("this class cannot be bought as a drop-in"))
        return Entitlement.DROP_IN, _sub_at(subs, session.location)
    if want not in (None, Entitlement.PLAN, Entitlement.CREDITS, Entitlement.DROP_IN):
        raise _refuse("entitlement", f"unknown entitlement {want!r}")
    raise _refuse(
        "entitlement",
        _("your membership does not include this class and you have no class credits for it"),
    )


def _plan_valid_at(sub: Subscription, location_id: int) -> bool:
    locations = [loc.pk for loc in sub.plan.locations.all()]
    return not locations or location_id in locations


def _sub_at(subs: list[Subscription], location: Location) -> Subscription | None:
    """A membership to invoice a class charge on: one at the location, in its currency."""
    for sub in subs:
        if sub.location_id == location.pk and sub.currency == location.currency:
            return sub
    return None


def _take(booking: Booking, entitlement: str, sub: Subscription | None, clock: Clock) -> None:
    """Charge what a booking that gets a place costs: credits, or the drop-in invoice."""
    session, class_type = booking.session, booking.session.class_type
    booking.entitlement = entitlement
    booking.subscription = sub
    if entitlement == Entitlement.CREDITS:
        _credits_move(
            booking.member,
            -class_type.credits_per_booking,
            ClassCreditEntry.Kind.USE,
            clock,
            booking=booking,
        )
        booking.credits_used = class_type.credits_per_booking
    elif entitlement == Entitlement.DROP_IN:
        assert class_type.drop_in_price is not None
        booking.drop_in_invoice = _charge(
            member=booking.member,
            location=session.location,
            sub=sub,
            amount=class_type.drop_in_price,
            currency=class_type.drop_in_currency or session.location.currency,
            description=f"Drop-in: {class_type.name} {_local(session):%Y-%m-%d %H:%M}",
            kind=InvoiceLine.Kind.CHARGE,
            category=RevenueCategory.ADDON,
            taxed=True,
            clock=clock,
        )


def _give_back(booking: Booking, clock: Clock, *, reason: str) -> None:
    """Undo what ``_take`` charged: credits back, the drop-in voided or credited."""
    if booking.credits_used:
        _credits_move(
            booking.member,
            booking.credits_used,
            ClassCreditEntry.Kind.RETURN,
            clock,
            booking=booking,
            reason=reason,
        )
        booking.credits_used = 0
    if booking.drop_in_invoice_id is not None:
        _invoice_undo(Invoice.objects.get(pk=booking.drop_in_invoice_id), clock, reason)
        booking.drop_in_invoice = None


def _invoice_undo(invoice: Invoice, clock: Clock, reason: str) -> None:
    """Void an unpaid invoice; credit a paid one to the member's account."""
    if invoice.status == InvoiceStatus.VOID:
        return
    if invoice.amount_paid == 0:
        invoice_void(invoice=invoice, clock=clock, reason=reason)
        return
    amount = invoice_creditable(invoice)
    if amount:
        credit_note_create(
            invoice=invoice, amount=amount, reason=reason, clock=clock, to_member_credit=True
        )


def _charge(
    *,
    member: Member,
    location: Location,
    sub: Subscription | None,
    amount: int,
    currency: str,
    description: str,
    kind: str,
    category: str,
    taxed: bool,
    clock: Clock,
) -> Invoice:
    if sub is not None and sub.currency == currency:
        return invoice_issue_one_off(
            sub=sub,
            kind=kind,
            description=description,
            amount=amount,
            category=category,
            clock=clock,
            taxed=taxed,
        )
    return invoice_issue_charge(
        organization=location.organization,
        payer_id=member.payer_id or member.pk,
        location=location,
        currency=currency,
        kind=kind,
        description=description,
        amount=amount,
        category=category,
        tax_category=TaxCategory.TRAINING,
        clock=clock,
        taxed=taxed,
    )


def _zone(session: ClassSession) -> ZoneInfo:
    return ZoneInfo(session.location.timezone)


def _local(session: ClassSession) -> datetime:
    return session.starts_at.astimezone(_zone(session))


# --- booking, cancelling, the waitlist ----------------------------------------------------


def booking_create(
    *, session: ClassSession, member: Member, clock: Clock, entitlement: str | None = None
) -> Booking:
    """Book ``member`` on ``session``, or put them on its waitlist when it is full.

    ``entitlement`` None takes the membership, else class credits; ``"drop_in"`` buys
    the class (an invoice, when the place is had). Refused, with the field: a cancelled
    or started class, outside the booking window, a full class whose waitlist has closed,
    already booked, over the per-member limit, no entitlement, bookings restricted."""
    if member.organization_id != session.organization_id:
        raise _refuse("member", "the member belongs to another organization")
    with transaction.atomic():
        session = _locked(session)
        member = Member.objects.select_for_update().get(pk=member.pk)
        now = clock.now()
        rules = rules_for(session.class_type, session.location)
        if session.status == SessionStatus.CANCELLED:
            raise _refuse("session", _("this class is cancelled"))
        opens = session.starts_at - timedelta(days=rules.booking_opens_days)
        closes = session.starts_at - timedelta(minutes=rules.booking_closes_minutes)
        if now < opens:
            raise _refuse(
                "session",
                _("booking opens %(days)s days before the class, at %(when)s")
                % {
                    "days": rules.booking_opens_days,
                    "when": f"{opens.astimezone(_zone(session)):%Y-%m-%d %H:%M}",
                },
            )
        if now >= closes:
            raise _refuse("session", _("booking for this class has closed"))
        existing = Booking.objects.filter(session=session, member=member).first()
        if existing is not None and existing.status != BookingStatus.CANCELLED:
            raise _refuse(
                "member",
                _("you are already on the waitlist for this class")
                if existing.status == BookingStatus.WAITLISTED
                else _("you are already booked on this class"),
            )
        held = member_open_bookings(member, now)
        if held >= rules.max_open_bookings:
            raise _refuse(
                "member",
                _("you already hold %(held)s upcoming bookings, the most allowed (%(limit)s)")
                % {"held": held, "limit": rules.max_open_bookings},
            )
        kind, sub = _entitlement(member, session, now, entitlement)
        booked = session.bookings.filter(status=BookingStatus.BOOKED).count()
        full = booked >= session.capacity
        if full and now > session.starts_at - timedelta(minutes=rules.waitlist_cutoff_minutes):
            raise _refuse("session", _("this class is full and its waitlist has closed"))
        booking = existing or Booking(
            organization_id=session.organization_id,
            session=session,
            member=member,
            status=BookingStatus.CANCELLED,
            entitlement=kind,
            created_at=now,
        )
        booking.session = session
        booking.entitlement, booking.subscription = kind, sub
        booking.reminded_at = None
        booking_transition(booking, BookingStatus.WAITLISTED if full else BookingStatus.BOOKED, now)
        booking.save()
        if not full:
            _take(booking, kind, sub, clock)
            booking.save()
    return booking


def booking_cancel_terms(booking: Booking, now: datetime) -> tuple[bool, int]:
    """(late, fee) if ``booking`` were cancelled at ``now``: late is after the cut-off,
    for a booking that holds a place; the fee is the late-cancellation fee then."""
    session = booking.session
    rules = rules_for(session.class_type, session.location)
    late = booking.status == BookingStatus.BOOKED and now > session.starts_at - timedelta(
        hours=rules.cancel_cutoff_hours
    )
    return late, rules.late_cancel_fee if late else 0


def booking_cancel(*, booking: Booking, clock: Clock, reason: str = "") -> Booking:
    """Cancel a booking or waitlist place. In time: credits and drop-in given back. Late
    (after the cut-off): ``late_cancelled``, nothing given back and the late-cancellation
    fee invoiced. Either way a place freed goes to the first on the waitlist who can take
    it, until the waitlist cut-off."""
    with transaction.atomic():
        session = _locked(booking.session)
        booking = Booking.objects.select_for_update().select_related("member").get(pk=booking.pk)
        booking.session = session
        now = clock.now()
        if booking.status not in OPEN_STATUSES:
            raise _refuse("booking", _("this booking can no longer be cancelled"))
        if now >= session.starts_at:
            raise _refuse("booking", _("this class has already started"))
        late, fee = booking_cancel_terms(booking, now)
        held_place = booking.status == BookingStatus.BOOKED
        if late:
            booking_transition(booking, BookingStatus.LATE_CANCELLED, now)
            booking.save()
            if fee:
                _fee(booking, "late_cancel", fee, clock)
        else:
            booking_transition(booking, BookingStatus.CANCELLED, now)
            _give_back(booking, clock, reason=reason or "class booking cancelled in time")
            booking.save()
        if held_place:
            _promote(session, clock)
    return booking


def _promote(session: ClassSession, clock: Clock) -> list[Booking]:
    """Give free places to the waitlist in order, until the waitlist cut-off; one who
    cannot take the place now (credits gone, bookings restricted) is passed over and keeps
    their place in line. The caller holds the session's lock."""
    now = clock.now()
    rules = rules_for(session.class_type, session.location)
    if now > session.starts_at - timedelta(minutes=rules.waitlist_cutoff_minutes):
        return []
    promoted: list[Booking] = []
    free = session.capacity - session.bookings.filter(status=BookingStatus.BOOKED).count()
    for candidate in waitlist(session).select_related("member"):
        if free <= 0:
            break
        candidate.session = session
        try:
            with transaction.atomic():
                kind, sub = _entitlement(candidate.member, session, now, candidate.entitlement)
                booking_transition(candidate, BookingStatus.BOOKED, now)
                _take(candidate, kind, sub, clock)
                candidate.save()
                events_emit_bulk([events.booking_event(candidate, events.PROMOTED, clock)])
        except ClassError:
            candidate.refresh_from_db()
            continue
        promoted.append(candidate)
        free -= 1
    return promoted


def _fee(booking: Booking, kind: str, amount: int, clock: Clock) -> None:
    session = booking.session
    label = "Late cancellation" if kind == "late_cancel" else "No-show"
    subs = _memberships(booking.member)
    sub = booking.subscription if booking.subscription in subs else _sub_at(subs, session.location)
    invoice = _charge(
        member=booking.member,
        location=session.location,
        sub=sub if sub is not None and sub.currency == session.location.currency else None,
        amount=amount,
        currency=session.location.currency,
        description=f"{label}: {session.class_type.name} {_local(session):%Y-%m-%d %H:%M}",
        kind=InvoiceLine.Kind.FEE,
        category=RevenueCategory.OTHER,
        # A fee for a missed class compensates the gym; it is not a supply (no VAT).
        taxed=False,
        clock=clock,
    )
    booking.fee_invoice = invoice
    booking.save(update_fields=["fee_invoice"])
    events_emit_bulk(
        [
            events.booking_event(
                booking,
                events.FEE_CHARGED,
                clock,
                kind=kind,
                amount=amount,
                currency=invoice.currency,
                invoice_id=invoice.pk,
                invoice_number=invoice.number or "",
            )
        ]
    )


def booking_check_in(*, booking: Booking, clock: Clock) -> Booking:
    """Mark a booked member as attending, from an hour before the class until it ends."""
    with transaction.atomic():
        booking = (
            Booking.objects.select_for_update(of=("self",))
            .select_related("session")
            .get(pk=booking.pk)
        )
        session, now = booking.session, clock.now()
        if session.status == SessionStatus.CANCELLED:
            raise _refuse("session", "this class is cancelled")
        if now < session.starts_at - CHECK_IN_OPENS:
            raise _refuse("session", "check-in opens an hour before the class")
        if now > session.ends_at:
            raise _refuse("session", "this class is over")
        if booking.status != BookingStatus.BOOKED:
            raise _refuse("booking", f"the booking is {booking.status}; it cannot be checked in")
        booking_transition(booking, BookingStatus.ATTENDED, now)
        booking.save()
    return booking


def sessions_close(*, clock: Clock) -> int:
    """After each class: bookings never checked in become no-shows (with the no-show fee),
    waitlist places lapse. Each session once (``closed_at``); returns the no-shows."""
    now = clock.now()
    marked = 0
    due = ClassSession.objects.filter(
        status=SessionStatus.SCHEDULED, ends_at__lte=now, closed_at__isnull=True
    ).values_list("pk", flat=True)
    for pk in list(due):
        with transaction.atomic():
            session = _locked(ClassSession(pk=pk))
            if session.closed_at is not None:
                continue
            rules = rules_for(session.class_type, session.location)
            for booking in session.bookings.filter(status__in=OPEN_STATUSES).select_related(
                "member"
            ):
                booking.session = session
                if booking.status == BookingStatus.WAITLISTED:
                    booking_transition(booking, BookingStatus.CANCELLED, now)
                    booking.save()
                    continue
                booking_transition(booking, BookingStatus.NO_SHOW, now)
                booking.save()
                marked += 1
                if rules.no_show_fee:
                    _fee(booking, "no_show", rules.no_show_fee, clock)
            session.closed_at = now
            session.save(update_fields=["closed_at"])
    return marked


def booking_fee_forgive(*, booking: Booking, reason: str, clock: Clock) -> Booking:
    """Staff forgive a late-cancellation or no-show fee: an unpaid invoice is voided, a paid
    one credited to the member's account (a credit note either way, in the ledger)."""
    if not reason.strip():
        raise _refuse("reason", "say why the fee is forgiven")
    with transaction.atomic():
        booking = Booking.objects.select_for_update(of=("self",)).get(pk=booking.pk)
        if booking.fee_invoice_id is None:
            raise _refuse("booking", "there is no fee on this booking")
        if booking.fee_forgiven_at is not None:
            raise _refuse("booking", "this fee is already forgiven")
        invoice = Invoice.objects.select_for_update().get(pk=booking.fee_invoice_id)
        _invoice_undo(invoice, clock, f"class fee forgiven: {reason.strip()}")
        booking.fee_forgiven_at = clock.now()
        booking.fee_forgiven_reason = reason.strip()
        booking.save(update_fields=["fee_forgiven_at", "fee_forgiven_reason"])
        booking = Booking.objects.select_related("session").get(pk=booking.pk)
        events_emit_bulk(
            [
                events.booking_event(
                    booking,
                    events.FEE_FORGIVEN,
                    clock,
                    invoice_id=invoice.pk,
                    reason=reason.strip(),
                )
            ]
        )
    return booking


def reminders_send(*, clock: Clock) -> int:
    """Remind each booked member once, ``reminder_hours`` before their class (0: never);
    a class moved to a new time is reminded again. Returns how many were reminded."""
    now = clock.now()
    sent = 0
    upcoming = ClassSession.objects.filter(
        status=SessionStatus.SCHEDULED,
        starts_at__gt=now,
        starts_at__lte=now + REMINDER_LOOKAHEAD,
        bookings__status=BookingStatus.BOOKED,
        bookings__reminded_at__isnull=True,
    ).distinct()
    for session in upcoming.select_related("class_type", "location", "room", "instructor"):
        rules = rules_for(session.class_type, session.location)
        if not rules.reminder_hours or now < session.starts_at - timedelta(
            hours=rules.reminder_hours
        ):
            continue
        with transaction.atomic():
            due = list(
                session.bookings.select_for_update().filter(
                    status=BookingStatus.BOOKED, reminded_at__isnull=True
                )
            )
            for b in due:
                b.session = session
            Booking.objects.filter(pk__in=[b.pk for b in due]).update(reminded_at=now)
            events_emit_bulk(
                [
                    events.booking_event(b, events.REMINDER, clock, hours=rules.reminder_hours)
                    for b in due
                ]
            )
        sent += len(due)
    return sent


# --- class credits ------------------------------------------------------------------------


def _credits_move(
    member: Member,
    amount: int,
    kind: str,
    clock: Clock,
    *,
    booking: Booking | None = None,
    addon: AddOn | None = None,
    invoice: Invoice | None = None,
    reason: str = "",
) -> ClassCreditEntry:
    """Add (or, negative, use) credits. The balance changes in one conditional UPDATE, so
    two bookings at once can never spend the same credit (nor the balance go below 0)."""
    account = ClassCreditAccount.objects.filter(member=member).first()
    if account is None:
        try:
            with transaction.atomic():
                account = ClassCreditAccount.objects.create(
                    organization_id=member.organization_id, member=member
                )
        except IntegrityError:
            account = ClassCreditAccount.objects.get(member=member)
    changed = ClassCreditAccount.objects.filter(pk=account.pk, balance__gte=max(-amount, 0)).update(
        balance=F("balance") + amount
    )
    if not changed:
        raise _refuse("entitlement", _("not enough class credits"))
    return ClassCreditEntry.objects.create(
        organization_id=member.organization_id,
        account=account,
        amount=amount,
        kind=kind,
        booking=booking,
        addon=addon,
        invoice=invoice,
        reason=reason,
        created_at=clock.now(),
    )


def class_credits_grant(
    *, member: Member, amount: int, reason: str, clock: Clock
) -> ClassCreditEntry:
    """Staff give a member class credits."""
    if amount <= 0:
        raise _refuse("amount", "give at least one credit")
    if not reason.strip():
        raise _refuse("reason", "say why the credits are given")
    with transaction.atomic():
        return _credits_move(
            member, amount, ClassCreditEntry.Kind.GRANT, clock, reason=reason.strip()
        )


def class_pack_purchase(*, sub: Subscription, addon: AddOn, clock: Clock) -> ClassCreditEntry:
    """A member buys a class pack (a one-off ``pack`` add-on): invoiced on their
    membership, and the pack's sessions added as class credits, in one transaction."""
    if addon.organization_id != sub.organization_id:
        raise _refuse("addon", "the add-on belongs to another organization")
    if addon.kind != AddOn.Kind.PACK or addon.sessions <= 0:
        raise _refuse("addon", "only a pack with sessions gives class credits")
    if not addon.active:
        raise _refuse("addon", "this pack is no longer sold")
    if addon.currency != sub.currency:
        raise _refuse(
            "addon", f"the pack is priced in {addon.currency}, the membership in {sub.currency}"
        )
    with transaction.atomic():
        invoice = invoice_issue_one_off(
            sub=sub,
            kind=InvoiceLine.Kind.ADDON,
            description=addon.name,
            amount=addon.price,
            category=RevenueCategory.ADDON,
            clock=clock,
        )
        return _credits_move(
            sub.member,
            addon.sessions,
            ClassCreditEntry.Kind.PACK,
            clock,
            addon=addon,
            invoice=invoice,
            reason=addon.name,
        )
