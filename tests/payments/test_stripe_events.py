"""Stripe's events at /hooks/stripe/: signatures, once per event id, any order, and what
each event does (updater, disputes, settled debits, saved methods)."""

from __future__ import annotations

import itertools
import json
import time
from datetime import timedelta

import pytest

from dues.billing.models import Invoice
from dues.core.crypto import secret_seal
from dues.core.models import OutboxEvent
from dues.crm.models import Task
from dues.dunning.models import CaseStatus, DunningCase
from dues.ledger import chart
from dues.ledger.check import ledger_check
from dues.ledger.models import JournalEntry, JournalLine
from dues.ops.jobs import bill
from dues.payments.models import (
    AttemptStatus,
    Dispute,
    GatewayAccount,
    GatewayEvent,
    Payment,
    PaymentAttempt,
    PaymentMethod,
)
from dues.payments.setup import payment_setup_finish, payment_setup_start
from tests.conftest import STRIPE_WEBHOOK_SECRET
from tests.factories import d, make_member
from tests.payments.test_stripe_gateway import stripe_join
from tests.stripe_server import signature

pytestmark = pytest.mark.django_db


def post(client, event, *, secret=STRIPE_WEBHOOK_SECRET, at=None, url="/hooks/stripe/", body=None):
    payload = json.dumps(event).encode()
    header = signature(payload, secret, at)
    return client.post(
        url, data=body or payload, content_type="application/json", HTTP_STRIPE_SIGNATURE=header
    )


def books_clean() -> None:
    assert {k: v for k, v in ledger_check().items() if v} == {}


@pytest.fixture
def paid(org, location, clock, stripe_api, stripe_gw):
    """A member whose first invoice Stripe paid."""
    member, _sub, _method = stripe_join(org, location, clock, stripe_api, stripe_gw, price=40000)
    bill(as_of=d("2026-01-15"), clock=clock, gateway=stripe_gw)
    return Payment.objects.get(payer=member)


def test_signature_valid_tampered_expired_wrong_secret_and_replayed(client, paid, stripe_api):
    event = stripe_api.event("charge.dispute.created", stripe_api.dispute(paid.gateway_reference))
    tampered = json.dumps({**event, "id": "evt_forged"}).encode()
    assert post(client, event, body=tampered).status_code == 400
    assert post(client, event, at=int(time.time()) - 301).status_code == 400  # too old
    assert post(client, event, secret="whsec_someone_else").status_code == 400
    no_header = client.post(
        "/hooks/stripe/", data=json.dumps(event), content_type="application/json"
    )
    assert no_header.status_code == 400
    assert not GatewayEvent.objects.exists()
    assert not Dispute.objects.exists()
    assert not JournalEntry.objects.filter(source_type="dispute").exists()

    first = post(client, event)
    assert first.status_code == 200, first.content
    replay = post(client, event)
    assert replay.status_code == 200
    assert replay.json()["detail"] == "already processed"
    assert GatewayEvent.objects.count() == 1
    assert Dispute.objects.count() == 1
    assert JournalEntry.objects.filter(source_type="dispute").count() == 1
    assert Task.objects.count() == 1


def test_a_dispute_moves_the_money_gives_staff_a_task_and_shows_on_the_timeline(
    client, paid, stripe_api
):
    dispute = stripe_api.dispute(paid.gateway_reference, reason="fraudulent")
    assert post(client, stripe_api.event("charge.dispute.created", dispute)).status_code == 200
    row = Dispute.objects.get()
    assert (row.status, row.amount, row.currency, row.reason) == (
        "needs_response",
        40000,
        paid.currency,
        "fraudulent",
    )
    disputed = JournalLine.objects.filter(account__code=chart.DISPUTED)
    assert sum(disputed.values_list("amount", flat=True)) == 40000
    task = Task.objects.get()
    assert task.member_id == paid.payer_id
    assert task.due_at == row.evidence_due_by
    evidence = task.detail["evidence"]
    assert evidence["invoice"]["number"] == paid.invoice.number
    assert evidence["payment"]["gateway_reference"] == paid.gateway_reference
    assert evidence["memberships"][0]["start_date"] == "2026-01-15"
    assert OutboxEvent.objects.filter(topic="dispute.opened").count() == 1
    books_clean()

    dispute["status"] = "lost"
    closed = stripe_api.event("charge.dispute.closed", dispute, created=int(time.time()) + 5)
    assert post(client, closed).status_code == 200
    row.refresh_from_db()
    assert row.status == "lost"
    assert row.closed_at is not None
    assert sum(disputed.values_list("amount", flat=True)) == 0
    lost = JournalLine.objects.filter(account__code=chart.CHARGEBACKS)
    assert sum(lost.values_list("amount", flat=True)) == 40000
    assert Task.objects.get().status == Task.Status.DONE
    assert OutboxEvent.objects.filter(topic="dispute.closed").count() == 1
    books_clean()


def test_dispute_events_in_any_order_or_twice_leave_the_same_state(
    client, org, location, clock, stripe_api, stripe_gw
):
    orders = list(itertools.permutations(range(3)))
    members = [
        stripe_join(org, location, clock, stripe_api, stripe_gw)[0] for _ in range(len(orders))
    ]
    bill(as_of=d("2026-01-15"), clock=clock, gateway=stripe_gw)
    t0 = int(time.time())
    for member, order in zip(members, orders, strict=True):
        payment = Payment.objects.get(payer=member)
        steps = []
        for i, (type_, status) in enumerate(
            [
                ("charge.dispute.created", "needs_response"),
                ("charge.dispute.updated", "under_review"),
                ("charge.dispute.closed", "won"),
            ]
        ):
            obj = stripe_api.dispute(payment.gateway_reference, status=status)
            steps.append(stripe_api.event(type_, obj, created=t0 + i))
        for i in order:
            assert post(client, steps[i]).status_code == 200
        assert post(client, steps[order[0]]).json()["detail"] == "already processed"
    for member in members:
        dispute = Dispute.objects.get(payment__payer=member)
        assert dispute.status == "won"
        kinds = set(
            JournalEntry.objects.filter(source_type="dispute", source_id=dispute.pk).values_list(
                "kind", flat=True
            )
        )
        assert kinds == {"dispute_withdrawn", "dispute_won"}
        assert Task.objects.get(source_id=dispute.pk).status == Task.Status.DONE
    held = JournalLine.objects.filter(account__code=chart.DISPUTED)
    assert sum(held.values_list("amount", flat=True)) == 0
    books_clean()


def test_an_inquiry_moves_no_money(client, paid, stripe_api):
    inquiry = stripe_api.dispute(paid.gateway_reference, status="warning_needs_response")
    assert post(client, stripe_api.event("charge.dispute.created", inquiry)).status_code == 200
    inquiry["status"] = "warning_closed"
    later = stripe_api.event("charge.dispute.closed", inquiry, created=int(time.time()) + 1)
    assert post(client, later).status_code == 200
    assert Dispute.objects.get().status == "won"
    assert not JournalEntry.objects.filter(source_type="dispute").exists()
    books_clean()


def test_updater_event_renews_the_card_and_dunning_retries_at_once(
    client, org, location, clock, stripe_api, stripe_gw
):
    pm_id = stripe_api.card("expired_card", exp_month=1, exp_year=2026)
    member, _sub, method = stripe_join(org, location, clock, stripe_api, stripe_gw, pm_id)
    bill(as_of=d("2026-01-15"), clock=clock, gateway=stripe_gw)
    case = DunningCase.objects.get(payer=member)
    assert case.waiting_for_card

    stripe_api.cards[pm_id].behaviour = "success"  # the issuer renewed it
    renewed = stripe_api.card_renewed(pm_id, exp_month=1, exp_year=2029, last4="4343")
    newer = stripe_api.event("payment_method.automatically_updated", renewed)
    stale = stripe_api.card_renewed(pm_id, exp_month=1, exp_year=2027)
    older = stripe_api.event(
        "payment_method.automatically_updated", stale, created=newer["created"] - 60
    )
    clock.advance(timedelta(hours=1))
    assert post(client, newer).status_code == 200
    assert post(client, older).json()["detail"] == "no card to renew"
    method.refresh_from_db()
    assert (method.exp_month, method.exp_year, method.last4) == (1, 2029, "4343")
    assert OutboxEvent.objects.filter(topic="payment_method.updated").count() == 1

    clock.advance(timedelta(minutes=1))
    bill(as_of=d("2026-01-15"), clock=clock, gateway=stripe_gw)
    case.refresh_from_db()
    assert case.status == CaseStatus.RECOVERED
    assert Invoice.objects.get(pk=case.invoice_id).status == "paid"
    books_clean()


def test_a_debit_settles_by_event_and_a_late_failure_changes_nothing(
    client, org, location, clock, stripe_api, stripe_gw
):
    member, _sub, _m = stripe_join(org, location, clock, stripe_api, stripe_gw, "pm_sepa_debit")
    bill(as_of=d("2026-01-15"), clock=clock, gateway=stripe_gw)
    attempt = PaymentAttempt.objects.get()
    assert attempt.status == AttemptStatus.PENDING
    [intent] = stripe_api.intents.values()
    processing = stripe_api.event("payment_intent.processing", intent)
    assert post(client, processing).status_code == 200
    intent["status"] = "succeeded"
    assert post(client, stripe_api.event("payment_intent.succeeded", intent)).status_code == 200
    attempt.refresh_from_db()
    assert attempt.status == AttemptStatus.SUCCEEDED
    assert Invoice.objects.get(payer=member).status == "paid"
    failed = {
        **intent,
        "status": "requires_payment_method",
        "last_payment_error": {"code": "card_declined", "decline_code": "generic_decline"},
    }
    late = post(client, stripe_api.event("payment_intent.payment_failed", failed))
    assert late.json()["detail"] == "attempt already settled"
    assert Invoice.objects.get(payer=member).status == "paid"
    assert Payment.objects.count() == 1
    books_clean()


def test_setup_event_saves_the_method_once_with_the_page(client, org, clock, stripe_api, stripe_gw):
    member = make_member(org, clock)
    start = payment_setup_start(payer=member, gateway=stripe_gw, clock=clock)
    seti = stripe_api.setup_confirm(start.reference, "pm_card_visa")
    response = post(client, stripe_api.event("setup_intent.succeeded", seti))
    assert response.status_code == 200, response.content
    method = PaymentMethod.objects.get(payer=member)
    page = payment_setup_finish(
        organization_id=org.pk, reference=start.reference, gateway=stripe_gw, clock=clock
    )
    assert page.pk == method.pk
    assert PaymentMethod.objects.count() == 1
    detached = post(
        client, stripe_api.event("payment_method.detached", stripe_api.method(method.token))
    )
    assert detached.status_code == 200
    method.refresh_from_db()
    assert method.status == PaymentMethod.Status.DETACHED
    assert OutboxEvent.objects.filter(topic="payment_method.removed").count() == 1


def test_a_gym_with_its_own_account_is_checked_with_its_own_secret(
    client, org, paid, stripe_api, clock
):
    GatewayAccount.objects.create(
        organization=org,
        secret_key_sealed=secret_seal("sk_test_dues_install_0000"),
        webhook_secret_sealed=secret_seal("whsec_gym_own"),
        updated_at=clock.now(),
    )
    event = stripe_api.event("charge.dispute.created", stripe_api.dispute(paid.gateway_reference))
    url = f"/hooks/stripe/{org.slug}/"
    assert post(client, event, url=url).status_code == 400  # the install's secret
    assert post(client, event, url=url, secret="whsec_gym_own").status_code == 200
    assert post(client, event, url="/hooks/stripe/no-such-gym/").status_code == 404
    assert client.get(url).status_code == 405
    assert Dispute.objects.count() == 1
