"""The owner's team page: invite (with a real email and its one-time link), change a role,
remove, reset an authenticator app; the last owner stays; other gyms' people are safe."""

from __future__ import annotations

import re

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import reverse
from django_otp.plugins.otp_totp.models import TOTPDevice

from dues.staff.models import StaffChange, StaffRole
from tests.factories import make_org
from tests.staff.conftest import client_for, make_staff

User = get_user_model()
NEW_PASSWORD = "a long new password 4 the desk"


@pytest.fixture
def owner(org, staff_clock):
    return make_staff(org, "owner", staff_clock, username="olivia", device=True)


@pytest.fixture
def client(owner, org):
    return client_for(owner, org)


def link_in(message) -> str:
    body = message.get_body(("plain",)).get_content()
    return re.search(r"http://\S+/staff/password/\S+/", body).group(0)


def invite(client, **data):
    form = {"email": "Kim@Example.com", "first_name": "Kim", "last_name": "Berg", "role": "manager"}
    return client.post(reverse("staff-team"), form | data)


def test_invite_sends_a_one_time_link_that_sets_the_password(org, client, owner, smtp):
    response = invite(client)
    assert response.status_code == 302
    kim = User.objects.get(email="kim@example.com")
    assert kim.username == "kim@example.com"
    assert not kim.has_usable_password()
    assert StaffRole.objects.get(user=kim, organization=org).role == "manager"
    [change] = StaffChange.objects.filter(action="staff_manage")
    assert (change.user, change.summary) == (owner, "kim@example.com added as Manager")
    assert change.after["role"] == "manager"
    assert change.after["new_account"] is True
    [mail] = smtp.to("kim@example.com")
    assert mail["Subject"] == f"You are on the team at {org.name}"
    body = mail.get_body(("plain",)).get_content()
    assert "authenticator app" in body  # managers must set one up
    path = link_in(mail).removeprefix("http://127.0.0.1:8000")

    visitor = Client()
    page = visitor.get(path, follow=True)
    assert b"Choose your password" in page.content
    assert page.context["validlink"]
    done = visitor.post(
        page.redirect_chain[-1][0],
        {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
    )
    assert done.status_code == 302
    assert done["Location"] == reverse("staff-password-done")
    kim.refresh_from_db()
    assert kim.check_password(NEW_PASSWORD)
    again = Client().get(path, follow=True)
    assert again.context["validlink"] is False  # used once, never again


def test_bad_or_repeated_invites_are_refused_on_the_field(org, client, smtp):
    assert invite(client, email="not-an-address").status_code == 200
    assert invite(client).status_code == 302
    response = invite(client, email="KIM@example.com", role="trainer")
    assert "kim@example.com is on the team already." in response.content.decode()
    assert StaffRole.objects.get(user__email="kim@example.com").role == "manager"
    assert len(smtp.messages) == 1


def test_someone_from_another_gym_keeps_their_account(org, client, staff_clock, smtp):
    other = make_org(staff_clock, slug="other-gym")
    sam = make_staff(other, "owner", staff_clock, username="sam")
    sam.email = "sam@example.com"
    sam.save()
    assert invite(client, email="sam@example.com", role="trainer").status_code == 302
    assert StaffRole.objects.get(user=sam, organization=org).role == "trainer"
    assert User.objects.filter(email="sam@example.com").count() == 1
    assert smtp.messages == []  # they have a password already
    row = StaffRole.objects.get(user=sam, organization=org)
    page = client.get(reverse("staff-team-member", args=[row.pk])).content.decode()
    assert "also works for another gym" in page
    TOTPDevice.objects.create(user=sam, name="phone", confirmed=True)
    response = client.post(reverse("staff-team-member", args=[row.pk]), {"do": "two_factor"})
    assert "not this gym&#x27;s to reset" in response.content.decode()
    assert TOTPDevice.objects.filter(user=sam).count() == 1


def test_role_change_and_the_last_owner_stays(org, client, owner, staff_clock):
    desk = make_staff(org, "front_desk", staff_clock, username="dana")
    row = StaffRole.objects.get(user=desk)
    url = reverse("staff-team-member", args=[row.pk])
    assert client.post(url, {"do": "role", "role": "trainer"}).status_code == 302
    row.refresh_from_db()
    assert row.role == "trainer"
    change = StaffChange.objects.get(target=f"staff.staffrole:{row.pk}")
    assert (change.before, change.after) == ({"role": "front_desk"}, {"role": "trainer"})

    mine = StaffRole.objects.get(user=owner)
    mine_url = reverse("staff-team-member", args=[mine.pk])
    response = client.post(mine_url, {"do": "role", "role": "manager"})
    assert "A gym needs an owner" in response.content.decode()
    response = client.post(mine_url, {"do": "remove"})
    assert "A gym needs an owner" in response.content.decode()
    mine.refresh_from_db()
    assert mine.role == "owner"
    assert StaffChange.objects.count() == 1  # the refusals left no trace of a change


def test_remove_and_reset_the_authenticator(org, client, staff_clock):
    maria = make_staff(org, "manager", staff_clock, username="maria", device=True)
    row = StaffRole.objects.get(user=maria)
    url = reverse("staff-team-member", args=[row.pk])
    assert client.post(url, {"do": "two_factor"}).status_code == 302
    assert not TOTPDevice.objects.filter(user=maria).exists()
    assert client.post(url, {"do": "remove"})["Location"] == reverse("staff-team")
    assert not StaffRole.objects.filter(pk=row.pk).exists()
    assert User.objects.filter(pk=maria.pk).exists()  # the account and its history stay
    summaries = list(StaffChange.objects.order_by("id").values_list("summary", flat=True))
    assert summaries == ["maria: authenticator app reset", "maria removed"]
    # Signing in again asks the manager to set up a new app (if they were still staff).
    assert client.get(url).status_code == 404


@pytest.mark.parametrize("role", ["manager", "front_desk", "trainer"])
def test_only_the_owner_manages_the_team(org, staff_clock, role, owner):
    user = make_staff(org, role, staff_clock, device=True)
    other = client_for(user, org)
    assert other.get(reverse("staff-team")).status_code == 403
    row = StaffRole.objects.get(user=owner)
    before = StaffRole.objects.count()
    response = other.post(reverse("staff-team-member", args=[row.pk]), {"do": "remove"})
    assert response.status_code == 403
    assert StaffRole.objects.count() == before


def test_another_gyms_staff_are_not_found(client, staff_clock):
    other = make_org(staff_clock, slug="elsewhere")
    stranger = make_staff(other, "owner", staff_clock)
    row = StaffRole.objects.get(user=stranger)
    assert client.get(reverse("staff-team-member", args=[row.pk])).status_code == 404
    assert (
        client.post(reverse("staff-team-member", args=[row.pk]), {"do": "remove"}).status_code
        == 404
    )


def test_forgot_password_mails_staff_only_and_says_the_same_to_everyone(org, staff_clock, smtp):
    dana = make_staff(org, "front_desk", staff_clock, username="dana")
    dana.email = "dana@example.com"
    dana.save()
    User.objects.create_user(username="visitor", email="visitor@example.com", password="x" * 12)
    pages = []
    for address in ("dana@example.com", "visitor@example.com", "nobody@example.com"):
        response = Client().post(reverse("staff-password-forgot"), {"email": address})
        pages.append(response["Location"])
    assert set(pages) == {reverse("staff-password-sent")}
    [mail] = smtp.messages
    assert mail["To"] == "dana@example.com"
    assert "/staff/password/" in link_in(mail)


def test_staff_pages_show_times_in_the_gyms_zone(client, owner, location):
    owner.last_login = owner.date_joined.replace(year=2026, month=7, day=1, hour=10, minute=0)
    owner.save()
    page = client.get(reverse("staff-team")).content.decode()
    assert "2026-07-01 12:00" in page  # 10:00 UTC is 12:00 summer time in Stockholm
