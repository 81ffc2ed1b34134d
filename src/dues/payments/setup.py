"""Saving a card or bank debit mandate through the gateway's hosted fields.

The payer gets one customer at the gateway (made once, under a key naming the payer, so two
clicks make one). A setup is started here, finished in the member's browser by the
gateway's own fields (the number never reaches our server), and saved here when the page
says it is done or when the gateway's ``setup_intent.succeeded`` event arrives, whichever
is first: the second finds the method already saved.
"""

from __future__ import annotations

from collections.abc import Sequence

from django.db import IntegrityError, transaction

from dues.core.clock import Clock
from dues.core.db import forbid_transaction
from dues.members.models import Member
from dues.payments.gateways.base import Gateway, SavedMethod, SetupStart
from dues.payments.models import GatewayCustomer, PaymentMethod
from dues.payments.services import PaymentError, payment_method_add


def gateway_customer(*, payer: Member, gateway: Gateway, clock: Clock) -> str:
    """The payer's customer reference at this gateway, made on first use."""
    found = GatewayCustomer.objects.filter(payer=payer, gateway=gateway.name).first()
    if found is not None:
        return found.reference
    forbid_transaction("creating a customer at the gateway")
    reference = gateway.customer_create(
        idempotency_key=f"payer_{payer.organization_id}_{payer.pk}",
        name=payer.full_name,
        email=payer.email,
        organization_id=payer.organization_id,
    )
    try:
        with transaction.atomic():
            GatewayCustomer.objects.create(
                organization_id=payer.organization_id,
                payer=payer,
                gateway=gateway.name,
                reference=reference,
                created_at=clock.now(),
            )
    except IntegrityError:
        pass  # a concurrent call saved it; the same key made the same customer
    return GatewayCustomer.objects.get(payer=payer, gateway=gateway.name).reference


def payment_setup_start(
    *, payer: Member, gateway: Gateway, clock: Clock, kinds: Sequence[str] = ("card",)
) -> SetupStart:
    if payer.payer_id is not None:
        raise PaymentError({"payer": "this member's payments are made by their household payer"})
    unknown = set(kinds) - set(PaymentMethod.Kind.values)
    if unknown or not kinds:
        raise PaymentError({"kinds": f"choose from {', '.join(PaymentMethod.Kind.values)}"})
    customer = gateway_customer(payer=payer, gateway=gateway, clock=clock)
    return gateway.setup_start(
        customer=customer, kinds=kinds, organization_id=payer.organization_id
    )


def payment_setup_finish(
    *,
    organization_id: int,
    reference: str,
    gateway: Gateway,
    clock: Clock,
    payer: Member | None = None,
) -> PaymentMethod:
    """Save the method a finished setup made, once; it becomes the payer's default. With
    ``payer`` (a page the member reached), the setup must be that payer's own."""
    forbid_transaction("asking the gateway about a setup")
    saved = gateway.setup_result(reference=reference, organization_id=organization_id)
    if saved is None:
        raise PaymentError({"setup": "the card or mandate has not been saved yet"})
    if (
        payer is not None
        and not GatewayCustomer.objects.filter(
            payer=payer, gateway=gateway.name, reference=saved.customer
        ).exists()
    ):
        raise PaymentError({"setup": "this setup belongs to another payer"})
    return payment_method_save(
        organization_id=organization_id, saved=saved, gateway=gateway.name, clock=clock
    )


def payment_method_save(
    *, organization_id: int, saved: SavedMethod, gateway: str, clock: Clock
) -> PaymentMethod:
    existing = PaymentMethod.objects.filter(
        organization_id=organization_id, gateway=gateway, token=saved.token
    ).first()
    if existing is not None:
        return existing
    owner = GatewayCustomer.objects.filter(
        organization_id=organization_id, gateway=gateway, reference=saved.customer
    ).first()
    if owner is None:
        raise PaymentError({"customer": f"no payer of this gym is customer {saved.customer}"})
    try:
        return _add(owner, saved, gateway, clock)
    except IntegrityError:
        return PaymentMethod.objects.get(
            organization_id=organization_id, gateway=gateway, token=saved.token
        )


def _add(owner: GatewayCustomer, saved: SavedMethod, gateway: str, clock: Clock) -> PaymentMethod:
    with transaction.atomic():
        return payment_method_add(
            payer=owner.payer,
            token=saved.token,
            last4=saved.last4,
            clock=clock,
            kind=saved.kind,
            brand=saved.brand,
            exp_month=saved.exp_month,
            exp_year=saved.exp_year,
            mandate_reference=saved.mandate_reference,
            customer_reference=saved.customer,
            gateway=gateway,
        )
