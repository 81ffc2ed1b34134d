"""Rendering a message from its template in the member's language.

Templates live in ``templates/notify/<template>/`` with one file per part: ``subject.txt``
(email subject, in-app and call-task title), ``email.txt`` and ``email.html``, ``sms.txt``,
``in_app.txt`` and ``call.txt``. Sentences are marked for translation in the templates;
money and dates are formatted for the language by Babel (CLDR), so "499,00 kr" in Swedish
and "2026年11月25日" in Chinese come from the same context.
"""

from __future__ import annotations

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

LANGUAGES = tuple(code for code, _ in settings.LANGUAGES)


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


def render(template: str, channel: str, context: dict[str, Any], language: str) -> Rendered:
    base = f"notify/{template}/"
    with translation.override(language):
        subject = " ".join(render_to_string(base + "subject.txt", context).split())
        if channel == Channel.EMAIL:
            return Rendered(
                subject,
                _text(render_to_string(base + "email.txt", context)),
                render_to_string(base + "email.html", context),
            )
        part: dict[str, str] = {
            Channel.SMS: "sms.txt",
            Channel.IN_APP: "in_app.txt",
            Channel.CALL: "call.txt",
        }
        return Rendered(subject, _text(render_to_string(base + part[channel], context)))


def _text(rendered: str) -> str:
    """Template whitespace tidied: no trailing spaces, at most one blank line in a row."""
    lines = [line.rstrip() for line in rendered.strip().splitlines()]
    out: list[str] = []
    for line in lines:
        if line or (out and out[-1]):
            out.append(line)
    return "\n".join(out) + "\n"
