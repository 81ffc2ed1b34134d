"""The Twilio SMS backend against a local Twilio API over real HTTP: the form Twilio
expects, the sid it answers with, its errors told apart (a number that does not exist
fails at once; an outage, a rate limit or a timeout is retried), and the auth token kept
out of every log and error."""

from __future__ import annotations

import base64
import logging
import time

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.db import transaction

from dues.core.channels import Channel
from dues.notify.models import Message
from dues.notify.send import BACKOFF, messages_send
from dues.notify.services import message_create
from dues.notify.sms import SmsError, TwilioSmsBackend
from tests.factories import make_member
from tests.notify.twilio_server import ACCOUNT_SID, AUTH_TOKEN, MESSAGING_SERVICE_SID
from tests.smtp import free_port

TO = "+46701234567"


def send(to: str = TO, body: str = "Iron Gym: hej Anna") -> str:
    return TwilioSmsBackend().send(to=to, body=body, reference="42")


def test_posts_the_form_twilio_expects_and_returns_the_sid(twilio):
    sid = send()
    assert twilio.requests == [{"To": TO, "From": "+46700000001", "Body": "Iron Gym: hej Anna"}]
    assert sid == twilio.sids[0]
    assert sid.startswith("SM")


def test_a_messaging_service_picks_the_sender_and_status_reports_are_asked_for(twilio, settings):
    settings.DUES_TWILIO_MESSAGING_SERVICE_SID = MESSAGING_SERVICE_SID
    settings.DUES_TWILIO_STATUS_CALLBACK = "https://gym.example/hooks/twilio/"
    send()
    assert twilio.requests == [
        {
            "To": TO,
            "MessagingServiceSid": MESSAGING_SERVICE_SID,
            "Body": "Iron Gym: hej Anna",
            "StatusCallback": "https://gym.example/hooks/twilio/",
        }
    ]


@pytest.mark.parametrize(
    ("to", "code", "text"),
    [
        ("+15005550001", 21211, "The 'To' number +15005550001 is not a valid phone number."),
        ("+15005550009", 21614, "'To' number is not a valid mobile number"),
    ],
)
def test_a_number_twilio_cannot_reach_is_a_permanent_error(twilio, to, code, text):
    with pytest.raises(SmsError) as caught:
        send(to)
    assert (str(caught.value), caught.value.code, caught.value.permanent) == (
        f"Twilio error {code}: {text}",
        code,
        True,
    )


def test_wrong_credentials_are_retried_and_the_token_is_not_in_the_error(twilio, settings):
    settings.DUES_TWILIO_AUTH_TOKEN = "a-wrong-token"
    with pytest.raises(SmsError) as caught:
        send()
    assert (str(caught.value), caught.value.code, caught.value.permanent) == (
        "Twilio error 20003: Authenticate",
        20003,
        False,
    )
    assert twilio.requests == []


@pytest.mark.parametrize("status", ["500", "429"])
def test_an_outage_or_a_rate_limit_is_temporary(twilio, status):
    twilio.fail.append(status)
    with pytest.raises(SmsError) as caught:
        send()
    assert str(caught.value) == f"Twilio answered HTTP {status}; trying again later"
    assert (caught.value.code, caught.value.permanent) == (None, False)


def test_a_slow_answer_times_out(twilio):
    twilio.fail.append("slow")
    started = time.monotonic()
    with pytest.raises(SmsError, match=r"^Twilio did not answer within 0.5 s$") as caught:
        send()
    assert time.monotonic() - started < 3
    assert not caught.value.permanent


def test_an_unreachable_api_is_temporary(twilio, settings):
    settings.DUES_TWILIO_API_BASE = f"http://127.0.0.1:{free_port()}"  # nothing listens
    with pytest.raises(SmsError, match=r"^Twilio could not be reached: ") as caught:
        send()
    assert not caught.value.permanent


def test_a_number_written_with_spaces_and_dashes_is_sent_in_e164(twilio):
    send("+46 70-123 45 67")
    assert [r["To"] for r in twilio.requests] == [TO]


@pytest.mark.parametrize("to", ["0701234567", "46701234567", "+46 70 123 45 6x", ""])
def test_a_number_not_in_e164_is_refused_before_calling_twilio(twilio, to):
    with pytest.raises(SmsError) as caught:
        send(to)
    written = to.replace(" ", "")
    assert str(caught.value) == (
        f"{written!r} is not a phone number in E.164 form (like +46701234567)"
    )
    assert caught.value.permanent
    assert twilio.requests == []


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("DUES_TWILIO_ACCOUNT_SID", "DUES_TWILIO_ACCOUNT_SID is not set"),
        ("DUES_TWILIO_AUTH_TOKEN", "DUES_TWILIO_AUTH_TOKEN is not set"),
        ("DUES_TWILIO_FROM", r"DUES_TWILIO_FROM \(or DUES_TWILIO_MESSAGING_SERVICE_SID\) is not"),
    ],
)
def test_a_missing_setting_is_named(twilio, settings, name, message):
    setattr(settings, name, "")
    with pytest.raises(ImproperlyConfigured, match=message):
        TwilioSmsBackend()


def test_the_sender_is_a_number_or_an_alphanumeric_id(twilio, settings):
    settings.DUES_TWILIO_FROM = "IronGym"
    send()
    assert twilio.requests[0]["From"] == "IronGym"
    settings.DUES_TWILIO_FROM = "0700000001"
    with pytest.raises(ImproperlyConfigured, match="DUES_TWILIO_FROM='0700000001' is neither"):
        TwilioSmsBackend()


def test_the_backend_does_not_show_its_token(twilio):
    assert repr(TwilioSmsBackend()) == f"TwilioSmsBackend(account_sid={ACCOUNT_SID!r})"


# messages_send with Twilio as the SMS backend


def queue_sms(org, location, clock, phone="070-123 45 67") -> Message:
    member = make_member(org, clock, first_name="Anna", phone=phone)
    with transaction.atomic():
        return message_create(
            member=member,
            location=location,
            channel=Channel.SMS,
            template="dunning/reminder",
            template_variant="friendly",
            context={"gym": "Iron Gym", "first_name": "Anna", "amount": "499,00 kr"},
            language="sv",
            created_at=clock.now(),
        )


@pytest.mark.django_db
def test_a_sent_sms_keeps_twilios_sid(org, location, clock, twilio):
    message = queue_sms(org, location, clock)
    assert messages_send(clock=clock) == {"sent": 1, "retrying": 0, "failed": 0}
    message.refresh_from_db()
    [form] = twilio.requests
    assert (form["To"], form["Body"]) == (TO, message.body)
    assert (message.status, message.provider_id, message.error) == ("sent", twilio.sids[0], "")


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("fail", "error"),
    [
        ("500", "Twilio answered HTTP 500; trying again later"),
        ("slow", "Twilio did not answer within 0.5 s"),
    ],
)
def test_an_outage_is_retried_after_the_back_off(org, location, clock, twilio, fail, error):
    message = queue_sms(org, location, clock)
    twilio.fail.append(fail)
    assert messages_send(clock=clock) == {"sent": 0, "retrying": 1, "failed": 0}
    message.refresh_from_db()
    assert (message.status, message.error) == ("queued", error)
    assert message.next_try_at == clock.now() + BACKOFF[0]
    clock.advance(BACKOFF[0])
    assert messages_send(clock=clock) == {"sent": 1, "retrying": 0, "failed": 0}
    message.refresh_from_db()
    assert (message.status, message.tries, message.provider_id) == ("sent", 2, twilio.sids[-1])


@pytest.mark.django_db
def test_a_number_that_does_not_exist_fails_at_once(org, location, clock, twilio):
    message = queue_sms(org, location, clock)
    # Valid to libphonenumber, refused by the carrier: Twilio's magic invalid number.
    Message.objects.filter(pk=message.pk).update(to="+15005550001")
    assert messages_send(clock=clock) == {"sent": 0, "retrying": 0, "failed": 1}
    message.refresh_from_db()
    assert (message.status, message.tries) == ("failed", 1)
    assert message.error == (
        "Twilio error 21211: The 'To' number +15005550001 is not a valid phone number."
    )


@pytest.mark.django_db
def test_a_misconfigured_provider_fails_its_sms_but_not_the_email(
    org, location, clock, twilio, smtp, settings
):
    settings.DUES_TWILIO_AUTH_TOKEN = ""
    sms = queue_sms(org, location, clock)
    member = make_member(org, clock, email="anna@example.se")
    with transaction.atomic():
        email = message_create(
            member=member,
            location=location,
            channel=Channel.EMAIL,
            template="portal/signin",
            context={"first_name": "Anna", "gym": "Iron Gym", "url": "http://x/"},
            language="en",
            created_at=clock.now(),
        )
    assert messages_send(clock=clock) == {"sent": 1, "retrying": 1, "failed": 0}
    sms.refresh_from_db()
    email.refresh_from_db()
    assert (email.status, sms.status) == ("sent", "queued")
    assert sms.error == "DUES_TWILIO_AUTH_TOKEN is not set: the Twilio SMS backend needs it"
    assert len(smtp.to("anna@example.se")) == 1


@pytest.mark.django_db
def test_the_auth_token_is_never_logged(org, location, clock, twilio, settings, caplog):
    caplog.set_level(logging.DEBUG)  # httpx and httpcore included
    queue_sms(org, location, clock)
    queue_sms(org, location, clock, phone="070-765 43 21")
    twilio.fail.append("500")
    assert messages_send(clock=clock) == {"sent": 1, "retrying": 1, "failed": 0}
    assert "not sent: Twilio answered HTTP 500" in caplog.text
    assert "HTTP Request: POST" in caplog.text  # httpx did log its requests
    basic = base64.b64encode(f"{ACCOUNT_SID}:{AUTH_TOKEN}".encode()).decode()
    for secret in (AUTH_TOKEN, basic):
        assert secret not in caplog.text
        assert not Message.objects.filter(error__contains=secret).exists()
