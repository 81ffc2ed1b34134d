"""The door API on the system clock: device keys, scans, the signed allow-list and its
polling."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from django.core.management import call_command
from rest_framework.test import APIClient

from dues.access import allowlist
from dues.access.allowlist import allowlist_salt, credential_hash
from dues.access.models import AccessDecision, AccessDevice, CredentialKind
from dues.access.qr import qr_payload
from dues.access.services import credential_issue, device_create, device_deactivate, qr_secret
from dues.access.signing import public_key, verify
from dues.api.services import api_key_create
from dues.billing.models import RestrictionKind
from dues.billing.restrictions import restriction_place, restrictions_lift
from dues.billing.services import subscription_create
from dues.core.clock import SimulatedClock, SystemClock, local_date
from tests.factories import add_card, make_location, make_member, make_org, make_plan

SCAN = "/api/v1/access/scan"
ALLOWLIST = "/api/v1/access/allowlist"


@pytest.fixture
def now_clock():
    """The API runs on the system clock, so the data is made at the real time too."""
    return SimulatedClock(datetime.now(UTC))


def join(org, location, clock, **plan_kw):
    """A member with a card on a new plan starting today (the system clock's today)."""
    member = make_member(org, clock)
    add_card(member, clock)
    sub = subscription_create(
        member=member,
        plan=make_plan(org, **plan_kw),
        location=location,
        start_date=local_date(clock.now(), location.timezone),
        clock=clock,
    )
    return member, sub


@pytest.fixture
def door(org, location, now_clock):
    device, key = device_create(location=location, name="Front door", clock=now_clock)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Device {key}")
    return device, client


@pytest.fixture
def holder(org, location, now_clock):
    member, sub = join(org, location, now_clock)
    credential_issue(member=member, kind=CredentialKind.RFID, value="04A1B2C3", clock=now_clock)
    return member, sub


@pytest.fixture(autouse=True)
def _fresh_allowlists():
    allowlist._built.clear()
    yield
    allowlist._built.clear()


def test_scan_allows_and_logs_with_the_device(door, holder):
    device, client = door
    member, sub = holder
    response = client.post(SCAN, {"value": "04A1B2C3", "kind": "rfid"}, format="json")
    assert response.status_code == 200
    body = response.json()
    row = AccessDecision.objects.get()
    assert body == {
        "allowed": True,
        "reason": "membership",
        "message": "Welcome! Your membership is active.",
        "member": {"id": member.pk, "first_name": member.first_name},
        "entries_left": None,
        "decision_id": row.pk,
        "at": row.at.isoformat(),
    }
    assert (row.device_id, row.location_id, row.subscription_id) == (
        device.pk,
        device.location_id,
        sub.pk,
    )


def test_scan_refusal_is_an_answer_in_the_doors_language(door, holder, location):
    location.locale = "sv"
    location.save(update_fields=["locale"])
    _, client = door
    response = client.post(SCAN, {"value": "UNKNOWN-9"}, format="json")
    assert response.status_code == 200
    assert response.json()["allowed"] is False
    assert response.json()["reason"] == "unknown_credential"
    assert response.json()["message"] == "Kortet eller koden känns inte igen här."


def test_scan_with_a_qr_payload(door, org, location, now_clock):
    member, _ = join(org, location, now_clock)
    credential = credential_issue(member=member, kind=CredentialKind.QR, clock=now_clock)
    shown = qr_payload(credential.value, qr_secret(credential), SystemClock().now())
    _, client = door
    response = client.post(SCAN, {"value": shown}, format="json")
    assert (response.json()["allowed"], response.json()["reason"]) == (True, "membership")


def test_bad_scan_input_names_the_field(door):
    _, client = door
    response = client.post(SCAN, {"kind": "nfc"}, format="json")
    assert response.status_code == 400
    assert set(response.json()["error"]["fields"]) == {"value", "kind"}


def test_device_keys(door, org, now_clock):
    device, _ = door
    anonymous = APIClient()
    assert anonymous.post(SCAN, {"value": "x"}, format="json").status_code == 401
    forged = APIClient()
    forged.credentials(HTTP_AUTHORIZATION=f"Device {device.prefix}.not-the-secret")
    assert forged.post(SCAN, {"value": "x"}, format="json").status_code == 401
    # an organization's API key does not open doors
    _, api_key = api_key_create(organization=org, name="int", clock=now_clock)
    integrator = APIClient()
    integrator.credentials(HTTP_AUTHORIZATION=f"Bearer {api_key}")
    assert integrator.post(SCAN, {"value": "x"}, format="json").status_code == 401
    device_deactivate(device=device)
    _, client = door
    assert client.post(SCAN, {"value": "x"}, format="json").status_code == 401
    assert AccessDecision.objects.count() == 0


def test_the_device_is_noted_as_seen_once_a_minute(door):
    device, client = door
    assert device.last_seen_at is None
    client.post(SCAN, {"value": "x"}, format="json")
    device.refresh_from_db()
    first = device.last_seen_at
    assert first is not None
    client.post(SCAN, {"value": "y"}, format="json")
    device.refresh_from_db()
    assert device.last_seen_at == first  # not a write on every scan
    AccessDevice.objects.filter(pk=device.pk).update(last_seen_at=first - timedelta(seconds=61))
    client.post(SCAN, {"value": "z"}, format="json")
    device.refresh_from_db()
    assert device.last_seen_at > first


def test_a_door_of_another_organization_does_not_know_our_members(holder, now_clock):
    rival = make_org(now_clock)
    _, key = device_create(location=make_location(rival), name="Rival door", clock=now_clock)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Device {key}")
    body = client.post(SCAN, {"value": "04A1B2C3"}, format="json").json()
    assert (body["allowed"], body["reason"], body["member"]) == (False, "unknown_credential", None)


def _entries(body):
    return json.loads(body["payload"])["entries"]


def test_allowlist_is_signed_hashed_and_expires(door, holder, location):
    member, _ = holder
    _, client = door
    response = client.get(ALLOWLIST)
    assert response.status_code == 200
    body = response.json()
    assert body["public_key"] == public_key()
    assert verify(body["payload"].encode(), body["signature"], body["public_key"])
    assert not verify((body["payload"] + " ").encode(), body["signature"], body["public_key"])
    payload = json.loads(body["payload"])
    assert payload["location"] == location.pk
    assert payload["poll_seconds"] == 5
    assert "04A1B2C3" not in body["payload"]
    assert payload["entries"] == [
        {
            "h": credential_hash(allowlist_salt(location), "rfid", "04A1B2C3"),
            "k": "rfid",
            "m": member.pk,
            "hours": None,
        }
    ]
    expires = datetime.fromisoformat(payload["expires_at"])
    now = datetime.now(UTC)
    assert timedelta(hours=23) < expires - now <= timedelta(hours=24)
    assert response["ETag"] == f'"{body["etag"]}"'


def test_allowlist_carries_hours_and_qr_secrets(door, org, location, now_clock):
    hours = [[0, 360, 1320], [5, 480, 960]]
    member, _ = join(org, location, now_clock, access_hours=hours)
    qr = credential_issue(member=member, kind=CredentialKind.QR, clock=now_clock)
    _, client = door
    (entry,) = _entries(client.get(ALLOWLIST).json())
    assert entry == {
        "h": credential_hash(allowlist_salt(location), "qr", qr.value),
        "k": "qr",
        "m": member.pk,
        "hours": hours,
        "s": qr_secret(qr).hex(),
    }


def test_unchanged_allowlist_is_a_304(door, holder):
    _, client = door
    first = client.get(ALLOWLIST)
    again = client.get(ALLOWLIST, HTTP_IF_NONE_MATCH=first["ETag"])
    assert again.status_code == 304
    assert again.content == b""
    assert client.get(ALLOWLIST, HTTP_IF_NONE_MATCH='"stale"').status_code == 200


def test_a_suspension_and_a_reinstatement_reach_the_next_poll(door, holder, now_clock):
    """Restriction placed at t: the next poll (every 5 s) no longer lists the member;
    lifted: the next poll lists them again."""
    _, client = door
    member, sub = holder
    first = client.get(ALLOWLIST)
    assert [e["m"] for e in _entries(first.json())] == [member.pk]
    restriction_place(
        subscription=sub,
        kind=RestrictionKind.ACCESS,
        source="dunning",
        source_id=1,
        reason="unpaid",
        clock=SystemClock(),
    )
    suspended = client.get(ALLOWLIST, HTTP_IF_NONE_MATCH=first["ETag"])
    assert suspended.status_code == 200
    assert _entries(suspended.json()) == []
    restrictions_lift(source="dunning", source_ids=[1], clock=SystemClock(), reason="paid")
    back = client.get(ALLOWLIST, HTTP_IF_NONE_MATCH=suspended["ETag"])
    assert back.status_code == 200
    assert [e["m"] for e in _entries(back.json())] == [member.pk]
    assert back["ETag"] == first["ETag"]


def test_device_add_command_prints_the_key_once(location, capsys):
    call_command("access_device_add", "--location", str(location.pk), "--name", "Turnstile 1")
    out = capsys.readouterr().out
    key = out.split("key (shown once): ")[1].split()[0]
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Device {key}")
    assert client.post(SCAN, {"value": "x"}, format="json").status_code == 200
    assert f"allow-list public key: {public_key()}" in out


def test_access_endpoints_are_in_the_openapi_schema(client):
    schema = client.get("/api/schema/?format=json").json()
    assert set(schema["paths"]["/api/v1/access/scan"]) == {"post"}
    assert set(schema["paths"]["/api/v1/access/allowlist"]) == {"get"}
    assert schema["components"]["securitySchemes"]["DeviceKeyAuth"]["name"] == "Authorization"
    allowlist_op = schema["paths"]["/api/v1/access/allowlist"]["get"]
    assert "within 15 s" in allowlist_op["description"]
    assert set(allowlist_op["responses"]) == {"200", "304"}
