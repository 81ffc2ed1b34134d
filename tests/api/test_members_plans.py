from __future__ import annotations

import pytest

from dues.catalog.models import Plan
from dues.core.models import OutboxEvent
from dues.members.models import Member
from tests.api.conftest import counts
from tests.factories import make_member, make_plan

pytestmark = pytest.mark.django_db


def test_member_create_retrieve_list(api, org, location):
    resp = api.post(
        "/api/v1/members/",
        {
            "first_name": " Ada ",
            "last_name": "Lovelace",
            "email": "ADA@example.com",
            "date_of_birth": "1990-12-10",
            "home_location": location.pk,
        },
        format="json",
    )
    assert resp.status_code == 201, resp.json()
    body = resp.json()
    member = Member.objects.get()
    assert body["id"] == member.pk
    assert body["first_name"] == "Ada"
    assert body["email"] == "ada@example.com"
    assert body["date_of_birth"] == "1990-12-10"
    assert body["home_location"] == location.pk
    assert body["status"] == "prospect"
    assert body["member_number"] == f"M{member.pk:06d}"
    assert member.organization_id == org.pk

    got = api.get(f"/api/v1/members/{member.pk}/")
    assert got.status_code == 200
    assert got.json() == body
    listing = api.get("/api/v1/members/").json()
    assert listing["count"] == 1
    assert listing["results"] == [body]


def test_member_search_by_name_and_email(api, org, clock):
    ada = make_member(org, clock, first_name="Ada", last_name="Lovelace", email="ada@x.org")
    make_member(org, clock, first_name="Alan", last_name="Turing", email="alan@y.org")
    for q in ("lovelace", "ADA@X", "ada love"):
        resp = api.get("/api/v1/members/", {"q": q})
        assert [m["id"] for m in resp.json()["results"]] == [ada.pk], q
    assert api.get("/api/v1/members/", {"q": "nobody"}).json()["count"] == 0


def test_member_update_put_and_patch(api, org, clock):
    member = make_member(org, clock, first_name="Ada", last_name="Lovelace")
    resp = api.patch(f"/api/v1/members/{member.pk}/", {"phone": "+46 70 000"}, format="json")
    assert resp.status_code == 200
    assert resp.json()["phone"] == "+46 70 000"
    assert resp.json()["first_name"] == "Ada"
    resp = api.put(
        f"/api/v1/members/{member.pk}/",
        {"first_name": "Augusta", "last_name": "King"},
        format="json",
    )
    assert resp.status_code == 200
    member.refresh_from_db()
    assert (member.first_name, member.last_name, member.phone) == ("Augusta", "King", "+46 70 000")
    resp = api.put(f"/api/v1/members/{member.pk}/", {"first_name": "X"}, format="json")
    assert resp.status_code == 400
    assert resp.json()["error"]["fields"] == {"last_name": ["This field is required."]}


def test_member_of_another_org_is_not_found(api, other_org, clock):
    theirs = make_member(other_org, clock)
    before = counts(Member, OutboxEvent)
    for resp in (
        api.get(f"/api/v1/members/{theirs.pk}/"),
        api.patch(f"/api/v1/members/{theirs.pk}/", {"first_name": "Hacked"}, format="json"),
        api.get("/api/v1/members/999999/"),
    ):
        assert resp.status_code == 404
        assert resp.json() == {"error": {"code": "not_found", "message": "not found"}}
        assert other_org.name not in resp.content.decode()
    assert api.get("/api/v1/members/").json()["count"] == 0
    assert counts(Member, OutboxEvent) == before
    theirs.refresh_from_db()
    assert theirs.first_name != "Hacked"


def test_member_payer_of_another_org_is_unknown(api, other_org, clock):
    theirs = make_member(other_org, clock)
    before = counts(Member)
    resp = api.post(
        "/api/v1/members/",
        {"first_name": "A", "last_name": "B", "payer": theirs.pk},
        format="json",
    )
    assert resp.status_code == 400
    assert resp.json() == {
        "error": {
            "code": "invalid",
            "message": "payer: unknown payer",
            "fields": {"payer": ["unknown payer"]},
        }
    }
    assert counts(Member) == before


def test_member_impossible_birth_date(api):
    before = counts(Member)
    resp = api.post(
        "/api/v1/members/",
        {"first_name": "A", "last_name": "B", "date_of_birth": "2001-02-30"},
        format="json",
    )
    assert resp.status_code == 400
    assert list(resp.json()["error"]["fields"]) == ["date_of_birth"]
    assert resp.json()["error"]["message"].startswith("date_of_birth: ")
    assert counts(Member) == before


def test_member_service_error_becomes_400(api, org, clock):
    before = counts(Member)
    resp = api.post(
        "/api/v1/members/",
        {"first_name": "A", "last_name": "B", "date_of_birth": "2999-01-01"},
        format="json",
    )
    assert resp.status_code == 400
    assert resp.json() == {
        "error": {
            "code": "invalid",
            "message": "date_of_birth: date of birth is in the future",
            "fields": {"date_of_birth": ["date of birth is in the future"]},
        }
    }
    assert counts(Member) == before


PLAN = {"name": "Gold", "code": "gold", "currency": "sek", "price": 59900, "joining_fee": 19900}


def test_plan_create_list_retrieve(api, org, location):
    resp = api.post("/api/v1/plans/", {**PLAN, "locations": [location.pk]}, format="json")
    assert resp.status_code == 201, resp.json()
    plan = Plan.objects.get()
    assert resp.json() == {
        "id": plan.pk,
        "name": "Gold",
        "code": "gold",
        "description": "",
        "interval": "month",
        "currency": "SEK",
        "price": 59900,
        "joining_fee": 19900,
        "minimum_term_periods": 0,
        "notice_days": 0,
        "trial_days": 0,
        "freeze_fee": 0,
        "tax_category": "training",
        "locations": [location.pk],
        "sold_online": True,
        "active": True,
    }
    assert plan.organization_id == org.pk
    assert api.get(f"/api/v1/plans/{plan.pk}/").json() == resp.json()
    assert api.get("/api/v1/plans/").json()["results"] == [resp.json()]
    dup = api.post("/api/v1/plans/", PLAN, format="json")
    assert dup.status_code == 400
    assert dup.json()["error"]["fields"] == {"code": ["a plan with this code already exists"]}
    assert Plan.objects.count() == 1


@pytest.mark.parametrize(
    ("change", "field", "problem"),
    [
        ({"price": -1}, "price", "price must not be negative"),
        (
            {"price": 10**15},
            "price",
            "price 1000000000000000 is larger than any gym charge (1000000000)",
        ),
        ({"price": "59900"}, "price", "price must be an integer in the currency's minor unit"),
        ({"price": 599.0}, "price", "price must be an integer in the currency's minor unit"),
        ({"price": True}, "price", "price must be an integer in the currency's minor unit"),
        ({"joining_fee": -5}, "joining_fee", "joining_fee must not be negative"),
        (
            {"currency": "XYZ"},
            "currency",
            "unknown currency 'XYZ': use an ISO 4217 code such as SEK or EUR",
        ),
        ({"interval": "fortnight"}, "interval", '"fortnight" is not a valid choice.'),
    ],
)
def test_plan_bad_input(api, change, field, problem):
    before = counts(Plan)
    resp = api.post("/api/v1/plans/", {**PLAN, **change}, format="json")
    assert resp.status_code == 400
    assert resp.json() == {
        "error": {
            "code": "invalid",
            "message": f"{field}: {problem}",
            "fields": {field: [problem]},
        }
    }
    assert counts(Plan) == before


def test_plan_location_of_another_org_is_unknown(api, other_location):
    resp = api.post("/api/v1/plans/", {**PLAN, "locations": [other_location.pk]}, format="json")
    assert resp.status_code == 400
    assert resp.json()["error"]["fields"] == {"locations": ["unknown location"]}
    assert Plan.objects.count() == 0


def test_plan_of_another_org_is_not_found(api, other_org):
    theirs = make_plan(other_org)
    resp = api.get(f"/api/v1/plans/{theirs.pk}/")
    assert resp.status_code == 404
    assert theirs.name not in resp.content.decode()


def test_timeline_is_scoped_to_the_callers_organization(api, other_api, org, clock):
    member = make_member(org, clock)
    assert api.get(f"/api/v1/members/{member.pk}/timeline/").json() == []
    assert other_api.get(f"/api/v1/members/{member.pk}/timeline/").status_code == 404


def test_plan_create_follows_the_catalog_rules(api, org, location):
    """The API and the staff pages create plans through one service with one set of rules."""
    resp = api.post("/api/v1/plans/", {**PLAN, "currency": "EUR"}, format="json")
    assert resp.status_code == 400
    assert list(resp.json()["error"]["fields"]) == ["currency"]
    resp = api.post("/api/v1/plans/", {**PLAN, "price": 0}, format="json")
    assert resp.status_code == 400
    assert list(resp.json()["error"]["fields"]) == ["price"]
    assert not Plan.objects.exists()
