"""The member's class pages: the week in local time, book, waitlist, cancel with the late
fee shown first, their bookings and the calendar feed."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client
from icalendar import Calendar

from dues.classes.calendar import calendar_token
from dues.classes.models import Booking
from dues.classes.services import booking_create
from dues.portal.signin import signin_token
from dues.portal.views import classes as class_views
from dues.portal.views import signin
from tests.classes.conftest import STARTS


@pytest.fixture
def browser(gym, monkeypatch):
    for module in (class_views, signin):
        monkeypatch.setattr(module, "CLOCK", gym.clock)

    def sign_in(member) -> Client:
        client = Client()
        assert (
            client.post(f"/me/signin/{signin_token(member, clock=gym.clock)}/").status_code == 302
        )
        return client

    return sign_in


def test_the_week_shows_the_class_at_its_local_time(gym, browser):
    member, _ = gym.member(home_location=gym.location)
    page = browser(member).get("/me/classes/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "Saturday, January 17, 2026" in html
    assert "6:00\u202fPM–7:00\u202fPM" in html
    assert "2 places left" in html


def test_the_week_in_swedish(gym, browser):
    member, _ = gym.member(language="sv", home_location=gym.location)
    html = browser(member).get("/me/classes/?week=2026-01-14").content.decode()
    assert "lördag 17 januari 2026" in html
    assert "18:00–19:00" in html


def test_booking_then_the_waitlist_then_cancelling(gym, browser):
    member, _ = gym.member()
    client = browser(member)
    page = client.post(f"/me/classes/{gym.session.pk}/book/", follow=True)
    assert "You are booked." in page.content.decode()
    booking = Booking.objects.get(member=member)
    assert booking.status == "booked"
    other = booking_create(session=gym.session, member=gym.member()[0], clock=gym.clock)
    late, _ = gym.member()
    page = browser(late).post(f"/me/classes/{gym.session.pk}/book/", follow=True)
    assert "The class is full, so you are on the waitlist." in page.content.decode()
    confirm = client.get(f"/me/classes/bookings/{booking.pk}/cancel/").content.decode()
    assert "You can cancel for free." in confirm
    client.post(f"/me/classes/bookings/{booking.pk}/cancel/")
    assert Booking.objects.get(pk=booking.pk).status == "cancelled"
    assert Booking.objects.get(member=late).status == "booked"
    assert other.status == "booked"


def test_a_late_cancellation_shows_the_fee_before_confirming(gym, browser):
    gym.class_type.late_cancel_fee = 5000
    gym.class_type.save()
    member, _ = gym.member()
    booking = booking_create(session=gym.session, member=member, clock=gym.clock)
    gym.clock.set(STARTS - timedelta(hours=1))
    client = browser(member)
    confirm = client.get(f"/me/classes/bookings/{booking.pk}/cancel/").content.decode()
    assert "a late-cancellation fee of SEK50.00 will be charged" in confirm
    assert Booking.objects.get(pk=booking.pk).status == "booked"
    client.post(f"/me/classes/bookings/{booking.pk}/cancel/")
    assert Booking.objects.get(pk=booking.pk).fee_invoice.total == 5000


def test_a_refusal_is_shown_in_the_member_s_language(gym, browser):
    from tests.factories import make_member

    member = make_member(gym.org, gym.clock, language="fr")
    page = browser(member).post(f"/me/classes/{gym.session.pk}/book/", follow=True)
    assert "Votre abonnement ne comprend pas ce cours" in page.content.decode()
    assert not Booking.objects.exists()


def test_another_member_s_booking_is_not_found(gym, browser):
    owner, _ = gym.member()
    booking = booking_create(session=gym.session, member=owner, clock=gym.clock)
    stranger, _ = gym.member()
    client = browser(stranger)
    assert client.get(f"/me/classes/bookings/{booking.pk}/cancel/").status_code == 404
    assert client.post(f"/me/classes/bookings/{booking.pk}/cancel/").status_code == 404
    assert Booking.objects.get(pk=booking.pk).status == "booked"


def test_my_bookings_and_the_feed_link(gym, browser):
    member, _ = gym.member()
    booking_create(session=gym.session, member=member, clock=gym.clock)
    html = browser(member).get("/me/classes/bookings/").content.decode()
    assert "Spinning" in html
    token = calendar_token(member=member, clock=gym.clock)
    assert f"/me/classes/calendar/{token}.ics" in html
    feed = Client().get(f"/me/classes/calendar/{token}.ics")
    assert feed.status_code == 200
    assert feed["Content-Type"] == "text/calendar; charset=utf-8"
    [event] = Calendar.from_ical(feed.content).walk("VEVENT")
    assert str(event["SUMMARY"]) == "Spinning"
    assert Client().get(f"/me/classes/calendar/{token[:-3]}xyz.ics").status_code == 404
