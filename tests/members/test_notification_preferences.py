"""Notification preferences: which channels a member wants for service messages and for
payment messages, and how notify honours them. Payment messages always reach the member:
email and in-app cannot be turned off for them, and a message whose every channel the
member turned off goes by email and in-app instead."""

from __future__ import annotations

import pytest
from django.db import transaction

from dues.core.channels import Channel
from dues.core.models import OutboxEvent
from dues.core.outbox import event_emit, outbox_dispatch
from dues.dunning.services import policy_save
from dues.members.models import MessagePurpose
from dues.members.selectors import message_channels
from dues.members.services import notification_preferences_set
from dues.notify.models import Message
from dues.notify.reminders import dunning_messages_create
from dues.ops.jobs import bill
from tests.factories import DECLINE_FUNDS, d, join, make_member

pytestmark = pytest.mark.django_db

EMAIL, SMS, IN_APP, CALL = Channel.EMAIL, Channel.SMS, Channel.IN_APP, Channel.CALL
ALL_ON = {"service_email": True, "service_sms": True, "service_in_app": True, "payment_sms": True}


def prefs(org, clock, **off):
    member = make_member(org, clock, phone="070-123 45 67")
    notification_preferences_set(member=member, clock=clock, **(ALL_ON | off))
    return member


@pytest.mark.parametrize(
    ("off", "chosen", "expected"),
    [
        ({}, [EMAIL, SMS, IN_APP], [EMAIL, SMS, IN_APP]),
        ({"service_sms": False}, [EMAIL, SMS, IN_APP], [EMAIL, IN_APP]),
        ({"service_email": False, "service_in_app": False}, [EMAIL, SMS, IN_APP], [SMS]),
        # Every channel off: a service message is not sent at all.
        (
            {"service_email": False, "service_sms": False, "service_in_app": False},
            [EMAIL, SMS, IN_APP],
            [],
        ),
        # The payment switch says nothing about service messages.
        ({"payment_sms": False}, [SMS, IN_APP], [SMS, IN_APP]),
        # The sender's order is kept and a repeated channel counts once.
        ({}, [IN_APP, EMAIL, IN_APP], [IN_APP, EMAIL]),
    ],
)
def test_service_messages_follow_the_members_choice(org, clock, off, chosen, expected):
    member = prefs(org, clock, **off)
    assert message_channels(member, purpose=MessagePurpose.SERVICE, channels=chosen) == expected


@pytest.mark.parametrize(
    ("off", "chosen", "expected"),
    [
        ({}, [EMAIL, SMS], [EMAIL, SMS]),
        ({"payment_sms": False}, [EMAIL, SMS, IN_APP], [EMAIL, IN_APP]),
        # Turning service channels off does not silence payment messages.
        (
            {"service_email": False, "service_sms": False, "service_in_app": False},
            [EMAIL, SMS, IN_APP],
            [EMAIL, SMS, IN_APP],
        ),
        # The only channel the sender picked is off: email and in-app instead.
        ({"payment_sms": False}, [SMS], [EMAIL, IN_APP]),
        # A staff call task is not the member's channel: it stays, and email and in-app
        # still carry the words.
        ({"payment_sms": False}, [SMS, CALL], [CALL, EMAIL, IN_APP]),
        ({"payment_sms": False}, [CALL], [CALL]),
        # Preferences only take away; they never add a channel the sender did not pick
        # while one of the sender's is left.
        ({"payment_sms": False}, [SMS, IN_APP], [IN_APP]),
    ],
)
def test_payment_messages_always_reach_the_member(org, clock, off, chosen, expected):
    member = prefs(org, clock, **off)
    assert message_channels(member, purpose=MessagePurpose.PAYMENT, channels=chosen) == expected


def test_unknown_purpose_is_refused(org, clock):
    member = make_member(org, clock)
    with pytest.raises(ValueError, match="unknown purpose 'marketing'"):
        message_channels(member, purpose="marketing", channels=[EMAIL])


def test_saving_preferences_records_what_changed(org, clock):
    member = make_member(org, clock)
    assert (member.service_email, member.service_sms, member.service_in_app) == (True, True, True)
    assert member.payment_sms is True
    notification_preferences_set(
        member=member,
        clock=clock,
        service_email=True,
        service_sms=False,
        service_in_app=True,
        payment_sms=False,
    )
    member.refresh_from_db()
    assert (member.service_sms, member.payment_sms) == (False, False)
    event = OutboxEvent.objects.filter(topic="member.updated").get()
    assert event.payload == {"member_id": member.pk, "fields": ["payment_sms", "service_sms"]}
    assert event.created_at == clock.now()
    # Saving the same choice again changes nothing and tells nobody.
    same = ALL_ON | {"service_sms": False, "payment_sms": False}
    notification_preferences_set(member=member, clock=clock, **same)
    assert OutboxEvent.objects.filter(topic="member.updated").count() == 1


def reminder_payload(invoice, member, channels):
    return {
        "case_id": 1,
        "invoice_id": invoice.pk,
        "payer_id": member.pk,
        "tone": "friendly",
        "style": "full",
        "channels": channels,
        "days_overdue": 3,
        "next_restriction": None,
        "next_restriction_on": None,
        "invoice_number": invoice.number,
        "amount_due": invoice.total,
        "currency": invoice.currency,
        "due_date": str(invoice.due_date),
        "next_retry_at": None,
        "waiting_for_card": False,
        "final_action": "cancel",
        "final_action_on": "2026-02-15",
    }


def pre_notice_payload(location, member):
    return {
        "payer_id": member.pk,
        "location_id": location.pk,
        "kind": "renewal",
        "card_brand": "visa",
        "card_last4": "4242",
        "card_expires": None,
        "charge_on": "2026-02-15",
        "amount": 49900,
        "currency": "SEK",
    }


def consume(org, clock, topic, payload) -> list[str]:
    with transaction.atomic():
        event_emit(
            organization=org,
            topic=topic,
            aggregate_type="dunning_case",
            aggregate_id=1,
            payload=payload,
            clock=clock,
        )
        event = OutboxEvent.objects.filter(topic=topic).latest("id")
        dunning_messages_create(event, clock)
    return list(
        Message.objects.filter(event=event).order_by("id").values_list("channel", flat=True)
    )


def test_notify_leaves_out_sms_the_payer_turned_off(org, location, clock, gateway):
    from dues.billing.models import Invoice

    member, _ = join(org, location, clock, member_kw={"phone": "070-123 45 67"})
    bill(as_of=d("2026-01-15"), clock=clock, gateway=gateway)
    invoice = Invoice.objects.get(payer=member)
    channels = [EMAIL, SMS, IN_APP]
    assert consume(org, clock, "dunning.reminder", reminder_payload(invoice, member, channels)) == [
        "email",
        "sms",
        "in_app",
    ]
    notification_preferences_set(
        member=member,
        clock=clock,
        service_email=False,
        service_sms=False,
        service_in_app=False,
        payment_sms=False,
    )
    assert consume(org, clock, "dunning.reminder", reminder_payload(invoice, member, channels)) == [
        "email",
        "in_app",
    ]
    # An SMS-only step still reaches the payer, by email and in the app.
    assert consume(org, clock, "dunning.reminder", reminder_payload(invoice, member, [SMS])) == [
        "email",
        "in_app",
    ]
    # Notices before a charge go by email and in-app whatever the payer turned off.
    assert consume(org, clock, "dunning.pre_notice", pre_notice_payload(location, member)) == [
        "email",
        "in_app",
    ]


def test_a_failed_payment_with_sms_off_is_told_by_email_and_in_app(org, location, clock, gateway):
    """The whole way: the card fails, dunning's day-0 step says SMS only; a payer who
    turned SMS off gets an email and an in-app message, one who did not gets the SMS."""
    policy_save(
        organization_id=org.pk,
        clock=clock,
        fields={"name": "Text first"},
        steps=[{"day_offset": 0, "channels": ["sms"], "tone": "friendly"}],
    )
    phone = {"phone": "070-123 45 67"}
    quiet, _ = join(org, location, clock, DECLINE_FUNDS, member_kw=phone)
    notification_preferences_set(member=quiet, clock=clock, **(ALL_ON | {"payment_sms": False}))
    texted, _ = join(org, location, clock, DECLINE_FUNDS, member_kw=phone)
    bill(as_of=d("2026-01-15"), clock=clock, gateway=gateway)
    outbox_dispatch(clock=clock)

    def log(member):
        sent = Message.objects.filter(member=member).order_by("id")
        return [(m.channel, m.template, m.status, m.to) for m in sent]

    assert log(quiet) == [
        ("email", "dunning/reminder_friendly", "queued", quiet.email),
        ("in_app", "dunning/reminder_friendly", "delivered", ""),
    ]
    assert log(texted) == [("sms", "dunning/reminder_friendly", "queued", "+46701234567")]
