"""The staff's class screens: the week, the roster with check-in, cancelling and moving a
class, forgiving a fee, and who may do which."""

from __future__ import annotations

from datetime import timedelta

import pytest

from dues.billing.models import InvoiceStatus
from dues.classes.models import Booking, ClassSession
from dues.classes.services import booking_create, sessions_close
from dues.core.models import OutboxEvent
from dues.staff.models import StaffAction
from dues.staff.roles import Role
from dues.staff.views import classes as class_views
from tests.classes.conftest import STARTS
from tests.staff.conftest import client_for, make_staff


@pytest.fixture
def desk(gym, monkeypatch):
    monkeypatch.setattr(class_views, "CLOCK", gym.clock)

    def client(role: str = Role.OWNER):
        return client_for(make_staff(gym.org, role, gym.clock, device=True), gym.org)

    return client


def test_the_week_and_the_roster(gym, desk):
    member, _ = gym.member(first_name="Ingrid", last_name="Berg")
    booking_create(session=gym.session, member=member, clock=gym.clock)
    client = desk(Role.TRAINER)
    week = client.get("/staff/classes/?week=2026-01-12").content.decode()
    assert "18:00–19:00" in week
    assert "1 / 2" in week
    roster = client.get(f"/staff/classes/{gym.session.pk}/").content.decode()
    assert "Ingrid Berg" in roster
    assert "1 of 2 places booked." in roster
    assert "Cancel the class" not in roster  # a trainer may not


def test_check_in_from_the_roster(gym, desk):
    member, _ = gym.member()
    booking = booking_create(session=gym.session, member=member, clock=gym.clock)
    client = desk(Role.TRAINER)
    response = client.post(f"/staff/classes/bookings/{booking.pk}/check-in/")
    assert response.status_code == 302
    assert Booking.objects.get(pk=booking.pk).status == "booked"  # too early: refused
    gym.clock.set(STARTS - timedelta(minutes=10))
    client.post(f"/staff/classes/bookings/{booking.pk}/check-in/")
    assert Booking.objects.get(pk=booking.pk).status == "attended"


def test_cancelling_and_moving_need_the_desk_and_tell_the_members(gym, desk):
    member, _ = gym.member()
    booking_create(session=gym.session, member=member, clock=gym.clock)
    trainer = desk(Role.TRAINER)
    url = f"/staff/classes/{gym.session.pk}/cancel/"
    assert trainer.post(url, {"reason": "ill"}).status_code == 403
    front = desk(Role.FRONT_DESK)
    front.post(
        f"/staff/classes/{gym.session.pk}/change/",
        {"starts_at": "2026-01-17T19:30", "room": gym.room.pk, "reason": "later"},
    )
    session = ClassSession.objects.get(pk=gym.session.pk)
    assert session.starts_at == STARTS + timedelta(hours=1, minutes=30)
    assert OutboxEvent.objects.filter(topic="class.session_changed").count() == 1
    front.post(url, {"reason": "ill"})
    assert ClassSession.objects.get(pk=gym.session.pk).status == "cancelled"
    assert Booking.objects.get(member=member).status == "cancelled"


def test_only_managers_forgive_a_fee_and_it_is_audited(gym, desk):
    gym.class_type.no_show_fee = 10000
    gym.class_type.save()
    member, _ = gym.member()
    booking = booking_create(session=gym.session, member=member, clock=gym.clock)
    gym.clock.set(STARTS + timedelta(hours=1))
    sessions_close(clock=gym.clock)
    url = f"/staff/classes/bookings/{booking.pk}/forgive/"
    assert desk(Role.FRONT_DESK).post(url, {"reason": "ill"}).status_code == 403
    manager = desk(Role.MANAGER)
    roster = manager.get(f"/staff/classes/{gym.session.pk}/").content.decode()
    assert "SEK100.00" in roster
    manager.post(url, {"reason": "was ill"})
    booking.refresh_from_db()
    assert booking.fee_forgiven_reason == "was ill"
    assert booking.fee_invoice.status == InvoiceStatus.VOID
    action = StaffAction.objects.get(action="fee_forgive")
    assert (action.member_id, action.detail["booking_id"]) == (member.pk, booking.pk)


def test_another_organizations_session_is_not_found(gym, desk, clock):
    from tests.factories import make_org

    other = make_org(clock)
    client = client_for(make_staff(other, Role.OWNER, clock, device=True), other)
    assert client.get(f"/staff/classes/{gym.session.pk}/").status_code == 404
    assert (
        client.post(f"/staff/classes/{gym.session.pk}/cancel/", {"reason": "x"}).status_code == 404
    )
