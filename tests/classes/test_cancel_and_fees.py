"""Cancelling, the waitlist's promotion and its cut-off, late-cancellation and no-show
fees through billing and the ledger, forgiveness, check-in and reminders."""

from __future__ import annotations

from datetime import timedelta

import pytest

from dues.billing.models import CreditNote, InvoiceLine, InvoiceStatus
from dues.classes.models import Booking, BookingStatus
from dues.classes.selectors import credit_balance, session_roster
from dues.classes.services import (
    ClassError,
    booking_cancel,
    booking_cancel_terms,
    booking_check_in,
    booking_create,
    booking_fee_forgive,
    class_credits_grant,
    reminders_send,
    sessions_close,
)
from dues.core.models import OutboxEvent
from dues.ledger.check import ledger_check
from tests.classes.conftest import STARTS
from tests.factories import make_member


def _full_with_waitlist(gym, waiting: int = 2) -> tuple[list[Booking], list[Booking]]:
    booked = [booking_create(session=gym.session, member=gym.member()[0], clock=gym.clock)]
    booked.append(booking_create(session=gym.session, member=gym.member()[0], clock=gym.clock))
    queue = []
    for _ in range(waiting):
        gym.clock.advance(timedelta(minutes=1))
        queue.append(booking_create(session=gym.session, member=gym.member()[0], clock=gym.clock))
    return booked, queue


def _topics(prefix: str = "class.") -> list[tuple[str, int]]:
    return list(
        OutboxEvent.objects.filter(topic__startswith=prefix)
        .order_by("id")
        .values_list("topic", "aggregate_id")
    )


def _ledger_ok() -> None:
    assert {name: v for name, v in ledger_check().items() if v} == {}


def test_cancelling_in_time_promotes_exactly_the_first_on_the_waitlist(gym):
    booked, queue = _full_with_waitlist(gym)
    booking_cancel(booking=booked[0], clock=gym.clock)
    statuses = {b.pk: b.status for b in Booking.objects.all()}
    assert statuses == {
        booked[0].pk: "cancelled",
        booked[1].pk: "booked",
        queue[0].pk: "booked",
        queue[1].pk: "waitlisted",
    }
    assert _topics() == [("class.promoted", queue[0].pk)]
    event = OutboxEvent.objects.get(topic="class.promoted")
    assert event.payload["member_id"] == queue[0].member_id
    assert event.payload["class_name"] == "Spinning"
    assert event.payload["starts_at"] == "2026-01-17T17:00:00+00:00"


def test_cancelling_a_waitlist_place_promotes_no_one(gym):
    _, queue = _full_with_waitlist(gym)
    booking_cancel(booking=queue[0], clock=gym.clock)
    assert Booking.objects.filter(status="booked").count() == 2
    assert _topics() == []


def test_after_the_waitlist_cut_off_a_freed_place_stays_free(gym):
    gym.class_type.cancel_cutoff_hours = 0
    gym.class_type.save()
    booked, queue = _full_with_waitlist(gym, waiting=1)
    gym.clock.set(STARTS - timedelta(minutes=60))
    booking_cancel(booking=booked[0], clock=gym.clock)  # exactly at the cut-off: promotes
    assert Booking.objects.get(pk=queue[0].pk).status == "booked"
    third = booking_create(session=gym.session, member=gym.member()[0], clock=gym.clock)
    assert third.status == "waitlisted"
    gym.clock.set(STARTS - timedelta(minutes=59))
    booking_cancel(booking=booked[1], clock=gym.clock)
    assert Booking.objects.get(pk=third.pk).status == "waitlisted"
    assert Booking.objects.filter(status="booked").count() == 1


def test_a_waitlisted_member_without_credits_left_is_passed_over(gym):
    booked, _ = _full_with_waitlist(gym, waiting=0)
    poor = make_member(gym.org, gym.clock)
    class_credits_grant(member=poor, amount=1, reason="trial", clock=gym.clock)
    waiting_poor = booking_create(session=gym.session, member=poor, clock=gym.clock)
    assert (waiting_poor.status, waiting_poor.entitlement, credit_balance(poor)) == (
        "waitlisted",
        "credits",
        1,
    )
    # spends the credit elsewhere meanwhile
    elsewhere = gym.session_at(STARTS + timedelta(hours=2))
    booking_create(session=elsewhere, member=poor, clock=gym.clock)
    gym.clock.advance(timedelta(minutes=1))
    rich = booking_create(session=gym.session, member=gym.member()[0], clock=gym.clock)
    booking_cancel(booking=booked[0], clock=gym.clock)
    assert Booking.objects.get(pk=waiting_poor.pk).status == "waitlisted"
    assert Booking.objects.get(pk=rich.pk).status == "booked"


def test_promotion_takes_the_credits_then(gym):
    booked, _ = _full_with_waitlist(gym, waiting=0)
    member = make_member(gym.org, gym.clock)
    class_credits_grant(member=member, amount=2, reason="pack", clock=gym.clock)
    waiting = booking_create(session=gym.session, member=member, clock=gym.clock)
    assert credit_balance(member) == 2
    booking_cancel(booking=booked[0], clock=gym.clock)
    waiting.refresh_from_db()
    assert (waiting.status, waiting.credits_used, credit_balance(member)) == ("booked", 1, 1)


def test_cancelling_late_charges_the_fee_through_billing_and_keeps_the_credits(gym):
    gym.class_type.late_cancel_fee = 5000
    gym.class_type.save()
    member, sub = gym.member()
    booking = booking_create(session=gym.session, member=member, clock=gym.clock)
    gym.clock.set(STARTS - timedelta(hours=2))
    assert booking_cancel_terms(booking, gym.clock.now()) == (False, 0)
    gym.clock.set(STARTS - timedelta(hours=2) + timedelta(seconds=1))
    assert booking_cancel_terms(booking, gym.clock.now()) == (True, 5000)
    booking = booking_cancel(booking=booking, clock=gym.clock)
    assert booking.status == BookingStatus.LATE_CANCELLED
    fee = booking.fee_invoice
    assert fee is not None
    assert (fee.total, fee.tax, fee.status, fee.payer_id) == (5000, 0, "open", member.pk)
    line = fee.lines.get()
    assert (line.kind, line.subscription_id) == (InvoiceLine.Kind.FEE, sub.pk)
    assert line.description == "Late cancellation: Spinning 2026-01-17 18:00"
    event = OutboxEvent.objects.get(topic="class.fee_charged")
    assert event.payload["kind"] == "late_cancel"
    assert (event.payload["amount"], event.payload["currency"]) == (5000, "SEK")
    assert event.payload["invoice_id"] == fee.pk
    _ledger_ok()


def test_a_late_cancellation_without_a_fee_writes_no_invoice(gym):
    member, _ = gym.member()
    booking = booking_create(session=gym.session, member=member, clock=gym.clock)
    gym.clock.set(STARTS - timedelta(minutes=10))
    booking = booking_cancel(booking=booking, clock=gym.clock)
    assert (booking.status, booking.fee_invoice_id) == ("late_cancelled", None)
    with pytest.raises(ClassError) as exc:
        booking_cancel(booking=booking, clock=gym.clock)
    assert exc.value.message_dict == {"booking": ["this booking can no longer be cancelled"]}


def test_no_shows_are_marked_after_the_class_and_billed_once(gym):
    gym.class_type.no_show_fee = 10000
    gym.class_type.save()
    came, _ = gym.member()
    stayed_home, _ = gym.member()
    b_came = booking_create(session=gym.session, member=came, clock=gym.clock)
    b_home = booking_create(session=gym.session, member=stayed_home, clock=gym.clock)
    waiting = booking_create(session=gym.session, member=gym.member()[0], clock=gym.clock)
    gym.clock.set(STARTS - timedelta(minutes=5))
    booking_check_in(booking=b_came, clock=gym.clock)
    gym.clock.set(STARTS + timedelta(minutes=59))
    assert sessions_close(clock=gym.clock) == 0  # not over yet
    gym.clock.set(STARTS + timedelta(hours=1))
    assert sessions_close(clock=gym.clock) == 1
    assert sessions_close(clock=gym.clock) == 0
    rows = {b.pk: (b.status, b.fee_invoice_id is not None) for b in session_roster(gym.session)}
    assert rows == {
        b_came.pk: ("attended", False),
        b_home.pk: ("no_show", True),
        waiting.pk: ("cancelled", False),
    }
    fee = Booking.objects.get(pk=b_home.pk).fee_invoice
    assert (fee.total, fee.status) == (10000, "open")
    assert [e.payload["kind"] for e in OutboxEvent.objects.filter(topic="class.fee_charged")] == [
        "no_show"
    ]
    _ledger_ok()


def test_staff_forgive_a_fee_with_a_credit_note(gym):
    gym.class_type.no_show_fee = 10000
    gym.class_type.save()
    member, _ = gym.member()
    booking = booking_create(session=gym.session, member=member, clock=gym.clock)
    gym.clock.set(STARTS + timedelta(hours=2))
    sessions_close(clock=gym.clock)
    booking.refresh_from_db()
    with pytest.raises(ClassError) as exc:
        booking_fee_forgive(booking=booking, reason=" ", clock=gym.clock)
    assert exc.value.message_dict == {"reason": ["say why the fee is forgiven"]}
    booking = booking_fee_forgive(booking=booking, reason="was ill", clock=gym.clock)
    assert booking.fee_forgiven_at == gym.clock.now()
    fee = booking.fee_invoice
    assert fee.status == InvoiceStatus.VOID
    note = CreditNote.objects.get(invoice=fee)
    assert (note.total, note.reason) == (10000, "class fee forgiven: was ill")
    with pytest.raises(ClassError) as exc:
        booking_fee_forgive(booking=booking, reason="again", clock=gym.clock)
    assert exc.value.message_dict == {"booking": ["this fee is already forgiven"]}
    assert OutboxEvent.objects.filter(topic="class.fee_forgiven").count() == 1
    _ledger_ok()


def test_forgiving_a_booking_without_a_fee_is_refused(gym):
    member, _ = gym.member()
    booking = booking_create(session=gym.session, member=member, clock=gym.clock)
    with pytest.raises(ClassError) as exc:
        booking_fee_forgive(booking=booking, reason="why not", clock=gym.clock)
    assert exc.value.message_dict == {"booking": ["there is no fee on this booking"]}


def test_check_in_is_open_from_an_hour_before_until_the_end(gym):
    member, _ = gym.member()
    booking = booking_create(session=gym.session, member=member, clock=gym.clock)
    gym.clock.set(STARTS - timedelta(minutes=61))
    with pytest.raises(ClassError) as exc:
        booking_check_in(booking=booking, clock=gym.clock)
    assert exc.value.message_dict == {"session": ["check-in opens an hour before the class"]}
    gym.clock.set(STARTS + timedelta(minutes=60, seconds=1))
    with pytest.raises(ClassError):
        booking_check_in(booking=booking, clock=gym.clock)
    gym.clock.set(STARTS + timedelta(minutes=60))
    booking = booking_check_in(booking=booking, clock=gym.clock)
    assert (booking.status, booking.attended_at) == ("attended", gym.clock.now())
    with pytest.raises(ClassError) as exc:
        booking_check_in(booking=booking, clock=gym.clock)
    assert exc.value.message_dict == {
        "booking": ["the booking is attended; it cannot be checked in"]
    }


def test_reminders_go_once_n_hours_before_to_the_booked_only(gym):
    gym.class_type.reminder_hours = 3
    gym.class_type.save()
    booked, _ = _full_with_waitlist(gym, waiting=1)
    gym.clock.set(STARTS - timedelta(hours=3, seconds=1))
    assert reminders_send(clock=gym.clock) == 0
    gym.clock.set(STARTS - timedelta(hours=3))
    assert reminders_send(clock=gym.clock) == 2
    assert reminders_send(clock=gym.clock) == 0
    reminded = sorted(b for _, b in _topics("class.reminder"))
    assert reminded == sorted(b.pk for b in booked)
    assert OutboxEvent.objects.filter(topic="class.reminder").first().payload["hours"] == 3


def test_reminder_hours_zero_sends_none(gym):
    gym.class_type.reminder_hours = 0
    gym.class_type.save()
    booking_create(session=gym.session, member=gym.member()[0], clock=gym.clock)
    gym.clock.set(STARTS - timedelta(minutes=10))
    assert reminders_send(clock=gym.clock) == 0
