"""Job entry points that span apps: the daily billing run.

``bill(as_of)`` = calendar advance (trials, freezes, cancellations) → card account updates →
invoicing → collection.
Each step is idempotent, so re-running a day, or resuming after a crash, changes nothing
that was already done.
"""

from __future__ import annotations

from datetime import date

from dues.billing.run import invoice_due
from dues.billing.services import subscriptions_advance
from dues.core.clock import Clock
from dues.payments.collect import collect
from dues.payments.gateways.base import Gateway, gateway_get
from dues.payments.updater import payment_methods_refresh


def bill(
    *,
    as_of: date,
    clock: Clock,
    gateway: Gateway | None = None,
    organization_id: int | None = None,
) -> dict[str, int]:
    gateway = gateway or gateway_get()
    advanced = subscriptions_advance(as_of=as_of, clock=clock, organization_id=organization_id)
    cards = payment_methods_refresh(
        today=as_of, clock=clock, gateway=gateway, organization_id=organization_id
    )
    invoices = invoice_due(as_of=as_of, clock=clock, organization_id=organization_id)
    collected = collect(clock=clock, gateway=gateway, organization_id=organization_id)
    return {"advanced": advanced, "cards_updated": cards, "invoices": invoices} | collected
