"""``bill(workers=N)``: several processes share one run and end exactly as one run does."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.db import connection

from dues.billing.models import Invoice
from dues.billing.services import subscription_create
from dues.core.clock import SimulatedClock
from dues.ledger.check import ledger_check
from dues.ops.jobs import bill
from dues.payments.gateways.sandbox import SandboxGateway
from dues.payments.models import Payment, PaymentAttempt, SandboxCharge
from tests.factories import add_card, d, make_location, make_member, make_org, make_plan

CARDS = ["4242424242424242"] * 6 + ["4000000000009995", "4000000000000408"]


def _gym(members: int) -> None:
    setup = SimulatedClock(datetime(2026, 1, 10, 12, tzinfo=UTC))
    org = make_org(setup)
    location = make_location(org)
    plan = make_plan(org)
    for i in range(members):
        member = make_member(org, setup)
        add_card(member, setup, CARDS[i % len(CARDS)])
        subscription_create(
            member=member, plan=plan, location=location, start_date=d("2026-01-15"), clock=setup
        )


@pytest.mark.postgres_only
@pytest.mark.django_db(transaction=True)
def test_two_workers_bill_the_day_once(settings):
    settings.DUES_BILLING_BATCH_SIZE = 7  # many small batches, so the workers interleave
    _gym(120)
    clock = SimulatedClock(datetime(2026, 1, 15, 12, tzinfo=UTC))
    result = bill(as_of=d("2026-01-15"), clock=clock, gateway=SandboxGateway(), workers=2)
    assert result["invoices"] == 120
    # 15 declined, 15 lost replies settled by key after the workers stopped.
    assert (result["succeeded"], result["failed"], result["unknown"]) == (105, 15, 0)
    assert Invoice.objects.count() == 120
    assert PaymentAttempt.objects.count() == SandboxCharge.objects.count() == 120
    assert Payment.objects.count() == 105
    numbers = sorted(Invoice.objects.values_list("sequence_number", flat=True))
    assert numbers == list(range(1, 121))
    assert not Invoice.objects.filter(number=None).exists()
    assert {k: v for k, v in ledger_check().items() if v} == {}
    again = bill(as_of=d("2026-01-15"), clock=clock, gateway=SandboxGateway(), workers=2)
    assert (again["invoices"], again["succeeded"], again["failed"]) == (0, 0, 0)


@pytest.mark.django_db(transaction=True)
def test_workers_on_sqlite_are_refused_with_the_reason():
    if connection.vendor != "sqlite":
        pytest.skip("SQLite only")
    _gym(1)
    clock = SimulatedClock(datetime(2026, 1, 15, 12, tzinfo=UTC))
    with pytest.raises(ValueError, match="several billing workers need PostgreSQL"):
        bill(as_of=d("2026-01-15"), clock=clock, gateway=SandboxGateway(), workers=2)
    assert Invoice.objects.count() == 0
