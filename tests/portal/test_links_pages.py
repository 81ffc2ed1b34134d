"""The pages behind the links in members' messages: one invoice, paid with the card on file
or a new one, in the member's language; forged, altered or expired links show nothing."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client

from dues.billing.links import invoice_link
from dues.billing.models import Invoice
from dues.core.clock import SystemClock
from dues.dunning.models import CaseStatus, DunningCase
from dues.ops.jobs import bill
from dues.payments.links import card_link
from dues.payments.models import PaymentMethod
from tests.factories import LOST_CARD, clock_at, d, join

pytestmark = pytest.mark.django_db


def path(link: str) -> str:
    return link.split("://", 1)[1].split("/", 1)[1].join(["/", ""])


@pytest.fixture
def overdue(org, location, clock, gateway):
    member, _ = join(
        org, location, clock, LOST_CARD, member_kw={"first_name": "Anna", "language": "sv"}
    )
    bill(as_of=d("2026-01-15"), clock=clock, gateway=gateway)
    invoice = Invoice.objects.get(payer=member)
    assert invoice.status == "open"
    return member, invoice


def link_now(invoice) -> str:
    return path(
        invoice_link(
            invoice_id=invoice.pk, organization_id=invoice.organization_id, clock=SystemClock()
        )
    )


def test_invoice_page_in_swedish_and_paid_with_a_new_card(overdue):
    member, invoice = overdue
    client = Client()
    url = link_now(invoice)
    page = client.get(url)
    assert page.status_code == 200
    html = page.content.decode()
    assert '<html lang="sv">' in html
    assert f"Faktura {invoice.number}" in html
    assert "Att betala: 499,00\xa0kr" in html
    assert 'label for="id_number">Kortnummer</label>' in html
    bad = client.post(
        url,
        {"action": "card", "number": "4242 4242 4242 4241", "exp_month": "12", "exp_year": "2030"},
    )
    assert "Kortnumret är inte giltigt." in bad.content.decode()
    assert PaymentMethod.objects.filter(payer=member).count() == 1  # nothing saved
    paid = client.post(
        url,
        {"action": "card", "number": "4242 4242 4242 4242", "exp_month": "12", "exp_year": "2030"},
    )
    assert "Tack! Din betalning har gått igenom." in paid.content.decode()
    invoice.refresh_from_db()
    assert invoice.status == "paid"
    card = PaymentMethod.objects.get(payer=member, is_default=True)
    assert (card.last4, card.brand) == ("4242", "visa")
    assert "4242424242424242" not in str(PaymentMethod.objects.values_list())
    again = client.get(url).content.decode()
    assert "Fakturan är betald." in again
    assert 'name="action"' not in again


def test_a_lost_card_is_not_offered_or_charged_again(overdue):
    _member, invoice = overdue
    client = Client()
    url = link_now(invoice)
    page = client.get(url).content.decode()
    assert "Kortet nekades nyligen. Lägg till ett annat kort." in page
    assert 'value="pay"' not in page
    attempts = invoice.attempts.count()
    page = client.post(url, {"action": "pay"}).content.decode()
    assert "Kortet nekades nyligen." in page
    assert invoice.attempts.count() == attempts


def test_saved_card_pays_when_it_can(org, location, clock, gateway):
    member, _ = join(
        org, location, clock, "4000000000003001", member_kw={"language": "en"}
    )  # declines once, then works
    bill(as_of=d("2026-01-15"), clock=clock, gateway=gateway)
    invoice = Invoice.objects.get(payer=member)
    client = Client()
    url = link_now(invoice)
    assert "Pay SEK499.00 with Visa •••• 3001" in client.get(url).content.decode()
    paid = client.post(url, {"action": "pay"}).content.decode()
    assert "Thank you! Your payment went through." in paid
    invoice.refresh_from_db()
    assert invoice.status == "paid"


def test_forged_altered_and_expired_links_show_nothing(overdue, org, clock):
    _member, invoice = overdue
    client = Client()
    good = link_now(invoice)
    token = good.strip("/").split("/")[1]
    assert client.get(f"/i/{token[:-3]}abc/").status_code == 404
    assert client.get("/i/not-a-token/").status_code == 404
    old = clock_at(2020, 1, 1)
    expired = path(invoice_link(invoice_id=invoice.pk, organization_id=org.pk, clock=old))
    # Nothing says whose link it was: the page speaks the browser's language.
    page = client.get(expired, HTTP_ACCEPT_LANGUAGE="sv")
    assert page.status_code == 410
    assert "Länken har gått ut" in page.content.decode()
    # A link for an invoice id of another organization finds nothing.
    other = path(
        invoice_link(invoice_id=invoice.pk, organization_id=org.pk + 999, clock=SystemClock())
    )
    assert client.get(other).status_code == 404
    assert invoice.number not in client.get(other).content.decode()


def test_card_link_saves_a_card_and_dunning_retries_at_once(overdue, clock, gateway, location):
    member, invoice = overdue
    client = Client()
    url = path(
        card_link(member_id=member.pk, organization_id=member.organization_id, clock=SystemClock())
    )
    page = client.get(url).content.decode()
    assert "Vi drar från Visa •••• 9987." in page
    saved = client.post(url, {"number": "5555555555554444", "exp_month": "1", "exp_year": "2031"})
    assert "Ditt nya kort är sparat." in saved.content.decode()
    clock.advance(timedelta(hours=1))
    bill(as_of=d("2026-01-15"), clock=clock, gateway=gateway)
    assert DunningCase.objects.get(invoice=invoice).status == CaseStatus.RECOVERED
