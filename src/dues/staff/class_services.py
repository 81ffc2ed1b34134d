"""Staff actions on classes that concern a member: each calls the classes service and
writes the audit row (``StaffAction``) in the same transaction."""

from __future__ import annotations

from typing import Any

from django.db import transaction

from dues.classes.models import Booking
from dues.classes.services import booking_check_in, booking_fee_forgive
from dues.core.clock import Clock
from dues.staff.roles import Action
from dues.staff.services import staff_action_record


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
