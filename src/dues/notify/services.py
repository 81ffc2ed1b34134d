"""Writing messages: one per channel, rendered when decided, sent later by ``send``; and
an organization's own wording of a message template (``TemplateOverride``)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import phonenumbers
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.utils import translation

from dues.core.channels import Channel
from dues.core.clock import Clock
from dues.core.db import require_transaction
from dues.core.models import Location, OutboxEvent
from dues.members.models import Member
from dues.notify.catalog import message_template_info, sample_context
from dues.notify.models import (
    TRANSITIONS,
    Message,
    MessageStatus,
    TemplateOverride,
    TemplatePart,
)
from dues.notify.overrides import OverrideError, override_check, override_render
from dues.notify.render import LANGUAGES, SUBJECT_MAX_CHARS, render


class MessageStateError(ValueError):
    pass


def message_create(
    *,
    member: Member,
    location: Location | None,
    channel: str,
    template: str,
    template_variant: str = "",
    context: dict[str, Any],
    language: str,
    created_at: datetime,
    event: OutboxEvent | None = None,
    invoice_id: int | None = None,
) -> Message:
    """Render and record one message. Email and SMS are queued for sending, or recorded as
    not sent with the reason when the member has no usable address; in-app messages are
    in the member's inbox at once; call tasks wait for staff."""
    require_transaction("recording a message")
    if channel not in Channel.values:
        raise ValueError(f"unknown channel {channel!r}; expected one of {Channel.values}")
    rendered = render(template, channel, context, language, organization_id=member.organization_id)
    to, problem = _address(member, location, channel)
    if channel in (Channel.EMAIL, Channel.SMS):
        status = MessageStatus.SKIPPED if problem else MessageStatus.QUEUED
    elif channel == Channel.IN_APP:
        status = MessageStatus.DELIVERED
    else:
        status = MessageStatus.OPEN
    return Message.objects.create(
        organization_id=member.organization_id,
        member=member,
        channel=channel,
        template=f"{template}_{template_variant}" if template_variant else template,
        language=language,
        to=to,
        subject=rendered.subject,
        body=rendered.text,
        html=rendered.html,
        status=status,
        error=problem,
        event=event,
        invoice_id=invoice_id,
        created_at=created_at,
    )


def _address(member: Member, location: Location | None, channel: str) -> tuple[str, str]:
    """(where to send, why it cannot be sent) for a channel."""
    if channel == Channel.EMAIL:
        if not member.email:
            return "", "the member has no email address"
        try:
            validate_email(member.email)
        except ValidationError:
            return member.email, f"{member.email!r} is not a valid email address"
        return member.email, ""
    if channel in (Channel.SMS, Channel.CALL):
        if not member.phone:
            return "", "the member has no phone number"
        region = location.country if location else None
        try:
            number = phonenumbers.parse(member.phone, region)
        except phonenumbers.NumberParseException:
            number = None
        if number is None or not phonenumbers.is_valid_number(number):
            return member.phone, f"{member.phone!r} is not a valid phone number"
        return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164), ""
    return "", ""


def message_transition(message: Message, to: str, *, clock: Clock, **fields: Any) -> None:
    """Move a message to status ``to`` (allowed moves in ``models.TRANSITIONS``)."""
    if to not in TRANSITIONS[message.status]:
        raise MessageStateError(f"a {message.status} message cannot become {to}")
    message.status = to
    now = clock.now()
    if to == MessageStatus.SENT:
        message.sent_at = now
    elif to == MessageStatus.READ:
        message.read_at = now
    elif to == MessageStatus.DONE:
        message.done_at = now
    for name, value in fields.items():
        setattr(message, name, value)
    message.save()


def message_read(*, message: Message, clock: Clock) -> None:
    """The member opened an in-app message."""
    with transaction.atomic():
        message_transition(message, MessageStatus.READ, clock=clock)


def call_task_done(*, message: Message, outcome: str, clock: Clock) -> None:
    """Staff made the call; ``outcome`` is what came of it."""
    if message.channel != Channel.CALL:
        raise MessageStateError("only call tasks are closed by staff")
    if not outcome.strip():
        raise ValueError("outcome: say what came of the call")
    with transaction.atomic():
        message_transition(message, MessageStatus.DONE, clock=clock, outcome=outcome.strip())


# --- an organization's own wording of a message ------------------------------------------------

OVERRIDE_MAX_CHARS = 20_000


def template_override_check(*, template: str, part: str, language: str, body: str) -> str:
    """``body`` tidied (line breaks as ``\\n``) if it can be saved as ``template``'s ``part``
    in ``language``; ``ValidationError`` naming the field and the problem (with its line)
    otherwise. It must compile in the restricted engine, name only documented variables,
    and render every sample wording (and a subject that fits a message's subject)."""
    try:
        info = message_template_info(template)
    except KeyError:
        raise ValidationError({"template": f"there is no message template {template!r}"}) from None
    if info.doc is None:
        raise ValidationError({"template": f"{template} has no documented variables yet"})
    if part not in info.parts:
        raise ValidationError({"part": f"{template} has no part {part!r}"})
    if language not in LANGUAGES:
        raise ValidationError({"language": f"{language!r} is not one of {', '.join(LANGUAGES)}"})
    body = body.replace("\r\n", "\n").replace("\r", "\n")
    if not body.strip():
        raise ValidationError({"body": "Write the text, or go back to the default wording."})
    if len(body) > OVERRIDE_MAX_CHARS:
        raise ValidationError({"body": f"At most {OVERRIDE_MAX_CHARS} characters."})
    try:
        compiled = override_check(
            body, variables=info.variable_names, html=part == TemplatePart.EMAIL_HTML
        )
    except OverrideError as exc:
        raise ValidationError({"body": exc.problems}) from exc
    for variant, _label in info.doc.variants or (("", ""),):
        context = sample_context(info, language, gym="Gym", variant=variant)
        try:
            with translation.override(language):
                rendered = override_render(compiled, part, context)
        except Exception as exc:
            raise ValidationError({"body": f"It cannot be shown: {exc}"}) from exc
        if part == TemplatePart.SUBJECT and len(" ".join(rendered.split())) > SUBJECT_MAX_CHARS:
            raise ValidationError(
                {"body": f"A subject can have at most {SUBJECT_MAX_CHARS} characters."}
            )
    return body


def template_override_save(
    *,
    organization_id: int,
    template: str,
    part: str,
    language: str,
    body: str,
    user: Any,
    clock: Clock,
) -> TemplateOverride:
    """Use ``body`` (checked by ``template_override_check``) instead of the file; the same
    text again changes nothing (not even who saved it when)."""
    body = template_override_check(template=template, part=part, language=language, body=body)
    with transaction.atomic():
        same = TemplateOverride.objects.filter(
            organization_id=organization_id, template=template, part=part, language=language
        ).first()
        if same is not None and same.body == body:
            return same
        row, _ = TemplateOverride.objects.update_or_create(
            organization_id=organization_id,
            template=template,
            part=part,
            language=language,
            defaults={"body": body, "updated_at": clock.now(), "updated_by": user},
        )
    return row


def template_override_reset(
    *, organization_id: int, template: str, part: str, language: str
) -> TemplateOverride | None:
    """Back to the file's wording: the override deleted (returned), or None if none."""
    with transaction.atomic():
        row = (
            TemplateOverride.objects.select_for_update()
            .filter(
                organization_id=organization_id, template=template, part=part, language=language
            )
            .first()
        )
        if row is not None:
            row.delete()
    return row
