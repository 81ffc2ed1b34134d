"""Staff record a member's marketing consent (given at the desk or on paper) in the admin:
a new row in the history, named after the staff member; rows are never edited there."""

from __future__ import annotations

import pytest
from django.urls import reverse

from dues.members.models import ConsentChange
from dues.members.selectors import consent_current
from tests.factories import make_member

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def test_staff_record_consent_as_a_new_row(admin_client, admin_user, org, clock):
    member = make_member(org, clock)
    add = reverse("admin:members_consentchange_add")
    assert admin_client.get(add).status_code == 200
    form = {"member": member.pk, "channel": "sms", "granted": "on", "wording_version": "paper-1"}
    assert admin_client.post(add, form).status_code == 302
    row = ConsentChange.objects.get()
    assert (row.member, row.channel, row.granted, row.source, row.changed_by) == (
        member,
        "sms",
        True,
        "staff",
        admin_user.get_username(),
    )
    assert row.organization_id == org.pk
    assert consent_current(member) == {"email": False, "sms": True}
    # The same answer again is refused, not recorded twice.
    again = admin_client.post(add, form)
    assert again.status_code == 200
    assert "already the member" in again.content.decode()
    assert ConsentChange.objects.count() == 1
    # A history row is view-only.
    change = reverse("admin:members_consentchange_change", args=[row.pk])
    admin_client.post(change, form | {"granted": ""})
    assert (
        admin_client.post(
            reverse("admin:members_consentchange_delete", args=[row.pk]), {"post": "yes"}
        ).status_code
        == 403
    )
    row.refresh_from_db()
    assert row.granted is True
    # The member's page lists the history.
    page = admin_client.get(reverse("admin:members_member_change", args=[member.pk]))
    assert "marketing consent history" in page.content.decode().lower()
