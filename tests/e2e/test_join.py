"""Joining online in a real browser, at a phone's width and a desktop's: choose a plan,
give details, read and sign the contract, pay the first invoice with a card, land in the
portal; the signed copy arrives by email as a PDF."""

from __future__ import annotations

import pytest

from dues.billing.models import ContractSignature, Invoice
from dues.catalog.models import Contract, ContractVersion
from tests.e2e.a11y import check_page
from tests.factories import VISA_OK, make_plan

pytestmark = pytest.mark.django_db(transaction=True)


def test_join_online_to_first_paid_invoice(page, org, location, web_clock, smtp):
    contract = Contract.objects.create(organization=org, name="Membership agreement", code="m")
    ContractVersion.objects.create(
        organization=org,
        contract=contract,
        version=1,
        language="en",
        title="Membership agreement",
        body="The member keeps to the house rules.",
        published_at=web_clock.now(),
    )
    make_plan(org, name="Off-peak", price=29900)
    gold = make_plan(org, name="Gold", price=49900, joining_fee=19900, contract=contract)

    page.goto(f"/join/{org.slug}/")
    page.get_by_role("heading", name="Choose your membership").wait_for()
    page.shots("plans")
    check_page(page)
    page.get_by_label("Gold").check()
    page.get_by_role("button", name="Continue").click()

    page.get_by_role("heading", name="Your details").wait_for()
    check_page(page)
    page.get_by_label("First name").fill("Sara")
    page.get_by_label("Last name").fill("Lind")
    page.get_by_label("Email address").fill("sara@example.com")
    page.get_by_label("Mobile phone").fill("+46 70 123 45 67")
    page.get_by_label("Date of birth").fill("1990-04-02")
    page.get_by_label("Language").select_option("en")
    page.shots("details")
    page.get_by_role("button", name="Continue").click()

    page.get_by_role("heading", name="Membership agreement").wait_for()
    assert page.get_by_text("The member keeps to the house rules.").is_visible()
    check_page(page)
    page.get_by_label("Type your full name to sign").fill("Sara Lind")
    page.get_by_label("I have read the contract and agree to it").check()
    page.shots("contract")
    page.get_by_role("button", name="Sign the contract").click()

    page.get_by_role("heading", name="Payment").wait_for()
    assert page.get_by_text("To pay today: SEK698.00").is_visible()
    check_page(page)
    page.get_by_label("Card number").fill(VISA_OK)
    page.get_by_label("Expiry month").fill("12")
    page.get_by_label("Expiry year").fill("2030")
    page.get_by_role("button", name="Pay and join").click()

    page.get_by_text("Your membership has started.").wait_for()
    page.get_by_role("heading", name="Hi Sara").wait_for()
    page.shots("welcome")
    sig = ContractSignature.objects.get(member__email="sara@example.com")
    assert sig.plan == gold
    assert sig.subscription is not None
    assert sig.ip_address == "127.0.0.1"
    [invoice] = Invoice.objects.filter(payer=sig.member)
    assert (invoice.status, invoice.total) == ("paid", 69800)
    [mail] = smtp.to("sara@example.com")
    assert [p.get_filename() for p in mail.walk() if p.get_content_type() == "application/pdf"] == [
        f"contract-{sig.member.member_number}-{sig.pk}.pdf"
    ]
