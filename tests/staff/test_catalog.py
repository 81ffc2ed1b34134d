"""Plans and prices on the staff pages: owners and managers add and edit plans and add-ons
(exact minor units stored, an audit row with before and after), a preview prices a sign-up
from unsaved values with the billing run's own code and writes nothing, bad input is
refused on its field with nothing written, and nobody else may look."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from dues.billing.models import Invoice, Subscription, SubscriptionAddOn
from dues.billing.services import subscription_build
from dues.catalog.models import AddOn, Plan
from dues.core.models import Location
from dues.staff.models import StaffChange
from dues.staff.roles import Role
from tests.factories import d, make_location, make_member, make_org, make_plan
from tests.staff.conftest import client_for, make_staff

pytestmark = pytest.mark.django_db

PLAN_PAGES = ("staff-plans", "staff-plan-new", "staff-addon-new")


@pytest.fixture
def manager(org, staff_clock):
    return make_staff(org, Role.MANAGER, staff_clock, username="maria", device=True)


@pytest.fixture
def client(org, manager):
    return client_for(manager, org)


def text(response) -> str:
    """The page as text, with money's no-break spaces as plain ones."""
    return response.content.decode().replace("\xa0", " ")


def field_error(html: str, field: str) -> str:
    """The error list shown under one field (tied to its input by id)."""
    match = re.search(rf'<ul class="errorlist" id="id_{field}_error">(.*?)</ul>', html, re.S)
    return match.group(1) if match else ""


def plan_form(location: Location | None = None, **overrides: object) -> dict[str, object]:
    data: dict[str, object] = {
        "name": "Monthly",
        "code": "monthly",
        "description": "",
        "interval": "month",
        "currency": "SEK",
        "price": "499.00",
        "joining_fee": "199.00",
        "freeze_fee": "50.00",
        "minimum_term_periods": "12",
        "notice_days": "30",
        "trial_days": "0",
        "tax_category": "training",
        "sold_online": "on",
        "active": "on",
    }
    if location is not None:
        data["locations"] = [str(location.pk)]
        data["preview_location"] = str(location.pk)
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


def form_of(plan: Plan, **overrides: object) -> dict[str, object]:
    """The edit form as it comes filled in for ``plan``, with some fields changed."""
    locations = list(plan.locations.all())
    data = plan_form(
        name=plan.name,
        code=plan.code,
        interval=plan.interval,
        currency=plan.currency,
        price=f"{plan.price / 100:.2f}",
        joining_fee=f"{plan.joining_fee / 100:.2f}",
        freeze_fee=f"{plan.freeze_fee / 100:.2f}",
        minimum_term_periods=str(plan.minimum_term_periods),
        notice_days=str(plan.notice_days),
        trial_days=str(plan.trial_days),
        tax_category=plan.tax_category,
        sold_online="on" if plan.sold_online else None,
        active="on" if plan.active else None,
    )
    if locations:
        data["locations"] = [str(loc.pk) for loc in locations]
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


def counts() -> tuple[int, ...]:
    return (
        Plan.objects.count(),
        AddOn.objects.count(),
        StaffChange.objects.count(),
        Subscription.objects.count(),
        Invoice.objects.count(),
    )


# --- creating and editing -----------------------------------------------------------------


def test_a_manager_creates_a_plan(org, location, client, manager, staff_clock):
    page = client.get(reverse("staff-plan-new"))
    assert page.status_code == 200
    assert 'name="preview"' in text(page)
    assert 'name="save"' in text(page)

    done = client.post(reverse("staff-plan-new"), plan_form(location, save="1"), follow=True)
    assert done.redirect_chain == [(reverse("staff-plans"), 302)]
    plan = Plan.objects.get(organization=org, code="monthly")
    assert (plan.name, plan.currency, plan.interval) == ("Monthly", "SEK", "month")
    assert (plan.price, plan.joining_fee, plan.freeze_fee) == (49900, 19900, 5000)
    assert (plan.minimum_term_periods, plan.notice_days, plan.trial_days) == (12, 30, 0)
    assert (plan.sold_online, plan.active, plan.contract_id) == (True, True, None)
    assert list(plan.locations.all()) == [location]

    [change] = StaffChange.objects.all()
    assert (change.user, change.organization, change.action) == (manager, org, "catalog_edit")
    assert change.target == f"catalog.plan:{plan.pk}"
    assert change.at == staff_clock.now()
    assert change.before == {}
    assert change.after == {
        "name": "Monthly",
        "code": "monthly",
        "description": "",
        "interval": "month",
        "currency": "SEK",
        "price": 49900,
        "joining_fee": 19900,
        "freeze_fee": 5000,
        "minimum_term_periods": 12,
        "notice_days": 30,
        "trial_days": 0,
        "tax_category": "training",
        "sold_online": True,
        "active": True,
        "contract": None,
        "locations": [location.pk],
    }
    assert change.summary == "Monthly: added"

    html = text(done)
    assert "Saved. Monthly: added" in html
    row = html[html.index(reverse("staff-plan-edit", args=[plan.pk])) :]
    assert "SEK499.00" in row
    assert "SEK199.00" in row
    assert location.name in row


def test_a_new_price_reaches_new_sign_ups_and_not_existing_members(
    org, location, account, client, manager, staff_clock
):
    plan = account.sub.plan
    url = reverse("staff-plan-edit", args=[plan.pk])
    page = text(client.get(url))
    assert "Running memberships on this plan" in page
    assert "1 at SEK499.00" in page
    assert "A membership keeps the price" in page

    done = client.post(url, form_of(plan, price="549.00", save="1"), follow=True)
    assert done.redirect_chain == [(reverse("staff-plans"), 302)]
    assert f"Saved. {plan.name}: price SEK499.00 → SEK549.00" in text(done)

    plan.refresh_from_db()
    assert plan.price == 54900
    [change] = StaffChange.objects.all()
    assert (change.user, change.target) == (manager, f"catalog.plan:{plan.pk}")
    assert (change.before, change.after) == ({"price": 49900}, {"price": 54900})
    assert change.summary == f"{plan.name}: price SEK499.00 → SEK549.00"

    account.sub.refresh_from_db()
    assert account.sub.price == 49900  # fixed at sign-up
    newcomer = make_member(org, staff_clock)
    sub = subscription_build(
        member=newcomer, plan=plan, location=location, start_date=d("2026-01-15"), clock=staff_clock
    )
    assert sub.price == 54900


def test_saving_without_a_change_records_nothing(account, client):
    plan = account.sub.plan
    url = reverse("staff-plan-edit", args=[plan.pk])
    done = client.post(url, form_of(plan, save="1"), follow=True)
    assert "Nothing changed" in text(done)
    assert not StaffChange.objects.exists()


def test_switching_a_plan_off_keeps_its_members(account, client, location):
    plan = account.sub.plan
    url = reverse("staff-plan-edit", args=[plan.pk])
    assert "stops new sign-ups; members on it keep their membership" in text(client.get(url))
    done = client.post(url, form_of(plan, active=None, save="1"), follow=True)
    assert f"{plan.name}: active yes → no" in text(done)
    plan.refresh_from_db()
    account.sub.refresh_from_db()
    assert plan.active is False
    assert (account.sub.status, account.sub.plan_id) == ("active", plan.pk)
    assert Plan.objects.filter(pk=plan.pk).exists()  # never deleted
    [change] = StaffChange.objects.all()
    assert (change.before, change.after) == ({"active": True}, {"active": False})


# --- the preview --------------------------------------------------------------------------


def test_preview_prices_joining_today_and_saves_nothing(org, location, client):
    before = counts()
    page = client.post(reverse("staff-plan-new"), plan_form(location, preview="1"))
    assert page.status_code == 200
    html = text(page)
    assert counts() == before
    preview = html[
        html.index('id="preview"') : html.index("</section>", html.index('id="preview"'))
    ]
    assert f"Preview: joining today at {location.name}" in preview
    # Prices include tax (the organization's setting): 6% inside each line, rounded once.
    assert "Tax included" in preview
    assert "Monthly, 2026-01-15 – 2026-02-14" in preview
    assert "SEK28.25 (6 %)" in preview  # 499.00 × 6/106
    assert "Joining fee, Monthly" in preview
    assert "SEK11.26 (6 %)" in preview  # 199.00 × 6/106
    assert "SEK698.00 on January 15, 2026" in preview  # the first invoice
    assert "SEK499.00 on February 15, 2026" in preview  # the charge after it
    assert "until January 15, 2027" in preview  # twelve months' minimum term
    # 30 days' notice on day one still runs to the end of the minimum term.
    assert "ends the membership on January 15, 2027" in preview
    assert "SEK50.00" in preview  # the freeze fee
    assert "Included in the prices" in preview


def test_preview_adds_tax_when_prices_exclude_it(org, location, client):
    org.prices_include_tax = False
    org.save(update_fields=["prices_include_tax"])
    html = text(client.post(reverse("staff-plan-new"), plan_form(location, preview="1")))
    assert "Tax added" in html
    assert "SEK29.94 (6 %)" in html
    assert "SEK528.94" in html
    assert "SEK11.94 (6 %)" in html
    assert "SEK210.94" in html
    assert "SEK739.88 on January 15, 2026" in html
    assert "SEK528.94 on February 15, 2026" in html
    assert not Plan.objects.exists()


def test_preview_of_a_trial_charges_when_it_ends(location, client):
    html = text(
        client.post(
            reverse("staff-plan-new"),
            plan_form(location, trial_days="14", joining_fee="0", preview="1"),
        )
    )
    assert "until January 29, 2026" in html  # the trial
    # The first period starts when the trial ends; February has no 29th, so it ends on
    # the 28th, where the next period starts.
    assert "Monthly, 2026-01-29 – 2026-02-27" in html
    assert "SEK499.00 on January 29, 2026" in html
    assert "SEK499.00 on February 28, 2026" in html


def test_preview_of_an_edit_uses_the_typed_values_and_changes_nothing(account, client):
    plan = account.sub.plan
    before = counts()
    page = client.post(
        reverse("staff-plan-edit", args=[plan.pk]),
        form_of(plan, price="549.00", joining_fee="100.00", preview="1"),
    )
    html = text(page)
    assert "SEK649.00 on January 15, 2026" in html  # 549.00 + 100.00, not saved yet
    assert 'value="549.00"' in html  # the form keeps what was typed
    assert counts() == before
    plan.refresh_from_db()
    assert (plan.price, plan.joining_fee) == (49900, 0)


def test_preview_at_a_chosen_location(org, location, client):
    other = make_location(org, training_rate_bp=2500)
    data = plan_form(location, preview="1")
    data["locations"] = [str(location.pk), str(other.pk)]
    data["preview_location"] = str(other.pk)
    html = text(client.post(reverse("staff-plan-new"), data))
    assert f"joining today at {other.name}" in html
    assert "SEK99.80 (25 %)" in html  # 499.00 × 25/125


def test_preview_refuses_a_location_the_plan_is_not_sold_at(org, location, client):
    other = make_location(org)
    data = plan_form(location, preview="1", preview_location=str(other.pk))
    html = text(client.post(reverse("staff-plan-new"), data))
    assert "not sold at" in field_error(html, "preview_location")
    assert 'id="preview"' not in html


# --- bad input ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "typed", "message"),
    [
        ("price", "-5.00", "The amount must not be negative."),
        ("price", "12.345", "12.345 has more decimals than SEK allows"),
        ("price", "0", "The price must be greater than zero."),
        ("joining_fee", "1.001", "1.001 has more decimals than SEK allows"),
        ("notice_days", "400", "At most 366 days."),
        ("code", "month ly", "letters, numbers, underscores or hyphens"),
    ],
)
@pytest.mark.parametrize("button", ["save", "preview"])
def test_bad_input_is_refused_on_its_field(location, client, field, typed, message, button):
    before = counts()
    page = client.post(
        reverse("staff-plan-new"), plan_form(location, **{field: typed, button: "1"})
    )
    assert page.status_code == 200
    html = text(page)
    assert message in field_error(html, field), html
    assert 'aria-invalid="true"' in html
    assert "Please correct these" in html
    assert counts() == before


def test_a_duplicate_code_is_refused(org, location, client):
    existing = make_plan(org, code="monthly")
    page = client.post(reverse("staff-plan-new"), plan_form(location, save="1"))
    assert "Another plan already has the code “monthly”." in field_error(text(page), "code")
    assert list(Plan.objects.values_list("pk", flat=True)) == [existing.pk]
    assert not StaffChange.objects.exists()


def test_a_currency_the_locations_do_not_bill_in_is_refused(org, location, client):
    make_location(org, currency="EUR", tz="Europe/Paris", country="FR")
    page = client.post(reverse("staff-plan-new"), plan_form(location, currency="EUR", save="1"))
    error = field_error(text(page), "currency")
    assert f"The plan is priced in EUR but {location.name} bills in SEK." in error
    assert not Plan.objects.exists()
    assert not StaffChange.objects.exists()


def test_a_plan_with_members_keeps_its_currency(org, account, client):
    paris = make_location(org, currency="EUR", tz="Europe/Paris", country="FR")
    plan = account.sub.plan
    data = form_of(plan, currency="EUR", price="49.00", save="1")
    data["locations"] = [str(paris.pk)]
    page = client.post(reverse("staff-plan-edit", args=[plan.pk]), data)
    assert "Memberships have been sold on this plan in SEK" in field_error(text(page), "currency")
    plan.refresh_from_db()
    assert (plan.currency, plan.price, list(plan.locations.all())) == ("SEK", 49900, [])
    assert not StaffChange.objects.exists()


# --- add-ons ------------------------------------------------------------------------------


def test_a_manager_adds_and_reprices_an_add_on(org, location, client, manager):
    data = {
        "name": "Towel service",
        "code": "towel",
        "kind": "recurring",
        "currency": "SEK",
        "price": "49.00",
        "sessions": "0",
        "tax_category": "service",
        "active": "on",
    }
    done = client.post(reverse("staff-addon-new"), data, follow=True)
    assert "Saved. Towel service: added" in text(done)
    addon = AddOn.objects.get(organization=org, code="towel")
    assert (addon.price, addon.kind, addon.sessions, addon.active) == (4900, "recurring", 0, True)

    url = reverse("staff-addon-edit", args=[addon.pk])
    assert "Running memberships with this add-on" in text(client.get(url))
    done = client.post(url, data | {"price": "59.00"}, follow=True)
    assert "Towel service: price SEK49.00 → SEK59.00" in text(done)
    addon.refresh_from_db()
    assert addon.price == 5900
    create, edit = StaffChange.objects.order_by("id")
    assert create.target == edit.target == f"catalog.addon:{addon.pk}"
    assert create.before == {}
    assert create.after["price"] == 4900
    assert (edit.before, edit.after) == ({"price": 4900}, {"price": 5900})


def test_an_add_on_members_have_keeps_their_price(org, account, client):
    addon = AddOn.objects.create(
        organization=org, name="Towel", code="towel", currency="SEK", price=4900
    )
    SubscriptionAddOn.objects.create(
        organization=org, subscription=account.sub, addon=addon, quantity=1, unit_price=4900
    )
    url = reverse("staff-addon-edit", args=[addon.pk])
    assert "1 at SEK49.00" in text(client.get(url))
    data = {
        "name": "Towel",
        "code": "towel",
        "kind": "recurring",
        "currency": "SEK",
        "price": "59.00",
        "sessions": "0",
        "tax_category": "service",
        "active": "on",
    }
    assert client.post(url, data).status_code == 302
    assert SubscriptionAddOn.objects.get().unit_price == 4900


def test_a_pack_without_sessions_is_refused(location, client):
    data = {
        "name": "PT pack",
        "code": "pt",
        "kind": "pack",
        "currency": "SEK",
        "price": "999.00",
        "sessions": "0",
        "tax_category": "service",
        "active": "on",
    }
    page = client.post(reverse("staff-addon-new"), data)
    assert "A pack holds at least one session." in field_error(text(page), "sessions")
    assert not AddOn.objects.exists()


# --- the list, and who may see it ---------------------------------------------------------


def test_the_list_shows_plans_add_ons_and_members_on_them(org, location, account, client):
    make_plan(org, name="Yearly", code="yearly", interval="year", price=499000, active=False)
    AddOn.objects.create(
        organization=org, name="PT 10-pack", code="pt10", kind="pack", currency="SEK",
        price=550000, sessions=10,
    )  # fmt: skip
    html = text(client.get(reverse("staff-plans")))
    assert "Plans and prices" in html
    monthly = html[html.index(account.sub.plan.name) :]
    monthly = monthly[: monthly.index("</tr>")]
    assert "SEK499.00" in monthly
    assert "All locations in SEK" in monthly
    assert re.search(r'class="amount">1</td>\s*$', monthly)  # one member on it
    yearly = html[html.index("Yearly") :]
    yearly = yearly[: yearly.index("</tr>")]
    assert "SEK4,990.00" in yearly
    assert "Off" in yearly
    assert "Yearly" in yearly
    assert "PT 10-pack" in html
    assert "SEK5,500.00" in html


def test_the_nav_links_plans_for_managers_only(org, client, staff_clock):
    assert "Plans and prices" in text(client.get(reverse("staff-members")))
    desk = make_staff(org, Role.FRONT_DESK, staff_clock)
    assert "Plans and prices" not in text(client_for(desk, org).get(reverse("staff-members")))


def test_owners_may_edit_plans(org, location, staff_clock):
    owner = make_staff(org, Role.OWNER, staff_clock, device=True)
    done = client_for(owner, org).post(reverse("staff-plan-new"), plan_form(location, save="1"))
    assert done.status_code == 302
    assert StaffChange.objects.get().user == owner


@pytest.mark.parametrize("role", [Role.FRONT_DESK, Role.TRAINER])
def test_front_desk_and_trainers_may_not(org, location, account, staff_clock, role):
    user = make_staff(org, role, staff_clock)
    client = client_for(user, org)
    plan = account.sub.plan
    addon = AddOn.objects.create(
        organization=org, name="Towel", code="towel", currency="SEK", price=4900
    )
    before = counts()
    urls = [reverse(name) for name in PLAN_PAGES] + [
        reverse("staff-plan-edit", args=[plan.pk]),
        reverse("staff-addon-edit", args=[addon.pk]),
    ]
    for url in urls:
        assert client.get(url).status_code == 403, url
    for url in urls[1:]:  # the list takes no posts (405 for anyone)
        assert client.post(url, plan_form(location, save="1")).status_code == 403, url
        assert client.post(url, plan_form(location, preview="1")).status_code == 403, url
    assert (
        client.post(
            reverse("staff-plan-edit", args=[plan.pk]), form_of(plan, price="1.00", save="1")
        ).status_code
        == 403
    )
    assert counts() == before
    plan.refresh_from_db()
    assert plan.price == 49900


def test_another_organizations_plans_are_not_found(org, location, client, staff_clock):
    other = make_org(staff_clock)
    make_location(other)
    plan = make_plan(other, code="theirs")
    addon = AddOn.objects.create(
        organization=other, name="Theirs", code="theirs", currency="SEK", price=100
    )
    plan_url = reverse("staff-plan-edit", args=[plan.pk])
    addon_url = reverse("staff-addon-edit", args=[addon.pk])
    assert client.get(plan_url).status_code == 404
    assert client.post(plan_url, form_of(plan, price="1.00", save="1")).status_code == 404
    assert client.get(addon_url).status_code == 404
    assert client.post(addon_url, {"price": "1.00"}).status_code == 404
    plan.refresh_from_db()
    assert plan.price == 49900
    assert "theirs" not in text(client.get(reverse("staff-plans")))
    assert not StaffChange.objects.exists()


def test_another_organizations_locations_cannot_be_listed(org, location, client, staff_clock):
    other = make_org(staff_clock)
    far = make_location(other)
    data = plan_form(location, save="1")
    data["locations"] = [str(far.pk)]
    page = client.post(reverse("staff-plan-new"), data)
    assert "is not one of the available choices" in field_error(text(page), "locations")
    assert not Plan.objects.exists()
