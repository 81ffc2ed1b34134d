"""Restrictions on a membership (DESIGN: restrictions are data). Dunning and staff place
and lift them here; the door, class bookings and membership changes ask
``restrictions_in_force``. A restriction placed twice by the same source is one row."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

from django.db import IntegrityError, transaction
from django.db.models import Q

from dues.billing.models import Restriction, RestrictionKind, Subscription
from dues.core.clock import Clock
from dues.core.outbox import Event, events_emit_bulk


def restriction_place(
    *,
    subscription: Subscription,
    kind: str,
    source: str,
    reason: str,
    clock: Clock,
    source_id: int | None = None,
) -> Restriction:
    """Place a restriction unless the same source already has one of this kind in force."""
    if kind not in RestrictionKind.values:
        raise ValueError(f"unknown restriction kind {kind!r}")
    in_force = Restriction.objects.filter(
        subscription=subscription, kind=kind, source=source, source_id=source_id, ends_at=None
    ).first()
    if in_force:
        return in_force
    now = clock.now()
    try:
        with transaction.atomic():
            placed = Restriction.objects.create(
                organization_id=subscription.organization_id,
                subscription=subscription,
                kind=kind,
                source=source,
                source_id=source_id,
                reason=reason,
                starts_at=now,
            )
            events_emit_bulk([_event(placed, "restriction.placed", now)])
    except IntegrityError:
        # Placed concurrently by the same source: that one stands.
        return Restriction.objects.get(
            subscription=subscription, kind=kind, source=source, source_id=source_id, ends_at=None
        )
    return placed


def restrictions_lift(
    *,
    source: str,
    source_ids: Iterable[int | None],
    clock: Clock,
    reason: str,
    subscription_id: int | None = None,
) -> int:
    """End every restriction in force from ``source`` for these source ids; returns how many."""
    qs = Restriction.objects.filter(
        source=source, source_id__in=list(source_ids), ends_at=None
    ).select_for_update()
    if subscription_id is not None:
        qs = qs.filter(subscription_id=subscription_id)
    now = clock.now()
    with transaction.atomic():
        lifted = list(qs)
        for r in lifted:
            r.ends_at = max(now, r.starts_at)
            r.lifted_reason = reason
        Restriction.objects.bulk_update(lifted, ["ends_at", "lifted_reason"])
        events_emit_bulk([_event(r, "restriction.lifted", now) for r in lifted])
    return len(lifted)


def restrictions_in_force(subscription_ids: Sequence[int], at: datetime) -> dict[int, set[str]]:
    """The kinds of restriction in force on each membership at ``at``."""
    found: dict[int, set[str]] = {pk: set() for pk in subscription_ids}
    rows = Restriction.objects.filter(
        Q(ends_at__isnull=True) | Q(ends_at__gt=at),
        subscription_id__in=subscription_ids,
        starts_at__lte=at,
    ).values_list("subscription_id", "kind")
    for sub_id, kind in rows:
        found[sub_id].add(kind)
    return found


def _event(r: Restriction, topic: str, now: datetime) -> Event:
    payload = {
        "restriction_id": r.pk,
        "subscription_id": r.subscription_id,
        "kind": r.kind,
        "source": r.source,
        "reason": r.reason,
    }
    return Event(r.organization_id, topic, "subscription", r.subscription_id, payload, now)
