"""Class messages: a ``class.*`` event (see ``dues.classes.events``) becomes one message
per channel in the member's language, with the class's day and time written in the
location's time zone. Everything comes from the event's payload, so notify does not
import classes (it sits below it in DESIGN's order).

Changes, cancellations and promotions may go by SMS too (they matter within hours); a
reminder and a fee go by email and in the app. The member's service preferences decide
(``members.selectors.message_channels``); a fee is a payment message, which always
reaches them."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from babel.dates import format_time
from django.conf import settings
from django.utils import translation

from dues.core.channels import Channel
from dues.core.clock import Clock
from dues.core.models import Location, OutboxEvent
from dues.members.models import Member, MessagePurpose
from dues.members.selectors import message_channels
from dues.notify.models import Message
from dues.notify.render import date_text, message_language, money_text
from dues.notify.services import message_create

# topic → (template, channels the gym proposes, purpose)
CLASS_MESSAGES: dict[str, tuple[str, tuple[str, ...], str]] = {
    "class.reminder": ("classes/reminder", (Channel.EMAIL, Channel.IN_APP), MessagePurpose.SERVICE),
    "class.session_cancelled": (
        "classes/cancelled",
        (Channel.EMAIL, Channel.SMS, Channel.IN_APP),
        MessagePurpose.SERVICE,
    ),
    "class.session_changed": (
        "classes/changed",
        (Channel.EMAIL, Channel.SMS, Channel.IN_APP),
        MessagePurpose.SERVICE,
    ),
    "class.promoted": (
        "classes/promoted",
        (Channel.EMAIL, Channel.SMS, Channel.IN_APP),
        MessagePurpose.SERVICE,
    ),
    "class.fee_charged": ("classes/fee", (Channel.EMAIL, Channel.IN_APP), MessagePurpose.PAYMENT),
}
CLASS_TOPICS = tuple(CLASS_MESSAGES)


def class_messages_create(event: OutboxEvent, clock: Clock) -> None:
    """Outbox consumer: once per event; the unique (event, channel) pair keeps a replay
    from writing twice."""
    template, channels, purpose = CLASS_MESSAGES[event.topic]
    p = event.payload
    member = Member.objects.get(pk=p["member_id"], organization_id=event.organization_id)
    location = Location.objects.select_related("organization").get(pk=p["location_id"])
    language = message_language(member, location)
    context = class_context(p, member, location, language)
    done = set(Message.objects.filter(event=event).values_list("channel", flat=True))
    for channel in message_channels(member, purpose=purpose, channels=channels):
        if channel in done:
            continue
        message_create(
            member=member,
            location=location,
            channel=channel,
            template=template,
            template_variant=p.get("kind", "") if event.topic == "class.fee_charged" else "",
            context=context,
            language=language,
            created_at=event.created_at,
            event=event,
            invoice_id=p.get("invoice_id"),
        )


def local_day_time(instant: str, tz: str, language: str) -> tuple[str, str]:
    """The day (written out) and the time (as the language writes it) of an ISO instant
    in the time zone ``tz``."""
    at = datetime.fromisoformat(instant).astimezone(ZoneInfo(tz))
    return date_text(at.date(), language), format_time(
        at.time(), "short", locale=translation.to_locale(language)
    )


def class_context(
    p: dict[str, Any], member: Member, location: Location, language: str
) -> dict[str, Any]:
    """Every variable a class message may use (``notify.catalog`` documents them)."""
    day, time = local_day_time(p["starts_at"], location.timezone, language)
    old_day, old_time = (
        local_day_time(p["old_starts_at"], location.timezone, language)
        if p.get("old_starts_at")
        else (day, time)
    )
    with translation.override(language):
        return {
            "first_name": member.first_name,
            "gym": location.organization.name,
            "class_name": p["class_name"],
            "day": day,
            "time": time,
            "old_day": old_day,
            "old_time": old_time,
            "room": p["room"],
            "instructor": p.get("instructor", ""),
            "reason": p.get("reason", ""),
            "kind": p.get("kind", ""),
            "amount": money_text(p["amount"], p["currency"], language) if "amount" in p else "",
            "invoice_number": p.get("invoice_number", ""),
            "portal_url": f"{settings.DUES_PUBLIC_URL}/me/classes/",
        }
