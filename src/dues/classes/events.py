"""The outbox events classes emit (DESIGN invariant 6). Each carries what a message to
the member needs, so notify reads the payload and never imports classes.

- ``class.session_changed``: a booked or waitlisted member's class moved (time, room or
  instructor); ``changes`` names what, ``old_starts_at`` is the previous start.
- ``class.session_cancelled``: a booked or waitlisted member's class is cancelled.
- ``class.promoted``: a waitlisted member got a place.
- ``class.reminder``: a booked member's class starts soon.
- ``class.fee_charged``: a late-cancellation or no-show fee was invoiced
  (``kind`` = ``late_cancel`` | ``no_show``).
- ``class.fee_forgiven``: staff forgave that fee.
"""

from __future__ import annotations

from typing import Any

from dues.classes.models import Booking, ClassSession
from dues.core.clock import Clock
from dues.core.outbox import Event, event_build

SESSION_CHANGED = "class.session_changed"
SESSION_CANCELLED = "class.session_cancelled"
PROMOTED = "class.promoted"
REMINDER = "class.reminder"
FEE_CHARGED = "class.fee_charged"
FEE_FORGIVEN = "class.fee_forgiven"

# The topics notify turns into messages.
MESSAGE_TOPICS = (SESSION_CHANGED, SESSION_CANCELLED, PROMOTED, REMINDER, FEE_CHARGED)


def session_payload(session: ClassSession) -> dict[str, Any]:
    return {
        "session_id": session.pk,
        "location_id": session.location_id,
        "class_name": session.class_type.name,
        "starts_at": session.starts_at.isoformat(),
        "ends_at": session.ends_at.isoformat(),
        "room": session.room.name,
        "instructor": session.instructor.name if session.instructor else "",
    }


def booking_event(booking: Booking, topic: str, clock: Clock, **extra: Any) -> Event:
    session = booking.session
    payload = {
        "booking_id": booking.pk,
        "member_id": booking.member_id,
        "status": booking.status,
        **session_payload(session),
        **extra,
    }
    return event_build(
        organization_id=booking.organization_id,
        topic=topic,
        aggregate_type="class_booking",
        aggregate_id=booking.pk,
        payload=payload,
        clock=clock,
    )
