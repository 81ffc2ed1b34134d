"""Every message template: what it is for, its parts, and the variables it gets (their
meaning and a sample value for previews, in the preview's language).

The list of templates comes from the files: each folder of ``templates/notify/`` with a
``subject.txt`` is a template, and its parts are the files it has, so a new template shows
up here (and on the staff pages) by itself. Its documentation (``DOCS``) is written here;
a test fails for a template without it, and staff can only change a documented one (the
variables an override may name are the documented ones).

Samples are built from a member and an invoice that are never saved: Anna Lindqvist,
invoice INV-000123 for 499.00 SEK due on 1 March 2026, and links of a real link's length
that lead nowhere.

The descriptions are read by staff, and the staff app is English only for now, so they are
not marked for translation (notify's catalogues hold what members read).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from functools import cache
from pathlib import Path
from typing import Any

from django.conf import settings
from django.utils import translation

from dues.billing.models import Invoice
from dues.core.clock import SimulatedClock
from dues.core.models import Organization
from dues.members.models import Member
from dues.notify.models import TemplatePart
from dues.notify.overrides import PART_FILES
from dues.notify.render import date_text, money_text, override_bodies, render_part
from dues.notify.sms import SmsLength, sms_length

ROOT = Path(__file__).resolve().parent / "templates" / "notify"


@dataclass(frozen=True)
class Variable:
    name: str
    meaning: str


@dataclass(frozen=True)
class Doc:
    description: str
    variables: tuple[Variable, ...]
    # (language, gym, variant) → the sample context; ``variant`` is one of ``variants``.
    sample: Callable[[str, str, str], dict[str, Any]]
    # The variable whose value picks a wording (the reminder's tone, the notice's kind).
    variant_variable: str = ""
    variants: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class MessageTemplate:
    name: str
    parts: tuple[str, ...]
    doc: Doc | None

    @property
    def variable_names(self) -> frozenset[str]:
        return frozenset(v.name for v in self.doc.variables) if self.doc else frozenset()


def message_templates() -> list[MessageTemplate]:
    """Every template on disk, by name, with its documentation (None if it has none)."""
    return [message_template_info(name) for name in _names_on_disk()]


@cache
def _names_on_disk() -> tuple[str, ...]:
    return tuple(sorted(p.parent.relative_to(ROOT).as_posix() for p in ROOT.rglob("subject.txt")))


def message_template_info(name: str) -> MessageTemplate:
    """The template ``name``; ``KeyError`` if there is no such template."""
    if name not in _names_on_disk():
        raise KeyError(name)
    parts = tuple(part for part, file in PART_FILES.items() if (ROOT / name / file).exists())
    return MessageTemplate(name, parts, DOCS.get(name))


def sample_context(
    template: MessageTemplate, language: str, *, gym: str, variant: str = ""
) -> dict[str, Any]:
    """The documented variables with sample values, in ``language``."""
    if template.doc is None:
        raise KeyError(f"{template.name} has no documented variables")
    doc = template.doc
    if variant not in dict(doc.variants):
        variant = doc.variants[0][0] if doc.variants else ""
    with translation.override(language):
        return doc.sample(language, gym, variant)


# --- the samples ----------------------------------------------------------------------------

SAMPLE_DUE = date(2026, 3, 1)
SAMPLE_AMOUNT = 49900
SAMPLE_CURRENCY = "SEK"
# As long as a real signed link, so an SMS preview counts the characters it will have.
_TOKEN = (
    "eyJpIjoxMjM0NSwibyI6MSwieCI6MTgwMDY0MjE5OX0:1sampl:preview-only-sample-link-that-leads-nowhere"
)


def _link(kind: str) -> str:
    return f"{settings.DUES_PUBLIC_URL}/{kind}/{_TOKEN}/"


def _member() -> Member:
    return Member(first_name="Anna", last_name="Lindqvist", phone="+46 70 123 45 67")


def _reminder(language: str, gym: str, tone: str) -> dict[str, Any]:
    # The real context builder, on a member and invoice that are never saved.
    from dues.notify.reminders import reminder_context  # reminders → services → render

    invoice = Invoice(number="INV-000123", currency=SAMPLE_CURRENCY, due_date=SAMPLE_DUE)
    invoice.organization = Organization(name=gym)
    payload = {
        "tone": tone,
        "invoice_number": invoice.number,
        "amount_due": SAMPLE_AMOUNT,
        "currency": SAMPLE_CURRENCY,
        "due_date": str(SAMPLE_DUE),
        "days_overdue": {"friendly": 0, "firm": 7, "final": 21}.get(tone, 7),
        "waiting_for_card": False,
        "next_restriction": "block_access",
        "next_restriction_on": "2026-03-15",
        "final_action": "collections",
        "final_action_on": "2026-03-29",
    }
    clock = SimulatedClock(datetime(2026, 3, 8, 9, tzinfo=UTC))
    context = reminder_context(payload, _member(), invoice, language, clock)
    return context | {"pay_url": _link("i")}


def _pre_notice(language: str, gym: str, kind: str) -> dict[str, Any]:
    return {
        "kind": kind,
        "first_name": "Anna",
        "gym": gym,
        "card": "Visa •••• 4242",
        "card_expires": date_text(date(2026, 3, 31), language),
        "charge_on": date_text(SAMPLE_DUE, language),
        "amount": money_text(SAMPLE_AMOUNT, SAMPLE_CURRENCY, language),
        "update_url": _link("c"),
    }


def _signin(language: str, gym: str, variant: str) -> dict[str, Any]:
    return {
        "first_name": "Anna",
        "gym": gym,
        "signin_url": f"{settings.DUES_PUBLIC_URL}/me/signin/{_TOKEN}/",
        "minutes": 30,
    }


def _contract(language: str, gym: str, variant: str) -> dict[str, Any]:
    return {
        "first_name": "Anna",
        "gym": gym,
        "title": "Membership agreement",
        "portal_url": f"{settings.DUES_PUBLIC_URL}/me/",
    }


def _class(names: tuple[str, ...]) -> Callable[[str, str, str], dict[str, Any]]:
    """A class message's sample: Spinning in Studio 1 with Kim on 1 March 2026 at 18:00
    (Stockholm), moved from 17:00, built by the real context builder."""

    def sample(language: str, gym: str, variant: str) -> dict[str, Any]:
        from dues.core.models import Location
        from dues.notify.classes import class_context  # classes → services → render

        location = Location(timezone="Europe/Stockholm", currency=SAMPLE_CURRENCY)
        location.organization = Organization(name=gym)
        payload = {
            "class_name": "Spinning",
            "starts_at": "2026-03-01T17:00:00+00:00",
            "old_starts_at": "2026-03-01T16:00:00+00:00",
            "room": "Studio 1",
            "instructor": "Kim",
            "reason": "Kim is ill",
            "kind": variant or "late_cancel",
            "amount": 10000,
            "currency": SAMPLE_CURRENCY,
            "invoice_number": "INV-000124",
        }
        context = class_context(payload, _member(), location, language)
        return {name: context[name] for name in names}

    return sample


# --- the documentation ----------------------------------------------------------------------

FIRST_NAME = Variable("first_name", "The member's first name")
GYM = Variable("gym", "Your organization's name")

_REMINDER_VARIABLES = (
    Variable("tone", 'How firm the reminder is: "friendly", "firm" or "final"'),
    FIRST_NAME,
    Variable("full_name", "The member's first and last name (call tasks)"),
    Variable("phone", "The member's phone number (call tasks)"),
    GYM,
    Variable("invoice_number", "The invoice's number"),
    Variable("amount", "What is still owed, formatted for the language"),
    Variable("due_date", "The invoice's due date, written out in the language"),
    Variable("days_overdue", "How many days past the due date (a number)"),
    Variable(
        "next_step",
        "One sentence on what happens next (bookings or access paused, ...), or empty",
    ),
    Variable("final_step", "The final notice's last word: what happens on the last day"),
    Variable("pay_url", "The member's link to pay the invoice or update their card"),
)
_CLASS_VARIABLES = (
    FIRST_NAME,
    GYM,
    Variable("class_name", "The class's name (e.g. Spinning)"),
    Variable("day", "The class's day, written out in the language"),
    Variable("time", "The class's start time at the location"),
    Variable("room", "The room the class is in"),
    Variable("portal_url", "The member's page of class bookings"),
)
_CLASS_REASON = Variable("reason", "What staff wrote about the change, or empty")


def _class_doc(
    description: str, extra: tuple[Variable, ...] = (), variants: tuple[tuple[str, str], ...] = ()
) -> Doc:
    variables = _CLASS_VARIABLES + extra
    return Doc(
        description,
        variables,
        _class(tuple(v.name for v in variables)),
        "kind" if variants else "",
        variants,
    )


_TONES = (
    ("friendly", "Friendly (first reminder)"),
    ("firm", "Firm"),
    ("final", "Final notice"),
)

DOCS: dict[str, Doc] = {
    "dunning/reminder": Doc(
        "Reminder about an unpaid invoice after a payment failed, from friendly to final.",
        _REMINDER_VARIABLES,
        _reminder,
        "tone",
        _TONES,
    ),
    "dunning/reminder_direct": Doc(
        "The shorter reminder a dunning experiment may try instead (friendly and firm "
        "reminders; the final notice is always the full one).",
        _REMINDER_VARIABLES,
        _reminder,
        "tone",
        _TONES[:2],
    ),
    "dunning/pre_notice": Doc(
        "Notice before a charge: a payment likely to fail, a yearly renewal, or a card "
        "about to expire.",
        (
            Variable(
                "kind",
                'What the notice is about: "risky_charge", "renewal" or "card_expiring"',
            ),
            FIRST_NAME,
            GYM,
            Variable("card", "The card we charge (e.g. Visa •••• 4242), or empty if none"),
            Variable("card_expires", "When the card expires, or empty"),
            Variable("charge_on", "The day of the next charge"),
            Variable("amount", "The amount of the next charge, or empty"),
            Variable("update_url", "The member's link to add or update their card"),
        ),
        _pre_notice,
        "kind",
        (
            ("risky_charge", "Payment coming"),
            ("renewal", "Yearly renewal"),
            ("card_expiring", "Card expiring"),
        ),
    ),
    "classes/reminder": _class_doc("Reminder a few hours before a booked class."),
    "classes/cancelled": _class_doc(
        "A booked (or waitlisted) class is cancelled; credits and drop-ins are given back.",
        (_CLASS_REASON,),
    ),
    "classes/changed": _class_doc(
        "A booked (or waitlisted) class moved to another time or room, or has another instructor.",
        (
            Variable("old_day", "The day it was on before"),
            Variable("old_time", "The time it was at before"),
            Variable("instructor", "The instructor now, or empty"),
            _CLASS_REASON,
        ),
    ),
    "classes/promoted": _class_doc("A place opened up: the member moved from the waitlist."),
    "classes/fee": _class_doc(
        "A late-cancellation or no-show fee was added to the member's account.",
        (
            Variable("kind", 'Which fee: "late_cancel" or "no_show"'),
            Variable("amount", "The fee, formatted for the language"),
            Variable("invoice_number", "The fee's invoice number"),
        ),
        (("late_cancel", "Late cancellation"), ("no_show", "No-show")),
    ),
    "portal/signin": Doc(
        "The link a member asks for to sign in to the member portal.",
        (
            FIRST_NAME,
            GYM,
            Variable("signin_url", "The sign-in link (works once)"),
            Variable("minutes", "How many minutes the link works (a number)"),
        ),
        _signin,
    ),
    "portal/contract": Doc(
        "Welcome email after joining online, with the signed contract attached as a PDF.",
        (
            FIRST_NAME,
            GYM,
            Variable("title", "The contract's title"),
            Variable("portal_url", "The member portal's address"),
        ),
        _contract,
    ),
}


# --- previews ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Preview:
    subject: str
    part: str
    output: str  # the part as it is sent: HTML (the whole email) or text
    sms: SmsLength | None = None


def template_preview(
    *,
    organization_id: int,
    template: MessageTemplate,
    part: str,
    language: str,
    gym: str,
    body: str | None = None,
    variant: str = "",
) -> Preview:
    """``part`` of ``template`` as a member would get it in ``language``, with the sample
    values: ``body`` (unsaved; checked by ``template_override_check`` first) instead of what
    is in use, and the organization's own wording of the other parts. Writes nothing."""
    context = sample_context(template, language, gym=gym, variant=variant)
    overrides = override_bodies(organization_id, template.name, language)
    if body is not None:
        overrides[part] = body
    subject = render_part(template.name, TemplatePart.SUBJECT, context, language, overrides)
    if part == TemplatePart.SUBJECT:
        return Preview(subject, part, subject)
    output = render_part(template.name, part, context, language, overrides)
    return Preview(subject, part, output, sms_length(output) if part == TemplatePart.SMS else None)
