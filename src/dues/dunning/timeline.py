"""A dunning policy explained as a timeline: for a charge that failed on a given day, what
the dunning run will do, day by day, and what the member owes after each step.

A pure function of the policy's values (saved or not, so the staff page can preview an
edit before saving it). It reads the day rules from the run itself (``run.restriction_days``,
``run.late_fee_day``, ``run.late_fee_amount``) so the two cannot drift apart;
``tests/dunning/test_timeline.py`` runs the real dunning for a member and checks that each
reminder, retry, restriction, the late fee and the final action land on the day the
timeline says.

Within a day, events are in the run's order: the day's first run sends the reminder, then
places restrictions, charges the late fee and takes the final action; a fixed retry comes
at the time of day the first charge failed.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Protocol

from django.utils import translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from dues.core.channels import Channel
from dues.core.money import format_money
from dues.dunning.models import DunningPolicy, FinalAction, LateFeeKind, RetryMode, Tone
from dues.dunning.run import RESTRICTION_STEPS, late_fee_amount, late_fee_day, restriction_days

# Channel and tone names in a gym owner's words (the staff form labels its checkboxes with
# these too).
CHANNEL_NAMES = {
    Channel.EMAIL: gettext_lazy("Email"),
    Channel.SMS: gettext_lazy("Text message (SMS)"),
    Channel.IN_APP: gettext_lazy("Message in the member app"),
    Channel.CALL: gettext_lazy("Phone call (a task for your staff)"),
}
TONE_NAMES = {
    Tone.FRIENDLY: gettext_lazy("Friendly reminder"),
    Tone.FIRM: gettext_lazy("Firm reminder"),
    Tone.FINAL: gettext_lazy("Final notice"),
}
FINAL_ACTION_NAMES = {
    FinalAction.CANCEL: gettext_lazy("Cancel the membership; the amount stays owed"),
    FinalAction.UNCOLLECTIBLE: gettext_lazy(
        "Stop charging and write the invoice off; the membership carries on"
    ),
    FinalAction.COLLECTIONS: gettext_lazy("Hand the debt to a collection agency"),
}

# Sort order of the kinds of event within one day.
_ORDER = {
    "failed": 0,
    "smart_retries": 1,
    "reminder": 2,
    "grace_end": 3,
    "block_bookings": 4,
    "block_access": 5,
    "cancel": 6,
    "late_fee": 7,
    "no_late_fee": 7,
    "final": 8,
    "retry": 9,
}


class StepLike(Protocol):
    """A reminder step: a saved or unsaved ``ReminderStep``, or anything shaped like one."""

    day_offset: int
    channels: list[str]
    tone: str


@dataclass(frozen=True)
class TimelineEvent:
    day: int  # days after the first failure
    on: date
    kind: str  # one of _ORDER's keys
    text: str  # in plain words, for the gym owner
    owed: int  # what the member owes after this event, in minor units
    channels: tuple[str, ...] = field(default=())  # reminders
    tone: str = ""  # reminders
    amount: int = 0  # the late fee
    action: str = ""  # the final action


def channel_words(channels: Sequence[str]) -> str:
    return ", ".join(str(CHANNEL_NAMES.get(Channel(c), c)) for c in channels if c in Channel)


def policy_timeline(
    policy: DunningPolicy,
    steps: Sequence[StepLike] | None = None,
    *,
    failed_on: date,
    amount: int,
    currency: str,
) -> list[TimelineEvent]:
    """What happens to a charge of ``amount`` ``currency`` that failed on ``failed_on`` and
    is never paid, under ``policy`` with reminder ``steps`` (default: the saved policy's).

    The member can pay at any point, which ends it all and lifts every restriction; a card
    the bank refuses for good (lost, stolen) is never retried; a new card is charged at
    once. Those depend on the member, so the timeline shows the path where nothing helps.
    """
    if steps is None:
        steps = list(policy.steps.all()) if policy.pk else []
    max_days = policy.max_days
    money = _money(currency)
    events: list[tuple[int, int, dict[str, object]]] = []

    def add(day: int, kind: str, text: str, **extra: object) -> None:
        events.append((day, _ORDER[kind], {"kind": kind, "text": text, **extra}))

    add(0, "failed", _("The charge of %(amount)s fails.") % {"amount": money(amount)})

    # Retries.
    if policy.retry_mode == RetryMode.FIXED:
        # The first charge is an attempt too; a retry must come before the final action.
        allowed = list(policy.retry_days or [])[: max(policy.max_attempts - 1, 0)]
        days = [d for d in allowed if 0 < d < max_days]
        for n, day in enumerate(days, start=1):
            add(
                day,
                "retry",
                _(
                    "Retry %(n)s of %(of)s: the card is charged again, at the time of day the "
                    "first charge failed (later if the bank asked us to wait longer)."
                )
                % {"n": n, "of": len(days)},
            )
    else:
        add(0, "smart_retries", smart_retries_text(policy))

    # Reminders: only those by the final action (the case ends that day).
    for step in sorted(steps, key=lambda s: s.day_offset):
        if step.day_offset > max_days:
            continue
        tone = str(TONE_NAMES.get(Tone(step.tone), step.tone)) if step.tone in Tone else step.tone
        add(
            step.day_offset,
            "reminder",
            _("%(tone)s by %(channels)s.")
            % {"tone": tone, "channels": channel_words(step.channels)},
            channels=tuple(step.channels),
            tone=step.tone,
        )

    if 0 < policy.grace_days <= max_days:
        add(
            policy.grace_days,
            "grace_end",
            _("The grace period ends: restrictions and the late fee can start from today."),
        )

    # Restrictions, in order; one not set stops the ones after it (as the run does).
    restriction_text = {
        "block_bookings": _("Class bookings are blocked."),
        "block_access": _("Door access is blocked."),
        "cancel": _("The membership is cancelled; the amount stays owed."),
    }
    for level, start in enumerate(restriction_days(policy)):
        if start <= max_days:
            kind = RESTRICTION_STEPS[level]
            add(start, kind, restriction_text[kind])

    # The late fee, a separate invoice charged to the card on file.
    fee = 0
    fee_day = late_fee_day(policy)
    if policy.late_fee_kind != LateFeeKind.NONE and fee_day <= max_days:
        fee = late_fee_amount(policy, total=amount, currency=currency)
        if fee > 0:
            how = (
                _("%(percent)s of %(amount)s")
                % {"percent": _percent(policy.late_fee_bp), "amount": money(amount)}
                if policy.late_fee_kind == LateFeeKind.PERCENT
                else _("a fixed fee")
            )
            add(
                fee_day,
                "late_fee",
                _("A late fee of %(fee)s (%(how)s) is invoiced and charged to the card.")
                % {"fee": money(fee), "how": how},
                amount=fee,
            )
        elif policy.late_fee_kind == LateFeeKind.FIXED:
            add(
                fee_day,
                "no_late_fee",
                _(
                    "No late fee: the fixed fee is set in %(fee_currency)s, this charge is in "
                    "%(currency)s."
                )
                % {"fee_currency": policy.late_fee_currency or "—", "currency": currency},
            )

    final = FinalAction(policy.final_action)
    add(
        max_days,
        "final",
        _("Final action: %(action)s. Dunning ends for this charge.")
        % {"action": str(FINAL_ACTION_NAMES[final]).lower()},
        action=str(final),
    )

    out = []
    owed = amount
    for day, _order, e in sorted(events, key=lambda x: (x[0], x[1])):
        if e["kind"] == "late_fee":
            owed += fee
        out.append(
            TimelineEvent(
                day=day,
                on=failed_on + timedelta(days=day),
                owed=owed,
                **e,  # type: ignore[arg-type]
            )
        )
    return out


def smart_retries_text(policy: DunningPolicy) -> str:
    """How smart retries choose their times, and the limits that bound them."""
    return _(
        "Smart retries: Dues picks the hour of each retry from what has worked for this "
        "gym's own failed payments, by the bank's reason: a few hours later after a "
        "technical error; otherwise at least a day apart, within three days of a plain "
        "refusal, or up to ten days to land just after payday when there was too little "
        "money. At most %(attempts)s charges in all, the first included, and none from "
        "day %(last)s on."
    ) % {"attempts": policy.max_attempts, "last": policy.max_days}


def _percent(bp: int) -> str:
    whole, part = divmod(bp, 100)
    return f"{whole}%" if not part else f"{whole}.{part:02d}".rstrip("0") + "%"


def _money(currency: str) -> Callable[[int], str]:
    locale = translation.to_locale(translation.get_language() or "en")

    def text(value: int) -> str:
        return format_money(value, currency, locale)

    return text
