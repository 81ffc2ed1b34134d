"""A member's way through the portal in a real browser, at a phone's width and a desktop's:
a failed payment, the reminder email's link, a new card, the invoice paid; signing in by
email and fetching an invoice PDF; and no way to another member's invoice by editing the
address."""

from __future__ import annotations

import re

import pytest

from dues.billing.models import Invoice
from dues.billing.services import subscription_create
from dues.dunning.services import policy_default
from dues.ops.jobs import bill, deliver
from dues.portal.signin import signin_token
from tests.e2e.a11y import check_page
from tests.factories import VISA_OK, add_card, d, join, make_member, make_plan
from tests.smtp import text_part

pytestmark = pytest.mark.django_db(transaction=True)

NO_FUNDS = "4000000000009995"


def test_failed_payment_recovered_from_the_emailed_link(page, org, location, web_clock, smtp):
    policy_default(organization_id=org.pk, clock=web_clock)
    member = make_member(org, web_clock, first_name="Anna", email="anna@example.se")
    add_card(member, web_clock, NO_FUNDS)
    subscription_create(
        member=member,
        plan=make_plan(org),
        location=location,
        start_date=d("2026-01-15"),
        clock=web_clock,
    )
    bill(as_of=d("2026-01-15"), clock=web_clock)
    deliver(clock=web_clock)
    invoice = Invoice.objects.get(payer=member)
    assert invoice.status == "open"
    [mail] = smtp.to("anna@example.se")
    link = re.search(r"http://\S+/i/\S+/", text_part(mail))
    assert link is not None

    page.goto(link.group(0))
    assert page.get_by_role("heading", name=f"Invoice {invoice.number}").is_visible()
    page.shots("invoice-open")
    check_page(page)
    page.get_by_label("Card number").fill(VISA_OK)
    page.get_by_label("Expiry month").fill("12")
    page.get_by_label("Expiry year").fill("2030")
    page.get_by_role("button", name="Save the card and pay").click()
    page.get_by_text("Thank you! Your payment went through.").wait_for()
    page.shots("invoice-paid")
    invoice.refresh_from_db()
    assert invoice.status == "paid"


def test_sign_in_by_email_and_download_an_invoice(page, org, location, web_clock, smtp, gateway):
    member, _ = join(org, location, web_clock, member_kw={"first_name": "Bo"})
    bill(as_of=d("2026-01-15"), clock=web_clock, gateway=gateway)
    invoice = Invoice.objects.get(payer=member)

    page.goto("/me/")
    assert page.url.endswith("/me/signin/?next=%2Fme%2F")
    check_page(page)
    page.get_by_label("Email address").fill(member.email)
    page.get_by_role("button", name="Email me a sign-in link").click()
    page.get_by_role("heading", name="Check your email").wait_for()
    [mail] = smtp.to(member.email)
    link = re.search(r"http://\S+/me/signin/\S+/", text_part(mail))
    assert link is not None
    page.goto(link.group(0))
    page.get_by_role("button", name="Continue to my account").click()
    page.get_by_role("heading", name="Hi Bo").wait_for()
    assert page.get_by_text("Next charge").is_visible()
    page.shots("home")
    check_page(page)

    page.get_by_role("link", name="Invoices").click()
    page.get_by_role("link", name=invoice.number).click()
    page.get_by_role("heading", name=f"Invoice {invoice.number}").wait_for()
    page.shots("invoice")
    check_page(page)
    with page.expect_download() as download:
        page.get_by_role("link", name="Download PDF").click()
    assert download.value.suggested_filename == f"{invoice.number}.pdf"
    with open(download.value.path(), "rb") as f:
        assert f.read(5) == b"%PDF-"


def test_another_members_invoice_is_not_found(page, org, location, web_clock, gateway):
    anna, _ = join(org, location, web_clock, member_kw={"first_name": "Anna"})
    bo, _ = join(org, location, web_clock, member_kw={"first_name": "Bo"})
    bill(as_of=d("2026-01-15"), clock=web_clock, gateway=gateway)
    mine = Invoice.objects.get(payer=anna)
    theirs = Invoice.objects.get(payer=bo)

    page.goto(f"/me/signin/{signin_token(anna, clock=web_clock)}/")
    page.get_by_role("button", name="Continue to my account").click()
    page.get_by_role("heading", name="Hi Anna").wait_for()
    assert page.goto(f"/me/invoices/{mine.pk}/").status == 200
    for path in (f"/me/invoices/{theirs.pk}/", f"/me/invoices/{theirs.pk}/pdf/"):
        response = page.goto(path)
        assert response is not None
        assert response.status == 404, path
        assert theirs.number not in page.content()
    page.shots("not-found")
