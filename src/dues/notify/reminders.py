"""Dunning reminders: a ``dunning.reminder`` event becomes one message per channel of the
step, in the payer's language, addressed by name, with the amount, the due date, what
happens next and a signed link to pay or update the card.

The step (or the pre-notice) proposes the channels; the payer's notification preferences
then decide, by the payment-message rule in ``members.selectors.message_channels``: SMS
can be turned off, email and in-app cannot, and a message never loses every channel."""

from __future__ import annotations

from datetime import date
from typing import Any

from django.utils import translation
from django.utils.translation import gettext as _

from dues.billing.links import invoice_link
from dues.billing.models import Invoice
from dues.core.channels import Channel
from dues.core.clock import Clock
from dues.core.models import Location, OutboxEvent
from dues.members.models import Member, MessagePurpose
from dues.members.selectors import message_channels
from dues.notify.models import Message
from dues.notify.render import date_text, message_language, money_text
from dues.notify.services import message_create
from dues.payments.links import card_link

REMINDER_TOPICS = ("dunning.reminder", "dunning.pre_notice")
TEMPLATE = "dunning/reminder"
DIRECT_TEMPLATE = "dunning/reminder_direct"
PRE_NOTICE_TEMPLATE = "dunning/pre_notice"
PRE_NOTICE_CHANNELS = (Channel.EMAIL, Channel.IN_APP)


def dunning_messages_create(event: OutboxEvent, clock: Clock) -> None:
    """Outbox consumer: runs once per event (the dispatcher records the delivery in this
    transaction); the unique (event, channel) pair keeps a replay from writing twice."""
    if event.topic == "dunning.pre_notice":
        pre_notice_messages_create(event, clock)
    else:
        reminder_messages_create(event, clock)


def reminder_messages_create(event: OutboxEvent, clock: Clock) -> None:
    p = event.payload
    invoice = Invoice.objects.select_related("location", "organization").get(pk=p["invoice_id"])
    member = Member.objects.get(pk=p["payer_id"], organization_id=event.organization_id)
    language = message_language(member, invoice.location)
    done = set(Message.objects.filter(event=event).values_list("channel", flat=True))
    for channel in message_channels(member, purpose=MessagePurpose.PAYMENT, channels=p["channels"]):
        if channel in done:
            continue
        message_create(
            member=member,
            location=invoice.location,
            channel=channel,
            template=reminder_template(p),
            template_variant=p["tone"],
            context=reminder_context(p, member, invoice, language, clock),
            language=language,
            created_at=event.created_at,
            event=event,
            invoice_id=invoice.pk,
        )


def reminder_template(p: dict[str, Any]) -> str:
    """The experiment's direct text for friendly and firm reminders; the final notice is
    always the full one (it must say what happens on the last day)."""
    if p.get("style") == "direct" and p["tone"] != "final":
        return DIRECT_TEMPLATE
    return TEMPLATE


def reminder_context(
    p: dict[str, Any], member: Member, invoice: Invoice, language: str, clock: Clock
) -> dict[str, Any]:
    def day(value: str | None) -> str:
        return date_text(date.fromisoformat(value), language) if value else ""

    with translation.override(language):
        return {
            "tone": p["tone"],
            "first_name": member.first_name,
            "full_name": f"{member.first_name} {member.last_name}".strip(),
            "phone": member.phone,
            "gym": invoice.organization.name,
            "invoice_number": p["invoice_number"],
            "amount": money_text(p["amount_due"], p["currency"], language),
            "due_date": day(p["due_date"]),
            "days_overdue": p["days_overdue"],
            "next_step": _next_step(p, day),
            "final_step": _final_step(p["final_action"], day(p["final_action_on"])),
            "pay_url": invoice_link(
                invoice_id=invoice.pk, organization_id=invoice.organization_id, clock=clock
            ),
        }


def _next_step(p: dict[str, Any], day: Any) -> str:
    """One sentence on what happens next, the soonest first."""
    if p["waiting_for_card"]:
        return _("We cannot charge the card we have on file. Please add a new card.")
    restriction, on = p["next_restriction"], day(p["next_restriction_on"])
    if restriction == "block_bookings":
        return _("If it is still unpaid on %(date)s, class bookings will be paused.") % {"date": on}
    if restriction == "block_access":
        return _("If it is still unpaid on %(date)s, door access will be paused.") % {"date": on}
    if restriction == "cancel":
        return _("If it is still unpaid on %(date)s, your membership will be cancelled.") % {
            "date": on
        }
    return ""


def _final_step(action: str, on: str) -> str:
    """The final notice's last word: what happens on the last day, and when."""
    if action == "collections":
        return _(
            "If we have not received the payment by %(date)s, the debt will be handed to "
            "a collection agency."
        ) % {"date": on}
    if action == "cancel":
        return _(
            "If we have not received the payment by %(date)s, your membership will be "
            "cancelled and the amount will remain owed."
        ) % {"date": on}
    return _(
        "If we have not received the payment by %(date)s, we will stop charging your "
        "card; the amount will remain owed."
    ) % {"date": on}


def pre_notice_messages_create(event: OutboxEvent, clock: Clock) -> None:
    """A notice before anything failed: by email and in the app."""
    p = event.payload
    member = Member.objects.get(pk=p["payer_id"], organization_id=event.organization_id)
    location = Location.objects.select_related("organization").get(pk=p["location_id"])
    language = message_language(member, location)
    done = set(Message.objects.filter(event=event).values_list("channel", flat=True))
    with translation.override(language):
        context = {
            "kind": p["kind"],
            "first_name": member.first_name,
            "gym": location.organization.name,
            "card": f"{p['card_brand'].title()} •••• {p['card_last4']}" if p["card_last4"] else "",
            "card_expires": date_text(date.fromisoformat(p["card_expires"]), language)
            if p.get("card_expires")
            else "",
            "charge_on": date_text(date.fromisoformat(p["charge_on"]), language),
            "amount": money_text(p["amount"], p["currency"], language) if "amount" in p else "",
            "update_url": card_link(
                member_id=member.pk, organization_id=member.organization_id, clock=clock
            ),
        }
    for channel in message_channels(
        member, purpose=MessagePurpose.PAYMENT, channels=PRE_NOTICE_CHANNELS
    ):
        if channel in done:
            continue
        message_create(
            member=member,
            location=location,
            channel=channel,
            template=PRE_NOTICE_TEMPLATE,
            template_variant=p["kind"],
            context=context,
            language=language,
            created_at=event.created_at,
            event=event,
        )
