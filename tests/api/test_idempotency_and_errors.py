from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from dues.api.models import IdempotentRequest
from dues.billing.models import Invoice
from dues.catalog.models import Plan
from dues.core.models import OutboxEvent
from dues.members.models import Member
from dues.payments.models import Payment
from tests.api.conftest import counts
from tests.api.test_billing import subscribe
from tests.factories import make_member, make_plan

pytestmark = pytest.mark.django_db

MEMBER = {"first_name": "Ada", "last_name": "Lovelace", "email": "ada@example.com"}


def test_replay_returns_same_body_and_creates_once(api):
    first = api.post("/api/v1/members/", MEMBER, format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    assert first.status_code == 201
    assert "Idempotent-Replayed" not in first
    before = counts(Member, OutboxEvent)
    second = api.post("/api/v1/members/", MEMBER, format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    assert second.status_code == 201
    assert second["Idempotent-Replayed"] == "true"
    assert second.json() == first.json()
    assert counts(Member, OutboxEvent) == before
    assert Member.objects.count() == 1
    assert IdempotentRequest.objects.count() == 1


def test_same_key_different_body_is_422(api):
    api.post("/api/v1/members/", MEMBER, format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    before = counts(Member, OutboxEvent)
    resp = api.post(
        "/api/v1/members/",
        {**MEMBER, "first_name": "Augusta"},
        format="json",
        HTTP_IDEMPOTENCY_KEY="k-1",
    )
    assert resp.status_code == 422
    assert resp.json() == {
        "error": {
            "code": "idempotency_key_reused",
            "message": "this Idempotency-Key was already used with a different request",
        }
    }
    assert counts(Member, OutboxEvent) == before


def test_keys_are_per_organization(api, other_api):
    api.post("/api/v1/members/", MEMBER, format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    resp = other_api.post("/api/v1/members/", MEMBER, format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    assert resp.status_code == 201
    assert "Idempotent-Replayed" not in resp
    assert Member.objects.count() == 2
    assert len({m.organization_id for m in Member.objects.all()}) == 2


def test_failed_request_is_not_stored(api):
    bad = api.post(
        "/api/v1/plans/",
        {"name": "G", "code": "g", "currency": "SEK", "price": -1},
        format="json",
        HTTP_IDEMPOTENCY_KEY="k-2",
    )
    assert bad.status_code == 400
    assert IdempotentRequest.objects.count() == 0
    ok = api.post(
        "/api/v1/plans/",
        {"name": "G", "code": "g", "currency": "SEK", "price": 100},
        format="json",
        HTTP_IDEMPOTENCY_KEY="k-2",
    )
    assert ok.status_code == 201
    assert Plan.objects.count() == 1


def test_desk_payment_replay_takes_money_once(api, org, location, clock, today):
    member = make_member(org, clock)
    subscribe(api, member, make_plan(org, price=49900), location, today)
    invoice = Invoice.objects.get()
    payload = {"amount": 20000, "method": "cash"}
    first = api.post(
        f"/api/v1/invoices/{invoice.pk}/pay/", payload, format="json", HTTP_IDEMPOTENCY_KEY="p-1"
    )
    second = api.post(
        f"/api/v1/invoices/{invoice.pk}/pay/", payload, format="json", HTTP_IDEMPOTENCY_KEY="p-1"
    )
    assert (first.status_code, second.status_code) == (201, 201)
    assert second.json() == first.json()
    assert Payment.objects.count() == 1
    invoice.refresh_from_db()
    assert invoice.amount_due == 29900


def test_malformed_json(api):
    before = counts(Member)
    resp = api.post("/api/v1/members/", '{"first_name": "Ada",', content_type="application/json")
    assert resp.status_code == 400
    error = resp.json()["error"]
    assert error["code"] == "malformed_request"
    assert error["message"].startswith("the request body is not valid JSON")
    assert counts(Member) == before


def test_missing_and_bad_auth_are_401(api):
    before = counts(Member)
    anonymous = APIClient()
    resp = anonymous.post("/api/v1/members/", MEMBER, format="json")
    assert resp.status_code == 401
    assert resp.json() == {
        "error": {
            "code": "not_authenticated",
            "message": "Authentication credentials were not provided.",
        }
    }
    assert resp["WWW-Authenticate"] == "Bearer"
    anonymous.credentials(HTTP_AUTHORIZATION="Bearer dk_00000000.nope")
    resp = anonymous.get("/api/v1/members/")
    assert resp.status_code == 401
    assert resp.json() == {
        "error": {"code": "authentication_failed", "message": "unknown or revoked API key"}
    }
    assert counts(Member) == before


def test_schema_and_docs(api):
    client = APIClient()
    schema = client.get("/api/schema/")
    assert schema.status_code == 200
    body = schema.content.decode()
    for path in (
        "/api/v1/members/",
        "/api/v1/subscriptions/{id}/change-plan/",
        "/api/v1/invoices/{id}/pay/",
        "/api/v1/refunds/",
        "/api/v1/payment-methods/{id}/",
        "/api/v1/members/{id}/timeline/",
        "/api/v1/dunning-policies/{id}/",
        "/api/v1/dunning-experiments/{id}/report/",
    ):
        assert path in body
    docs = client.get("/api/docs/")
    assert docs.status_code == 200


def test_schema_generates_without_warnings(tmp_path):
    from django.core.management import call_command

    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(tmp_path / "s.yml"))
