"""Rendering a message from its template in the member's language.

Templates live in ``templates/notify/<template>/`` with one file per part: ``subject.txt``
(email subject, in-app and call-task title), ``email.txt`` and ``email.html``, ``sms.txt``,
``in_app.txt`` and ``call.txt``. Sentences are marked for translation in the templates;
money and dates are formatted for the language by Babel (CLDR), so "499,00 kr" in Swedish
and "2026年11月25日" in Chinese come from the same context.

An organization may word a part in a language its own way (``TemplateOverride``, rendered
by the restricted engine of ``notify.overrides``); ``render`` uses it instead of the file
when the caller names the organization (``message_create`` does: the member's).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date
from typing import Any

from babel.dates import format_date
from django.conf import settings
from django.template.loader import render_to_string
from django.utils import translation

from dues.core.channels import Channel
from dues.core.models import Location
from dues.core.money import format_money
from dues.members.models import Member
from dues.notify.models import Message, TemplateOverride, TemplatePart
from dues.notify.overrides import HTML_PARTS, PART_FILES, override_render

log = logging.getLogger(__name__)

LANGUAGES = tuple(code for code, _ in settings.LANGUAGES)
SUBJECT_MAX_CHARS = Message._meta.get_field("subject").max_length or 200


@dataclass(frozen=True)
class Rendered:
    subject: str
    text: str
    html: str = ""


def message_language(member: Member, location: Location | None) -> str:
    """The member's own language if we speak it, else the location's, else English."""
    for code in (member.language, location.locale if location else None):
        if code and code.lower() in LANGUAGES:
            return code.lower()
    return settings.LANGUAGE_CODE


def money_text(amount: int, currency: str, language: str) -> str:
    return format_money(amount, currency, translation.to_locale(language))


def date_text(day: date, language: str) -> str:
    return format_date(day, "long", locale=translation.to_locale(language))


# The part each channel sends (besides the subject, which every channel has).
CHANNEL_PARTS: dict[str, tuple[str, ...]] = {
    Channel.EMAIL: (TemplatePart.EMAIL_TEXT, TemplatePart.EMAIL_HTML),
    Channel.SMS: (TemplatePart.SMS,),
    Channel.IN_APP: (TemplatePart.IN_APP,),
    Channel.CALL: (TemplatePart.CALL,),
}


def render(
    template: str,
    channel: str,
    context: dict[str, Any],
    language: str,
    *,
    organization_id: int | None = None,
) -> Rendered:
    """The message in ``language``: the organization's own wording of a part where it has
    one, the file's otherwise."""
    overrides = override_bodies(organization_id, template, language)
    subject = render_part(template, TemplatePart.SUBJECT, context, language, overrides)
    text, *html = [
        render_part(template, part, context, language, overrides) for part in CHANNEL_PARTS[channel]
    ]
    return Rendered(subject, text, html[0] if html else "")


def override_bodies(organization_id: int | None, template: str, language: str) -> dict[str, str]:
    """The organization's own wording of ``template`` in ``language``, by part."""
    if organization_id is None:
        return {}
    return dict(
        TemplateOverride.objects.filter(
            organization_id=organization_id, template=template, language=language
        ).values_list("part", "body")
    )


def render_part(
    template: str,
    part: str,
    context: dict[str, Any],
    language: str,
    overrides: dict[str, str] | None = None,
) -> str:
    """One part, tidied as it is sent: the subject on one line, text without stray blank
    lines, HTML in the email layout. ``overrides`` (part → text) replace the files."""
    with translation.override(language):
        body = (overrides or {}).get(part)
        rendered = None
        if body is not None:
            try:
                rendered = override_render(body, part, context)
            except Exception:
                # Checked when saved, so this is a bug; the member still gets the message.
                log.exception(
                    "override of %s %s (%s) failed; using the file", template, part, language
                )
        if rendered is not None and part in HTML_PARTS:
            rendered = render_to_string(
                "notify/email_override.html", context | {"override_html": rendered}
            )
        if rendered is None:
            rendered = render_to_string(f"notify/{template}/{PART_FILES[part]}", context)
    if part == TemplatePart.SUBJECT:
        # An override's subject was checked with sample values; real ones may be longer.
        return " ".join(rendered.split())[:SUBJECT_MAX_CHARS]
    if part in HTML_PARTS:
        return rendered
    return _text(rendered)


def _text(rendered: str) -> str:
    """Template whitespace tidied: no trailing spaces, at most one blank line in a row."""
    lines = [line.rstrip() for line in rendered.strip().splitlines()]
    out: list[str] = []
    for line in lines:
        if line or (out and out[-1]):
            out.append(line)
    return "\n".join(out) + "\n"
