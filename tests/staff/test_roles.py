"""The permission table, and every staff page checking it: 403 for a role that may not,
the page for one that may; and nothing of another organization's."""

from __future__ import annotations

import pytest
from django.urls import reverse

from dues.billing.models import Invoice
from dues.staff.roles import PERMISSIONS, Action, Role, may
from tests.factories import make_location, make_member, make_org
from tests.staff.conftest import client_for, make_staff

pytestmark = pytest.mark.django_db

FRONT_DESK = {
    Action.MEMBER_SEARCH,
    Action.MEMBER_VIEW,
    Action.MONEY_VIEW,
    Action.PAYMENT_DESK,
    Action.FREEZE,
    Action.NOTE_ADD,
    Action.CHECK_IN,
    Action.ACCESS_OVERRIDE,
    Action.CREDENTIALS_EDIT,
    Action.CLASSES_VIEW,
    Action.CLASSES_EDIT,
}
TRAINER = {Action.MEMBER_SEARCH, Action.MEMBER_VIEW, Action.NOTE_ADD, Action.CLASSES_VIEW}


def test_the_table_names_every_action_and_the_defaults():
    assert set(PERMISSIONS) == set(Action)
    for action in Action:
        assert may(Role.OWNER, action)
        assert may(Role.MANAGER, action) == (action != Action.STAFF_MANAGE)
        assert may(Role.FRONT_DESK, action) == (action in FRONT_DESK)
        assert may(Role.TRAINER, action) == (action in TRAINER)
    assert not may("janitor", Action.MEMBER_VIEW)
    assert not may(Role.OWNER, "launch_rockets")


def _pages(account):
    m, sub = account.member.pk, account.sub.pk
    return {
        Action.MEMBER_SEARCH: reverse("staff-members") + "?q=anna",
        Action.MEMBER_VIEW: reverse("staff-member", args=[m]),
        Action.PAYMENT_DESK: reverse("staff-desk-payment", args=[m, account.paid.pk]),
        Action.REFUND: reverse("staff-refund", args=[m, account.payment.pk]),
        Action.CREDIT_NOTE: reverse("staff-credit-note", args=[m, account.paid.pk]),
        Action.FREEZE: reverse("staff-freeze", args=[m, sub]),
        Action.CANCEL: reverse("staff-cancel", args=[m, sub]),
        Action.PLAN_CHANGE: reverse("staff-change-plan", args=[m, sub]),
        Action.DASHBOARD_VIEW: reverse("staff-dashboard"),
        Action.CATALOG_EDIT: reverse("staff-plans"),
        Action.DUNNING_EDIT: reverse("staff-policies"),
        Action.TEMPLATES_EDIT: reverse("staff-templates"),
        Action.STAFF_MANAGE: reverse("staff-team"),
        Action.CHECK_IN: reverse("staff-checkin"),
        Action.CREDENTIALS_EDIT: reverse("staff-member-access", args=[m]),
        Action.ATTENDANCE_VIEW: reverse("staff-attendance"),
        Action.CLASSES_VIEW: reverse("staff-classes"),
    }


def test_every_action_has_a_page_checked_here(account):
    # Notes are a post (below); money is a part of the profile (its own test); an access
    # override is a post on the check-in screen (tests/access/test_staff_checkin.py).
    assert set(_pages(account)) == set(Action) - {
        Action.NOTE_ADD,
        Action.MONEY_VIEW,
        Action.ACCESS_OVERRIDE,
        # Posts on a class roster (tests/classes/test_staff.py).
        Action.CLASSES_EDIT,
        Action.FEE_FORGIVE,
    }


@pytest.mark.parametrize("role", list(Role))
def test_each_role_gets_the_pages_the_table_allows_and_403_otherwise(
    org, account, staff_clock, role
):
    user = make_staff(org, role, staff_clock, device=True)
    client = client_for(user, org)
    for action, url in _pages(account).items():
        response = client.get(url)
        expected = 200 if may(role, action) else 403
        assert response.status_code == expected, (role, action, response.status_code)
        if expected == 403:
            assert "Your role does not allow this" in response.content.decode()
    note = client.post(reverse("staff-note-add", args=[account.member.pk]), {"text": "Hi"})
    assert note.status_code == 302  # everyone may add a note
    assert account.member.notes.count() == 1


def test_a_refused_action_changes_nothing(org, account, staff_clock):
    trainer = client_for(make_staff(org, Role.TRAINER, staff_clock), org)
    url = reverse("staff-refund", args=[account.member.pk, account.payment.pk])
    response = trainer.post(url, {"amount": "100.00", "reason": "x", "confirm": "1"})
    assert response.status_code == 403
    account.payment.refresh_from_db()
    assert account.payment.amount_refunded == 0


def test_a_trainer_sees_the_profile_without_money(org, account, staff_clock):
    page = client_for(make_staff(org, Role.TRAINER, staff_clock), org).get(
        reverse("staff-member", args=[account.member.pk])
    )
    html = page.content.decode()
    assert "Anna Lindqvist" in html
    assert "Memberships" in html
    assert account.paid.number not in html
    assert "499" not in html
    assert "Visa" not in html
    assert "Charge 1" not in html  # the payment attempt on the timeline is money too
    desk = client_for(make_staff(org, Role.FRONT_DESK, staff_clock), org).get(
        reverse("staff-member", args=[account.member.pk])
    )
    html = desk.content.decode()
    assert account.paid.number in html
    assert "Visa •••• 4242" in html
    assert "Take payment" not in html  # the invoice is paid
    assert "Refund" not in html.replace("Refunded", "")  # front desk may not refund
    assert "Credit note" not in html


def test_another_organizations_member_is_not_found(org, account, staff_clock, gateway):
    other = make_org(staff_clock)
    make_location(other)
    stranger = make_member(other, staff_clock, first_name="Anna", last_name="Other")
    owner = client_for(make_staff(org, Role.OWNER, staff_clock, device=True), org)
    assert owner.get(reverse("staff-member", args=[stranger.pk])).status_code == 404
    assert (
        owner.post(reverse("staff-note-add", args=[stranger.pk]), {"text": "x"}).status_code == 404
    )
    # Their invoice through our member's address: not found either.
    theirs = Invoice.objects.exclude(payer=account.member).first()
    assert theirs is None or theirs.organization_id != org.pk
    fake_invoice = account.paid.pk + 1000
    url = reverse("staff-desk-payment", args=[account.member.pk, fake_invoice])
    assert owner.get(url).status_code == 404
    found = owner.get(reverse("staff-members") + "?q=anna").content.decode()
    assert "Lindqvist" in found
    assert "Other" not in found
    assert stranger.notes.count() == 0


def test_another_members_invoice_and_payment_are_not_found_through_this_member(
    org, location, account, staff_clock
):
    other = make_member(org, staff_clock)
    owner = client_for(make_staff(org, Role.OWNER, staff_clock, device=True), org)
    assert (
        owner.get(reverse("staff-refund", args=[other.pk, account.payment.pk])).status_code == 404
    )
    assert (
        owner.get(reverse("staff-credit-note", args=[other.pk, account.paid.pk])).status_code == 404
    )
    assert owner.get(reverse("staff-freeze", args=[other.pk, account.sub.pk])).status_code == 404


def test_a_role_in_one_organization_is_not_a_role_in_another(org, account, staff_clock):
    other = make_org(staff_clock)
    user = make_staff(other, Role.OWNER, staff_clock, device=True)
    client = client_for(user, org)  # the session names an organization they do not work for
    response = client.get(reverse("staff-member", args=[account.member.pk]))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("staff-organization"))
