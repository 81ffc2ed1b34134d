"""Stripe's events: verified, kept once per event id, and applied so that order and
repetition do not matter.

- The ``Stripe-Signature`` header is checked with the SDK against the webhook secret, with
  a timestamp tolerance (``DUES_STRIPE_WEBHOOK_TOLERANCE``); a bad one gets 400 and
  changes nothing.
- The event row and everything it changes commit together: a repeat finds the row and is
  answered 200 without doing anything; a failure leaves no row, so Stripe's retry redoes it.
- Each handler only moves state forward: a charge's outcome is recorded only for an
  attempt still pending, a card's expiry only moves later, a dispute never reopens and
  ignores events older than the last one applied.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import stripe
from django.conf import settings
from django.db import IntegrityError, transaction

from dues.core.clock import Clock
from dues.core.models import Organization
from dues.payments.collect import attempts_settle
from dues.payments.disputes import dispute_apply
from dues.payments.gateways.base import GatewayError, SavedMethod
from dues.payments.gateways.stripe import (
    ATTEMPT_KEY,
    GATEWAY,
    StripeGateway,
    result_from_intent,
    stripe_keys,
)
from dues.payments.models import GatewayCustomer, GatewayEvent, Payment, PaymentMethod
from dues.payments.services import payment_method_detach
from dues.payments.setup import payment_method_save
from dues.payments.updater import renewals_save

DISPUTE_EVENTS = {
    "charge.dispute.created",
    "charge.dispute.updated",
    "charge.dispute.closed",
    "charge.dispute.funds_withdrawn",
    "charge.dispute.funds_reinstated",
}
INTENT_EVENTS = {
    "payment_intent.succeeded",
    "payment_intent.payment_failed",
    "payment_intent.canceled",
}


@dataclass(frozen=True)
class Received:
    status: int
    message: str


def stripe_event_receive(
    *,
    payload: bytes,
    signature: str,
    organization: Organization | None,
    clock: Clock,
    gateway: StripeGateway,
) -> Received:
    org_id = organization.pk if organization is not None else None
    try:
        secret = stripe_keys(org_id).webhook_secret
    except GatewayError:
        return Received(400, f"Stripe is not set up for {_whose(organization)}")
    if not secret:
        return Received(400, f"no Stripe webhook secret is set for {_whose(organization)}")
    try:
        stripe.WebhookSignature.verify_header(
            payload.decode("utf-8"), signature, secret, settings.DUES_STRIPE_WEBHOOK_TOLERANCE
        )
        event = json.loads(payload)
        event_id, type_, obj = event["id"], event["type"], event["data"]["object"]
        created = datetime.fromtimestamp(int(event["created"]), UTC)
    except stripe.SignatureVerificationError as exc:
        return Received(400, f"Stripe-Signature does not verify: {exc.user_message}")
    except (UnicodeDecodeError, ValueError, KeyError, TypeError):
        return Received(400, "the body is not a Stripe event")
    if GatewayEvent.objects.filter(gateway=GATEWAY, event_id=event_id).exists():
        return Received(200, "already processed")
    try:
        fetched = _fetch(type_, obj, org_id, gateway)
    except GatewayError:
        return Received(503, "Stripe could not be asked about this event; send it again")
    with transaction.atomic():
        try:
            with transaction.atomic():
                row = GatewayEvent.objects.create(
                    gateway=GATEWAY,
                    event_id=event_id,
                    endpoint=organization.slug if organization is not None else "",
                    type=type_,
                    created=created,
                    payload=event,
                    received_at=clock.now(),
                )
        except IntegrityError:
            return Received(200, "already processed")
        outcome = _apply(type_, obj, created, org_id, fetched, clock)
        row.outcome = outcome[:200]
        row.save(update_fields=["outcome"])
    return Received(200, outcome)


def _whose(organization: Organization | None) -> str:
    return f"gym {organization.slug}" if organization is not None else "this install"


def _fetch(type_: str, obj: dict[str, Any], org_id: int | None, gateway: StripeGateway) -> Any:
    """What an event needs from Stripe besides itself, asked before any row is locked."""
    if type_ == "setup_intent.succeeded":
        return gateway.setup_result(reference=obj["id"], organization_id=org_id)
    if type_ in DISPUTE_EVENTS and not obj.get("payment_intent"):
        return gateway.charge_intent(charge=obj["charge"], organization_id=org_id)
    return None


def _apply(
    type_: str,
    obj: dict[str, Any],
    created: datetime,
    org_id: int | None,
    fetched: Any,
    clock: Clock,
) -> str:
    if type_ in INTENT_EVENTS:
        return _intent(obj, org_id, clock)
    if type_ == "setup_intent.succeeded":
        return _setup(fetched, org_id, clock)
    if type_ == "payment_method.automatically_updated":
        return _card_renewed(obj, org_id, clock)
    if type_ == "payment_method.detached":
        return _detached(obj, org_id, clock)
    if type_ in DISPUTE_EVENTS:
        payments = Payment.objects.filter(
            gateway_reference=obj.get("payment_intent") or fetched or ""
        )
        if org_id is not None:
            payments = payments.filter(organization_id=org_id)
        payment = payments.exclude(gateway_reference="").first()
        if payment is None:
            return "no payment of ours is disputed"
        return dispute_apply(obj=obj, payment=payment, event_at=created, clock=clock)
    return "not an event Dues acts on"


def _intent(obj: dict[str, Any], org_id: int | None, clock: Clock) -> str:
    key = (obj.get("metadata") or {}).get(ATTEMPT_KEY)
    if not key:
        return "not a charge Dues made"
    result = result_from_intent(key, obj)
    if result.pending:
        return "still processing"
    counts = attempts_settle([key], [result], clock=clock, organization_id=org_id)
    if not any(counts.values()):
        return "attempt already settled"
    return "recorded " + ("success" if counts["succeeded"] else "failure")


def _methods(token: str, org_id: int | None):  # type: ignore[no-untyped-def]
    qs = PaymentMethod.objects.filter(gateway=GATEWAY, token=token)
    return qs.filter(organization_id=org_id) if org_id is not None else qs


def _setup(saved: SavedMethod | None, org_id: int | None, clock: Clock) -> str:
    if saved is None:
        return "setup not finished"
    owners = GatewayCustomer.objects.filter(gateway=GATEWAY, reference=saved.customer)
    if org_id is not None:
        owners = owners.filter(organization_id=org_id)
    owner = owners.first()
    if owner is None:
        return "not a customer of ours"
    method = payment_method_save(
        organization_id=owner.organization_id, saved=saved, gateway=GATEWAY, clock=clock
    )
    return f"payment method {method.pk} saved"


def _card_renewed(obj: dict[str, Any], org_id: int | None, clock: Clock) -> str:
    card = obj.get("card") or {}
    month, year = card.get("exp_month"), card.get("exp_year")
    if not month or not year:
        return "no card details"
    renewed = []
    for method in _methods(obj["id"], org_id).select_for_update():
        # Cards are renewed forward: an older event arriving late is not applied.
        if (year, month) <= (method.exp_year or 0, method.exp_month or 0):
            continue
        method.exp_month, method.exp_year = month, year
        method.last4 = card.get("last4") or method.last4
        renewed.append(method)
    if not renewed:
        return "no card to renew"
    renewals_save(renewed, clock=clock)
    return f"renewed {len(renewed)} card(s)"


def _detached(obj: dict[str, Any], org_id: int | None, clock: Clock) -> str:
    methods = list(_methods(obj["id"], org_id).filter(status=PaymentMethod.Status.ACTIVE))
    for method in methods:
        payment_method_detach(method=method, clock=clock)
    return f"removed {len(methods)} method(s)"
