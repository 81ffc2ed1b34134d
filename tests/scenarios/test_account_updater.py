from __future__ import annotations

import pytest

from dues.core.models import OutboxEvent
from dues.payments.models import PaymentMethod
from dues.payments.updater import payment_methods_refresh
from tests.factories import add_card, d, luhn_number, make_member

pytestmark = pytest.mark.django_db


def test_updater_renews_some_expiring_cards_and_leaves_others(org, clock, gateway):
    expiring = [
        add_card(make_member(org, clock), clock, luhn_number(f"42{i:04d}"), exp=(1, 2026))
        for i in range(12)
    ]
    far = add_card(make_member(org, clock), clock, exp=(12, 2030))
    updated = payment_methods_refresh(today=d("2026-01-15"), clock=clock, gateway=gateway)
    renewed = PaymentMethod.objects.filter(pk__in=[m.pk for m in expiring], exp_year=2029)
    assert updated == renewed.count()
    assert 0 < updated < len(expiring)  # the sandbox renews two in three, by token hash
    assert PaymentMethod.objects.get(pk=far.pk).exp_year == 2030
    events = OutboxEvent.objects.filter(topic="payment_method.updated")
    assert sorted(e.aggregate_id for e in events) == sorted(m.pk for m in renewed)
    # Deterministic and idempotent: a second pass finds nothing more to renew.
    assert payment_methods_refresh(today=d("2026-01-15"), clock=clock, gateway=gateway) == 0
