"""Booking rules, each tried to break on the test clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from dues.billing.models import InvoiceStatus, RestrictionKind
from dues.billing.restrictions import restriction_place, restrictions_lift
from dues.billing.services import subscription_freeze
from dues.classes.models import Booking, BookingStatus, ClassCreditEntry, Entitlement
from dues.classes.selectors import credit_balance
from dues.classes.services import (
    ClassError,
    booking_cancel,
    booking_create,
    booking_transition,
    class_credits_grant,
)
from dues.core.models import OutboxEvent
from dues.ledger.check import ledger_check
from tests.classes.conftest import STARTS
from tests.factories import d, make_member, make_plan


def _error(exc: pytest.ExceptionInfo[ClassError]) -> dict[str, list[str]]:
    return exc.value.message_dict


def test_a_member_whose_plan_includes_the_class_books_it(gym):
    member, sub = gym.member()
    booking = booking_create(session=gym.session, member=member, clock=gym.clock)
    assert booking.status == BookingStatus.BOOKED
    assert booking.entitlement == Entitlement.PLAN
    assert booking.subscription_id == sub.pk
    assert booking.booked_at == gym.clock.now()
    assert booking.credits_used == 0
    assert booking.drop_in_invoice_id is None


def test_booking_opens_seven_days_ahead_by_default(gym):
    member, _ = gym.member()
    later = gym.session_at(datetime(2026, 1, 25, 17, tzinfo=UTC))
    with pytest.raises(ClassError) as exc:
        booking_create(session=later, member=member, clock=gym.clock)
    assert _error(exc) == {
        "session": ["booking opens 7 days before the class, at 2026-01-18 18:00"]
    }
    gym.clock.set(datetime(2026, 1, 18, 17, tzinfo=UTC) - timedelta(seconds=1))
    with pytest.raises(ClassError):
        booking_create(session=later, member=member, clock=gym.clock)
    gym.clock.set(datetime(2026, 1, 18, 17, tzinfo=UTC))
    assert booking_create(session=later, member=member, clock=gym.clock).status == "booked"


def test_booking_closes_minutes_before_the_class(gym):
    gym.class_type.booking_closes_minutes = 30
    gym.class_type.save()
    first, _ = gym.member()
    second, _ = gym.member()
    gym.clock.set(STARTS - timedelta(minutes=30, seconds=1))
    booking_create(session=gym.session, member=first, clock=gym.clock)
    gym.clock.set(STARTS - timedelta(minutes=30))
    with pytest.raises(ClassError) as exc:
        booking_create(session=gym.session, member=second, clock=gym.clock)
    assert _error(exc) == {"session": ["booking for this class has closed"]}


def test_location_rules_apply_unless_the_class_type_sets_its_own(gym):
    from dues.classes.models import LocationClassRules

    LocationClassRules.objects.create(
        organization=gym.org, location=gym.location, booking_opens_days=1
    )
    member, _ = gym.member()
    with pytest.raises(ClassError) as exc:
        booking_create(session=gym.session, member=member, clock=gym.clock)
    assert _error(exc) == {
        "session": ["booking opens 1 days before the class, at 2026-01-16 18:00"]
    }
    gym.class_type.booking_opens_days = 3
    gym.class_type.save()
    assert booking_create(session=gym.session, member=member, clock=gym.clock).status == "booked"


def test_a_full_class_puts_members_on_the_waitlist_in_order(gym):
    members = [gym.member()[0] for _ in range(4)]
    got = []
    for m in members:
        got.append(booking_create(session=gym.session, member=m, clock=gym.clock).status)
        gym.clock.advance(timedelta(minutes=1))
    assert got == ["booked", "booked", "waitlisted", "waitlisted"]
    assert Booking.objects.filter(session=gym.session, status="booked").count() == 2


def test_a_full_class_refuses_once_the_waitlist_has_closed(gym):
    for _ in range(2):
        booking_create(session=gym.session, member=gym.member()[0], clock=gym.clock)
    late, _ = gym.member()
    gym.clock.set(STARTS - timedelta(minutes=59))  # cut-off: 60 minutes
    with pytest.raises(ClassError) as exc:
        booking_create(session=gym.session, member=late, clock=gym.clock)
    assert _error(exc) == {"session": ["this class is full and its waitlist has closed"]}


def test_booking_twice_is_refused(gym):
    member, _ = gym.member()
    booking_create(session=gym.session, member=member, clock=gym.clock)
    with pytest.raises(ClassError) as exc:
        booking_create(session=gym.session, member=member, clock=gym.clock)
    assert _error(exc) == {"member": ["you are already booked on this class"]}
    assert Booking.objects.filter(member=member).count() == 1


def test_booking_again_after_cancelling_reuses_the_row(gym):
    member, _ = gym.member()
    booking = booking_create(session=gym.session, member=member, clock=gym.clock)
    booking_cancel(booking=booking, clock=gym.clock)
    again = booking_create(session=gym.session, member=member, clock=gym.clock)
    assert again.pk == booking.pk
    assert again.status == "booked"
    assert again.cancelled_at is None


def test_the_per_member_limit_counts_upcoming_bookings_and_waitlist_places(gym):
    gym.class_type.max_open_bookings = 2
    gym.class_type.save()
    member, _ = gym.member()
    s2 = gym.session_at(STARTS + timedelta(hours=2))
    s3 = gym.session_at(STARTS + timedelta(hours=4))
    first = booking_create(session=gym.session, member=member, clock=gym.clock)
    booking_create(session=s2, member=member, clock=gym.clock)
    with pytest.raises(ClassError) as exc:
        booking_create(session=s3, member=member, clock=gym.clock)
    assert _error(exc) == {"member": ["you already hold 2 upcoming bookings, the most allowed (2)"]}
    booking_cancel(booking=first, clock=gym.clock)
    assert booking_create(session=s3, member=member, clock=gym.clock).status == "booked"


def test_without_a_plan_that_includes_it_a_member_cannot_book(gym):
    member, _ = gym.member(plan=make_plan(gym.org))
    with pytest.raises(ClassError) as exc:
        booking_create(session=gym.session, member=member, clock=gym.clock)
    assert _error(exc) == {
        "entitlement": [
            "your membership does not include this class and you have no class credits for it"
        ]
    }
    assert not Booking.objects.exists()


def test_a_bookings_restriction_stops_booking_until_lifted(gym):
    member, sub = gym.member()
    restriction_place(
        subscription=sub,
        kind=RestrictionKind.BOOKINGS,
        source="dunning",
        source_id=7,
        reason="unpaid",
        clock=gym.clock,
    )
    with pytest.raises(ClassError) as exc:
        booking_create(session=gym.session, member=member, clock=gym.clock)
    assert list(_error(exc)) == ["member"]
    gym.clock.advance(timedelta(minutes=5))
    restrictions_lift(source="dunning", source_ids=[7], clock=gym.clock, reason="paid")
    assert booking_create(session=gym.session, member=member, clock=gym.clock).status == "booked"


def test_a_membership_frozen_on_the_class_day_does_not_entitle(gym):
    member, sub = gym.member()
    subscription_freeze(
        sub=sub, start_date=d("2026-01-16"), end_date=d("2026-01-20"), clock=gym.clock, fee=0
    )
    with pytest.raises(ClassError) as exc:
        booking_create(session=gym.session, member=member, clock=gym.clock)
    assert list(_error(exc)) == ["entitlement"]


def test_credits_book_a_class_and_come_back_on_cancelling_in_time(gym):
    member = make_member(gym.org, gym.clock)
    class_credits_grant(member=member, amount=1, reason="welcome", clock=gym.clock)
    booking = booking_create(session=gym.session, member=member, clock=gym.clock)
    assert (booking.entitlement, booking.credits_used) == ("credits", 1)
    assert credit_balance(member) == 0
    other = gym.session_at(STARTS + timedelta(hours=3))
    with pytest.raises(ClassError) as exc:
        booking_create(session=other, member=member, clock=gym.clock)
    assert list(_error(exc)) == ["entitlement"]
    booking_cancel(booking=booking, clock=gym.clock)
    assert credit_balance(member) == 1
    kinds = list(
        ClassCreditEntry.objects.filter(account__member=member).values_list("kind", "amount")
    )
    assert kinds == [("grant", 1), ("use", -1), ("return", 1)]


def test_a_drop_in_is_invoiced_through_billing_and_voided_when_cancelled_in_time(gym):
    member = make_member(gym.org, gym.clock)
    booking = booking_create(
        session=gym.session, member=member, clock=gym.clock, entitlement="drop_in"
    )
    invoice = booking.drop_in_invoice
    assert invoice is not None
    assert (invoice.total, invoice.currency, invoice.status) == (15000, "SEK", "open")
    assert invoice.payer_id == member.pk
    assert invoice.number
    booking_cancel(booking=booking, clock=gym.clock)
    invoice.refresh_from_db()
    assert invoice.status == InvoiceStatus.VOID
    assert invoice.credit_notes.get().total == 15000
    assert all(not problems for problems in ledger_check().values())


def test_an_illegal_transition_is_refused_by_the_state_machine(gym):
    member, _ = gym.member()
    booking = booking_create(session=gym.session, member=member, clock=gym.clock)
    booking_transition(booking, BookingStatus.ATTENDED, gym.clock.now())
    with pytest.raises(ClassError) as exc:
        booking_transition(booking, BookingStatus.BOOKED, gym.clock.now())
    assert _error(exc) == {"status": ["the booking is attended; it cannot become booked"]}


def test_another_organizations_member_cannot_book(gym, clock):
    from tests.factories import make_org

    stranger = make_member(make_org(clock), clock)
    with pytest.raises(ClassError) as exc:
        booking_create(session=gym.session, member=stranger, clock=gym.clock)
    assert _error(exc) == {"member": ["the member belongs to another organization"]}
    assert not OutboxEvent.objects.filter(topic__startswith="class.").exists()
