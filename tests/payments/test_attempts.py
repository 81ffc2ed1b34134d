"""DESIGN invariant 2: the attempt and its key are committed before the gateway is called;
an unknown outcome is resolved by asking about that key, never by charging again."""

from __future__ import annotations

import threading

import pytest
from django.db import connection, connections

from dues.billing.models import Invoice
from dues.billing.services import subscription_create
from dues.core.db import in_transaction
from dues.ledger.check import ledger_check
from dues.ops.jobs import bill
from dues.payments.collect import attempts_open, attempts_resolve, collect
from dues.payments.gateways.base import ChargeRequest
from dues.payments.gateways.sandbox import SandboxGateway
from dues.payments.models import AttemptStatus, Payment, PaymentAttempt, SandboxCharge
from tests.factories import DECLINE_FUNDS, LOST_REPLY, VISA_OK, add_card, d, make_member, make_plan


def _invoice_for(org, location, clock, card=VISA_OK):
    plan = make_plan(org)
    member = make_member(org, clock)
    add_card(member, clock, card)
    subscription_create(
        member=member, plan=plan, location=location, start_date=d("2026-01-15"), clock=clock
    )
    return Invoice.objects.get(payer=member)


def _committed_keys(keys: list[str]) -> list[str]:
    """Keys visible from another connection, i.e. committed."""
    out: list[str] = []

    def look():
        try:
            out.extend(
                PaymentAttempt.objects.filter(
                    idempotency_key__in=keys, status=AttemptStatus.PENDING
                ).values_list("idempotency_key", flat=True)
            )
        finally:
            connections.close_all()

    t = threading.Thread(target=look)
    t.start()
    t.join()
    return sorted(out)


class WitnessGateway(SandboxGateway):
    def __init__(self, check_committed=True):
        self.check_committed = check_committed
        self.seen: list[tuple[list[str], list[str], bool]] = []
        self.lookups: list[str] = []

    def charge_many(self, requests):
        keys = sorted(r.idempotency_key for r in requests)
        committed = _committed_keys(keys) if self.check_committed else None
        self.seen.append((keys, committed, in_transaction()))
        return super().charge_many(requests)

    def lookup(self, request):
        self.lookups.append(request.idempotency_key)
        return super().lookup(request)


@pytest.mark.django_db(transaction=True)
def test_attempts_are_committed_before_the_gateway_is_called(org, location, clock):
    invoices = [_invoice_for(org, location, clock) for _ in range(3)]
    invoices.append(_invoice_for(org, location, clock, DECLINE_FUNDS))
    gateway = WitnessGateway()
    result = collect(clock=clock, gateway=gateway)
    assert (result["succeeded"], result["failed"], result["unknown"]) == (3, 1, 0)
    expected = sorted(f"inv_{inv.pk}_1" for inv in invoices)
    assert gateway.seen == [(expected, expected, False)]
    assert connection.in_atomic_block is False


@pytest.mark.django_db
def test_lost_reply_is_settled_by_lookup_and_charged_once(org, location, clock):
    inv = _invoice_for(org, location, clock, LOST_REPLY)
    gateway = WitnessGateway(check_committed=False)
    result = bill(as_of=d("2026-01-15"), clock=clock, gateway=gateway)
    assert (result["succeeded"], result["failed"], result["unknown"]) == (1, 0, 0)
    key = f"inv_{inv.pk}_1"
    assert [keys for keys, _, _ in gateway.seen] == [[key]]
    assert key in gateway.lookups
    assert SandboxCharge.objects.filter(idempotency_key=key).count() == 1
    assert SandboxCharge.objects.count() == 1
    attempt = PaymentAttempt.objects.get(invoice=inv)
    assert (attempt.idempotency_key, attempt.status) == (key, AttemptStatus.SUCCEEDED)
    payment = Payment.objects.get(invoice=inv)
    assert payment.amount == 49900
    assert payment.attempt_id == attempt.pk
    inv.refresh_from_db()
    assert (inv.status, inv.amount_paid, inv.amount_due) == ("paid", 49900, 0)
    # Running again neither charges nor records anything new.
    bill(as_of=d("2026-01-15"), clock=clock, gateway=gateway)
    assert SandboxCharge.objects.count() == 1
    assert Payment.objects.filter(invoice=inv).count() == 1
    assert PaymentAttempt.objects.filter(invoice=inv).count() == 1
    assert {k: v for k, v in ledger_check().items() if v} == {}


@pytest.mark.django_db(transaction=True)
def test_crash_before_send_is_replayed_under_the_same_key(org, location, clock):
    inv = _invoice_for(org, location, clock)
    attempts = attempts_open(clock=clock, organization_id=None, invoice_ids=None, batch_size=50)
    assert [a.idempotency_key for a in attempts] == [f"inv_{inv.pk}_1"]
    # ... the process dies here: the attempt is committed, the gateway never heard of it.
    assert SandboxCharge.objects.count() == 0
    gateway = WitnessGateway()
    result = attempts_resolve(clock=clock, gateway=gateway)
    assert result == {"succeeded": 1, "failed": 0, "unknown": 0}
    key = f"inv_{inv.pk}_1"
    assert gateway.lookups[0] == key
    assert [keys for keys, _, _ in gateway.seen] == [[key]]
    assert list(PaymentAttempt.objects.values_list("idempotency_key", "status")) == [
        (key, AttemptStatus.SUCCEEDED)
    ]
    assert list(SandboxCharge.objects.values_list("idempotency_key", flat=True)) == [key]
    inv.refresh_from_db()
    assert inv.status == "paid"
    assert Payment.objects.filter(invoice=inv).count() == 1
    # The invoice is not charged again by the next run.
    collect(clock=clock, gateway=gateway)
    assert SandboxCharge.objects.count() == 1
    assert PaymentAttempt.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_crash_after_gateway_charged_is_settled_by_lookup_alone(org, location, clock):
    inv = _invoice_for(org, location, clock)
    attempts = attempts_open(clock=clock, organization_id=None, invoice_ids=None, batch_size=50)
    # The gateway charged, then we died before recording the answer.
    SandboxGateway().charge_many(
        [
            ChargeRequest(
                idempotency_key=attempts[0].idempotency_key,
                token=attempts[0].token,
                amount=attempts[0].amount,
                currency=attempts[0].currency,
            )
        ]
    )
    gateway = WitnessGateway()
    assert attempts_resolve(clock=clock, gateway=gateway) == {
        "succeeded": 1,
        "failed": 0,
        "unknown": 0,
    }
    assert gateway.seen == []  # no charge call at all: lookup answered
    assert gateway.lookups == [f"inv_{inv.pk}_1"]
    assert SandboxCharge.objects.count() == 1
    inv.refresh_from_db()
    assert (inv.status, inv.amount_paid) == ("paid", 49900)
    assert {k: v for k, v in ledger_check().items() if v} == {}


@pytest.mark.django_db
def test_a_second_pending_attempt_for_an_invoice_is_refused(org, location, clock):
    inv = _invoice_for(org, location, clock)
    first = attempts_open(clock=clock, organization_id=None, invoice_ids=None, batch_size=50)
    assert len(first) == 1
    again = attempts_open(
        clock=clock, organization_id=None, invoice_ids=[inv.pk], batch_size=50, retry=True
    )
    assert again == []
    assert PaymentAttempt.objects.filter(invoice=inv).count() == 1


@pytest.mark.django_db
def test_declines_carry_the_sandbox_decline_code(org, location, clock, gateway):
    inv = _invoice_for(org, location, clock, DECLINE_FUNDS)
    lost = _invoice_for(org, location, clock, "4000000000009987")
    bill(as_of=d("2026-01-15"), clock=clock, gateway=gateway)
    assert PaymentAttempt.objects.get(invoice=inv).decline_code == "insufficient_funds"
    assert PaymentAttempt.objects.get(invoice=lost).decline_code == "lost_card"
    assert PaymentAttempt.objects.get(invoice=inv).failure_message == (
        "Your card has insufficient funds."
    )
