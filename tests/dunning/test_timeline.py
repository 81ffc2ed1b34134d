"""``policy_timeline``: a policy, saved or not, as the days a failed charge goes through;
and the real dunning run, day by day on the test clock, doing exactly what it said."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from dues.billing.models import Invoice, InvoiceLine, Restriction
from dues.core.clock import local_date
from dues.core.models import OutboxEvent
from dues.dunning.models import CaseStatus, DunningCase, DunningPolicy, ReminderStep
from dues.dunning.services import policy_default, policy_update
from dues.dunning.timeline import policy_timeline
from dues.notify.models import Message
from dues.ops.jobs import bill, deliver
from dues.payments.models import PaymentAttempt
from tests.factories import DECLINE_FUNDS, d, join

FAILED_ON = date(2026, 1, 15)


def policy(**kw: object) -> DunningPolicy:
    """An unsaved policy: the staff page previews values before they are saved."""
    fields: dict[str, object] = {
        "name": "Preview",
        "grace_days": 2,
        "retry_mode": "fixed",
        "retry_days": [3, 7],
        "max_attempts": 3,
        "max_days": 12,
        "final_action": "collections",
        "block_bookings_after_days": 4,
        "block_access_after_days": 9,
        "cancel_after_days": None,
        "late_fee_kind": "percent",
        "late_fee_bp": 1250,
        "late_fee_after_days": 6,
    }
    return DunningPolicy(**(fields | kw))


def step(day: int, channels: list[str], tone: str) -> ReminderStep:
    return ReminderStep(day_offset=day, channels=channels, tone=tone)


STEPS = [
    step(0, ["email", "in_app"], "friendly"),
    step(3, ["email", "sms"], "friendly"),
    step(8, ["email", "call"], "firm"),
    step(12, ["email", "sms"], "final"),
]


def brief(events):
    return [(e.day, e.on, e.kind, e.owed) for e in events]


def test_a_fixed_policy_day_by_day_with_dates_and_what_is_owed():
    events = policy_timeline(policy(), STEPS, failed_on=FAILED_ON, amount=49900, currency="SEK")
    # 12.5% of 499.00 is 62.375, rounded half up to 62.38, as the run rounds it.
    assert brief(events) == [
        (0, d("2026-01-15"), "failed", 49900),
        (0, d("2026-01-15"), "reminder", 49900),
        (2, d("2026-01-17"), "grace_end", 49900),
        (3, d("2026-01-18"), "reminder", 49900),
        (3, d("2026-01-18"), "retry", 49900),
        (4, d("2026-01-19"), "block_bookings", 49900),
        (6, d("2026-01-21"), "late_fee", 56138),
        (7, d("2026-01-22"), "retry", 56138),
        (8, d("2026-01-23"), "reminder", 56138),
        (9, d("2026-01-24"), "block_access", 56138),
        (12, d("2026-01-27"), "reminder", 56138),
        (12, d("2026-01-27"), "final", 56138),
    ]
    by_kind = {e.kind: e for e in events}
    fee = by_kind["late_fee"]
    assert fee.amount == 6238
    assert "SEK62.38" in fee.text.replace("\xa0", "")
    assert "12.5% of" in fee.text
    reminders = [e for e in events if e.kind == "reminder"]
    assert [(e.channels, e.tone) for e in reminders] == [
        (("email", "in_app"), "friendly"),
        (("email", "sms"), "friendly"),
        (("email", "call"), "firm"),
        (("email", "sms"), "final"),
    ]
    assert reminders[0].text == "Friendly reminder by Email, Message in the member app."
    assert reminders[2].text == "Firm reminder by Email, Phone call (a task for your staff)."
    retries = [e.text for e in events if e.kind == "retry"]
    assert retries[0].startswith("Retry 1 of 2: the card is charged again")
    assert by_kind["final"].action == "collections"
    assert "collection agency" in by_kind["final"].text


def test_smart_mode_is_one_sentence_with_its_limits():
    events = policy_timeline(
        policy(retry_mode="smart", retry_days=[], max_attempts=6, max_days=21),
        [],
        failed_on=FAILED_ON,
        amount=49900,
        currency="SEK",
    )
    assert not [e for e in events if e.kind == "retry"]
    [smart] = [e for e in events if e.kind == "smart_retries"]
    assert smart.day == 0
    assert "At most 6 charges in all, the first included, and none from day 21 on." in smart.text
    assert events[-1].kind == "final"
    assert events[-1].on == d("2026-02-05")


def test_attempts_limit_the_fixed_retries():
    events = policy_timeline(
        policy(retry_days=[2, 4, 6, 8], max_attempts=3),
        [],
        failed_on=FAILED_ON,
        amount=10000,
        currency="SEK",
    )
    assert [e.day for e in events if e.kind == "retry"] == [2, 4]


def test_restrictions_follow_the_runs_rules():
    # Grace pushes an earlier restriction to its end; a level left unset stops the later
    # ones (as the run does); nothing after the final action happens.
    events = policy_timeline(
        policy(grace_days=5, block_bookings_after_days=1, block_access_after_days=20),
        [],
        failed_on=FAILED_ON,
        amount=10000,
        currency="SEK",
    )
    assert [(e.day, e.kind) for e in events if e.kind.startswith("block")] == [
        (5, "block_bookings")
    ]
    unset = policy_timeline(
        policy(block_bookings_after_days=None, block_access_after_days=3, cancel_after_days=5),
        [],
        failed_on=FAILED_ON,
        amount=10000,
        currency="SEK",
    )
    assert not [e for e in unset if e.kind in ("block_bookings", "block_access", "cancel")]
    cancelled = policy_timeline(
        policy(cancel_after_days=10, final_action="uncollectible"),
        [step(13, ["email"], "final")],  # after the final action: never sent
        failed_on=FAILED_ON,
        amount=10000,
        currency="SEK",
    )
    kinds = [(e.day, e.kind) for e in cancelled if e.kind not in ("retry", "failed")]
    assert kinds == [
        (2, "grace_end"),
        (4, "block_bookings"),
        (6, "late_fee"),
        (9, "block_access"),
        (10, "cancel"),
        (12, "final"),
    ]
    assert "write the invoice off" in cancelled[-1].text


def test_fixed_fee_only_in_its_own_currency():
    fixed = policy(late_fee_kind="fixed", late_fee_amount=5000, late_fee_currency="SEK")
    [fee] = [
        e
        for e in policy_timeline(fixed, [], failed_on=FAILED_ON, amount=30000, currency="SEK")
        if e.kind == "late_fee"
    ]
    assert (fee.day, fee.amount, fee.owed) == (6, 5000, 35000)
    other = policy_timeline(fixed, [], failed_on=FAILED_ON, amount=30000, currency="EUR")
    assert not [e for e in other if e.kind == "late_fee"]
    [none] = [e for e in other if e.kind == "no_late_fee"]
    assert "set in SEK" in none.text
    assert "in EUR" in none.text
    assert other[-1].owed == 30000
    # A fee after the final action, or none at all, never shows; nor one that rounds to 0.
    assert not [
        e
        for p in (
            policy(late_fee_after_days=13),
            policy(late_fee_kind="none"),
        )
        for e in policy_timeline(p, [], failed_on=FAILED_ON, amount=30000, currency="SEK")
        if "fee" in e.kind
    ]
    tiny = policy_timeline(
        policy(late_fee_bp=1), [], failed_on=FAILED_ON, amount=49, currency="SEK"
    )
    assert not [e for e in tiny if "fee" in e.kind]


# --- the timeline against the real run ------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("final_action", ["cancel", "uncollectible", "collections"])
def test_the_real_run_does_what_the_timeline_says(org, location, clock, gateway, final_action):
    """A member whose card always declines (insufficient funds), run every 3 hours for 14
    days: every reminder message, retry, restriction, the late fee and the final action
    happen on the day ``policy_timeline`` gave, and nothing else happens."""
    current = policy_default(organization_id=org.pk, clock=clock)
    values = {
        "grace_days": 2,
        "retry_mode": "fixed",
        "retry_days": [3, 7],
        "max_attempts": 3,
        "max_days": 12,
        "final_action": final_action,
        "block_bookings_after_days": 4,
        "block_access_after_days": 9,
        "cancel_after_days": 11 if final_action == "uncollectible" else None,
        "late_fee_kind": "percent",
        "late_fee_bp": 1250,
        "late_fee_after_days": 6,
    }
    steps = [{"day_offset": s.day_offset, "channels": s.channels, "tone": s.tone} for s in STEPS]
    saved = policy_update(policy=current, fields=values, steps=steps, clock=clock)
    member, sub = join(org, location, clock, DECLINE_FUNDS, member_kw={"phone": "070-123 45 67"})
    tz = location.timezone
    bill(as_of=d("2026-01-15"), clock=clock, gateway=gateway)
    case = DunningCase.objects.get(payer=member, is_fee=False)
    invoice = Invoice.objects.get(pk=case.invoice_id)
    assert case.first_failed_on == FAILED_ON

    for _ in range(8 * 14):
        clock.advance(timedelta(hours=3))
        bill(as_of=local_date(clock.now(), tz), clock=clock, gateway=gateway)
        deliver(clock=clock)

    said = policy_timeline(
        saved, failed_on=case.first_failed_on, amount=invoice.total, currency=invoice.currency
    )

    def days(kind):
        return [e.on for e in said if e.kind == kind]

    # Reminders: one message per channel of each step, on the step's day.
    expected_messages = sorted(
        (e.on, channel) for e in said if e.kind == "reminder" for channel in e.channels
    )
    sent = sorted(
        (local_date(m.created_at, tz), m.channel)
        for m in Message.objects.filter(member=member, template__startswith="dunning/reminder")
    )
    assert sent == expected_messages
    tones = list(
        OutboxEvent.objects.filter(topic="dunning.reminder", aggregate_id=case.pk)
        .order_by("id")
        .values_list("payload__tone", flat=True)
    )
    assert tones == [e.tone for e in said if e.kind == "reminder"]
    # Retries on the membership invoice.
    retried = [
        local_date(a.created_at, tz)
        for a in PaymentAttempt.objects.filter(invoice=invoice, attempt_number__gte=2).order_by(
            "attempt_number"
        )
    ]
    assert retried == days("retry") == [d("2026-01-18"), d("2026-01-22")]
    # Restrictions, each from its day.
    placed = {
        r.kind: local_date(r.starts_at, tz)
        for r in Restriction.objects.filter(subscription=sub, source="dunning")
    }
    assert placed.get("bookings") == (days("block_bookings") or [None])[0]
    assert placed.get("access") == (days("block_access") or [None])[0]
    assert set(placed) == {"bookings", "access"}
    # The late fee: its own invoice, that day, for the amount the timeline gave.
    [fee_line] = InvoiceLine.objects.filter(kind="late_fee", invoice__payer=member)
    [fee_event] = [e for e in said if e.kind == "late_fee"]
    fee_invoice = fee_line.invoice
    assert local_date(fee_invoice.created_at, tz) == fee_event.on == d("2026-01-21")
    assert fee_invoice.total == fee_event.amount == 6238
    charged = PaymentAttempt.objects.filter(invoice=fee_invoice).order_by("attempt_number").first()
    assert charged is not None  # "charged to the card", as the timeline says
    assert local_date(charged.created_at, tz) == fee_event.on
    # Cancelled before the final action, when the policy says so.
    sub.refresh_from_db()
    if final_action == "uncollectible":
        assert days("cancel") == [d("2026-01-26")]
        assert sub.cancel_at is not None
        assert sub.cancel_at <= d("2026-01-26")
    # The final action, on its day.
    [final] = OutboxEvent.objects.filter(topic="dunning.final_action", aggregate_id=case.pk)
    assert local_date(final.created_at, tz) == days("final")[0] == d("2026-01-27")
    assert final.payload["action"] == final_action
    case.refresh_from_db()
    assert (
        case.status
        == {
            "cancel": CaseStatus.CANCELLED,
            "uncollectible": CaseStatus.UNCOLLECTIBLE,
            "collections": CaseStatus.COLLECTIONS,
        }[final_action]
    )
    if final_action == "cancel":
        assert sub.status == "cancelled"


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("new_days", "expected"),
    [
        ((0, 6, 8), [0, 3, 6, 8]),  # fewer steps passed than sent: none skipped
        ((0, 1, 2, 6, 8), [0, 3, 6, 8]),  # more steps passed than sent: none sent late
    ],
)
def test_a_policy_edited_mid_case_goes_by_day(org, location, clock, gateway, new_days, expected):
    """Reminded on days 0 and 3 and then the owner changes the steps: the case gets the
    new steps dated after day 3 on their days, and none dated before late."""
    current = policy_default(organization_id=org.pk, clock=clock)
    fields = {"retry_mode": "fixed", "retry_days": [20], "max_days": 30, "grace_days": 0}
    fields |= {"late_fee_kind": "none", "final_action": "collections"}
    fields |= {"block_bookings_after_days": None, "block_access_after_days": None}
    fields |= {"cancel_after_days": None}

    def steps(*days):
        return [{"day_offset": n, "channels": ["email"], "tone": "friendly"} for n in days]

    policy_update(policy=current, fields=fields, steps=steps(0, 3, 10), clock=clock)
    member, _ = join(org, location, clock, DECLINE_FUNDS)
    tz = location.timezone

    def run_days(n):
        for _ in range(n * 4):
            clock.advance(timedelta(hours=6))
            bill(as_of=local_date(clock.now(), tz), clock=clock, gateway=gateway)

    bill(as_of=d("2026-01-15"), clock=clock, gateway=gateway)
    run_days(4)  # to day 4
    case = DunningCase.objects.get(payer=member, is_fee=False)
    assert (case.reminders_sent, case.reminded_through_day) == (2, 3)
    current.refresh_from_db()
    policy_update(policy=current, fields=fields, steps=steps(*new_days), clock=clock)
    run_days(6)  # to day 10

    reminded = [
        (local_date(e.created_at, tz) - FAILED_ON).days
        for e in OutboxEvent.objects.filter(
            topic="dunning.reminder", aggregate_id=case.pk
        ).order_by("id")
    ]
    assert reminded == expected
