"""DESIGN invariant 6: events are written in the state change's transaction and consumed
at least once, idempotently."""

from __future__ import annotations

import pytest
from django.db import transaction

from dues.core.models import OutboxDelivery, OutboxEvent
from dues.core.outbox import consumer_register, consumer_unregister, event_emit, outbox_dispatch
from dues.payments.models import PaymentMethod
from tests.factories import add_card, make_member

pytestmark = pytest.mark.django_db


class Boom(Exception):
    pass


@pytest.fixture
def consumers():
    names: list[str] = []

    def register(name, func, topics=None):
        names.append(name)
        consumer_register(name, func, topics=topics)

    yield register
    for name in names:
        consumer_unregister(name)


def test_event_outside_a_transaction_is_refused(org, clock):
    with pytest.raises(RuntimeError, match="inside the state change's transaction"):
        event_emit(
            organization=org,
            topic="x.y",
            aggregate_type="x",
            aggregate_id=1,
            payload={},
            clock=clock,
        )
    assert OutboxEvent.objects.filter(topic="x.y").count() == 0


def test_rolled_back_change_leaves_no_event(org, clock):
    member = make_member(org, clock)
    before = OutboxEvent.objects.count()
    inside: list[int] = []

    def add_then_fail():
        with transaction.atomic():
            add_card(member, clock)
            inside.append(OutboxEvent.objects.filter(topic="payment_method.added").count())
            raise Boom

    with pytest.raises(Boom):
        add_then_fail()
    assert inside == [1]
    assert PaymentMethod.objects.filter(payer=member).count() == 0
    assert OutboxEvent.objects.filter(topic="payment_method.added").count() == 0
    assert OutboxEvent.objects.count() == before
    add_card(member, clock)
    assert OutboxEvent.objects.filter(topic="payment_method.added").count() == 1


def test_dispatch_delivers_once_per_consumer_even_when_run_twice(org, clock, consumers):
    member = make_member(org, clock)
    add_card(member, clock)
    events = list(OutboxEvent.objects.order_by("id").values_list("id", flat=True))
    assert len(events) >= 2  # member.created (or similar) and payment_method.added
    seen: dict[str, list[int]] = {"a": [], "b": []}
    consumers("test-a", lambda e, _clock: seen["a"].append(e.pk))
    consumers("test-b", lambda e, _clock: seen["b"].append(e.pk))
    outbox_dispatch(clock=clock)
    outbox_dispatch(clock=clock)
    assert seen["a"] == events
    assert seen["b"] == events
    for name in ("test-a", "test-b"):
        assert (
            sorted(OutboxDelivery.objects.filter(consumer=name).values_list("event_id", flat=True))
            == events
        )
    # New events reach the consumers on the next dispatch, old ones are not repeated.
    add_card(member, clock)
    new = OutboxEvent.objects.order_by("-id").values_list("id", flat=True)[0]
    outbox_dispatch(clock=clock)
    assert seen["a"] == [*events, new]
    assert seen["b"] == [*events, new]


def test_failing_consumer_is_retried_and_its_writes_roll_back(org, clock, consumers):
    member = make_member(org, clock)
    add_card(member, clock)
    target = OutboxEvent.objects.get(topic="payment_method.added")
    state = {"fail": True}
    target_calls: list[int] = []

    def flaky(event, _clock):
        if event.pk == target.pk:
            target_calls.append(event.pk)
        # The consumer's own write, which must vanish with its failure.
        OutboxEvent.objects.create(
            organization_id=event.organization_id,
            topic="test.side_effect",
            aggregate_type="t",
            aggregate_id=event.pk,
            payload={},
            created_at=clock.now(),
        )
        if state["fail"] and event.pk == target.pk:
            raise Boom

    consumers("test-flaky", flaky)
    with pytest.raises(Boom):
        outbox_dispatch(clock=clock)
    assert not OutboxDelivery.objects.filter(consumer="test-flaky", event=target).exists()
    assert not OutboxEvent.objects.filter(topic="test.side_effect", aggregate_id=target.pk).exists()
    state["fail"] = False
    outbox_dispatch(clock=clock)
    assert OutboxDelivery.objects.filter(consumer="test-flaky", event=target).count() == 1
    assert OutboxEvent.objects.filter(topic="test.side_effect", aggregate_id=target.pk).count() == 1
    outbox_dispatch(clock=clock)
    # Failed once, delivered once, never run again after its delivery was recorded.
    assert target_calls == [target.pk, target.pk]
    assert OutboxDelivery.objects.filter(consumer="test-flaky", event=target).count() == 1


def test_consumer_sees_only_the_topics_it_asked_for(org, clock, consumers):
    member = make_member(org, clock)
    add_card(member, clock)
    seen: list[str] = []
    consumers("test-topics", lambda e, _clock: seen.append(e.topic), ["payment_method.added"])
    outbox_dispatch(clock=clock)
    assert seen == ["payment_method.added"]
    assert OutboxDelivery.objects.filter(consumer="test-topics").count() == 1
