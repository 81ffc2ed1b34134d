"""Staff actions on classes: those that concern a member call the classes service and
write the audit row (``StaffAction``) in the same transaction; a change to the class
set-up (a class type, room, instructor or timetable entry) writes a ``StaffChange``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from django.db import transaction

from dues.classes.models import Booking
from dues.classes.services import booking_check_in, booking_fee_forgive
from dues.core.clock import Clock
from dues.staff.roles import Action
from dues.staff.services import staff_action_record, staff_change_record

T = TypeVar("T")


def staff_fee_forgive(*, user: Any, booking: Booking, reason: str, clock: Clock) -> Booking:
    with transaction.atomic():
        booking = booking_fee_forgive(booking=booking, reason=reason, clock=clock)
        staff_action_record(
            user=user,
            member=booking.member,
            action=Action.FEE_FORGIVE,
            detail={
                "booking_id": booking.pk,
                "invoice_id": booking.fee_invoice_id,
                "reason": booking.fee_forgiven_reason,
            },
            clock=clock,
        )
    return booking


def staff_class_check_in(*, user: Any, booking: Booking, clock: Clock) -> Booking:
    with transaction.atomic():
        booking = booking_check_in(booking=booking, clock=clock)
        staff_action_record(
            user=user,
            member=booking.member,
            action=Action.CLASSES_VIEW,
            detail={"booking_id": booking.pk, "checked_in": True},
            clock=clock,
        )
    return booking


def staff_class_setup(
    *,
    user: Any,
    organization_id: int,
    target: str,
    summary: str,
    after: dict[str, Any],
    clock: Clock,
    make: Callable[[], T],
) -> T:
    """Run ``make`` (a classes service) and record the set-up change with it."""
    with transaction.atomic():
        made = make()
        staff_change_record(
            user=user,
            organization_id=organization_id,
            action=Action.CATALOG_EDIT,
            target=target,
            summary=summary,
            before={},
            after=after,
            clock=clock,
        )
    return made
