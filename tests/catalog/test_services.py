"""The catalog's writes: plans and add-ons keep their rules (each error names its field and
nothing is written), prices stay in exact minor units, and a new price reaches new
sign-ups while memberships already sold keep theirs."""

from __future__ import annotations

import pytest
from django import forms

from dues.billing.models import SubscriptionAddOn
from dues.billing.preview import first_charge, plan_memberships_by_price
from dues.billing.services import subscription_build, subscription_create
from dues.catalog.admin import AddOnForm as AdminAddOnForm
from dues.catalog.admin import PlanForm as AdminPlanForm
from dues.catalog.models import AddOn, Contract, Plan
from dues.catalog.services import (
    CatalogError,
    addon_create,
    addon_update,
    plan_create,
    plan_update,
    plan_values,
)
from tests.factories import d, join, make_location, make_member, make_org, make_plan

pytestmark = pytest.mark.django_db


def new_plan(org, clock, **kw):
    fields = {"name": "Monthly", "code": "monthly", "currency": "SEK", "price": 49900}
    fields.update(kw)
    return plan_create(organization=org, clock=clock, **fields)


def refused(call, **kw) -> dict[str, list[str]]:
    with pytest.raises(CatalogError) as caught:
        call(**kw)
    return caught.value.message_dict


# --- creating plans -----------------------------------------------------------------------


def test_a_plan_is_stored_with_exact_values(org, location, clock):
    contract = Contract.objects.create(organization=org, name="Agreement", code="agreement")
    plan = new_plan(
        org,
        clock,
        name="  Monthly  ",
        currency="sek",
        joining_fee=19900,
        freeze_fee=5000,
        minimum_term_periods=12,
        notice_days=30,
        trial_days=7,
        interval="quarter",
        sold_online=False,
        contract=contract,
        locations=[location],
    )
    plan.refresh_from_db()
    assert plan_values(plan) == {
        "name": "Monthly",
        "code": "monthly",
        "description": "",
        "interval": "quarter",
        "currency": "SEK",
        "price": 49900,
        "joining_fee": 19900,
        "freeze_fee": 5000,
        "minimum_term_periods": 12,
        "notice_days": 30,
        "trial_days": 7,
        "tax_category": "training",
        "sold_online": False,
        "active": True,
        "contract": contract.pk,
        "locations": [location.pk],
    }


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"price": 0}, "price", "The price must be greater than zero. To give a membership"),
        ({"price": -100}, "price", "The price must not be negative."),
        ({"price": 10_000_000_01}, "price", "larger than any gym charge"),
        ({"price": "499.00"}, "price", "Enter the price as an amount of money."),
        ({"joining_fee": -1}, "joining_fee", "The joining fee must not be negative."),
        ({"freeze_fee": 1.5}, "freeze_fee", "Enter the freeze fee as an amount of money."),
        ({"name": "   "}, "name", "Give the plan a name."),
        ({"code": "month ly"}, "code", "only letters, digits, hyphens and underscores"),
        ({"code": ""}, "code", "Give the plan a code"),
        ({"currency": "XYZ"}, "currency", "unknown currency 'XYZ'"),
        ({"currency": "EUR"}, "currency", "No location of this gym bills in EUR"),
        ({"interval": "fortnight"}, "interval", "Choose weekly, monthly, quarterly or yearly."),
        ({"tax_category": "food"}, "tax_category", "Choose a tax category."),
        ({"minimum_term_periods": 121}, "minimum_term_periods", "At most 120 billing periods."),
        ({"notice_days": 367}, "notice_days", "At most 366 days."),
        ({"trial_days": -1}, "trial_days", "Must not be negative."),
    ],
)
def test_a_plan_that_breaks_a_rule_is_refused_on_its_field(
    org, location, clock, changes, field, message
):
    errors = refused(new_plan, org=org, clock=clock, **changes)
    assert list(errors) == [field]
    assert message in errors[field][0]
    assert not Plan.objects.exists()


def test_a_code_is_unique_in_the_organization_only(org, location, clock):
    new_plan(org, clock)
    errors = refused(new_plan, org=org, clock=clock, name="Other")
    assert errors == {"code": ["Another plan already has the code “monthly”."]}
    other = make_org(clock)
    make_location(other)
    assert new_plan(other, clock).code == "monthly"
    assert Plan.objects.filter(code="monthly").count() == 2


def test_the_currency_must_be_the_listed_locations(org, location, clock):
    paris = make_location(org, currency="EUR", tz="Europe/Paris", country="FR")
    errors = refused(new_plan, org=org, clock=clock, currency="EUR", locations=[location, paris])
    assert errors == {
        "currency": [
            f"The plan is priced in EUR but {location.name} bills in SEK. "
            "Price it in the locations' currency or sell it at other locations."
        ]
    }
    assert new_plan(org, clock, currency="EUR", price=4900, locations=[paris]).currency == "EUR"


def test_another_organizations_location_or_contract_is_refused(org, location, clock):
    other = make_org(clock)
    far = make_location(other)
    theirs = Contract.objects.create(organization=other, name="Theirs", code="theirs")
    errors = refused(new_plan, org=org, clock=clock, locations=[far], contract=theirs)
    assert errors == {
        "contract": ["That contract belongs to another organization."],
        "locations": [f"These locations belong to another organization: {far.name}"],
    }
    assert not Plan.objects.exists()


# --- changing plans -----------------------------------------------------------------------


def test_a_new_price_reaches_new_sign_ups_only(org, location, clock):
    _, sub = join(org, location, clock, price=49900)
    plan = sub.plan
    plan_update(plan=plan, clock=clock, price=54900)
    plan.refresh_from_db()
    assert plan.price == 54900
    sub.refresh_from_db()
    assert sub.price == 49900
    newcomer = make_member(org, clock)
    built = subscription_build(
        member=newcomer, plan=plan, location=location, start_date=d("2026-01-15"), clock=clock
    )
    assert built.price == 54900
    [row] = plan_memberships_by_price(organization_id=org.pk)[plan.pk]
    assert (row.price, row.currency, row.count) == (49900, "SEK", 1)
    subscription_create(
        member=newcomer, plan=plan, location=location, start_date=d("2026-01-15"), clock=clock
    )
    rows = plan_memberships_by_price(organization_id=org.pk, plan_ids=[plan.pk])[plan.pk]
    assert [(r.price, r.count) for r in rows] == [(49900, 1), (54900, 1)]


def test_an_update_changes_only_what_it_names(org, location, clock):
    plan = new_plan(org, clock, joining_fee=19900, notice_days=30, locations=[location])
    before = plan_values(plan)
    plan_update(plan=plan, clock=clock, notice_days=60)
    plan.refresh_from_db()
    assert plan_values(plan) == before | {"notice_days": 60}
    plan_update(plan=plan, clock=clock, locations=[])
    assert plan_values(plan)["locations"] == []


def test_a_refused_update_writes_nothing(org, location, clock):
    plan = new_plan(org, clock, locations=[location])
    with pytest.raises(CatalogError):
        plan_update(plan=plan, clock=clock, price=0, name="Cheaper", locations=[])
    plan.refresh_from_db()
    assert (plan.price, plan.name, list(plan.locations.all())) == (49900, "Monthly", [location])


def test_unknown_fields_are_a_programming_error(org, location, clock):
    plan = new_plan(org, clock)
    with pytest.raises(TypeError, match="colour"):
        plan_update(plan=plan, clock=clock, colour="red")


def test_the_currency_stays_once_memberships_are_sold(org, location, clock):
    paris = make_location(org, currency="EUR", tz="Europe/Paris", country="FR")
    unsold = new_plan(org, clock, locations=[location])
    plan_update(plan=unsold, clock=clock, currency="EUR", locations=[paris])
    assert Plan.objects.get(pk=unsold.pk).currency == "EUR"

    _, sub = join(org, location, clock)
    errors = refused(plan_update, plan=sub.plan, clock=clock, currency="EUR", locations=[paris])
    assert errors == {
        "currency": [
            "Memberships have been sold on this plan in SEK, so its currency stays SEK. "
            "Make a new plan to sell in EUR."
        ]
    }
    assert Plan.objects.get(pk=sub.plan_id).currency == "SEK"


def test_an_old_plan_priced_zero_can_still_be_switched_off(org, location, clock):
    plan = make_plan(org, price=0)
    plan_update(plan=plan, clock=clock, active=False)
    plan.refresh_from_db()
    assert (plan.price, plan.active) == (0, False)
    # Setting a price of 0 is refused, on an old row as on a new one.
    errors = refused(plan_update, plan=make_plan(org, price=100), clock=clock, price=0)
    assert list(errors) == ["price"]


# --- the join preview on an unsaved plan ----------------------------------------------------


def test_first_charge_prices_an_unsaved_plan_without_writing(org, location, clock):
    plan = Plan(
        organization=org,
        name="Draft",
        code="draft",
        currency="SEK",
        price=49900,
        joining_fee=19900,
        minimum_term_periods=3,
        notice_days=30,
    )
    charge = first_charge(organization=org, plan=plan, location=location, clock=clock)
    assert [(line.kind, line.total, line.tax_amount) for line in charge.lines] == [
        ("plan", 49900, 2825),
        ("joining_fee", 19900, 1126),
    ]
    assert (charge.on, charge.total) == (d("2026-01-15"), 69800)
    assert (charge.next_on, charge.next_total) == (d("2026-02-15"), 49900)
    assert charge.minimum_term_end == d("2026-04-15")
    assert charge.earliest_end == d("2026-04-15")
    assert plan.pk is None
    assert not Plan.objects.exists()


# --- add-ons ------------------------------------------------------------------------------


def test_add_ons_keep_their_rules(org, location, clock):
    addon = addon_create(
        organization=org, clock=clock, name="PT 10-pack", code="pt10", currency="SEK",
        price=550000, kind="pack", sessions=10,
    )  # fmt: skip
    assert (addon.price, addon.kind, addon.sessions, addon.tax_category) == (
        550000,
        "pack",
        10,
        "service",
    )
    assert refused(
        addon_create, organization=org, clock=clock, name="PT", code="pt10", currency="SEK",
        price=100, kind="pack", sessions=1,
    ) == {"code": ["Another add-on already has the code “pt10”."]}  # fmt: skip
    assert refused(
        addon_create, organization=org, clock=clock, name="PT", code="pt", currency="SEK",
        price=100, kind="pack", sessions=0,
    ) == {"sessions": ["A pack holds at least one session."]}  # fmt: skip
    assert refused(
        addon_create,
        organization=org,
        clock=clock,
        name="Towel",
        code="towel",
        currency="SEK",
        price=0,
        sessions=2,
    ) == {
        "price": ["The price must be greater than zero."],
        "sessions": ["Only packs count sessions; leave it at 0."],
    }
    assert AddOn.objects.count() == 1


def test_an_add_on_sold_keeps_its_currency_and_members_their_price(org, location, clock):
    make_location(org, currency="EUR", tz="Europe/Paris", country="FR")
    _, sub = join(org, location, clock)
    towel = addon_create(
        organization=org, clock=clock, name="Towel", code="towel", currency="SEK", price=4900
    )
    SubscriptionAddOn.objects.create(
        organization=org, subscription=sub, addon=towel, quantity=1, unit_price=towel.price
    )
    addon_update(addon=towel, clock=clock, price=5900)
    assert AddOn.objects.get(pk=towel.pk).price == 5900
    assert SubscriptionAddOn.objects.get().unit_price == 4900
    errors = refused(addon_update, addon=towel, clock=clock, currency="EUR", price=500)
    assert list(errors) == ["currency"]
    assert "Memberships carry this add-on in SEK" in errors["currency"][0]
    assert AddOn.objects.get(pk=towel.pk).currency == "SEK"


# --- the admin checks the same rules ------------------------------------------------------


def admin_plan_data(org, location, **kw):
    data = {
        "organization": str(org.pk),
        "name": "Monthly",
        "code": "monthly",
        "currency": "SEK",
        "interval": "month",
        "price": "499.00",
        "joining_fee": "0",
        "freeze_fee": "0",
        "minimum_term_periods": "0",
        "notice_days": "0",
        "trial_days": "0",
        "tax_category": "training",
        "locations": [str(location.pk)],
        "active": "on",
    }
    data.update(kw)
    return data


def test_the_admin_plan_form_uses_the_catalog_rules(org, location, clock):
    paris = make_location(org, currency="EUR", tz="Europe/Paris", country="FR")
    form = AdminPlanForm(data=admin_plan_data(org, location, currency="EUR", price="0"))
    assert not form.is_valid()
    assert "The price must be greater than zero." in form.errors["price"][0]
    assert f"{location.name} bills in SEK" in form.errors["currency"][0]

    new_plan(org, clock, locations=[location])
    form = AdminPlanForm(data=admin_plan_data(org, paris, currency="EUR"))
    assert form.errors == {"code": ["Another plan already has the code “monthly”."]}

    other = make_org(clock)
    far = make_location(other)
    form = AdminPlanForm(data=admin_plan_data(org, far, code="far"))
    assert "These locations belong to another organization" in form.errors["locations"][0]

    form = AdminPlanForm(data=admin_plan_data(org, location, code="good", price="549.00"))
    assert form.is_valid(), form.errors
    assert form.cleaned_data["price"] == 54900


def test_the_admin_add_on_form_uses_the_catalog_rules(org, location):
    form = AdminAddOnForm(
        data={
            "organization": str(org.pk),
            "name": "PT",
            "code": "pt",
            "kind": "pack",
            "currency": "SEK",
            "price": "999.00",
            "sessions": "0",
            "tax_category": "service",
        }
    )
    assert isinstance(form, forms.ModelForm)
    assert form.errors == {"sessions": ["A pack holds at least one session."]}
