"""With Stripe, the link pages collect cards in Stripe's own fields: our page carries only
the setup's client secret, and the member comes back with the setup Dues then saves."""

from __future__ import annotations

import pytest
from django.test import Client

from dues.billing.models import Invoice
from dues.core.clock import SystemClock
from dues.ops.jobs import bill
from dues.payments.gateways.stripe import StripeGateway
from dues.payments.links import card_link
from dues.payments.models import PaymentMethod
from dues.payments.setup import payment_setup_start
from tests.factories import d, make_member
from tests.payments.test_stripe_gateway import stripe_join
from tests.portal.test_links_pages import link_now, path

pytestmark = pytest.mark.django_db


@pytest.fixture
def stripe_site(settings, stripe_api):
    settings.DUES_GATEWAY = "dues.payments.gateways.stripe.StripeGateway"
    return stripe_api


@pytest.fixture
def overdue(org, location, clock, stripe_site, stripe_gw):
    gateway = stripe_gw
    member, _sub, _m = stripe_join(
        org, location, clock, stripe_site, gateway, "pm_card_chargeDeclinedLostCard"
    )
    bill(as_of=d("2026-01-15"), clock=clock, gateway=gateway)
    invoice = Invoice.objects.get(payer=member)
    assert invoice.status == "open"
    return member, invoice


def setup_reference(html: str, stripe_api) -> str:
    [seti] = [s for s in stripe_api.setup_intents.values() if s["client_secret"] in html]
    return seti["id"]


def test_invoice_page_uses_stripes_fields_and_pays_when_the_member_returns(overdue, stripe_site):
    member, invoice = overdue
    client = Client()
    url = link_now(invoice)
    html = client.get(url).content.decode()
    assert "https://js.stripe.com/v3/" in html
    assert 'data-publishable-key="pk_test_dues_install_0000"' in html
    assert 'name="number"' not in html  # no card field of ours
    reference = setup_reference(html, stripe_site)
    stripe_site.setup_confirm(reference, "pm_card_visa")  # the member typed it at Stripe
    back = client.get(f"{url}?setup_intent={reference}&redirect_status=succeeded")
    assert back.status_code == 200
    invoice.refresh_from_db()
    assert invoice.status == "paid"
    method = PaymentMethod.objects.usable_defaults().get(payer=member)
    assert method.gateway == "stripe"
    assert method.token != "pm_card_visa"


def test_card_page_saves_only_the_members_own_setup(org, overdue, clock, stripe_site):
    member, _invoice = overdue
    url = path(card_link(member_id=member.pk, organization_id=org.pk, clock=SystemClock()))
    client = Client()
    html = client.get(url).content.decode()
    assert "stripe-setup" in html
    # Someone else's finished setup, pasted into this member's page, saves nothing.
    other = make_member(org, clock)
    theirs = payment_setup_start(payer=other, gateway=StripeGateway(), clock=clock)
    stripe_site.setup_confirm(theirs.reference, "pm_card_visa")
    before = PaymentMethod.objects.count()
    refused = client.get(f"{url}?setup_intent={theirs.reference}")
    assert "could not be saved" in refused.content.decode()
    assert PaymentMethod.objects.count() == before

    reference = setup_reference(html, stripe_site)
    stripe_site.setup_confirm(reference, "pm_card_mastercard")
    saved = client.get(f"{url}?setup_intent={reference}")
    assert saved.status_code == 200
    assert PaymentMethod.objects.usable_defaults().get(payer=member).gateway == "stripe"
    assert PaymentMethod.objects.count() == before + 1
