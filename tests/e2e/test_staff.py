"""A manager at the desk, in a real browser at a phone's width and a desktop's: signs in
with a password and a TOTP code, finds a member, opens the profile, pays back part of a
card payment, and sees the refund on the timeline."""

from __future__ import annotations

import pytest
from django_otp.plugins.otp_totp.models import TOTPDevice

from dues.billing.models import Invoice
from dues.dunning.services import policy_default
from dues.ops.jobs import bill
from dues.payments.models import Payment, Refund
from dues.staff.models import StaffAction, StaffRole
from dues.staff.roles import Role
from tests.e2e.a11y import check_page
from tests.factories import d, join, make_plan
from tests.staff.conftest import PASSWORD, code_for, make_staff

pytestmark = pytest.mark.django_db(transaction=True)


def test_manager_refunds_part_of_a_payment(page, org, location, web_clock, gateway):
    member, _ = join(
        org,
        location,
        web_clock,
        member_kw={"first_name": "Anna", "last_name": "Lindqvist", "phone": "+46701234567"},
    )
    bill(as_of=d("2026-01-15"), clock=web_clock, gateway=gateway)
    payment = Payment.objects.get(invoice=Invoice.objects.get(payer=member))
    manager = make_staff(org, Role.MANAGER, web_clock, username="maria", device=True)
    device = TOTPDevice.objects.get(user=manager)

    page.goto("/staff/")
    page.get_by_role("heading", name="Staff sign-in").wait_for()
    page.shots("login")
    check_page(page)
    page.get_by_label("User name").fill("maria")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()

    page.get_by_role("heading", name="Enter your code").wait_for()
    check_page(page)
    page.get_by_label("6-digit code from your authenticator app").fill(code_for(device))
    page.get_by_role("button", name="Continue").click()

    # Managers land on the dashboard; the member search is one link away.
    page.get_by_role("heading", name="Dashboard").wait_for()
    page.shots("dashboard")
    check_page(page)
    page.get_by_role("link", name="Members").click()
    page.get_by_role("heading", name="Find a member").wait_for()
    page.get_by_label("Name, email, phone, member number or card").fill("lind ann")
    page.get_by_role("button", name="Search").click()
    page.get_by_role("link", name="Anna Lindqvist").wait_for()
    page.shots("search")
    check_page(page)
    page.get_by_role("link", name="Anna Lindqvist").click()

    page.get_by_role("heading", name="Anna Lindqvist").wait_for()
    assert page.get_by_text("Visa •••• 4242").is_visible()
    page.shots("profile")
    check_page(page)
    page.get_by_role("link", name="Refund").click()

    page.get_by_role("heading", name="Refund a payment").wait_for()
    check_page(page)
    page.get_by_label("Amount to pay back (SEK)").fill("150.00")
    page.get_by_label("Reason").fill("Sauna closed")
    page.get_by_role("button", name="Review").click()
    page.get_by_role("heading", name="Please check").wait_for()
    assert page.get_by_text("SEK150.00").first.is_visible()
    page.shots("confirm")
    check_page(page)
    page.get_by_role("button", name="Pay it back").click()

    page.get_by_text("Refund of SEK150.00 done.").wait_for()
    timeline = page.locator("ol.timeline")
    assert timeline.get_by_text("Refund succeeded: Sauna closed").is_visible()
    page.shots("refunded")
    check_page(page)

    refund = Refund.objects.get(payment=payment)
    assert (refund.amount, refund.status) == (15000, "succeeded")
    payment.refresh_from_db()
    assert payment.amount_refunded == 15000
    audit = StaffAction.objects.get(action="refund")
    assert (audit.user, audit.member, audit.detail["amount"]) == (manager, member, 15000)


def test_owner_adds_someone_to_the_team(page, org, location, web_clock, smtp):
    owner = make_staff(org, Role.OWNER, web_clock, username="olivia", device=True)
    device = TOTPDevice.objects.get(user=owner)
    page.goto("/staff/login/")
    page.get_by_label("User name").fill("olivia")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_label("6-digit code from your authenticator app").fill(code_for(device))
    page.get_by_role("button", name="Continue").click()
    page.get_by_role("link", name="Team").first.click()

    page.get_by_role("heading", name="Team", exact=True).wait_for()
    page.get_by_label("Email").fill("kim@example.com")
    page.get_by_label("First name").fill("Kim")
    page.get_by_label("Last name").fill("Berg")
    page.get_by_label("Front desk").check()
    page.shots("team")
    check_page(page)
    page.get_by_role("button", name="Add to the team").click()

    page.get_by_text("kim@example.com is on the team as Front desk.").wait_for()
    page.get_by_role("link", name="Kim Berg").click()
    page.get_by_role("heading", name="Kim Berg").wait_for()
    page.get_by_label("Trainer").check()
    page.shots("team-member")
    check_page(page)
    page.get_by_role("button", name="Change the role").click()
    page.get_by_text("Kim Berg is now Trainer.").wait_for()
    assert StaffRole.objects.get(user__email="kim@example.com").role == Role.TRAINER
    assert [m["To"] for m in smtp.messages] == ["kim@example.com"]


def test_owner_previews_a_plan_a_dunning_policy_and_a_message(page, org, location, web_clock):
    """The set-up pages, each with its preview shown, are accessible at both widths."""
    plan = make_plan(org, price=49900, joining_fee=19900)
    plan.locations.set([location])
    policy = policy_default(organization_id=org.pk, clock=web_clock)
    owner = make_staff(org, Role.OWNER, web_clock, username="olivia", device=True)
    page.goto("/staff/login/")
    page.get_by_label("User name").fill("olivia")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_label("6-digit code from your authenticator app").fill(
        code_for(TOTPDevice.objects.get(user=owner))
    )
    page.get_by_role("button", name="Continue").click()
    page.get_by_role("heading", name="Dashboard").wait_for()

    page.goto(f"/staff/plans/{plan.pk}/")
    page.get_by_role("button", name="Preview").click()
    page.get_by_role("heading", name=f"Preview: joining today at {location.name}").wait_for()
    page.shots("plan-preview")
    check_page(page)

    page.goto(f"/staff/dunning/{policy.pk}/")
    page.get_by_role("button", name="Preview").click()
    page.get_by_role("heading", name="Preview of your changes (not saved)").wait_for()
    page.shots("policy-preview")
    check_page(page)

    page.goto("/staff/templates/")
    page.get_by_role("heading", name="Messages").wait_for()
    check_page(page)
    page.locator("main a[href*='/staff/templates/dunning/reminder']").first.click()
    page.get_by_role("button", name="Preview").click()
    page.get_by_role("heading", name="Preview (not saved)").wait_for()
    page.shots("message-preview")
    check_page(page)
