"""The front-desk check-in screen and the member's door-access page."""

from __future__ import annotations

import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from PIL import Image

from dues.access.models import AccessDecision, Credential, CredentialKind
from dues.access.services import credential_issue
from dues.billing.models import Invoice, RestrictionKind
from dues.billing.restrictions import restriction_place
from dues.notify.render import money_text
from dues.ops.jobs import bill
from dues.staff.models import StaffAction
from dues.staff.roles import Role
from dues.staff.views import checkin as checkin_views
from tests.factories import DECLINE_FUNDS, d, join
from tests.staff.conftest import client_for, make_staff


@pytest.fixture
def desk_clock(monkeypatch, clock, settings, tmp_path):
    monkeypatch.setattr(checkin_views, "CLOCK", clock)
    settings.MEDIA_ROOT = tmp_path
    return clock


@pytest.fixture
def desk(org, desk_clock):
    return client_for(make_staff(org, Role.FRONT_DESK, desk_clock, device=True), org)


def test_a_scan_at_the_desk_checks_in(org, location, desk_clock, desk):
    member, _ = join(org, location, desk_clock, member_kw={"first_name": "Anna"})
    credential_issue(member=member, kind=CredentialKind.BARCODE, value="KEY-100", clock=desk_clock)
    page = desk.post(reverse("staff-checkin"), {"q": "KEY-100"})
    assert page.status_code == 200
    html = page.content.decode()
    assert 'data-reason="membership"' in html
    assert "Checked in" in html
    assert "Welcome! Your membership is active." in html
    row = AccessDecision.objects.get()
    assert (row.allowed, row.member_id, row.location_id, row.device_id) == (
        True,
        member.pk,
        location.pk,
        None,
    )


def test_a_refusal_shows_the_reason_what_is_owed_and_the_payment_button(
    org, location, desk_clock, desk, gateway
):
    member, sub = join(org, location, desk_clock, card=DECLINE_FUNDS)
    bill(as_of=d("2026-01-15"), clock=desk_clock, gateway=gateway)
    invoice = Invoice.objects.get(payer=member)
    assert invoice.amount_due == 49900
    restriction_place(
        subscription=sub,
        kind=RestrictionKind.ACCESS,
        source="dunning",
        reason="x",
        clock=desk_clock,
    )
    credential_issue(member=member, kind=CredentialKind.RFID, value="RF-200", clock=desk_clock)
    html = desk.post(reverse("staff-checkin"), {"q": "RF-200"}).content.decode()
    assert 'data-reason="restricted"' in html
    assert "Refused" in html
    assert "Entry is paused because of an unpaid balance." in html
    assert f"<dt>Owed</dt><dd>{money_text(49900, 'SEK', 'en')}</dd>" in html
    assert reverse("staff-desk-payment", args=[member.pk, invoice.pk]) in html
    assert "Let in anyway" in html


def test_search_then_check_in_and_the_preview_logs_nothing(org, location, desk_clock, desk):
    member, _ = join(org, location, desk_clock, member_kw={"first_name": "Zelda"})
    found = desk.post(reverse("staff-checkin"), {"q": "Zelda"}).content.decode()
    assert reverse("staff-checkin-member", args=[member.pk]) in found
    preview = desk.get(reverse("staff-checkin-member", args=[member.pk])).content.decode()
    assert "May enter" in preview
    assert AccessDecision.objects.count() == 0
    done = desk.post(reverse("staff-checkin-member", args=[member.pk])).content.decode()
    assert "Checked in" in done
    assert AccessDecision.objects.get().member_id == member.pk


def test_override_is_logged_with_its_reason(org, location, desk_clock, desk):
    member, sub = join(org, location, desk_clock)
    restriction_place(
        subscription=sub,
        kind=RestrictionKind.ACCESS,
        source="dunning",
        reason="x",
        clock=desk_clock,
    )
    url = reverse("staff-checkin-member", args=[member.pk])
    assert "Let in anyway" in desk.get(url).content.decode()
    html = desk.post(url, {"override": "1", "reason": "paying at the desk now"}).content.decode()
    assert 'data-reason="override"' in html
    row = AccessDecision.objects.get()
    assert (row.allowed, row.reason_code, row.refusal_code, row.override_reason) == (
        True,
        "override",
        "restricted",
        "paying at the desk now",
    )
    audit = StaffAction.objects.get(action="access_override")
    assert audit.detail == {
        "decision_id": row.pk,
        "overrode": "restricted",
        "reason": "paying at the desk now",
        "location_id": location.pk,
    }
    # no reason: nothing is logged
    desk.post(url, {"override": "1", "reason": ""})
    assert AccessDecision.objects.count() == 1


def test_a_trainer_may_not_check_in(org, desk_clock):
    trainer = client_for(make_staff(org, Role.TRAINER, desk_clock, device=True), org)
    assert trainer.get(reverse("staff-checkin")).status_code == 403


def _png() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), (200, 30, 30)).save(buffer, format="PNG")
    return buffer.getvalue()


def test_staff_issue_and_revoke_credentials_and_upload_a_photo(org, location, desk_clock, desk):
    member, _ = join(org, location, desk_clock)
    other, _ = join(org, location, desk_clock)
    url = reverse("staff-member-access", args=[member.pk])
    assert desk.post(url, {"kind": "rfid", "value": "CARD-9"}).status_code == 302
    credential = Credential.objects.get(member=member)
    assert (credential.kind, credential.value, credential.issued_at) == (
        "rfid",
        "CARD-9",
        desk_clock.now(),
    )
    taken = desk.post(
        reverse("staff-member-access", args=[other.pk]), {"kind": "rfid", "value": "CARD-9"}
    )
    assert "this rfid is already in use by another member" in taken.content.decode()
    desk.post(url, {"kind": "qr", "value": ""})
    assert Credential.objects.filter(member=member, kind="qr", revoked_at=None).count() == 1
    desk.post(url, {"revoke": credential.pk, "reason": "lost"})
    credential.refresh_from_db()
    assert (credential.revoked_at, credential.revoke_reason) == (desk_clock.now(), "lost")
    assert StaffAction.objects.filter(member=member, action="credentials_edit").count() == 3
    upload = SimpleUploadedFile("me.png", _png(), content_type="image/png")
    assert desk.post(url, {"photo": upload}).status_code == 302
    member.refresh_from_db()
    assert member.photo.name.startswith("members/photos/")
    photo = desk.get(reverse("staff-member-photo", args=[member.pk]))
    assert photo.status_code == 200
    assert photo.content == _png()
    assert photo["Content-Type"] == "image/png"


def test_attendance_page(org, location, desk_clock):
    manager = client_for(make_staff(org, Role.MANAGER, desk_clock, device=True), org)
    page = manager.get(reverse("staff-attendance"), {"days": "7"})
    assert page.status_code == 200
    assert "Not seen for 7 days" in page.content.decode()
