from __future__ import annotations

import pytest
from django.db import connection

from dues.core.models import OutboxEvent
from dues.payments.gateways.sandbox import sandbox_tokenize
from dues.payments.models import PaymentMethod
from tests.api.conftest import counts
from tests.factories import VISA_OK, make_member

pytestmark = pytest.mark.django_db


@pytest.fixture
def payer(org, clock):
    return make_member(org, clock)


def card_payload(payer):
    tok = sandbox_tokenize(VISA_OK, 12, 2030)
    return {
        "payer": payer.pk,
        "token": str(tok["token"]),
        "brand": str(tok["brand"]),
        "last4": "4242",
        "exp_month": 12,
        "exp_year": 2030,
        "kind": "card",
    }


def all_payment_method_text() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT token, brand, last4, mandate_reference FROM payments_paymentmethod")
        return repr(cursor.fetchall())


def test_add_list_retrieve_detach(api, payer):
    resp = api.post("/api/v1/payment-methods/", card_payload(payer), format="json")
    assert resp.status_code == 201, resp.json()
    method = PaymentMethod.objects.get()
    assert resp.json() == {
        "id": method.pk,
        "payer": payer.pk,
        "kind": "card",
        "gateway": "sandbox",
        "brand": method.brand,
        "last4": "4242",
        "exp_month": 12,
        "exp_year": 2030,
        "is_default": True,
        "status": "active",
        "created_at": resp.json()["created_at"],
    }
    assert "token" not in resp.json()
    assert api.get("/api/v1/payment-methods/").json()["results"] == [resp.json()]
    resp = api.delete(f"/api/v1/payment-methods/{method.pk}/")
    assert resp.status_code == 204
    method.refresh_from_db()
    assert (method.status, method.is_default) == ("detached", False)
    assert PaymentMethod.objects.count() == 1
    assert VISA_OK not in all_payment_method_text()


@pytest.mark.parametrize("field", ["number", "card_number"])
def test_card_number_is_refused(api, payer, field):
    before = counts(PaymentMethod, OutboxEvent)
    resp = api.post(
        "/api/v1/payment-methods/", {**card_payload(payer), field: VISA_OK}, format="json"
    )
    assert resp.status_code == 400
    problem = "card numbers and codes are never accepted; send the gateway's token"
    assert resp.json() == {
        "error": {
            "code": "invalid",
            "message": f"{field}: {problem}",
            "fields": {field: [problem]},
        }
    }
    assert VISA_OK not in resp.content.decode()
    assert counts(PaymentMethod, OutboxEvent) == before


def test_card_number_as_token_is_refused(api, payer):
    before = counts(PaymentMethod)
    resp = api.post(
        "/api/v1/payment-methods/", {**card_payload(payer), "token": VISA_OK}, format="json"
    )
    assert resp.status_code == 400
    assert resp.json()["error"]["fields"] == {
        "token": ["send the gateway's token, never a card number"]
    }
    assert counts(PaymentMethod) == before
    assert VISA_OK not in all_payment_method_text()


def test_payer_of_another_org_is_unknown(api, other_org, clock):
    theirs = make_member(other_org, clock)
    resp = api.post("/api/v1/payment-methods/", card_payload(theirs), format="json")
    assert resp.status_code == 400
    assert resp.json()["error"]["fields"] == {"payer": ["unknown payer"]}
    assert PaymentMethod.objects.count() == 0


def test_detach_another_orgs_method_is_not_found(api, other_api, payer):
    api.post("/api/v1/payment-methods/", card_payload(payer), format="json")
    method = PaymentMethod.objects.get()
    assert other_api.delete(f"/api/v1/payment-methods/{method.pk}/").status_code == 404
    method.refresh_from_db()
    assert method.status == "active"
