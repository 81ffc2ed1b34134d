"""The retry planner never breaks a card network's limits, whatever the history: random
declines, advice codes, networks and other invoices' attempts on the same card are driven
through it, and every attempt it schedules is checked against the limits."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from dues.dunning.declines import Category, decline_classify
from dues.dunning.limits import earliest_allowed, invoice_gap_violations, violations
from dues.dunning.models import RetryMode
from dues.dunning.planner import PolicyView, RetryInputs, retry_plan

START = datetime(2026, 3, 1, 2, 0, tzinfo=UTC)
CODES = ["insufficient_funds", "do_not_honor", "generic_decline", "processing_error", "51", "91"]
ADVICE = ["", "", "", "02", "24", "25", "26", "27", "28", "29", "30"]


@st.composite
def histories(draw):
    network = draw(st.sampled_from(["visa", "mastercard", "amex"]))
    # Attempts other invoices made on this card, as offsets in hours from the start.
    others = draw(st.lists(st.integers(min_value=-720, max_value=720), max_size=60))
    failures = draw(
        st.lists(
            st.tuples(st.sampled_from(CODES), st.sampled_from(ADVICE)), min_size=1, max_size=40
        )
    )
    mode = draw(st.sampled_from([RetryMode.SMART, RetryMode.FIXED]))
    days = sorted(set(draw(st.lists(st.integers(1, 27), min_size=1, max_size=6))))
    max_attempts = draw(st.integers(1, 40))
    return network, others, failures, mode, days, max_attempts


@settings(max_examples=150, deadline=None)
@given(histories())
def test_planned_attempts_keep_every_network_limit(history):
    network, others, failures, mode, days, max_attempts = history
    card = sorted(START + timedelta(hours=h) for h in others if h <= 0)
    invoice: list[tuple[datetime, bool]] = []
    policy = PolicyView(mode, days, max_attempts, 28)
    # The first attempt comes from the billing run, whenever the limits allow it.
    now = earliest_allowed(
        network=network,
        card_attempts=card,
        last_invoice_attempt=None,
        last_was_processing_error=False,
        not_before=START,
    )
    last = now
    for n, (code, advice) in enumerate(failures, start=1):
        card.append(last)
        decline = decline_classify(code, advice)
        invoice.append((last, decline.category == Category.PROCESSING))
        plan = retry_plan(
            RetryInputs(
                first_failed_at=invoice[0][0],
                last_attempt_at=last,
                attempts=n,
                decline=decline,
                network=network,
                card_attempts=[t for t in card if t > last - timedelta(days=31)],
                same_card_as_last=True,
                tz="Europe/Stockholm",
                paydays=(25,),
                seed=n,
            ),
            policy,
            now=last + timedelta(minutes=5),
        )
        if plan.at is None:
            break
        assert plan.at >= last + decline.retry_after
        assert plan.at < invoice[0][0] + timedelta(days=28)
        last = plan.at
    else:
        # The last planned attempt is made too (its outcome does not matter here).
        card.append(last)
        invoice.append((last, False))
    # The generated history of other invoices may itself be over a limit (up to 60
    # attempts in 30 days); what must hold is that no attempt made here adds to it.
    ours = {t for t, _ in invoice}
    assert [v for v in violations(network=network, card_attempts=card) if v.at in ours] == []
    assert invoice_gap_violations(invoice) == []
    assert len(invoice) <= max(max_attempts, 1)


def test_violations_are_found():
    burst = [START + timedelta(minutes=i) for i in range(11)]
    assert len(violations(network="mastercard", card_attempts=burst)) == 1
    assert violations(network="visa", card_attempts=burst) == []
    month = [START + timedelta(days=i * 1.9) for i in range(16)]
    assert len(violations(network="visa", card_attempts=month)) == 1
    assert invoice_gap_violations([(START, False), (START + timedelta(hours=5), False)])
    assert not invoice_gap_violations([(START, True), (START + timedelta(hours=5), False)])


SMART = PolicyView(RetryMode.SMART, [3, 7], 8, 28)


def one_failure(code: str, advice: str = "", *, at: datetime = START, **changes: object):
    """The planner's inputs after a first failed attempt at ``at`` on this Mastercard."""
    fields: dict[str, object] = {
        "first_failed_at": at,
        "last_attempt_at": at,
        "attempts": 1,
        "decline": decline_classify(code, advice),
        "network": "mastercard",
        "card_attempts": [at],
        "same_card_as_last": True,
        "tz": "Europe/Stockholm",
        "paydays": (25,),
        "seed": 1,
    }
    fields.update(changes)
    return RetryInputs(**fields)  # type: ignore[arg-type]


def test_hard_declines_and_stop_advice_are_never_retried():
    for code, advice in [
        ("lost_card", ""),
        ("stolen_card", ""),
        ("do_not_honor", "03"),
        ("generic_decline", "21"),
        ("41", ""),
        ("R1", ""),
        ("expired_card", ""),
    ]:
        plan = retry_plan(one_failure(code, advice), SMART, now=START)
        assert plan.at is None, (code, advice)


def test_mastercard_retry_after_advice_is_honoured():
    for advice, wait in [
        ("24", timedelta(hours=1)),
        ("27", timedelta(days=4)),
        ("30", timedelta(days=10)),
    ]:
        plan = retry_plan(one_failure("do_not_honor", advice), SMART, now=START)
        assert plan.at is not None
        assert plan.at >= START + max(wait, timedelta(hours=24))


def test_smart_insufficient_funds_aims_after_payday():
    """With Swedish paydays (the 25th), a funds decline on the 20th is retried on or just
    after the 25th, not at the first allowed moment."""
    failed = datetime(2026, 3, 20, 1, 0, tzinfo=UTC)
    plan = retry_plan(
        one_failure("insufficient_funds", at=failed, network="visa", seed=7),
        PolicyView(RetryMode.SMART, [], 8, 28),
        now=failed,
    )
    assert plan.at is not None
    assert datetime(2026, 3, 24, 23, 0, tzinfo=UTC) <= plan.at <= datetime(2026, 3, 28, tzinfo=UTC)


def test_a_new_card_is_tried_at_once_whatever_failed_before():
    plan = retry_plan(
        one_failure("lost_card", same_card_as_last=False, card_attempts=[]),
        PolicyView(RetryMode.SMART, [3, 7], 1, 28),
        now=START + timedelta(hours=2),
    )
    assert plan.at == START + timedelta(hours=2)
