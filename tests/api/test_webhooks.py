"""Webhook endpoints and deliveries through the API: the secret is shown on create and
rotation only, bad endpoints name the field, replay queues a delivery again, and another
gym sees none of it."""

from __future__ import annotations

import pytest

from dues.ops.jobs import deliver
from dues.webhooks.models import DeliveryStatus, WebhookDelivery, WebhookEndpoint
from tests.api.conftest import authed_client
from tests.factories import make_member

pytestmark = pytest.mark.django_db

URL = "http://127.0.0.1:9/hooks"  # nobody listens: every attempt fails


def test_endpoints_and_the_delivery_log(api, org, clock, other_org):
    created = api.post(
        "/api/v1/webhook-endpoints/",
        {"url": URL, "event_types": ["member.created"], "description": "Accounting"},
        format="json",
    )
    assert created.status_code == 201, created.json()
    body = created.json()
    assert body["secret"].startswith("whsec_")
    assert body["secret"] == WebhookEndpoint.objects.get().secret
    pk = body["id"]
    listed = api.get("/api/v1/webhook-endpoints/").json()["results"]
    assert "secret" not in listed[0]

    rotated = api.post(f"/api/v1/webhook-endpoints/{pk}/rotate-secret/").json()
    assert rotated["secret"] != body["secret"]
    changed = api.patch(f"/api/v1/webhook-endpoints/{pk}/", {"event_types": ["*"]}, format="json")
    assert changed.json()["event_types"] == ["*"]

    make_member(org, clock)
    deliver(clock=clock)
    (delivery,) = api.get("/api/v1/webhook-deliveries/").json()["results"]
    assert delivery["event_type"] == "member.created"
    assert delivery["status"] == "pending"
    assert delivery["log"][0]["error"].startswith("ConnectError")

    WebhookDelivery.objects.filter(pk=delivery["id"]).update(status=DeliveryStatus.FAILED)
    replayed = api.post(f"/api/v1/webhook-deliveries/{delivery['id']}/replay/").json()
    assert replayed["status"] == "pending"
    assert replayed["next_attempt_at"] is not None

    rival = authed_client(other_org, clock)
    assert rival.get("/api/v1/webhook-deliveries/").json()["results"] == []
    assert rival.get(f"/api/v1/webhook-endpoints/{pk}/").status_code == 404
    assert rival.post(f"/api/v1/webhook-deliveries/{delivery['id']}/replay/").status_code == 404


@pytest.mark.parametrize(
    ("body", "field", "message"),
    [
        ({"url": "http://example.com/x", "event_types": ["*"]}, "url", "must use https"),
        ({"url": URL, "event_types": ["member.gone"]}, "event_types", "member.gone"),
        ({"url": URL, "event_types": []}, "event_types", "at least one"),
    ],
)
def test_bad_endpoints_name_the_field(api, body, field, message):
    resp = api.post("/api/v1/webhook-endpoints/", body, format="json")
    assert resp.status_code == 400
    assert message in str(resp.json()["error"]["fields"][field])
    assert not WebhookEndpoint.objects.exists()
