"""Signing in: the password (throttled), the TOTP code (real codes, computed from the
device's key), setting a device up, and the organization to work for."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django_otp.plugins.otp_totp.models import TOTPDevice

from dues.staff.roles import Role
from dues.staff.services import staff_role_grant
from tests.factories import make_org
from tests.staff.conftest import PASSWORD, code_for, make_staff

pytestmark = pytest.mark.django_db

SEARCH = "/staff/members/"


def login(client: Client, username: str, password: str = PASSWORD, **extra):
    return client.post(
        reverse("staff-login"), {"username": username, "password": password}, **extra
    )


def test_front_desk_signs_in_with_a_password_alone(org, staff_clock):
    make_staff(org, Role.FRONT_DESK, staff_clock, username="desk")
    client = Client()
    assert client.get(SEARCH).status_code == 302
    response = login(client, "desk")
    assert response.status_code == 302
    # One organization: chosen for them, and on to the staff home.
    response = client.get(response["Location"], follow=True)
    assert response.status_code == 200
    assert "Find a member" in response.content.decode()


def test_wrong_password_is_refused_and_five_lock_the_name_at_that_address(org, staff_clock):
    make_staff(org, Role.FRONT_DESK, staff_clock, username="desk")
    client = Client()
    for _ in range(4):
        response = login(client, "desk", "wrong")
        assert response.status_code == 200
        assert "The user name or the password is wrong." in response.content.decode()
    fifth = login(client, "desk", "wrong")
    assert fifth.status_code == 429
    assert "Too many failed sign-ins" in fifth.content.decode()
    assert "locked for 15 minutes" in fifth.content.decode()
    # Now even the right password is refused from here ...
    right = login(client, "desk")
    assert right.status_code == 429
    assert client.get(SEARCH).status_code == 302
    # ... but the same name from another address is not locked.
    elsewhere = login(Client(), "desk", REMOTE_ADDR="10.0.0.9")
    assert elsewhere.status_code == 302


def test_a_user_without_a_staff_role_is_not_let_in(org, staff_clock):
    from tests.staff.conftest import make_user

    make_user("visitor")
    response = login(Client(), "visitor")
    assert response.status_code == 200
    assert "not on the staff of any gym" in response.content.decode()


def test_a_manager_must_set_up_a_device_before_anything_else(org, staff_clock):
    user = make_staff(org, Role.MANAGER, staff_clock, username="boss")
    client = Client()
    response = login(client, "boss")
    assert response["Location"] == reverse("staff-login-setup")
    # The password alone opens nothing.
    assert client.get(SEARCH)["Location"].startswith(reverse("staff-login"))
    page = client.get(reverse("staff-login-setup"))
    html = page.content.decode()
    assert "<svg" in html
    device = TOTPDevice.objects.get(user=user)
    assert not device.confirmed
    assert "otpauth://totp/" in device.config_url
    secret = re.search(r'<code class="secret">([A-Z2-7 ]+)</code>', html)
    assert secret is not None
    from base64 import b32encode

    assert secret.group(1).replace(" ", "") == b32encode(device.bin_key).decode()
    wrong = client.post(reverse("staff-login-setup"), {"code": "000000"})
    assert "That code is wrong or has expired." in wrong.content.decode()
    device.refresh_from_db()
    assert not device.confirmed
    device.throttle_reset()  # django-otp makes a second try wait a second after a miss
    done = client.post(reverse("staff-login-setup"), {"code": code_for(device)})
    assert done.status_code == 302
    device.refresh_from_db()
    assert device.confirmed
    assert client.get(done["Location"], follow=True).status_code == 200
    assert client.get(SEARCH).status_code == 200


def test_a_manager_with_a_device_gives_the_code_after_the_password(org, staff_clock):
    user = make_staff(org, Role.MANAGER, staff_clock, username="boss", device=True)
    device = TOTPDevice.objects.get(user=user)
    client = Client()
    response = login(client, "boss")
    assert response["Location"] == reverse("staff-login-code")
    assert client.get(SEARCH).status_code == 302
    wrong = client.post(reverse("staff-login-code"), {"code": code_for(device, ahead=20)})
    assert wrong.status_code == 200
    assert "That code is wrong or has expired." in wrong.content.decode()
    # Straight after a miss django-otp makes the user wait, even with the right code.
    throttled = client.post(reverse("staff-login-code"), {"code": code_for(device)})
    assert "Too many wrong codes" in throttled.content.decode()
    device.throttle_reset()
    ok = client.post(reverse("staff-login-code"), {"code": code_for(device)})
    assert ok.status_code == 302
    # Their one organization is chosen for them on the way.
    assert "Find a member" in client.get(SEARCH, follow=True).content.decode()
    # A code once used does not sign in again.
    again = Client()
    login(again, "boss")
    reused = again.post(reverse("staff-login-code"), {"code": code_for(device)})
    assert reused.status_code == 200


def test_a_session_without_the_second_factor_is_sent_for_the_code(org, staff_clock):
    user = make_staff(org, Role.OWNER, staff_clock, username="owner", device=True)
    client = Client()
    # Signed in by password elsewhere (the admin's own sign-in, say).
    client.force_login(user, backend="django.contrib.auth.backends.ModelBackend")
    response = client.get(SEARCH)
    assert response["Location"] == reverse("staff-login-code")
    device = TOTPDevice.objects.get(user=user)
    client.post(reverse("staff-login-code"), {"code": code_for(device)})
    assert "Find a member" in client.get(SEARCH, follow=True).content.decode()


def test_a_pending_password_expires(org, staff_clock):
    make_staff(org, Role.MANAGER, staff_clock, username="boss", device=True)
    client = Client()
    login(client, "boss")
    assert client.get(reverse("staff-login-code")).status_code == 200
    staff_clock.advance(timedelta(minutes=11))
    assert client.get(reverse("staff-login-code"))["Location"] == reverse("staff-login")


def test_front_desk_may_add_a_device_and_is_then_asked_for_it(org, staff_clock):
    user = make_staff(org, Role.FRONT_DESK, staff_clock, username="desk")
    client = Client()
    login(client, "desk")
    assert client.get(reverse("staff-login-setup")).status_code == 200
    device = TOTPDevice.objects.get(user=user)
    client.post(reverse("staff-login-setup"), {"code": code_for(device)})
    device.refresh_from_db()
    assert device.confirmed
    fresh = Client()
    assert login(fresh, "desk")["Location"] == reverse("staff-login-code")


def test_staff_of_two_gyms_choose_one(org, staff_clock):
    user = make_staff(org, Role.FRONT_DESK, staff_clock, username="both")
    other = make_org(staff_clock)
    staff_role_grant(user=user, organization=other, role=Role.TRAINER, clock=staff_clock)
    client = Client()
    to = login(client, "both")["Location"]
    page = client.get(to, follow=True)
    assert "Which gym are you working for?" in page.content.decode()
    chosen = client.post(reverse("staff-organization"), {"organization": other.pk}, follow=True)
    html = chosen.content.decode()
    assert other.name in html
    assert "Trainer" in html


def test_sign_out(org, staff_clock):
    make_staff(org, Role.FRONT_DESK, staff_clock, username="desk")
    client = Client()
    login(client, "desk")
    client.get(reverse("staff-organization"))
    assert client.get(SEARCH).status_code == 200
    client.post(reverse("staff-logout"))
    assert client.get(SEARCH).status_code == 302
