"""Outgoing webhooks against a real HTTP receiver on this machine: signed deliveries that
verify with the documented recipe, retries with back-off (500 then 200 is delivered once
more, then never again), giving up after three days, replay, and who gets what."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
from collections.abc import Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.core.exceptions import ValidationError

from dues.ops.jobs import deliver
from dues.webhooks.models import DeliveryStatus, WebhookDelivery
from dues.webhooks.services import GIVE_UP_AFTER, delivery_replay, endpoint_create, endpoint_update
from tests.factories import make_member, make_org

pytestmark = pytest.mark.django_db


class Receiver:
    def __init__(self) -> None:
        self.requests: list[tuple[dict[str, str], bytes]] = []
        self.answers: list[int] = []  # status codes to give, in order; then 200
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.requests.append((dict(self.headers), body))
                code = receiver.answers.pop(0) if receiver.answers else 200
                self.send_response(code)
                self.end_headers()
                self.wfile.write(b"ok" if code == 200 else b"try later")

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.server.shutdown()


def verify(secret: str, header: str, body: bytes, now: int, tolerance: int = 300) -> bool:
    """The README's recipe, written as a receiver would write it."""
    parts = dict(item.split("=", 1) for item in header.split(","))
    timestamp = int(parts["t"])
    expected = hmac.new(
        secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256
    ).hexdigest()
    return abs(now - timestamp) <= tolerance and hmac.compare_digest(expected, parts["v1"])


def test_a_subscribed_event_arrives_signed(org, clock, receiver):
    endpoint = endpoint_create(
        organization_id=org.pk, url=receiver.url, event_types=["member.created"], clock=clock
    )
    member = make_member(org, clock, first_name="Astrid")
    deliver(clock=clock)
    ((headers, body),) = receiver.requests
    assert verify(endpoint.secret, headers["Dues-Signature"], body, int(clock.now().timestamp()))
    assert not verify(endpoint.secret, headers["Dues-Signature"], body + b" ", 0, 10**12)
    assert not verify("whsec_other", headers["Dues-Signature"], body, int(clock.now().timestamp()))
    document = json.loads(body)
    assert document["type"] == "member.created" == headers["Dues-Event-Type"]
    assert document["id"] == headers["Dues-Event-Id"]
    assert document["object"] == {"type": "member", "id": member.pk}
    delivery = WebhookDelivery.objects.get()
    assert delivery.status == DeliveryStatus.DELIVERED
    assert [(a.status_code, a.response_body) for a in delivery.log.all()] == [(200, "ok")]
    deliver(clock=clock)
    assert len(receiver.requests) == 1  # delivered is never sent again


def test_500_then_200_is_sent_once_more_with_the_same_body(org, clock, receiver):
    endpoint_create(organization_id=org.pk, url=receiver.url, event_types=["*"], clock=clock)
    receiver.answers = [500]
    make_member(org, clock)
    deliver(clock=clock)
    delivery = WebhookDelivery.objects.get(event__topic="member.created")
    assert (delivery.status, delivery.attempts) == (DeliveryStatus.PENDING, 1)
    assert delivery.next_attempt_at == clock.now() + timedelta(minutes=1)
    assert delivery.last_error == "answered 500"
    deliver(clock=clock)
    assert len(receiver.requests) == 1  # not due yet
    clock.advance(timedelta(minutes=1))
    deliver(clock=clock)
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.DELIVERED
    assert len(receiver.requests) == 2
    (h1, b1), (h2, b2) = receiver.requests
    assert b1 == b2
    assert h1["Dues-Event-Id"] == h2["Dues-Event-Id"]
    assert [a.status_code for a in delivery.log.order_by("pk")] == [500, 200]


def test_gives_up_after_three_days_and_replay_sends_again(org, clock, receiver):
    endpoint_create(
        organization_id=org.pk, url=receiver.url, event_types=["member.created"], clock=clock
    )
    receiver.answers = [503] * 100
    make_member(org, clock)
    start = clock.now()
    deliver(clock=clock)
    delivery = WebhookDelivery.objects.get()
    gaps = []
    while delivery.status == DeliveryStatus.PENDING:
        gaps.append(delivery.next_attempt_at - clock.now())
        clock.set(delivery.next_attempt_at)
        deliver(clock=clock)
        delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.FAILED
    assert gaps[:6] == [
        timedelta(minutes=1),
        timedelta(minutes=5),
        timedelta(minutes=30),
        timedelta(hours=2),
        timedelta(hours=6),
        timedelta(hours=12),
    ]
    assert clock.now() - start <= GIVE_UP_AFTER
    assert len(receiver.requests) == delivery.attempts == delivery.log.count()

    receiver.answers = []
    delivery_replay(delivery=delivery, clock=clock)
    deliver(clock=clock)
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.DELIVERED
    assert delivery.log.count() == len(receiver.requests)


def test_only_wanted_events_of_active_endpoints_of_the_same_gym(org, clock, receiver):
    wants_invoices = endpoint_create(
        organization_id=org.pk, url=receiver.url, event_types=["invoice.paid"], clock=clock
    )
    off = endpoint_create(organization_id=org.pk, url=receiver.url, event_types=["*"], clock=clock)
    endpoint_update(endpoint=off, clock=clock, active=False)
    other = make_org(clock)
    endpoint_create(organization_id=other.pk, url=receiver.url, event_types=["*"], clock=clock)
    make_member(org, clock)
    deliver(clock=clock)
    assert receiver.requests == []
    assert not WebhookDelivery.objects.filter(endpoint=wants_invoices).exists()


def test_an_unreachable_endpoint_is_logged_and_retried(org, clock):
    endpoint_create(
        organization_id=org.pk,
        url="http://127.0.0.1:9/nobody-listens",
        event_types=["member.created"],
        clock=clock,
    )
    make_member(org, clock)
    deliver(clock=clock)
    delivery = WebhookDelivery.objects.get()
    assert delivery.status == DeliveryStatus.PENDING
    assert delivery.last_error.startswith("ConnectError")
    assert delivery.log.get().status_code is None


@pytest.mark.parametrize(
    ("url", "types", "message"),
    [
        ("http://example.com/hooks", ["*"], "must use https"),
        ("ftp://example.com/hooks", ["*"], "must be an http(s) URL"),
        ("https://example.com/hooks", [], "choose at least one event type"),
        ("https://example.com/hooks", ["member.created", "member.eaten"], "member.eaten"),
    ],
)
def test_bad_endpoints_are_refused(org, clock, url, types, message):
    with pytest.raises(ValidationError, match=message.replace("(", r"\(").replace(")", r"\)")):
        endpoint_create(organization_id=org.pk, url=url, event_types=types, clock=clock)


def test_every_topic_the_product_emits_is_a_documented_event_type():
    """Topics written as literals in the source, and the ones built from a status."""
    import re
    from pathlib import Path

    from dues.dunning.models import CaseStatus, PlanStatus
    from dues.webhooks.events import EVENT_TYPES

    root = Path(__file__).resolve().parents[2]
    source = "\n".join(
        p.read_text() for p in (root / "src" / "dues").rglob("*.py") if "migrations" not in p.parts
    )
    emitted = set(
        re.findall(
            r'(?:topic=|_emit\(sub, |_event\(\w+, |Event\(\w+, )"([a-z_]+\.[a-z_]+)"', source
        )
    )
    emitted |= set(re.findall(r'events\.append\(Event\(\w+, "([a-z_]+\.[a-z_]+)"', source))
    # Topics named once as constants (classes) or passed to an app's event helper (access).
    events_modules = "\n".join(p.read_text() for p in (root / "src" / "dues").glob("*/events.py"))
    emitted |= set(re.findall(r'^[A-Z_]+ = "([a-z_]+\.[a-z_]+)"$', events_modules, re.MULTILINE))
    emitted |= set(re.findall(r'access_event\(\w+, "([a-z_]+\.[a-z_]+)"', source))
    emitted |= set(re.findall(r'^\s+"(payment\.failed)",$', source, re.MULTILINE))
    settled = (CaseStatus.RECOVERED, CaseStatus.CLOSED, CaseStatus.UNCOLLECTIBLE)
    emitted |= {f"dunning.{s}" for s in settled}
    emitted |= {f"dunning.plan_{s}" for s in PlanStatus if s != PlanStatus.ACTIVE}
    assert len(emitted) > 30
    assert emitted - set(EVENT_TYPES) == set()
    assert set(EVENT_TYPES) - emitted <= {"dunning.pre_notice", "subscription.plan_changed"}
    readme = (root / "README.md").read_text()
    assert [t for t in EVENT_TYPES if f"| `{t}` |" not in readme] == []
