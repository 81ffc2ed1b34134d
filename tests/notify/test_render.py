"""Reminders in each of the five languages: the member's name, the amount and dates in
the language's own format, what happens next, and the final notice's collections date."""

from __future__ import annotations

from typing import Any

import pytest

from dues.billing.models import Invoice
from dues.core.channels import Channel
from dues.notify.reminders import TEMPLATE, reminder_context
from dues.notify.render import message_language, render
from dues.ops.jobs import bill
from tests.factories import d, join, make_member

pytestmark = pytest.mark.django_db


def payload(**kw: Any) -> dict[str, Any]:
    return {
        "tone": "final",
        "channels": ["email"],
        "invoice_number": "INV-000042",
        "amount_due": 129050,
        "currency": "THB",
        "due_date": "2026-11-01",
        "days_overdue": 21,
        "waiting_for_card": False,
        "next_restriction": None,
        "next_restriction_on": None,
        "final_action": "collections",
        "final_action_on": "2026-11-29",
        "invoice_id": 0,
        "payer_id": 0,
        "case_id": 0,
    } | kw


# language → (amount, due date, collections date, words that must appear)
EXPECTED = {
    "en": ("THB1,290.50", "November 1, 2026", "November 29, 2026", "collection agency"),
    "sv": ("1\xa0290,50\xa0THB", "1 november 2026", "29 november 2026", "inkassobolag"),
    "fr": ("1\u202f290,50\xa0THB", "1 novembre 2026", "29 novembre 2026", "recouvrement"),
    "zh-hans": ("THB1,290.50", "2026年11月1日", "2026年11月29日", "催收机构"),
    "th": ("฿1,290.50", "1 พฤศจิกายน ค.ศ. 2026", "29 พฤศจิกายน ค.ศ. 2026", "ติดตามหนี้"),
}


@pytest.mark.parametrize("language", sorted(EXPECTED))
def test_final_notice_in_each_language(org, location, clock, language, invoice):
    amount, due, final_on, collections = EXPECTED[language]
    member = make_member(org, clock, first_name="Somchai", language=language)
    context = reminder_context(payload(), member, invoice, language, clock)
    email = render(TEMPLATE, Channel.EMAIL, context, language)
    assert "INV-000042" in email.subject
    for text in (email.text, email.html):
        assert "Somchai" in text
        assert amount in text
        assert due in text
        assert final_on in text
        assert collections in text
        assert context["pay_url"] in text
    sms = render(TEMPLATE, Channel.SMS, context, language)
    assert amount in sms.text
    assert context["pay_url"] in sms.text
    if language != "en":
        english = render(TEMPLATE, Channel.EMAIL, context, "en")
        assert email.subject != english.subject
        assert "Pay now" not in email.text
        assert "final notice" not in email.text


def test_next_step_names_the_restriction_and_its_date(org, location, clock, invoice):
    member = make_member(org, clock, first_name="Claire", language="fr")
    p = payload(tone="firm", next_restriction="block_access", next_restriction_on="2026-11-15")
    text = render(TEMPLATE, Channel.EMAIL, reminder_context(p, member, invoice, "fr", clock), "fr")
    assert "le 15 novembre 2026, votre accès à la salle sera suspendu" in text.text
    waiting = payload(tone="friendly", waiting_for_card=True)
    text = render(
        TEMPLATE, Channel.IN_APP, reminder_context(waiting, member, invoice, "fr", clock), "fr"
    )
    assert "Merci d’ajouter une nouvelle carte." in text.text


def test_html_escapes_what_staff_typed(org, location, clock, invoice):
    org.name = "Lift & <b>Run</b>"
    org.save()
    member = make_member(org, clock, first_name="<script>x</script>")
    context = reminder_context(payload(), member, invoice, "en", clock)
    email = render(TEMPLATE, Channel.EMAIL, context, "en")
    assert "<script>" not in email.html
    assert "&lt;script&gt;" in email.html
    assert "Lift &amp; &lt;b&gt;Run&lt;/b&gt;" in email.html
    assert "Lift & <b>Run</b>" in email.text  # plain text is not HTML-escaped


def test_language_falls_back_to_the_location_then_english(org, location, clock):
    location.locale = "th"
    member = make_member(org, clock, language="de")
    assert message_language(member, location) == "th"
    location.locale = "xx"
    assert message_language(member, location) == "en"
    member.language = "zh-Hans"
    assert message_language(member, location) == "zh-hans"


@pytest.fixture
def invoice(org, location, clock, gateway):
    """A real invoice from the billing run (the context reads its organization and id)."""
    member, _ = join(org, location, clock)
    bill(as_of=d("2026-01-15"), clock=clock, gateway=gateway)
    return Invoice.objects.get(payer=member)
