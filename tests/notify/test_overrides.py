"""An organization's own wording of a message: used for its members in that language only,
rendered by the restricted engine (no files, no debug, only documented variables, HTML
escaped), refused with the reason and the line when it cannot be used, and gone again
(back to the file) when reset. Every template on disk is documented, with samples."""

from __future__ import annotations

import logging

import pytest
from django.core.exceptions import ValidationError
from django.db import transaction
from django.template import Template, TemplateSyntaxError
from django.template.loader import render_to_string

from dues.billing.models import Invoice
from dues.billing.services import subscription_create
from dues.core.channels import Channel
from dues.core.models import OutboxEvent
from dues.dunning.services import policy_default
from dues.notify import services as notify_services
from dues.notify.catalog import message_templates, sample_context
from dues.notify.models import Message, TemplateOverride
from dues.notify.overrides import ENGINE, default_source, override_check
from dues.notify.reminders import pre_notice_messages_create
from dues.notify.render import LANGUAGES, render, render_part
from dues.notify.services import template_override_reset, template_override_save
from dues.notify.sms import sms_length
from dues.ops.jobs import bill, deliver
from dues.portal.signin import signin_request
from tests.factories import add_card, d, make_location, make_member, make_org, make_plan

pytestmark = pytest.mark.django_db

NO_FUNDS = "4000000000009995"
REMINDER = "dunning/reminder"


def save(org, part: str, language: str, body: str, clock, template: str = REMINDER):
    return template_override_save(
        organization_id=org.pk,
        template=template,
        part=part,
        language=language,
        body=body,
        user=None,
        clock=clock,
    )


def failing_member(org, location, clock, **kw):
    member = make_member(org, clock, **kw)
    add_card(member, clock, NO_FUNDS)
    subscription_create(
        member=member,
        plan=make_plan(org),
        location=location,
        start_date=d("2026-01-15"),
        clock=clock,
    )
    return member


def reminder_ctx(**kw):
    return {
        "tone": "friendly",
        "first_name": "Anna",
        "full_name": "Anna Lindqvist",
        "phone": "",
        "gym": "Iron Gym",
        "invoice_number": "INV-1",
        "amount": "499,00\xa0kr",
        "due_date": "15 januari 2026",
        "days_overdue": 0,
        "next_step": "",
        "final_step": "",
        "pay_url": "http://127.0.0.1:8000/i/x/",
    } | kw


# --- real reminders -----------------------------------------------------------------------------


def test_override_changes_a_real_reminder_in_that_language_only(org, location, clock, gateway):
    other = make_org(clock)
    other_location = make_location(other)
    for o in (org, other):
        policy_default(organization_id=o.pk, clock=clock)
    anna = failing_member(org, location, clock, first_name="Anna", language="sv")
    bob = failing_member(org, location, clock, first_name="Bob", language="en")
    sven = failing_member(other, other_location, clock, first_name="Sven", language="sv")
    save(
        org,
        "subject",
        "sv",
        "Hej {{ first_name }}, {{ amount }} saknas ({{ invoice_number }})",
        clock,
    )
    save(org, "in_app", "sv", "{{ gym }}: betala {{ amount }} här {{ pay_url }}", clock)

    bill(as_of=d("2026-01-15"), clock=clock, gateway=gateway)
    deliver(clock=clock)

    email = Message.objects.get(member=anna, channel=Channel.EMAIL)
    number = Invoice.objects.get(payer=anna).number
    # (A subject is one line: its white space, the no-break space too, becomes one space.)
    assert email.subject == f"Hej Anna, 499,00 kr saknas ({number})"
    # The parts without an override keep the file's wording.
    assert email.body.startswith("Hej Anna!\n\nVi försökte dra 499,00\xa0kr för faktura")
    assert "Vi försökte dra" in email.html
    in_app = Message.objects.get(member=anna, channel=Channel.IN_APP)
    assert in_app.subject == email.subject
    assert in_app.body.startswith(f"{org.name}: betala 499,00\xa0kr här http://127.0.0.1:8000/i/")
    assert in_app.body.count("\n") == 1
    # English in the same organization, Swedish in another: the files.
    assert Message.objects.get(member=bob, channel=Channel.EMAIL).subject == (
        f"Your payment to {org.name} did not go through"
    )
    assert Message.objects.get(member=sven, channel=Channel.EMAIL).subject == (
        f"Din betalning till {other.name} gick inte igenom"
    )
    assert Message.objects.get(member=sven, channel=Channel.IN_APP).body.startswith(
        "Din betalning på 499,00\xa0kr för faktura"
    )


def test_html_override_escapes_the_member_and_keeps_the_layout(org, clock):
    save(
        org,
        "email_html",
        "sv",
        "<p>Betala {{ amount }} för {{ first_name }}:</p>\n"
        '<p><a href="{{ pay_url }}">Betala</a></p>\n',
        clock,
    )
    save(org, "email_text", "sv", "Hej {{ first_name }} från {{ gym }}", clock)
    context = reminder_ctx(first_name="<script>x</script>", gym="Lift & <b>Run</b>")
    email = render(REMINDER, Channel.EMAIL, context, "sv", organization_id=org.pk)
    assert "<script>" not in email.html
    assert "<p>Betala 499,00\xa0kr för &lt;script&gt;x&lt;/script&gt;:</p>" in email.html
    assert '<a href="http://127.0.0.1:8000/i/x/">Betala</a>' in email.html
    # The layout around it: language, greeting and the gym's name, escaped too.
    assert '<html lang="sv">' in email.html
    assert "Hej &lt;script&gt;x&lt;/script&gt;!" in email.html
    assert "Lift &amp; &lt;b&gt;Run&lt;/b&gt;</td>" in email.html
    assert "Vi försökte dra" not in email.html  # the file's body is replaced
    assert email.text == "Hej <script>x</script> från Lift & <b>Run</b>\n"  # text: not HTML


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        ("Hej\n{% include 'notify/email_base.html' %}", "Line 2: {% include %} is not allowed"),
        ('{% extends "notify/email_base.html" %}', "Line 1: {% extends %} is not allowed"),
        ("{% debug %}", "Line 1: {% debug %} is not allowed"),
        ('{% ssi "/etc/passwd" %}', "Line 1: {% ssi %} is not allowed"),
        ("{% load static %}", "Line 1: {% load %} is not allowed"),
        ("Hej\n\n{{ frist_name }}", "Line 3: {{ frist_name }} is not a variable of this message"),
        ("{% if secret %}x{% endif %}", "Line 1: {{ secret }} is not a variable of this message"),
        ("{{ amount|default:signature_id }}", "Line 1: {{ signature_id }} is not a variable"),
        ("{{ first_name|safe }}", "Line 1: the |safe filter is not allowed"),
        ("ok\n{% if tone == %}x{% endif %}", "Line 2: Unexpected end of expression in if tag."),
        ("{% if tone %}x", "Unclosed tag on line 1: 'if'"),
        ('{% now "Y" %}', "Line 1: {% now %} is not allowed"),
        ("   \n ", "Write the text, or go back to the default wording."),
    ],
)
def test_what_cannot_be_used_is_refused_with_the_reason(org, clock, body, problem):
    with pytest.raises(ValidationError) as refused:
        save(org, "sms", "en", body, clock)
    [message] = refused.value.message_dict["body"]
    assert message.startswith(problem), message
    assert not TemplateOverride.objects.exists()


@pytest.mark.parametrize(
    "body",
    [
        "{% include 'notify/email_base.html' %}",
        "{% extends 'x' %}",
        "{% debug %}",
        "{% load i18n %}",
    ],
)
def test_the_engine_itself_has_no_such_tags_and_reads_no_files(body):
    # Past the checks (a row written by hand), the engine still cannot do it.
    with pytest.raises(TemplateSyntaxError, match="Invalid block tag"):
        Template(body, engine=ENGINE)
    assert ENGINE.template_loaders == []
    with pytest.raises(TemplateSyntaxError, match="Invalid filter: 'safe'"):
        Template("{{ x|safe }}", engine=ENGINE)


def test_html_that_would_run_is_refused(org, clock):
    with pytest.raises(ValidationError) as refused:
        save(org, "email_html", "en", '<p>Hi</p>\n<p onclick="steal()">{{ amount }}</p>', clock)
    assert refused.value.message_dict["body"] == [
        "Line 2: '<p onclick=' is not allowed: an email's HTML cannot run anything "
        "(no scripts, frames, forms or event handlers)."
    ]
    with pytest.raises(ValidationError, match="'<script' is not allowed"):
        save(org, "email_html", "en", "<script>alert(1)</script>", clock)


def test_unknown_template_part_and_language_are_refused(org, clock):
    for kw, field in (
        ({"template": "dunning/nope"}, "template"),
        ({"template": "portal/signin", "part": "sms"}, "part"),
        ({"language": "de"}, "language"),
    ):
        args = {"part": "subject", "language": "en", "template": REMINDER} | kw
        with pytest.raises(ValidationError) as refused:
            save(org, args["part"], args["language"], "x", clock, template=args["template"])
        assert list(refused.value.message_dict) == [field]
    assert not TemplateOverride.objects.exists()


def test_saving_again_replaces_and_reset_goes_back_to_the_file(org, clock):
    context = reminder_ctx()
    file_subject = render(REMINDER, Channel.EMAIL, context, "sv").subject
    assert file_subject == "Din betalning till Iron Gym gick inte igenom"
    save(org, "subject", "sv", "Första {{ gym }}", clock)
    row = save(org, "subject", "sv", "Andra {{ gym }}\r\n", clock)
    assert (row.body, row.updated_at) == ("Andra {{ gym }}\n", clock.now())
    assert TemplateOverride.objects.count() == 1
    assert render(REMINDER, Channel.EMAIL, context, "sv", organization_id=org.pk).subject == (
        "Andra Iron Gym"
    )
    removed = template_override_reset(
        organization_id=org.pk, template=REMINDER, part="subject", language="sv"
    )
    assert removed is not None
    assert removed.body == "Andra {{ gym }}\n"
    assert not TemplateOverride.objects.exists()
    back = render(REMINDER, Channel.EMAIL, context, "sv", organization_id=org.pk)
    assert back.subject == file_subject
    assert (
        template_override_reset(
            organization_id=org.pk, template=REMINDER, part="subject", language="sv"
        )
        is None
    )


def test_a_stored_override_that_fails_falls_back_to_the_file(org, clock, caplog):
    # Written past the checks (they refuse it): the member still gets the message.
    TemplateOverride.objects.create(
        organization=org,
        template=REMINDER,
        part="subject",
        language="en",
        body="{% include 'notify/email_base.html' %}",
        updated_at=clock.now(),
    )
    with caplog.at_level(logging.ERROR, logger="dues.notify.render"):
        email = render(REMINDER, Channel.EMAIL, reminder_ctx(), "en", organization_id=org.pk)
    assert email.subject == "Your payment to Iron Gym did not go through"
    assert "using the file" in caplog.text


# --- the catalog --------------------------------------------------------------------------------


def test_every_template_on_disk_is_documented_with_samples():
    templates = {t.name: t for t in message_templates()}
    assert {
        "dunning/pre_notice",
        "dunning/reminder",
        "dunning/reminder_direct",
        "portal/contract",
        "portal/signin",
    } <= set(templates)
    assert templates["portal/signin"].parts == ("subject", "email_text", "email_html")
    assert templates[REMINDER].parts == (
        "subject",
        "email_text",
        "email_html",
        "sms",
        "in_app",
        "call",
    )
    for template in templates.values():
        assert template.doc is not None, f"{template.name} needs an entry in notify.catalog.DOCS"
        for variant, _label in template.doc.variants or (("", ""),):
            for language in LANGUAGES:
                sample = sample_context(template, language, gym="Iron Gym", variant=variant)
                assert set(sample) == template.variable_names, template.name
                if template.doc.variant_variable:
                    assert sample[template.doc.variant_variable] == variant


def test_samples_are_in_the_language():
    [reminder] = [t for t in message_templates() if t.name == REMINDER]
    sv = sample_context(reminder, "sv", gym="Iron Gym", variant="final")
    assert (sv["amount"], sv["due_date"], sv["invoice_number"]) == (
        "499,00\xa0kr",
        "1 mars 2026",
        "INV-000123",
    )
    assert sv["final_step"].startswith("Om vi inte har fått betalningen senast den 29 mars 2026")
    th = sample_context(reminder, "th", gym="Iron Gym", variant="friendly")
    assert th["due_date"] == "1 มีนาคม ค.ศ. 2026"
    assert th["pay_url"].startswith("http://127.0.0.1:8000/i/")


def test_the_default_wording_saved_unchanged_renders_as_the_file():
    """The starting point staff edit: every part of every template in every language,
    with every sample wording, passes the checks and renders exactly as the file does."""
    for template in message_templates():
        assert template.doc is not None
        for language in LANGUAGES:
            sources = {
                part: default_source(template.name, part, language) for part in template.parts
            }
            for part, source in sources.items():
                assert "{% load" not in source
                assert "blocktranslate" not in source
                override_check(source, variables=template.variable_names, html=part == "email_html")
            for variant, _label in template.doc.variants or (("", ""),):
                context = sample_context(
                    template, language, gym="Lift & <b>Run</b>", variant=variant
                )
                for part, source in sources.items():
                    as_file = render_part(template.name, part, context, language)
                    as_override = render_part(
                        template.name, part, context, language, {part: source}
                    )
                    assert as_override == as_file, (template.name, part, language, variant)


def test_default_wording_is_translated_with_the_variables_kept():
    assert default_source(REMINDER, "subject", "fr").startswith(
        '{% if tone == "final" %}Dernier rappel : la facture {{ invoice_number }}'
    )
    html = default_source("dunning/pre_notice", "email_html", "sv")
    assert html.startswith('<p style="margin:0 0 16px">{% if kind == "card_expiring" %}Kortet')
    assert "{% extends" not in html
    assert "{% include" not in html
    assert "Hej" not in html  # the greeting is the layout's


def test_the_documented_variables_are_what_the_senders_pass(org, location, clock, monkeypatch):
    seen: dict[str, set[str]] = {}
    real = notify_services.render

    def spy(template, channel, context, language, **kw):
        # The first call's: rendering a file may add to the dict (get_current_language).
        seen.setdefault(template, set(context))
        return real(template, channel, context, language, **kw)

    monkeypatch.setattr(notify_services, "render", spy)
    member = make_member(org, clock, email="anna@example.com", home_location=location)
    signin_request(email="anna@example.com", clock=clock)
    event = OutboxEvent.objects.create(
        organization=org,
        topic="dunning.pre_notice",
        aggregate_type="member",
        aggregate_id=member.pk,
        payload={
            "kind": "renewal",
            "payer_id": member.pk,
            "location_id": location.pk,
            "card_brand": "visa",
            "card_last4": "4242",
            "card_expires": None,
            "charge_on": "2026-02-15",
            "amount": 49900,
            "currency": "SEK",
        },
        created_at=clock.now(),
    )
    with transaction.atomic():
        pre_notice_messages_create(event, clock)
    documented = {t.name: t.variable_names for t in message_templates()}
    assert seen["portal/signin"] == documented["portal/signin"]
    assert seen["dunning/pre_notice"] == documented["dunning/pre_notice"]
    # Reminders: the context is built by one function for both texts.
    [reminder] = [t for t in message_templates() if t.name == REMINDER]
    assert set(sample_context(reminder, "en", gym="x")) == documented[REMINDER]
    assert documented["dunning/reminder_direct"] == documented[REMINDER]


def test_file_layout_for_overrides_has_no_content_of_its_own():
    html = render_to_string(
        "notify/email_override.html",
        {"first_name": "Anna", "gym": "Iron Gym", "override_html": ""},
    )
    assert '<p style="margin:0 0 16px">Hi Anna,</p>\n</td>' in html
    assert "Iron Gym</td>" in html


# --- SMS length ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", ("GSM-7", 0, 0)),
        ("a" * 160, ("GSM-7", 160, 1)),
        ("a" * 161, ("GSM-7", 161, 2)),
        ("a" * 306, ("GSM-7", 306, 2)),
        ("a" * 307, ("GSM-7", 307, 3)),
        ("€" * 80, ("GSM-7", 160, 1)),  # the extension table takes two units each
        ("Hej Åsa, 499 kr på fakturan é", ("GSM-7", 29, 1)),
        ("ç" + "a" * 69, ("UCS-2", 70, 1)),
        ("499,00\xa0kr", ("UCS-2", 9, 1)),
        ("ก" * 70, ("UCS-2", 70, 1)),
        ("ก" * 71, ("UCS-2", 71, 2)),
        ("ก" * 135, ("UCS-2", 135, 3)),
        ("😀" * 35, ("UCS-2", 70, 1)),  # two UTF-16 units each
    ],
)
def test_sms_length(text, expected):
    length = sms_length(text)
    assert (length.encoding, length.characters, length.segments) == expected
