"""An email about an invoice carries it as a PDF in the message's language, rendered when
the email is sent; other email carries nothing; a PDF that cannot be rendered delays the
email (retried) but never loses it. All through a real SMTP server."""

from __future__ import annotations

import io
from email.message import EmailMessage

import pytest
from django.db import transaction
from pypdf import PdfReader

from dues.billing.models import Invoice
from dues.core.channels import Channel
from dues.dunning.services import policy_default
from dues.notify import send
from dues.notify.documents import invoice_pdf
from dues.notify.models import Message
from dues.notify.send import BACKOFF, messages_send
from dues.notify.services import message_create
from dues.ops.jobs import bill, deliver
from dues.payments.gateways.sandbox import SandboxGateway
from tests.factories import DECLINE_FUNDS, d, join, make_location, make_member, make_org
from tests.smtp import text_part

pytestmark = pytest.mark.django_db


def pdf_text(received: EmailMessage) -> tuple[str, str]:
    """(file name, text) of the one PDF the email carries."""
    [part] = received.iter_attachments()
    assert part.get_content_type() == "application/pdf"
    content = part.get_content()
    assert isinstance(content, bytes)
    [page] = PdfReader(io.BytesIO(content)).pages
    return str(part.get_filename()), page.extract_text()


def billed(org, location, clock, card: str = DECLINE_FUNDS, **member_kw) -> Invoice:
    member, _ = join(org, location, clock, card, member_kw=member_kw)
    bill(as_of=d("2026-01-15"), clock=clock, gateway=SandboxGateway())
    return Invoice.objects.get(payer=member)


def queue(member, location, clock, *, invoice_id: int | None) -> Message:
    with transaction.atomic():
        return message_create(
            member=member,
            location=location,
            channel=Channel.EMAIL,
            template="portal/signin",
            context={"first_name": member.first_name, "gym": "Iron Gym", "minutes": 15},
            language="sv",
            created_at=clock.now(),
            invoice_id=invoice_id,
        )


def test_a_dunning_reminder_carries_its_invoice_in_the_members_language(org, location, clock, smtp):
    policy_default(organization_id=org.pk, clock=clock)
    invoice = billed(
        org, location, clock, first_name="Anna", email="anna@example.se", language="sv"
    )
    deliver(clock=clock)  # the failed charge's reminder: email and in-app
    reminder = Message.objects.get(channel=Channel.EMAIL, invoice_id=invoice.pk)
    [received] = smtp.to("anna@example.se")
    assert received["Message-ID"] == reminder.provider_id
    assert text_part(received).startswith("Hej Anna!\n")  # the text is still the body
    name, text = pdf_text(received)
    assert name == f"{invoice.number}.pdf"
    assert invoice.number in text
    assert "Faktura" in text  # Swedish, as the message
    assert "499,00" in text.replace("\xa0", " ")


def test_an_email_about_no_invoice_carries_nothing(org, location, clock, smtp):
    member = make_member(org, clock, email="anna@example.se")
    queue(member, location, clock, invoice_id=None)
    assert messages_send(clock=clock)["sent"] == 1
    [received] = smtp.to("anna@example.se")
    assert list(received.iter_attachments()) == []
    assert received.get_content_type() == "multipart/alternative"


def failing(monkeypatch, times: int) -> None:
    """Rendering fails ``times`` times (as when WeasyPrint cannot load), then works."""
    left = [times]

    def render(invoice: Invoice, language: str) -> bytes:
        if left[0]:
            left[0] -= 1
            raise OSError("cannot load library 'libpango-1.0-0'")
        return invoice_pdf(invoice, language)

    monkeypatch.setattr(send, "invoice_pdf", render)


def test_a_pdf_that_fails_once_is_retried_and_sent_with_the_email(
    org, location, clock, smtp, monkeypatch
):
    invoice = billed(org, location, clock, email="anna@example.se")
    message = queue(invoice.payer, location, clock, invoice_id=invoice.pk)
    failing(monkeypatch, 1)
    assert messages_send(clock=clock) == {"sent": 0, "retrying": 1, "failed": 0}
    message.refresh_from_db()
    assert message.error == "document not rendered: cannot load library 'libpango-1.0-0'"
    assert smtp.messages == []
    clock.advance(BACKOFF[0])
    assert messages_send(clock=clock) == {"sent": 1, "retrying": 0, "failed": 0}
    message.refresh_from_db()
    assert (message.status, message.error) == ("sent", "")
    [received] = smtp.messages
    assert pdf_text(received)[0] == f"{invoice.number}.pdf"


def test_a_pdf_that_never_renders_lets_the_email_go_without_it_on_the_last_try(
    org, location, clock, smtp, monkeypatch
):
    invoice = billed(org, location, clock, email="anna@example.se")
    message = queue(invoice.payer, location, clock, invoice_id=invoice.pk)
    failing(monkeypatch, 99)
    for delay in BACKOFF:
        assert messages_send(clock=clock)["retrying"] == 1
        clock.advance(delay)
    assert messages_send(clock=clock) == {"sent": 1, "retrying": 0, "failed": 0}
    message.refresh_from_db()
    assert message.status == "sent"
    assert message.error == ("sent without its PDF: cannot load library 'libpango-1.0-0'")
    [received] = smtp.messages
    assert list(received.iter_attachments()) == []


def test_another_organizations_invoice_is_never_attached(org, location, clock, smtp):
    other = make_org(clock)
    theirs = billed(other, make_location(other), clock)
    member = make_member(org, clock, email="anna@example.se")
    message = queue(member, location, clock, invoice_id=theirs.pk)
    assert messages_send(clock=clock)["retrying"] == 1
    message.refresh_from_db()
    assert message.error == ("document not rendered: Invoice matching query does not exist.")
    assert smtp.messages == []


def test_mail_thrown_away_renders_no_pdf(org, location, clock, settings, monkeypatch):
    """Simulations send to Django's dummy backend: no PDF is drawn for them (~0.5 s each)."""
    settings.EMAIL_BACKEND = "django.core.mail.backends.dummy.EmailBackend"
    invoice = billed(org, location, clock, email="anna@example.se")
    message = queue(invoice.payer, location, clock, invoice_id=invoice.pk)
    failing(monkeypatch, 99)  # would be retried, were it called
    assert messages_send(clock=clock) == {"sent": 1, "retrying": 0, "failed": 0}
    message.refresh_from_db()
    assert (message.status, message.error) == ("sent", "")
