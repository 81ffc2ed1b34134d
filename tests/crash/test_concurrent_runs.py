"""Several billing runs for the same day at once (PostgreSQL: SKIP LOCKED batches) end
exactly as one run does: same invoices, each period once, each invoice charged once."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime

import pytest
from django.db import connections

from dues.billing.models import Invoice, InvoiceLine
from dues.billing.services import subscription_create
from dues.core.clock import SimulatedClock
from dues.ledger.check import ledger_check
from dues.ops.jobs import bill
from dues.payments.gateways.sandbox import SandboxGateway
from dues.payments.models import AttemptStatus, Payment, PaymentAttempt, SandboxCharge
from tests.crash import harness
from tests.factories import add_card, d, make_location, make_member, make_org, make_plan

pytestmark = [pytest.mark.postgres_only, pytest.mark.slow]

WORKERS = 4


@pytest.mark.django_db
def test_four_processes_bill_the_same_day_as_one():
    dbs = harness.databases()
    try:
        dbs.build(400)
        single = harness.run(dbs.copy("single"), "finish", DUES_BILLING_BATCH_SIZE="25")
        assert single["verify"]["invoices"] == 400
        assert single["verify"]["ledger"] == {}
        url = dbs.copy("many")
        procs = [harness.start(url, "bill", DUES_BILLING_BATCH_SIZE="25") for _ in range(WORKERS)]
        outs = [p.communicate(timeout=300) for p in procs]
        for p, (_, err) in zip(procs, outs, strict=True):
            assert p.returncode == 0, err[-3000:]
        results = [json.loads(out.strip().splitlines()[-1]) for out, _ in outs]
        # Together they did exactly the work of one run, whoever did which part.
        assert sum(r["invoices"] for r in results) == single["bill"]["invoices"] == 400
        # (Charges are counted from the rows below: a lost reply settled by another
        # worker's opening attempts_resolve is in no worker's "succeeded" count.)
        assert single["bill"]["succeeded"] == 360
        assert sum(r["failed"] for r in results) == single["bill"]["failed"] == 40
        many = harness.run(url, "verify")
        assert many == single["verify"]
    finally:
        dbs.drop_all()


@pytest.mark.django_db(transaction=True)
def test_four_threads_bill_the_same_day_as_one():
    setup = SimulatedClock(datetime(2026, 1, 10, 12, tzinfo=UTC))
    org = make_org(setup)
    location = make_location(org)
    plan = make_plan(org)
    cards = ["4242424242424242"] * 8 + ["4000000000009995", "4000000000000408"]
    for i in range(400):
        member = make_member(org, setup)
        add_card(member, setup, cards[i % len(cards)])
        subscription_create(
            member=member, plan=plan, location=location, start_date=d("2026-01-15"), clock=setup
        )
    clock = SimulatedClock(datetime(2026, 1, 15, 12, tzinfo=UTC))
    barrier = threading.Barrier(WORKERS)
    results: list[dict[str, int]] = []
    errors: list[BaseException] = []

    def worker():
        try:
            barrier.wait()
            results.append(bill(as_of=d("2026-01-15"), clock=clock, gateway=SandboxGateway()))
        except BaseException as exc:  # reported below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker) for _ in range(WORKERS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert sum(r["invoices"] for r in results) == 400
    assert sum(r["failed"] for r in results) == 40
    assert Invoice.objects.count() == 400
    periods = list(
        InvoiceLine.objects.filter(kind="plan").values_list("subscription_id", "period_start")
    )
    assert len(periods) == len(set(periods)) == 400
    assert PaymentAttempt.objects.count() == 400
    assert PaymentAttempt.objects.filter(status=AttemptStatus.SUCCEEDED).count() == 360
    assert Payment.objects.count() == 360
    assert SandboxCharge.objects.filter(succeeded=True).count() == 360
    assert Invoice.objects.filter(status="paid").count() == 360
    assert sorted(Invoice.objects.values_list("sequence_number", flat=True)) == list(range(1, 401))
    assert {k: v for k, v in ledger_check().items() if v} == {}
