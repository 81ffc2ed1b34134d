"""Sending: after the deciding transaction, with retries and a back-off when the server
refuses, a clear reason when a member cannot be reached, and at-least-once delivery."""

from __future__ import annotations

import pytest
from django.db import transaction

from dues.core.channels import Channel
from dues.notify.models import Message, MessageStatus
from dues.notify.send import BACKOFF, LEASE, MAX_TRIES, messages_send
from dues.notify.services import MessageStateError, message_create, message_transition
from tests.factories import make_member
from tests.smtp import free_port

pytestmark = pytest.mark.django_db

CONTEXT = {
    "tone": "friendly",
    "first_name": "Anna",
    "full_name": "Anna Lindqvist",
    "phone": "",
    "gym": "Iron Gym",
    "invoice_number": "INV-1",
    "amount": "499,00 kr",
    "due_date": "15 januari 2026",
    "days_overdue": 0,
    "next_step": "",
    "final_step": "",
    "pay_url": "http://127.0.0.1:8000/i/x/",
}


def queue(member, location, clock, channel=Channel.EMAIL) -> Message:
    with transaction.atomic():
        return message_create(
            member=member,
            location=location,
            channel=channel,
            template="dunning/reminder",
            template_variant="friendly",
            context=CONTEXT,
            language="sv",
            created_at=clock.now(),
        )


def test_refused_email_is_retried_after_a_back_off_then_sent(org, location, clock, smtp):
    member = make_member(org, clock, email="anna@example.se")
    message = queue(member, location, clock)
    smtp.refuse = 1
    assert messages_send(clock=clock) == {"sent": 0, "retrying": 1, "failed": 0}
    message.refresh_from_db()
    assert message.status == MessageStatus.QUEUED
    assert "451" in message.error
    assert message.next_try_at == clock.now() + BACKOFF[0]
    assert messages_send(clock=clock) == {"sent": 0, "retrying": 0, "failed": 0}  # not yet
    clock.advance(BACKOFF[0])
    assert messages_send(clock=clock) == {"sent": 1, "retrying": 0, "failed": 0}
    message.refresh_from_db()
    assert (message.status, message.tries, message.error) == ("sent", 2, "")
    assert message.sent_at == clock.now()
    [received] = smtp.to("anna@example.se")
    assert received["Message-ID"] == message.provider_id


def test_unreachable_server_fails_after_the_last_try(org, location, clock, settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = free_port()  # nothing listens
    settings.EMAIL_TIMEOUT = 2
    message = queue(make_member(org, clock), location, clock)
    for delay in BACKOFF:
        assert messages_send(clock=clock)["retrying"] == 1
        clock.advance(delay)
    assert messages_send(clock=clock)["failed"] == 1
    message.refresh_from_db()
    assert message.status == MessageStatus.FAILED
    assert message.tries == MAX_TRIES
    assert "refused" in message.error.lower()


def test_sms_goes_through_the_backend_in_e164(org, location, clock, sms_file):
    member = make_member(org, clock, phone="070-123 45 67")
    message = queue(member, location, clock, Channel.SMS)
    assert message.to == "+46701234567"
    assert messages_send(clock=clock)["sent"] == 1
    [sms] = sms_file()
    assert sms["to"] == "+46701234567"
    assert sms["body"].startswith("Iron Gym: hej Anna")
    assert sms["reference"] == str(message.pk)
    message.refresh_from_db()
    assert message.provider_id == sms["id"]


@pytest.mark.parametrize(
    ("channel", "fields", "reason"),
    [
        (Channel.EMAIL, {"email": ""}, "the member has no email address"),
        (Channel.EMAIL, {"email": "anna@"}, "'anna@' is not a valid email address"),
        (Channel.SMS, {"phone": ""}, "the member has no phone number"),
        (Channel.SMS, {"phone": "12"}, "'12' is not a valid phone number"),
    ],
)
def test_unreachable_member_is_logged_with_the_reason(
    org, location, clock, sms_file, channel, fields, reason
):
    member = make_member(org, clock, email="a@example.com", phone="0701234567")
    for name, value in fields.items():
        setattr(member, name, value)
    member.save()
    message = queue(member, location, clock, channel)
    assert (message.status, message.error) == (MessageStatus.SKIPPED, reason)
    assert messages_send(clock=clock)["sent"] == 0
    assert sms_file() == []


def test_a_sender_that_died_mid_send_is_replaced_after_the_lease(org, location, clock, smtp):
    message = queue(make_member(org, clock, email="anna@example.se"), location, clock)
    with transaction.atomic():  # claimed by a process that then died
        message_transition(
            message, MessageStatus.SENDING, clock=clock, tries=1, next_try_at=clock.now() + LEASE
        )
    assert messages_send(clock=clock)["sent"] == 0
    clock.advance(LEASE)
    assert messages_send(clock=clock)["sent"] == 1
    message.refresh_from_db()
    assert (message.status, message.tries) == ("sent", 2)
    assert len(smtp.to("anna@example.se")) == 1


def test_illegal_status_change_is_refused(org, location, clock):
    message = queue(make_member(org, clock), location, clock, Channel.IN_APP)
    assert message.status == MessageStatus.DELIVERED
    with pytest.raises(MessageStateError, match="a delivered message cannot become sent"):
        message_transition(message, MessageStatus.SENT, clock=clock)


def test_message_create_refuses_an_unknown_channel(org, location, clock):
    with pytest.raises(ValueError, match="unknown channel 'fax'"):
        queue(make_member(org, clock), location, clock, "fax")
    assert not Message.objects.exists()


def test_sending_inside_a_transaction_is_refused(org, clock):
    with transaction.atomic(), pytest.raises(RuntimeError):
        messages_send(clock=clock)
