from __future__ import annotations

from datetime import timedelta

import pytest

from dues.billing.models import CreditNote, Freeze, Invoice, Subscription
from dues.core.models import OutboxEvent
from dues.members.models import Member
from dues.payments.models import Payment, Refund
from tests.api.conftest import counts
from tests.factories import make_member, make_plan

pytestmark = pytest.mark.django_db

BILLING_TABLES = (Subscription, Invoice, Freeze, CreditNote, Payment, Refund, OutboxEvent)


@pytest.fixture
def plan(org, location):
    return make_plan(org, price=49900, joining_fee=0)


@pytest.fixture
def member(org, clock):
    return make_member(org, clock)


def subscribe(api, member, plan, location, start):
    resp = api.post(
        "/api/v1/subscriptions/",
        {
            "member": member.pk,
            "plan": plan.pk,
            "location": location.pk,
            "start_date": start.isoformat(),
        },
        format="json",
    )
    assert resp.status_code == 201, resp.json()
    return resp.json()


def test_subscription_create_issues_first_invoice(api, member, plan, location, today):
    body = subscribe(api, member, plan, location, today)
    sub = Subscription.objects.get()
    assert body["id"] == sub.pk
    assert (body["member"], body["payer"], body["plan"], body["location"]) == (
        member.pk,
        member.pk,
        plan.pk,
        location.pk,
    )
    assert body["start_date"] == today.isoformat()
    assert body["price"] == 49900
    assert body["currency"] == "SEK"
    assert body["freezes"] == []
    invoice = Invoice.objects.get(payer=member)
    assert (invoice.status, invoice.total, invoice.amount_due) == ("open", 49900, 49900)
    member.refresh_from_db()
    assert member.status == "active"

    assert api.get(f"/api/v1/subscriptions/{sub.pk}/").json() == body
    assert [s["id"] for s in api.get("/api/v1/subscriptions/").json()["results"]] == [sub.pk]
    inv = api.get(f"/api/v1/invoices/{invoice.pk}/").json()
    assert inv["number"] == invoice.number
    assert inv["total"] == 49900
    assert [(line["kind"], line["total_amount"]) for line in inv["lines"]] == [("plan", 49900)]


@pytest.mark.parametrize(
    ("change", "field", "problem"),
    [
        ({"start_date": "2026-02-30"}, "start_date", None),
        ({"plan": 999999}, "plan", "unknown plan"),
        ({"member": 999999}, "member", "unknown member"),
        ({"location": "abc"}, "location", "location must be an integer id"),
        ({"plan": True}, "plan", "plan must be an integer id"),
    ],
)
def test_subscription_bad_input(api, member, plan, location, today, change, field, problem):
    before = counts(*BILLING_TABLES)
    payload = {
        "member": member.pk,
        "plan": plan.pk,
        "location": location.pk,
        "start_date": today.isoformat(),
        **change,
    }
    resp = api.post("/api/v1/subscriptions/", payload, format="json")
    assert resp.status_code == 400
    error = resp.json()["error"]
    assert list(error["fields"]) == [field]
    assert error["message"].startswith(f"{field}: ")
    if problem is not None:
        assert error["fields"][field] == [problem]
    assert counts(*BILLING_TABLES) == before


def test_subscription_with_another_orgs_plan(api, member, location, today, other_org):
    theirs = make_plan(other_org)
    before = counts(*BILLING_TABLES)
    resp = api.post(
        "/api/v1/subscriptions/",
        {
            "member": member.pk,
            "plan": theirs.pk,
            "location": location.pk,
            "start_date": today.isoformat(),
        },
        format="json",
    )
    assert resp.status_code == 400
    assert resp.json() == {
        "error": {
            "code": "invalid",
            "message": "plan: unknown plan",
            "fields": {"plan": ["unknown plan"]},
        }
    }
    assert other_org.name not in resp.content.decode()
    assert counts(*BILLING_TABLES) == before


def test_freeze_and_unfreeze(api, member, plan, location, today):
    sub_id = subscribe(api, member, plan, location, today)["id"]
    start, end = today + timedelta(days=7), today + timedelta(days=37)
    resp = api.post(
        f"/api/v1/subscriptions/{sub_id}/freeze/",
        {"start_date": start.isoformat(), "end_date": end.isoformat(), "reason": "travel"},
        format="json",
    )
    assert resp.status_code == 200, resp.json()
    freeze = Freeze.objects.get()
    assert resp.json()["freezes"] == [
        {
            "id": freeze.pk,
            "start_date": start.isoformat(),
            "end_date": end.isoformat(),
            "fee": 0,
            "status": "scheduled",
            "reason": "travel",
            "created_at": resp.json()["freezes"][0]["created_at"],
        }
    ]
    resp = api.post(f"/api/v1/subscriptions/{sub_id}/unfreeze/", format="json")
    assert resp.status_code == 200
    assert [f["status"] for f in resp.json()["freezes"]] == ["cancelled"]
    resp = api.post(f"/api/v1/subscriptions/{sub_id}/unfreeze/", format="json")
    assert resp.status_code == 400
    assert resp.json()["error"]["fields"] == {"status": ["this membership has no freeze to end"]}


def test_freeze_bad_dates(api, member, plan, location, today):
    sub_id = subscribe(api, member, plan, location, today)["id"]
    before = counts(*BILLING_TABLES)
    resp = api.post(
        f"/api/v1/subscriptions/{sub_id}/freeze/",
        {"start_date": "2027-02-29", "end_date": "2027-03-10"},
        format="json",
    )
    assert resp.status_code == 400
    assert list(resp.json()["error"]["fields"]) == ["start_date"]
    resp = api.post(
        f"/api/v1/subscriptions/{sub_id}/freeze/",
        {
            "start_date": (today - timedelta(days=3)).isoformat(),
            "end_date": (today + timedelta(days=3)).isoformat(),
        },
        format="json",
    )
    assert resp.status_code == 400
    assert resp.json()["error"]["fields"] == {"start_date": ["a freeze cannot start in the past"]}
    assert counts(*BILLING_TABLES) == before


def test_cancel_at_period_end_then_immediately(api, member, plan, location, today):
    sub_id = subscribe(api, member, plan, location, today)["id"]
    resp = api.post(f"/api/v1/subscriptions/{sub_id}/cancel/", {"reason": "moving"}, format="json")
    assert resp.status_code == 200
    sub = Subscription.objects.get()
    assert resp.json()["cancel_at"] == sub.cancel_at.isoformat()
    assert resp.json()["cancel_reason"] == "moving"
    assert resp.json()["status"] == sub.status != "cancelled"
    resp = api.post(
        f"/api/v1/subscriptions/{sub_id}/cancel/",
        {"immediately": True, "refund_unused": True, "reason": "injury"},
        format="json",
    )
    assert resp.status_code == 200, resp.json()
    assert resp.json()["status"] == "cancelled"
    assert resp.json()["cancel_at"] == today.isoformat()
    resp = api.post(f"/api/v1/subscriptions/{sub_id}/cancel/", {}, format="json")
    assert resp.status_code == 400
    assert resp.json()["error"]["fields"] == {"status": ["this membership is already cancelled"]}


def test_change_plan_at_period_end(api, org, member, plan, location, today):
    sub_id = subscribe(api, member, plan, location, today)["id"]
    gold = make_plan(org, price=69900)
    resp = api.post(
        f"/api/v1/subscriptions/{sub_id}/change-plan/",
        {"plan": gold.pk, "at_period_end": True},
        format="json",
    )
    assert resp.status_code == 200, resp.json()
    assert resp.json()["pending_plan"] == gold.pk
    assert resp.json()["plan"] == plan.pk
    resp = api.post(f"/api/v1/subscriptions/{sub_id}/change-plan/", {"plan": 999999}, format="json")
    assert resp.status_code == 400
    assert resp.json()["error"]["fields"] == {"plan": ["unknown plan"]}


def test_subscription_of_another_org_is_not_found(api, other_api, member, plan, location, today):
    sub_id = subscribe(api, member, plan, location, today)["id"]
    before = counts(*BILLING_TABLES)
    for path in ("freeze", "unfreeze", "cancel", "change-plan"):
        resp = other_api.post(f"/api/v1/subscriptions/{sub_id}/{path}/", {}, format="json")
        assert resp.status_code == 404, path
        assert resp.json() == {"error": {"code": "not_found", "message": "not found"}}
    assert other_api.get(f"/api/v1/subscriptions/{sub_id}/").status_code == 404
    assert other_api.get("/api/v1/invoices/").json()["count"] == 0
    assert counts(*BILLING_TABLES) == before


@pytest.fixture
def invoice(api, member, plan, location, today):
    subscribe(api, member, plan, location, today)
    return Invoice.objects.get()


def test_pay_at_desk(api, invoice):
    resp = api.post(
        f"/api/v1/invoices/{invoice.pk}/pay/",
        {"amount": 49900, "method": "cash", "reference": "R-1"},
        format="json",
    )
    assert resp.status_code == 201, resp.json()
    payment = Payment.objects.get()
    assert resp.json() == {
        "id": payment.pk,
        "payer": invoice.payer_id,
        "invoice": invoice.pk,
        "method": "cash",
        "amount": 49900,
        "amount_refunded": 0,
        "currency": "SEK",
        "reference": "R-1",
        "received_at": resp.json()["received_at"],
    }
    invoice.refresh_from_db()
    assert (invoice.status, invoice.amount_due) == ("paid", 0)
    assert api.get(f"/api/v1/payments/{payment.pk}/").json() == resp.json()
    assert api.get("/api/v1/payments/").json()["results"] == [resp.json()]


@pytest.mark.parametrize(
    ("change", "field", "problem"),
    [
        ({"amount": -100}, "amount", "amount must not be negative"),
        ({"amount": 0}, "amount", "amount must be greater than zero"),
        ({"amount": 10**15}, "amount", None),
        ({"amount": "100"}, "amount", "amount must be an integer in the currency's minor unit"),
        ({"amount": 49901}, "amount", "at most 49900 is owed on this invoice"),
        ({"method": "card"}, "method", '"card" is not a valid choice.'),
    ],
)
def test_pay_bad_input(api, invoice, change, field, problem):
    before = counts(*BILLING_TABLES)
    resp = api.post(
        f"/api/v1/invoices/{invoice.pk}/pay/",
        {"amount": 100, "method": "cash", **change},
        format="json",
    )
    assert resp.status_code == 400
    error = resp.json()["error"]
    assert list(error["fields"]) == [field]
    if problem is not None:
        assert error["fields"][field] == [problem]
        assert error["message"] == f"{field}: {problem}"
    assert counts(*BILLING_TABLES) == before
    invoice.refresh_from_db()
    assert invoice.amount_due == 49900


def test_void_invoice(api, invoice):
    resp = api.post(f"/api/v1/invoices/{invoice.pk}/void/", {"reason": "mistake"}, format="json")
    assert resp.status_code == 200, resp.json()
    assert resp.json()["status"] == "void"
    note = CreditNote.objects.get()
    assert (note.total, note.reason) == (49900, "mistake")
    resp = api.post(f"/api/v1/invoices/{invoice.pk}/void/", {}, format="json")
    assert resp.status_code == 400
    assert resp.json()["error"]["code"] == "invalid"


def test_credit_note_create_list_retrieve(api, invoice):
    resp = api.post(
        "/api/v1/credit-notes/",
        {"invoice": invoice.pk, "amount": 10000, "reason": "goodwill"},
        format="json",
    )
    assert resp.status_code == 201, resp.json()
    note = CreditNote.objects.get()
    body = resp.json()
    assert (body["id"], body["invoice"], body["total"], body["applied_amount"]) == (
        note.pk,
        invoice.pk,
        10000,
        10000,
    )
    assert body["reason"] == "goodwill"
    assert body["subtotal"] + body["tax"] == 10000
    invoice.refresh_from_db()
    assert invoice.amount_due == 39900
    assert api.get(f"/api/v1/credit-notes/{note.pk}/").json() == body
    assert api.get("/api/v1/credit-notes/").json()["results"] == [body]


def test_credit_note_bad_input(api, invoice, other_org, clock):
    before = counts(*BILLING_TABLES)
    resp = api.post(
        "/api/v1/credit-notes/",
        {"invoice": invoice.pk, "amount": 49901, "reason": "x"},
        format="json",
    )
    assert resp.status_code == 400
    assert resp.json()["error"]["fields"] == {
        "amount": ["at most 49900 of this invoice can be credited"]
    }
    resp = api.post(
        "/api/v1/credit-notes/", {"invoice": 999999, "amount": 1, "reason": "x"}, format="json"
    )
    assert resp.status_code == 400
    assert resp.json()["error"]["fields"] == {"invoice": ["unknown invoice"]}
    assert counts(*BILLING_TABLES) == before


def test_refund(api, invoice):
    api.post(
        f"/api/v1/invoices/{invoice.pk}/pay/",
        {"amount": 49900, "method": "terminal"},
        format="json",
    )
    payment = Payment.objects.get()
    resp = api.post(
        "/api/v1/refunds/",
        {"payment": payment.pk, "amount": 10000, "reason": "overcharged"},
        format="json",
    )
    assert resp.status_code == 201, resp.json()
    refund = Refund.objects.get()
    body = resp.json()
    assert (body["id"], body["payment"], body["amount"], body["status"]) == (
        refund.pk,
        payment.pk,
        10000,
        "succeeded",
    )
    payment.refresh_from_db()
    assert payment.amount_refunded == 10000
    assert api.get("/api/v1/refunds/").json()["results"] == [body]

    before = counts(*BILLING_TABLES)
    resp = api.post(
        "/api/v1/refunds/",
        {"payment": payment.pk, "amount": 40000, "reason": "again"},
        format="json",
    )
    assert resp.status_code == 400
    assert resp.json()["error"]["fields"] == {"amount": ["at most 39900 can be refunded"]}
    assert counts(*BILLING_TABLES) == before


def test_refund_of_another_orgs_payment_is_unknown(api, other_api, invoice):
    api.post(
        f"/api/v1/invoices/{invoice.pk}/pay/", {"amount": 49900, "method": "cash"}, format="json"
    )
    payment = Payment.objects.get()
    before = counts(*BILLING_TABLES, Member)
    resp = other_api.post(
        "/api/v1/refunds/", {"payment": payment.pk, "amount": 100, "reason": "x"}, format="json"
    )
    assert resp.status_code == 400
    assert resp.json()["error"]["fields"] == {"payment": ["unknown payment"]}
    assert other_api.get(f"/api/v1/payments/{payment.pk}/").status_code == 404
    assert (
        other_api.post(
            f"/api/v1/invoices/{invoice.pk}/pay/", {"amount": 1, "method": "cash"}, format="json"
        ).status_code
        == 404
    )
    assert counts(*BILLING_TABLES, Member) == before
