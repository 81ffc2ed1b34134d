"""Writing and consuming outbox events (DESIGN invariant 6).

``event_emit`` must be called inside the transaction that changes state, so the event
exists if and only if the change does. Consumers are plain functions registered by name;
``outbox_dispatch`` hands each event to each consumer at least once and records a
``OutboxDelivery`` row in the same transaction as the consumer's own writes, so a consumer
that crashes is retried and one that finished is never run twice.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any, NamedTuple

from django.db import IntegrityError, transaction

from dues.core.clock import Clock
from dues.core.db import require_transaction
from dues.core.models import Organization, OutboxDelivery, OutboxEvent
from dues.core.rows import rows_insert

Consumer = Callable[[OutboxEvent, Clock], None]
# name -> (function, the topics it wants; None for every topic)
_consumers: dict[str, tuple[Consumer, tuple[str, ...] | None]] = {}


class Event(NamedTuple):
    """An outbox event not yet written: what ``event_build`` returns and
    ``events_emit_bulk`` writes."""

    organization_id: int
    topic: str
    aggregate_type: str
    aggregate_id: int
    payload: dict[str, Any]
    created_at: datetime


def event_build(
    *,
    organization_id: int,
    topic: str,
    aggregate_type: str,
    aggregate_id: int,
    payload: dict[str, Any],
    clock: Clock,
) -> Event:
    return Event(organization_id, topic, aggregate_type, aggregate_id, payload, clock.now())


def event_emit(
    *,
    organization: Organization | int,
    topic: str,
    aggregate_type: str,
    aggregate_id: int,
    payload: dict[str, Any],
    clock: Clock,
) -> None:
    org_id = organization if isinstance(organization, int) else organization.pk
    events_emit_bulk(
        [
            event_build(
                organization_id=org_id,
                topic=topic,
                aggregate_type=aggregate_type,
                aggregate_id=aggregate_id,
                payload=payload,
                clock=clock,
            )
        ]
    )


def events_emit_bulk(events: Iterable[Event]) -> None:
    require_transaction("writing outbox events")
    rows_insert(OutboxEvent, Event._fields, list(events))


def consumer_register(name: str, func: Consumer, *, topics: Iterable[str] | None = None) -> None:
    _consumers[name] = (func, tuple(topics) if topics is not None else None)


def consumer_unregister(name: str) -> None:
    _consumers.pop(name, None)


def outbox_dispatch(*, clock: Clock, limit: int = 1000) -> int:
    """Deliver undelivered events to every registered consumer; returns deliveries made."""
    delivered = 0
    for name, (func, topics) in list(_consumers.items()):
        events = OutboxEvent.objects.all()
        if topics is not None:
            events = events.filter(topic__in=topics)
        pending = events.exclude(deliveries__consumer=name).order_by("id")[:limit].iterator()
        for event in pending:
            try:
                with transaction.atomic():
                    func(event, clock)
                    OutboxDelivery.objects.create(
                        event=event, consumer=name, delivered_at=clock.now()
                    )
            except IntegrityError:
                # Another dispatcher delivered it first; the consumer's writes rolled back.
                continue
            delivered += 1
    return delivered
