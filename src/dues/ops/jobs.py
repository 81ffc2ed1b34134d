"""Job entry points that span apps: the daily billing run, and delivering what it decided.

``bill(as_of)`` = calendar advance (trials, freezes, cancellations) → card account updates →
invoicing → collection → dunning (retries due, reminders, restrictions, final actions) →
pre-dunning (card expiry, renewal and risky-charge notices; risk scores), once a day.
Each step is idempotent, so re-running a day, or resuming after a crash, changes nothing
that was already done.
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable
from datetime import date
from functools import partial
from typing import TypeVar

from django.db import connection, connections

from dues.billing.run import invoice_due
from dues.billing.services import subscriptions_advance
from dues.core.clock import Clock
from dues.core.db import forbid_transaction
from dues.core.outbox import outbox_dispatch
from dues.dunning.predunning import pre_dunning_run
from dues.dunning.run import dunning_run
from dues.notify.send import messages_send
from dues.payments.collect import attempts_resolve, collect, totals_settle
from dues.payments.gateways.base import Gateway, gateway_get
from dues.payments.updater import payment_methods_refresh
from dues.webhooks.services import webhooks_send

T = TypeVar("T")


def bill(
    *,
    as_of: date,
    clock: Clock,
    gateway: Gateway | None = None,
    organization_id: int | None = None,
    workers: int = 1,
) -> dict[str, int]:
    """One billing run. ``workers`` > 1 (PostgreSQL only) invoices and collects in that
    many processes, which share the work by claiming batches with ``SKIP LOCKED``."""
    gateway = gateway or gateway_get()
    advanced = subscriptions_advance(as_of=as_of, clock=clock, organization_id=organization_id)
    cards = payment_methods_refresh(
        today=as_of, clock=clock, gateway=gateway, organization_id=organization_id
    )
    head = {"advanced": advanced, "cards_updated": cards}
    if workers <= 1:
        invoices = invoice_due(as_of=as_of, clock=clock, organization_id=organization_id)
        collected = collect(clock=clock, gateway=gateway, organization_id=organization_id)
    else:
        invoices = invoice_in_workers(
            workers, as_of=as_of, clock=clock, organization_id=organization_id
        )
        collected = collect_in_workers(
            workers, clock=clock, gateway=gateway, organization_id=organization_id
        )
    dunning = dunning_run(clock=clock, gateway=gateway, organization_id=organization_id)
    notices = pre_dunning_run(clock=clock, organization_id=organization_id)
    return head | {"invoices": invoices} | collected | dunning | notices


def deliver(*, clock: Clock) -> dict[str, int]:
    """Hand new outbox events to their consumers (reminders become messages, subscribed
    events become webhook deliveries), then send the queued email, SMS and webhooks. Runs
    after billing, outside its transactions."""
    return (
        {"events_delivered": outbox_dispatch(clock=clock)}
        | {f"messages_{k}": v for k, v in messages_send(clock=clock).items()}
        | {f"webhooks_{k}": v for k, v in webhooks_send(clock=clock).items()}
    )


def _fan_out(workers: int, task: Callable[..., T], **kwargs: object) -> list[T]:
    """Run ``task(**kwargs)`` in ``workers`` forked processes at once; their results."""
    forbid_transaction("a billing run with several workers")
    if connection.vendor != "postgresql":
        raise ValueError("several billing workers need PostgreSQL (SQLite has one writer)")
    connections.close_all()  # each worker opens its own connection
    with multiprocessing.get_context("fork").Pool(workers) as pool:
        return pool.map(partial(_in_worker, task, kwargs), range(workers), chunksize=1)


def _in_worker(task: Callable[..., T], kwargs: dict[str, object], _: int) -> T:
    connections.close_all()  # never share the parent's socket
    try:
        return task(**kwargs)
    finally:
        connections.close_all()


def invoice_in_workers(workers: int, **kwargs: object) -> int:
    return sum(_fan_out(workers, invoice_due, **kwargs))


def collect_in_workers(
    workers: int, *, clock: Clock, gateway: Gateway, organization_id: int | None = None
) -> dict[str, int]:
    """Collection shared by ``workers`` processes. Attempts left pending by an earlier run
    are settled before they start, this run's lost replies after they stop: while they
    run, a pending attempt may be another worker's charge in flight."""
    totals = attempts_resolve(clock=clock, gateway=gateway, organization_id=organization_id)
    for part in _fan_out(
        workers,
        collect,
        clock=clock,
        gateway=gateway,
        organization_id=organization_id,
        resolve=False,
    ):
        for key, value in part.items():
            totals[key] += value
    totals_settle(
        totals, attempts_resolve(clock=clock, gateway=gateway, organization_id=organization_id)
    )
    return totals
