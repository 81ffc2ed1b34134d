"""The signed-in member portal: sign-in by emailed link (once, for a short time, never by
a mail scanner's fetch), the member's own memberships, invoices, card, messages and data,
and nobody else's."""

from __future__ import annotations

import json
import re
from datetime import timedelta

import pytest
from django.test import Client

from dues.billing.models import Invoice, Subscription
from dues.core.channels import Channel
from dues.notify.models import Message
from dues.ops.jobs import bill
from dues.portal.signin import signin_token
from tests.factories import LOST_CARD, VISA_OK, clock_at, d, join, make_member
from tests.smtp import text_part

pytestmark = pytest.mark.django_db


def test_sign_in_by_emailed_link_once(org, location, portal_clock, smtp):
    member = make_member(org, portal_clock, email="Anna@Example.com", first_name="Anna")
    client = Client()
    sent = client.post("/me/signin/?next=/me/invoices/", {"email": "anna@example.COM"})
    assert sent.status_code == 200
    [mail] = smtp.messages
    assert mail["To"] == member.email
    link = re.search(r"http\S+/me/signin/(\S+)/", text_part(mail))
    assert link is not None
    url = f"/me/signin/{link.group(1)}/"
    # A mail scanner fetching the link uses nothing up.
    for _ in range(2):
        page = client.get(url)
        assert page.status_code == 200
        assert "Continue to my account" in page.content.decode()
    assert client.get("/me/").status_code == 302  # not signed in yet
    done = client.post(url)
    assert done.status_code == 302
    assert done["Location"] == "/me/invoices/"  # where the member was going
    assert client.get("/me/").status_code == 200
    member.refresh_from_db()
    assert member.portal_signed_in_at == portal_clock.now()
    # The same link again, in another browser: used.
    again = Client().post(url)
    assert again.status_code == 410
    assert "already been used" in again.content.decode()


def test_unknown_email_gets_the_same_answer_and_no_mail(org, portal_clock, smtp):
    make_member(org, portal_clock, email="known@example.com")
    known = Client().post("/me/signin/", {"email": "known@example.com"}).content.decode()
    unknown = Client().post("/me/signin/", {"email": "nobody@example.com"}).content.decode()
    assert known.replace("known@", "X@") == unknown.replace("nobody@", "X@")
    assert [m["To"] for m in smtp.messages] == ["known@example.com"]
    bad = Client().post("/me/signin/", {"email": "not an address"})
    assert "Enter a valid email address." in bad.content.decode()


def test_expired_forged_and_altered_links_sign_nobody_in(org, portal_clock):
    member = make_member(org, portal_clock)
    token = signin_token(member, clock=portal_clock)
    client = Client()
    assert client.post(f"/me/signin/{token[:-2]}xx/").status_code == 410
    portal_clock.advance(timedelta(minutes=31))
    expired = client.post(f"/me/signin/{token}/")
    assert expired.status_code == 410
    assert "expired" in expired.content.decode()
    assert client.get("/me/").status_code == 302


def test_an_earlier_link_dies_when_a_later_one_is_used(org, portal_clock):
    member = make_member(org, portal_clock)
    first = signin_token(member, clock=portal_clock)
    portal_clock.advance(timedelta(minutes=1))
    second = signin_token(member, clock=portal_clock)
    assert Client().post(f"/me/signin/{second}/").status_code == 302
    assert Client().post(f"/me/signin/{first}/").status_code == 410


def test_sign_out_ends_the_session(org, portal_clock, signed_in):
    client = signed_in(make_member(org, portal_clock), portal_clock)
    assert client.get("/me/").status_code == 200
    assert client.post("/me/signout/").status_code == 302
    assert client.get("/me/").status_code == 302


@pytest.fixture
def two_members(org, location, portal_clock, gateway):
    anna, anna_sub = join(org, location, portal_clock, member_kw={"first_name": "Anna"})
    bo, _ = join(org, location, portal_clock, member_kw={"first_name": "Bo"})
    bill(as_of=d("2026-01-15"), clock=portal_clock, gateway=gateway)
    return anna, anna_sub, bo


def test_home_shows_the_membership_and_the_real_next_charge(two_members, portal_clock, signed_in):
    anna, sub, _ = two_members
    html = signed_in(anna, portal_clock).get("/me/").content.decode()
    assert "Hi Anna" in html
    assert sub.plan.name in html
    assert "Active" in html
    assert "Visa •••• 4242" in html
    # Next period starts 15 February; the price includes the location's tax as billed.
    assert "Next charge" in html
    assert "SEK499.00 on February 15, 2026" in html


def test_a_member_sees_only_their_own_invoices(two_members, portal_clock, signed_in):
    anna, _, bo = two_members
    mine = Invoice.objects.get(payer=anna)
    theirs = Invoice.objects.get(payer=bo)
    client = signed_in(anna, portal_clock)
    listing = client.get("/me/invoices/").content.decode()
    assert mine.number in listing
    assert theirs.number not in listing
    assert client.get(f"/me/invoices/{mine.pk}/").status_code == 200
    for url in (
        f"/me/invoices/{theirs.pk}/",
        f"/me/invoices/{theirs.pk}/pdf/",
        f"/me/invoices/{theirs.pk + 1000}/",
    ):
        assert client.get(url).status_code == 404, url
    assert client.post(f"/me/invoices/{theirs.pk}/").status_code == 404
    theirs.refresh_from_db()
    assert theirs.attempt_count == 1  # nothing charged from the other account
    bo_sub = Subscription.objects.get(member=bo)
    assert client.post(f"/me/memberships/{bo_sub.pk}/cancel/").status_code == 404
    bo_sub.refresh_from_db()
    assert bo_sub.cancel_at is None
    export = json.loads(client.get("/me/export/").content)
    assert [i["number"] for i in export["invoices"]] == [mine.number]
    assert export["profile"]["first_name"] == "Anna"
    assert theirs.number not in json.dumps(export)


def test_invoice_pdf_is_a_pdf_of_that_invoice(two_members, portal_clock, signed_in):
    anna, _, _ = two_members
    invoice = Invoice.objects.get(payer=anna)
    response = signed_in(anna, portal_clock).get(f"/me/invoices/{invoice.pk}/pdf/")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"] == f'attachment; filename="{invoice.number}.pdf"'
    assert response.content.startswith(b"%PDF-")


@pytest.fixture
def overdue(org, location, portal_clock, gateway):
    member, _ = join(org, location, portal_clock, LOST_CARD, member_kw={"first_name": "Cai"})
    bill(as_of=d("2026-01-15"), clock=portal_clock, gateway=gateway)
    invoice = Invoice.objects.get(payer=member)
    assert invoice.status == "open"
    return member, invoice


def test_a_new_card_pays_what_is_overdue_at_once(overdue, portal_clock, signed_in):
    member, invoice = overdue
    client = signed_in(member, portal_clock)
    home = client.get("/me/").content.decode()
    assert invoice.number in home  # under "To pay"
    page = client.get("/me/card/").content.decode()
    assert "charged to the new card as soon as you save it" in page
    bad = client.post(
        "/me/card/", {"number": "4242 4242 4242 4241", "exp_month": "12", "exp_year": "2030"}
    )
    assert "This card number is not valid." in bad.content.decode()
    saved = client.post(
        "/me/card/", {"number": VISA_OK, "exp_month": "12", "exp_year": "2030"}, follow=True
    )
    assert "Your card is saved." in saved.content.decode()
    invoice.refresh_from_db()
    assert invoice.status == "paid"


def test_cancel_shows_the_end_date_first_and_keeps_the_terms(
    org, location, portal_clock, gateway, signed_in
):
    member, sub = join(org, location, portal_clock, minimum_term_periods=3, notice_days=30)
    bill(as_of=d("2026-01-15"), clock=portal_clock, gateway=gateway)
    client = signed_in(member, portal_clock)
    url = f"/me/memberships/{sub.pk}/cancel/"
    page = client.get(url).content.decode()
    # Three months' minimum term from 15 January: the earliest end is 15 April.
    assert "your membership ends on April 15, 2026" in page
    assert "Your minimum term runs until April 15, 2026." in page
    assert "30 days of notice" in page
    sub.refresh_from_db()
    assert sub.cancel_at is None  # looking does not cancel
    done = client.post(url, follow=True).content.decode()
    assert "It ends on April 15, 2026." in done
    sub.refresh_from_db()
    assert sub.cancel_at == d("2026-04-15")
    assert "Ends on" in done


def test_freeze_states_the_fee_and_refuses_bad_dates(
    org, location, portal_clock, gateway, signed_in
):
    member, sub = join(org, location, portal_clock, freeze_fee=5000)
    bill(as_of=d("2026-01-15"), clock=portal_clock, gateway=gateway)
    client = signed_in(member, portal_clock)
    url = f"/me/memberships/{sub.pk}/freeze/"
    assert "A freeze costs SEK50.00" in client.get(url).content.decode()
    past = client.post(url, {"start_date": "2026-01-01", "end_date": "2026-02-01"})
    assert "a freeze cannot start in the past" in past.content.decode()
    backwards = client.post(url, {"start_date": "2026-03-01", "end_date": "2026-02-01"})
    assert "must be after the first day" in backwards.content.decode()
    assert not sub.freezes.exists()
    ok = client.post(url, {"start_date": "2026-03-01", "end_date": "2026-04-01"})
    assert ok.status_code == 302
    assert sub.freezes.get().start_date == d("2026-03-01")


def test_messages_and_language(org, location, portal_clock, signed_in):
    from django.db import transaction

    from dues.notify.services import message_create

    member = make_member(org, portal_clock, first_name="Dao")
    with transaction.atomic():
        message_create(
            member=member,
            location=location,
            channel=Channel.IN_APP,
            template="dunning/reminder",
            context={
                "tone": "soft",
                "first_name": "Dao",
                "gym": org.name,
                "invoice_number": "INV-7",
                "amount": "SEK499.00",
                "due_date": "January 15, 2026",
                "pay_url": "https://example.com/i/x/",
            },
            language="en",
            created_at=portal_clock.now(),
        )
    client = signed_in(member, portal_clock)
    assert "1 new message" in client.get("/me/").content.decode()
    inbox = client.get("/me/messages/").content.decode()
    assert f"Your payment to {org.name} did not go through" in inbox
    assert Message.objects.get(member=member).read_at == portal_clock.now()
    client.post("/me/settings/", {"language": "th"})
    member.refresh_from_db()
    assert member.language == "th"
    assert '<html lang="th">' in client.get("/me/").content.decode()
    bad = client.post("/me/settings/", {"language": "xx"})
    assert bad.status_code == 200
    member.refresh_from_db()
    assert member.language == "th"


def test_the_app_can_be_installed(client):
    manifest = client.get("/me/manifest.webmanifest")
    assert manifest["Content-Type"] == "application/manifest+json"
    data = json.loads(manifest.content)
    assert data["start_url"] == "/me/"
    assert {i["sizes"] for i in data["icons"]} == {"192x192", "512x512"}
    worker = client.get("/me/sw.js")
    assert worker["Content-Type"].startswith("text/javascript")
    assert "/me/offline/" in worker.content.decode()
    assert client.get("/me/offline/").status_code == 200


def test_signin_link_for_a_member_of_another_gym_shows_that_gym(org, portal_clock):
    from tests.factories import make_org

    other = make_org(clock_at(2026, 1, 1))
    member = make_member(other, portal_clock)
    page = Client().get(f"/me/signin/{signin_token(member, clock=portal_clock)}/")
    assert other.name in page.content.decode()
    assert org.name not in page.content.decode()
