"""Outgoing webhooks: endpoints, one delivery per wanted event (an outbox consumer, so it
is decided in the event's own delivery transaction), and sending with retries.

Sending happens after commit, outside any transaction (``webhooks_send``, run by
``dues.ops.jobs.deliver``): a delivery is claimed by moving its next attempt a lease ahead,
posted, and the answer recorded. 2xx is delivered; anything else, or no answer in 10 s, is
tried again after 1 min, 5 min, 30 min, 2 h, 6 h, then every 12 h, until 3 days after the
first try, when the delivery is marked failed. Staff can replay any delivery.
"""

from __future__ import annotations

import ipaddress
import json
import secrets
import time
from collections.abc import Sequence
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

import httpx
from django.core.exceptions import ValidationError
from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction

from dues.core.clock import Clock
from dues.core.db import forbid_transaction
from dues.core.models import OutboxEvent
from dues.webhooks.events import EVENT_TYPES
from dues.webhooks.models import DeliveryStatus, WebhookAttempt, WebhookDelivery, WebhookEndpoint
from dues.webhooks.signing import HEADER, signature

BACKOFF = (
    timedelta(minutes=1),
    timedelta(minutes=5),
    timedelta(minutes=30),
    timedelta(hours=2),
    timedelta(hours=6),
    timedelta(hours=12),
)
GIVE_UP_AFTER = timedelta(days=3)
LEASE = timedelta(minutes=2)  # longer than a send can take (10 s timeout)
TIMEOUT = 10.0


def endpoint_check(url: str, event_types: Sequence[str]) -> list[str]:
    """The endpoint's URL and event types, checked; returns the types as stored."""
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise ValidationError({"url": "must be an http(s) URL"})
    if parts.scheme == "http" and not _loopback(parts.hostname):
        raise ValidationError({"url": "must use https (plain http only to this machine)"})
    types = list(dict.fromkeys(event_types))
    if not types:
        raise ValidationError({"event_types": 'choose at least one event type, or "*"'})
    unknown = [t for t in types if t != "*" and t not in EVENT_TYPES]
    if unknown:
        raise ValidationError({"event_types": f"unknown event types: {', '.join(unknown)}"})
    return ["*"] if "*" in types else types


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def endpoint_create(
    *,
    organization_id: int,
    url: str,
    event_types: Sequence[str],
    clock: Clock,
    description: str = "",
) -> WebhookEndpoint:
    types = endpoint_check(url, event_types)
    now = clock.now()
    return WebhookEndpoint.objects.create(
        organization_id=organization_id,
        url=url,
        description=description,
        event_types=types,
        secret="whsec_" + secrets.token_urlsafe(32),
        created_at=now,
        updated_at=now,
    )


def endpoint_update(
    *, endpoint: WebhookEndpoint, clock: Clock, rotate_secret: bool = False, **changes: Any
) -> WebhookEndpoint:
    url = changes.get("url", endpoint.url)
    types = endpoint_check(url, changes.get("event_types", endpoint.event_types))
    endpoint.url = url
    endpoint.event_types = types
    endpoint.description = changes.get("description", endpoint.description)
    endpoint.active = changes.get("active", endpoint.active)
    if rotate_secret:
        endpoint.secret = "whsec_" + secrets.token_urlsafe(32)
    endpoint.updated_at = clock.now()
    endpoint.save()
    return endpoint


def deliveries_create(event: OutboxEvent, clock: Clock) -> None:
    """The outbox consumer: one pending delivery per active endpoint that wants the event."""
    now = clock.now()
    endpoints = WebhookEndpoint.objects.filter(organization_id=event.organization_id, active=True)
    WebhookDelivery.objects.bulk_create(
        [
            WebhookDelivery(
                organization_id=event.organization_id,
                endpoint=e,
                event=event,
                next_attempt_at=now,
                created_at=now,
            )
            for e in endpoints
            if e.wants(event.topic)
        ],
        ignore_conflicts=True,  # a redelivered event makes no second delivery
    )


def body_of(event: OutboxEvent) -> bytes:
    """The JSON body for an event: the same bytes on every try and every replay."""
    document = {
        "id": f"evt_{event.pk}",
        "type": event.topic,
        "created": event.created_at.isoformat(),
        "organization_id": event.organization_id,
        "object": {"type": event.aggregate_type, "id": event.aggregate_id},
        "data": event.payload,
    }
    return json.dumps(document, cls=DjangoJSONEncoder, sort_keys=True).encode()


def webhooks_send(*, clock: Clock, limit: int = 200) -> dict[str, int]:
    forbid_transaction("sending webhooks")
    counts = {"delivered": 0, "retrying": 0, "failed": 0}
    now = clock.now()
    due = list(
        WebhookDelivery.objects.filter(status=DeliveryStatus.PENDING, next_attempt_at__lte=now)
        .order_by("next_attempt_at", "id")
        .values_list("pk", "next_attempt_at")[:limit]
    )
    if not due:
        return counts  # most ticks: no client (and no TLS context) built for nothing
    with httpx.Client(timeout=TIMEOUT, follow_redirects=False) as client:
        for pk, was_due in due:
            claimed = WebhookDelivery.objects.filter(
                pk=pk, status=DeliveryStatus.PENDING, next_attempt_at=was_due
            ).update(next_attempt_at=now + LEASE)
            if claimed:
                counts[_send_one(client, pk, clock)] += 1
    return counts


def _send_one(client: httpx.Client, pk: int, clock: Clock) -> str:
    delivery = WebhookDelivery.objects.select_related("endpoint", "event").get(pk=pk)
    body = body_of(delivery.event)
    started = clock.now()
    stamp = int(started.timestamp())
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "Dues-Webhooks/1",
        HEADER: signature(delivery.endpoint.secret, stamp, body),
        "Dues-Event-Id": f"evt_{delivery.event_id}",
        "Dues-Event-Type": delivery.event.topic,
        "Dues-Delivery-Id": str(delivery.pk),
    }
    tick = time.monotonic()
    code: int | None = None
    error = text = ""
    try:
        response = client.post(delivery.endpoint.url, content=body, headers=headers)
        code, text = response.status_code, response.text[:500]
        if not 200 <= code < 300:
            error = f"answered {code}"
    except httpx.HTTPError as exc:
        error = f"{type(exc).__name__}: {exc}"[:300]
    took = int((time.monotonic() - tick) * 1000)
    with transaction.atomic():
        WebhookAttempt.objects.create(
            organization_id=delivery.organization_id,
            delivery=delivery,
            started_at=started,
            duration_ms=took,
            status_code=code,
            error=error,
            response_body=text,
        )
        delivery.attempts += 1
        delivery.first_attempt_at = delivery.first_attempt_at or started
        delivery.last_error = error
        if not error:
            delivery.status = DeliveryStatus.DELIVERED
            delivery.delivered_at = started
            delivery.next_attempt_at = None
            outcome = "delivered"
        else:
            retry_at = started + BACKOFF[min(delivery.attempts, len(BACKOFF)) - 1]
            if retry_at - delivery.first_attempt_at > GIVE_UP_AFTER:
                delivery.status = DeliveryStatus.FAILED
                delivery.next_attempt_at = None
                outcome = "failed"
            else:
                delivery.next_attempt_at = retry_at
                outcome = "retrying"
        delivery.save()
    return outcome


def delivery_replay(*, delivery: WebhookDelivery, clock: Clock) -> WebhookDelivery:
    """Send again now, whatever happened before; the log keeps every earlier attempt."""
    with transaction.atomic():
        delivery = WebhookDelivery.objects.select_for_update().get(pk=delivery.pk)
        delivery.status = DeliveryStatus.PENDING
        delivery.next_attempt_at = clock.now()
        delivery.first_attempt_at = None  # a fresh three days
        delivery.last_error = ""
        delivery.save()
    return delivery
