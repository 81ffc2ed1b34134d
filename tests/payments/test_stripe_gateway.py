"""The Stripe gateway, with the official SDK's own HTTP code talking to a local server that
answers with Stripe's published example objects (tests/stripe_server.py)."""

from __future__ import annotations

import logging

import pytest

from dues.billing.models import Invoice
from dues.billing.services import subscription_create
from dues.core.crypto import secret_open, secret_seal
from dues.dunning.declines import Category, decline_classify
from dues.ops.jobs import bill
from dues.payments.collect import attempts_resolve, collect
from dues.payments.gateways.base import (
    ChargeRequest,
    GatewayConfigError,
    GatewayError,
    GatewayTimeout,
)
from dues.payments.gateways.stripe import StripeGateway
from dues.payments.models import (
    AttemptStatus,
    GatewayAccount,
    GatewayCustomer,
    Payment,
    PaymentAttempt,
    PaymentMethod,
)
from dues.payments.services import PaymentError, refund_create
from dues.payments.setup import payment_setup_finish, payment_setup_start
from tests.conftest import STRIPE_KEY, STRIPE_WEBHOOK_SECRET
from tests.factories import d, make_member, make_plan

pytestmark = pytest.mark.django_db


def saved(member, clock, stripe_api, gateway, pm_id, kinds=("card",)) -> PaymentMethod:
    """Save a method the way the portal does: a SetupIntent the hosted fields finish."""
    start = payment_setup_start(payer=member, gateway=gateway, clock=clock, kinds=kinds)
    stripe_api.setup_confirm(start.reference, pm_id)
    return payment_setup_finish(
        organization_id=member.organization_id,
        reference=start.reference,
        gateway=gateway,
        clock=clock,
    )


def stripe_join(org, location, clock, stripe_api, gateway, pm_id="pm_card_visa", **plan_kw):
    member = make_member(org, clock)
    method = saved(member, clock, stripe_api, gateway, pm_id)
    sub = subscription_create(
        member=member,
        plan=make_plan(org, **plan_kw),
        location=location,
        start_date=d("2026-01-15"),
        clock=clock,
    )
    return member, sub, method


def test_setup_makes_one_customer_and_saves_the_card_without_its_number(
    org, clock, stripe_api, stripe_gw
):
    member = make_member(org, clock)
    first = payment_setup_start(payer=member, gateway=stripe_gw, clock=clock)
    second = payment_setup_start(payer=member, gateway=stripe_gw, clock=clock)
    assert first.client_secret.startswith(first.reference + "_secret_")
    assert first.publishable_key == "pk_test_dues_install_0000"
    assert len(stripe_api.customers) == 1  # one customer per payer
    [customer] = GatewayCustomer.objects.filter(payer=member)
    assert stripe_api.setup_intents[second.reference]["customer"] == customer.reference
    assert stripe_api.setup_intents[second.reference]["usage"] == "off_session"

    with pytest.raises(PaymentError, match="not been saved yet"):
        payment_setup_finish(
            organization_id=org.pk, reference=first.reference, gateway=stripe_gw, clock=clock
        )
    pm_id = stripe_api.card("success", brand="mastercard", last4="4444", exp_month=3, exp_year=2031)
    stripe_api.setup_confirm(first.reference, pm_id)
    method = payment_setup_finish(
        organization_id=org.pk, reference=first.reference, gateway=stripe_gw, clock=clock
    )
    again = payment_setup_finish(
        organization_id=org.pk, reference=first.reference, gateway=stripe_gw, clock=clock
    )
    assert again.pk == method.pk
    assert (method.token, method.gateway, method.customer_reference) == (
        pm_id,
        "stripe",
        customer.reference,
    )
    assert (method.brand, method.last4, method.exp_month, method.exp_year) == (
        "mastercard",
        "4444",
        3,
        2031,
    )
    assert method.is_default


def test_sepa_mandate_is_saved_and_its_charge_stays_pending_until_stripe_says(
    org, location, clock, stripe_api, stripe_gw
):
    member = make_member(org, clock)
    method = saved(member, clock, stripe_api, stripe_gw, "pm_sepa_debit", kinds=("sepa_debit",))
    assert method.kind == PaymentMethod.Kind.SEPA_DEBIT
    assert method.last4 == "3000"
    assert method.mandate_reference.startswith("mandate_")
    subscription_create(
        member=member,
        plan=make_plan(org),
        location=location,
        start_date=d("2026-01-15"),
        clock=clock,
    )
    result = bill(as_of=d("2026-01-15"), clock=clock, gateway=stripe_gw)
    attempt = PaymentAttempt.objects.get()
    assert attempt.status == AttemptStatus.PENDING  # a debit takes days to clear
    assert result["unknown"] == 1
    # Looking again while it clears neither charges again nor settles it.
    attempts_resolve(clock=clock, gateway=stripe_gw)
    assert len(stripe_api.intents) == 1
    assert PaymentAttempt.objects.get().status == AttemptStatus.PENDING


def test_charge_succeeds_with_our_key_as_idempotency_key(
    org, location, clock, stripe_api, stripe_gw
):
    member, _sub, method = stripe_join(org, location, clock, stripe_api, stripe_gw)
    bill(as_of=d("2026-01-15"), clock=clock, gateway=stripe_gw)
    attempt = PaymentAttempt.objects.get()
    assert attempt.status == AttemptStatus.SUCCEEDED
    [(_verb, _path, params, headers)] = [
        r for r in stripe_api.requests if r[1] == "/v1/payment_intents"
    ]
    assert headers["idempotency-key"] == attempt.idempotency_key
    assert headers["authorization"] == f"Bearer {STRIPE_KEY}"
    assert params["metadata"] == {"dues_attempt_key": attempt.idempotency_key}
    assert params["customer"] == method.customer_reference
    assert (params["off_session"], params["confirm"]) == ("true", "true")
    assert int(params["amount"]) == attempt.amount
    intent = stripe_api.intents[attempt.gateway_reference]
    assert intent["status"] == "succeeded"
    assert Payment.objects.get().gateway_reference == intent["id"]
    assert Invoice.objects.get(payer=member).status == "paid"


# (test method or registered card, expected decline code, advice code, category)
DECLINES = [
    ("pm_card_chargeDeclinedInsufficientFunds", "insufficient_funds", "", Category.FUNDS),
    ("pm_card_chargeDeclined", "generic_decline", "", Category.SOFT),
    ("pm_card_chargeDeclinedLostCard", "lost_card", "", Category.HARD),
    ("pm_card_chargeDeclinedStolenCard", "stolen_card", "", Category.HARD),
    ("pm_card_chargeDeclinedFraudulent", "fraudulent", "", Category.HARD),
    ("pm_card_chargeDeclinedExpiredCard", "expired_card", "", Category.EXPIRED),
    ("pm_card_chargeDeclinedIncorrectCvc", "incorrect_cvc", "", Category.HARD),
    ("pm_card_chargeDeclinedProcessingError", "processing_error", "", Category.PROCESSING),
    ("pm_card_authenticationRequired", "authentication_required", "", Category.EXPIRED),
    (dict(behaviour="do_not_honor", advice="03"), "do_not_honor", "03", Category.HARD),
    (dict(behaviour="do_not_honor", advice="24"), "do_not_honor", "24", Category.SOFT),
    (
        dict(behaviour="insufficient_funds", advice="01"),
        "insufficient_funds",
        "01",
        Category.EXPIRED,
    ),
    (
        dict(behaviour="generic_decline", stripe_advice="do_not_try_again"),
        "do_not_try_again",
        "",
        Category.HARD,
    ),
]


@pytest.mark.parametrize(("card", "code", "advice", "category"), DECLINES)
def test_each_decline_family_maps_into_our_taxonomy(
    org, location, clock, stripe_api, stripe_gw, card, code, advice, category
):
    pm_id = card if isinstance(card, str) else stripe_api.card(**card)
    stripe_join(org, location, clock, stripe_api, stripe_gw, pm_id)
    bill(as_of=d("2026-01-15"), clock=clock, gateway=stripe_gw)
    attempt = PaymentAttempt.objects.get()
    assert attempt.status == AttemptStatus.FAILED
    assert (attempt.decline_code, attempt.advice_code) == (code, advice)
    assert attempt.gateway_reference in stripe_api.intents
    assert attempt.failure_message
    assert decline_classify(attempt.decline_code, attempt.advice_code).category == category


def test_a_lost_reply_is_looked_up_never_charged_twice(org, location, clock, stripe_api, stripe_gw):
    member, _sub, _m = stripe_join(org, location, clock, stripe_api, stripe_gw)
    stripe_api.drop_replies = 1  # Stripe charges; the answer never arrives
    result = collect(clock=clock, gateway=stripe_gw, resolve=False)
    assert result == {"succeeded": 0, "failed": 0, "unknown": 1}
    assert PaymentAttempt.objects.get().status == AttemptStatus.PENDING
    resolved = attempts_resolve(clock=clock, gateway=stripe_gw)
    assert resolved["succeeded"] == 1
    assert len(stripe_api.intents) == 1  # found by its key, not charged again
    assert Invoice.objects.get(payer=member).status == "paid"


def test_sdk_retry_after_a_lost_reply_is_answered_from_stripes_idempotency(
    org, location, clock, stripe_api
):
    gateway = StripeGateway(max_network_retries=2)
    stripe_join(org, location, clock, stripe_api, gateway)
    stripe_api.drop_replies = 1
    bill(as_of=d("2026-01-15"), clock=clock, gateway=gateway)
    assert PaymentAttempt.objects.get().status == AttemptStatus.SUCCEEDED
    sent = [r for r in stripe_api.requests if r[1] == "/v1/payment_intents"]
    assert len(sent) == 2
    assert sent[0][3]["idempotency-key"] == sent[1][3]["idempotency-key"]
    assert len(stripe_api.intents) == 1


def test_replaying_a_key_returns_the_first_answer(org, clock, stripe_api, stripe_gw):
    request = ChargeRequest("inv_900_1", "pm_card_visa", 4900, "SEK", organization_id=org.pk)
    first = stripe_gw.charge(request)
    again = stripe_gw.charge(request)
    assert first == again
    assert first.succeeded
    assert len(stripe_api.intents) == 1
    assert stripe_gw.lookup(request) == first
    # The same key with other parameters is refused, not charged.
    with pytest.raises(GatewayError):
        stripe_gw.charge(ChargeRequest("inv_900_1", "pm_card_visa", 5000, "SEK"))
    assert len(stripe_api.intents) == 1


def test_lookup_of_a_key_stripe_never_saw_is_none_and_resolve_sends_it_once(
    org, location, clock, stripe_api, stripe_gw
):
    member, _sub, _m = stripe_join(org, location, clock, stripe_api, stripe_gw)
    stripe_api.down = True  # every request fails before Stripe does anything
    bill(as_of=d("2026-01-15"), clock=clock, gateway=stripe_gw)
    assert PaymentAttempt.objects.get().status == AttemptStatus.PENDING
    assert stripe_api.intents == {}
    stripe_api.down = False
    attempt = PaymentAttempt.objects.get()
    assert stripe_gw.lookup(ChargeRequest(attempt.idempotency_key, "", 1, "SEK")) is None
    attempts_resolve(clock=clock, gateway=stripe_gw)
    attempts_resolve(clock=clock, gateway=stripe_gw)
    assert len(stripe_api.intents) == 1
    assert Invoice.objects.get(payer=member).status == "paid"


def test_timeouts_and_outages_are_unknown_outcomes(org, stripe_api, stripe_gw):
    stripe_api.down = True
    with pytest.raises(GatewayTimeout):
        stripe_gw.charge(ChargeRequest("inv_901_1", "pm_card_visa", 100, "SEK"))
    with pytest.raises(GatewayTimeout):
        stripe_gw.lookup(ChargeRequest("inv_901_1", "pm_card_visa", 100, "SEK"))


def test_refunds_in_part_and_in_full_and_stripe_refuses_beyond_the_charge(
    org, location, clock, stripe_api, stripe_gw
):
    stripe_join(org, location, clock, stripe_api, stripe_gw, price=50000)
    bill(as_of=d("2026-01-15"), clock=clock, gateway=stripe_gw)
    payment = Payment.objects.get()
    part = refund_create(
        payment=payment, amount=20000, reason="Moved away", clock=clock, gateway=stripe_gw
    )
    assert part.status == "succeeded"
    assert part.gateway_reference.startswith("re_")
    charge = stripe_api.charges[stripe_api.intents[payment.gateway_reference]["latest_charge"]]
    assert charge["amount_refunded"] == 20000
    refund_request = [r for r in stripe_api.requests if r[1] == "/v1/refunds"][-1]
    assert refund_request[3]["idempotency-key"] == part.idempotency_key
    payment.refresh_from_db()
    with pytest.raises(PaymentError, match="at most 30000"):
        refund_create(payment=payment, amount=30001, reason="x", clock=clock, gateway=stripe_gw)
    # Stripe is the last word: had someone refunded in its dashboard, it says no.
    charge["amount_refunded"] = 45000
    with pytest.raises(PaymentError, match="greater than unrefunded"):
        refund_create(payment=payment, amount=10000, reason="x", clock=clock, gateway=stripe_gw)
    payment.refresh_from_db()
    assert payment.amount_refunded == 20000


def test_organization_keys_are_used_sealed_at_rest_and_never_logged(
    org, location, clock, stripe_api, caplog, settings
):
    own_key, own_secret = "sk_test_gym_own_9876", "whsec_gym_own_5432"
    stripe_api.keys.add(own_key)
    GatewayAccount.objects.create(
        organization=org,
        secret_key_sealed=secret_seal(own_key),
        webhook_secret_sealed=secret_seal(own_secret),
        publishable_key="pk_test_gym_own",
        updated_at=clock.now(),
    )
    row = GatewayAccount.objects.get()
    assert own_key not in row.secret_key_sealed
    assert secret_open(row.secret_key_sealed) == own_key
    caplog.set_level(logging.DEBUG)
    logging.getLogger("stripe").setLevel(logging.DEBUG)
    gateway = StripeGateway(max_network_retries=0)
    stripe_join(org, location, clock, stripe_api, gateway)
    bill(as_of=d("2026-01-15"), clock=clock, gateway=gateway)
    assert {r[3]["authorization"] for r in stripe_api.requests} == {f"Bearer {own_key}"}
    # A revoked key: the error names the problem, not the key.
    stripe_api.keys.discard(own_key)
    with pytest.raises(GatewayError) as failed:
        StripeGateway().charge(
            ChargeRequest("inv_7_1", "pm_card_visa", 100, "SEK", organization_id=org.pk)
        )
    for secret in (own_key, own_secret, STRIPE_KEY, STRIPE_WEBHOOK_SECRET):
        assert secret not in caplog.text
        assert secret not in str(failed.value)
    assert caplog.records  # the SDK did log, at debug level, without the secrets


def test_without_keys_the_error_names_what_is_missing(org, settings):
    settings.DUES_STRIPE_SECRET_KEY = ""
    with pytest.raises(GatewayConfigError, match="DUES_STRIPE_SECRET_KEY"):
        StripeGateway().charge(
            ChargeRequest("inv_1_1", "pm_card_visa", 100, "SEK", organization_id=org.pk)
        )
