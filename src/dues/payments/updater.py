"""The card account updater: issuers renew expiring cards and the gateway tells us the new
expiry, so a renewal does not fail for an expiry the member never had to type."""

from __future__ import annotations

from datetime import date

from django.db import transaction

from dues.core.clock import Clock
from dues.core.outbox import event_build, events_emit_bulk
from dues.payments.gateways.base import Gateway
from dues.payments.models import PaymentMethod


def expiring_cards(today: date, organization_id: int | None = None) -> list[PaymentMethod]:
    """Active cards whose expiry month ends within 31 days (or has passed)."""
    horizon = date.fromordinal(today.toordinal() + 31)
    qs = PaymentMethod.objects.filter(
        kind=PaymentMethod.Kind.CARD, status=PaymentMethod.Status.ACTIVE
    ).filter(exp_year__lte=horizon.year)
    if organization_id is not None:
        qs = qs.filter(organization_id=organization_id)
    return [
        m
        for m in qs
        if m.exp_year is not None
        and m.exp_month is not None
        and (m.exp_year, m.exp_month) <= (horizon.year, horizon.month)
    ]


def payment_methods_refresh(
    *, today: date, clock: Clock, gateway: Gateway, organization_id: int | None = None
) -> int:
    """Apply the gateway's renewed expiries; returns how many cards were updated."""
    cards = expiring_cards(today, organization_id)
    ask = getattr(gateway, "account_updates", None)
    if not cards or ask is None:
        return 0
    updates = ask([(m.token, m.exp_month, m.exp_year) for m in cards], today)
    changed = [m for m in cards if m.token in updates]
    if not changed:
        return 0
    for m in changed:
        m.exp_month, m.exp_year = updates[m.token]
    renewals_save(changed, clock=clock)
    return len(changed)


def renewals_save(methods: list[PaymentMethod], *, clock: Clock) -> None:
    """Save cards the issuer renewed (new expiry, maybe new last four) and say so.

    ``updated_at`` moves, which is what dunning reads to retry open invoices at once."""
    now = clock.now()
    with transaction.atomic():
        for m in methods:
            m.updated_at = now
        PaymentMethod.objects.bulk_update(methods, ["exp_month", "exp_year", "last4", "updated_at"])
        events_emit_bulk(
            event_build(
                organization_id=m.organization_id,
                topic="payment_method.updated",
                aggregate_type="payment_method",
                aggregate_id=m.pk,
                payload={
                    "payment_method_id": m.pk,
                    "payer_id": m.payer_id,
                    "exp_month": m.exp_month,
                    "exp_year": m.exp_year,
                    "last4": m.last4,
                    "source": "account_updater",
                },
                clock=clock,
            )
            for m in methods
        )
