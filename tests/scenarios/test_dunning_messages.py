"""A failed payment, told to the member in their language, through a real SMTP server and
the SMS backend, day by day on the test clock; a new card recovers the invoice at once and
lifts the restriction; the books balance throughout."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from dues.billing.links import invoice_link_read
from dues.billing.models import Invoice, Restriction
from dues.billing.restrictions import restrictions_in_force
from dues.billing.services import subscription_create
from dues.core.clock import local_date
from dues.dunning.models import CaseStatus, DunningCase
from dues.dunning.services import policy_default
from dues.ledger.check import ledger_check
from dues.notify.models import Message, MessageStatus
from dues.ops.jobs import bill, deliver
from tests.api.conftest import authed_client
from tests.factories import VISA_OK, add_card, d, make_member, make_plan
from tests.smtp import html_part, text_part

pytestmark = [pytest.mark.django_db, pytest.mark.both_gateways]

NO_FUNDS = "4000000000009995"
LINK = re.compile(r"http://[^\s\"]+/i/([^/\s\"]+)/")


def run_until(day, clock, location, gateway):
    """Every six hours up to the start of ``day``: bill, then deliver; books checked daily."""
    while local_date(clock.now(), location.timezone) < day:
        clock.advance(timedelta(hours=6))
        bill(as_of=local_date(clock.now(), location.timezone), clock=clock, gateway=gateway)
        deliver(clock=clock)
        if clock.now().hour < 6:
            assert {k: v for k, v in ledger_check().items() if v} == {}


def test_reminders_reach_the_member_in_swedish_and_a_new_card_recovers(
    org, location, clock, gateway, smtp, sms_file
):
    policy_default(organization_id=org.pk, clock=clock)  # steps on days 0, 3, 7, 14, 21
    member = make_member(
        org,
        clock,
        first_name="Anna",
        last_name="Lindqvist",
        email="anna@example.se",
        phone="070-123 45 67",
        language="sv",
    )
    add_card(member, clock, NO_FUNDS)
    sub = subscription_create(
        member=member,
        plan=make_plan(org),
        location=location,
        start_date=d("2026-01-15"),
        clock=clock,
    )
    bill(as_of=d("2026-01-15"), clock=clock, gateway=gateway)
    deliver(clock=clock)
    invoice = Invoice.objects.get(lines__subscription=sub)
    case = DunningCase.objects.get(invoice=invoice)

    # Day 0: a friendly email and an in-app message, in Swedish.
    [first] = smtp.to("anna@example.se")
    assert first["Subject"] == f"Din betalning till {org.name} gick inte igenom"
    assert first["Content-Language"] == "sv"
    body = text_part(first)
    assert body.startswith("Hej Anna!\n")
    assert f"Vi försökte dra 499,00\xa0kr för faktura {invoice.number}" in body
    assert "med förfallodag 15 januari 2026" in body
    token = LINK.search(body).group(1)
    assert invoice_link_read(token, clock=clock) == (org.pk, invoice.pk)
    assert f'href="http://127.0.0.1:8000/i/{token}/"' in html_part(first)
    assert '<html lang="sv">' in html_part(first)
    in_app = Message.objects.get(member=member, channel="in_app")
    assert in_app.status == MessageStatus.DELIVERED
    assert in_app.language == "sv"
    assert sms_file() == []

    # Day 3: email and SMS; day 7: firm email, SMS and in-app, and bookings are blocked.
    run_until(d("2026-01-23"), clock, location, gateway)
    emails = smtp.to("anna@example.se")
    # Django folds non-ASCII subjects onto a continuation line; readers drop the fold.
    assert [m["Subject"].strip() for m in emails] == [
        f"Din betalning till {org.name} gick inte igenom",
        f"Din betalning till {org.name} gick inte igenom",
        f"Påminnelse: faktura {invoice.number} är förfallen",
    ]
    firm = text_part(emails[2])
    assert f"Faktura {invoice.number} på 499,00\xa0kr förföll den 15 januari 2026" in firm
    # What happens next, and when: door access on day 14.
    assert "Om den fortfarande är obetald den 29 januari 2026 pausas din tillgång" in firm
    texts = sms_file()
    assert [t["to"] for t in texts] == ["+46701234567", "+46701234567"]
    assert texts[0]["body"].startswith(f"{org.name}: hej Anna, din betalning på 499,00\xa0kr")
    assert texts[1]["body"].startswith(f"{org.name}: faktura {invoice.number} på 499,00\xa0kr")
    assert restrictions_in_force([sub.pk], clock.now())[sub.pk] == {"bookings"}
    log = Message.objects.filter(member=member).order_by("id")
    assert [(m.channel, m.template, m.status) for m in log] == [
        ("email", "dunning/reminder_friendly", "sent"),
        ("in_app", "dunning/reminder_friendly", "delivered"),
        ("email", "dunning/reminder_friendly", "sent"),
        ("sms", "dunning/reminder_friendly", "sent"),
        ("email", "dunning/reminder_firm", "sent"),
        ("sms", "dunning/reminder_firm", "sent"),
        ("in_app", "dunning/reminder_firm", "delivered"),
    ]

    # Anna adds a working card: the invoice is retried at once, paid, and she is unblocked.
    add_card(member, clock, VISA_OK)
    run_until(d("2026-01-24"), clock, location, gateway)
    invoice.refresh_from_db()
    case.refresh_from_db()
    assert invoice.status == "paid"
    assert case.status == CaseStatus.RECOVERED
    assert restrictions_in_force([sub.pk], clock.now())[sub.pk] == set()
    assert Restriction.objects.get(subscription=sub, kind="bookings").ends_at is not None
    # No reminder after recovery.
    run_until(d("2026-02-10"), clock, location, gateway)
    assert len(smtp.to("anna@example.se")) == 3
    assert len(sms_file()) == 2

    # Staff see it all on Anna's timeline, through the API.
    timeline = authed_client(org, clock).get(f"/api/v1/members/{member.pk}/timeline/").json()
    messages = [e["detail"] for e in timeline if e["kind"] == "message"]
    assert [(m["channel"], m["template"], m["language"], m["status"]) for m in messages][:3] == [
        ("in_app", "dunning/reminder_firm", "sv", "delivered"),
        ("sms", "dunning/reminder_firm", "sv", "sent"),
        ("email", "dunning/reminder_firm", "sv", "sent"),
    ]
    charges = [e["detail"] for e in timeline if e["kind"] == "payment_attempt"]
    assert charges[0]["status"] == "succeeded"
    assert charges[0]["card"] == "visa •••• 4242"
    assert {c["decline_code"] for c in charges[1:]} == {"insufficient_funds"}
    kinds = [e["summary"] for e in timeline if e["kind"] in ("restriction", "dunning_case")]
    assert any("unblocked" in k for k in kinds)
