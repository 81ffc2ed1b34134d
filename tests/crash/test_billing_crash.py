"""Crash safety of the billing run: a real process running ``bill`` is killed with SIGKILL
at random moments, then run again to completion. However it died, the day must end as an
uninterrupted run ends: each period invoiced once, every invoice present, nothing charged
twice, numbers gapless, books clean (DESIGN "The billing run", invariants 1–4)."""

from __future__ import annotations

import random
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.crash import harness

pytestmark = [pytest.mark.slow, pytest.mark.django_db]

SUBS = 300
TRIALS = 20
SEED = 20260115
# Small batches so a kill lands between as well as inside transactions.
ENV = {"DUES_BILLING_BATCH_SIZE": "25"}

EXPECTED = {
    "subscriptions": SUBS,
    "invoices": SUBS,
    "invoices_of_day": SUBS,
    "unbilled_subscriptions": 0,
    "duplicate_periods": 0,
    "invoices_charged_twice": 0,
    "invoices_with_two_payments": 0,
    # crashrun.CARDS: 8 in 10 succeed, 1 declines, 1 loses its reply (and succeeds).
    "successful_charges": 270,
    "payments": 270,
    "paid": 270,
    "open": 30,
    "pending_attempts": 0,
    "attempts": SUBS,
    "ledger": {},
}


def _trial(dbs, index: int, kills: list[float]) -> tuple[int, dict, list[bool]]:
    url = dbs.copy(f"t{index}")
    killed = []
    for delay in kills:
        proc = harness.start(url, "bill", **ENV)
        killed.append(harness.kill_after(proc, delay))
    out = harness.run(url, "finish", **ENV)
    return index, out, killed


def test_killed_billing_runs_resume_to_the_same_end():
    dbs = harness.databases()
    started = time.monotonic()
    try:
        left: list[tuple[int, int]] = []
        dbs.build(SUBS)
        # An uninterrupted run, twice: the reference, and "re-running changes nothing".
        baseline_url = dbs.copy("baseline")
        first = harness.run(baseline_url, "finish", **ENV)
        full = first["bill"].pop("seconds")  # billing time, start-up excluded
        assert first["verify"] == EXPECTED
        assert (first["bill"]["invoices"], first["bill"]["succeeded"]) == (SUBS, 270)
        again = harness.run(baseline_url, "finish", **ENV)
        again["bill"].pop("seconds")
        assert again["verify"] == EXPECTED
        assert (again["bill"]["invoices"], again["bill"]["succeeded"]) == (0, 0)

        rng = random.Random(SEED)
        plans = []
        for i in range(TRIALS):
            # One kill, sometimes two in a row; delays span start-up to the end of the run.
            n = 2 if rng.random() < 0.3 else 1
            plans.append((i, [rng.uniform(0, full) for _ in range(n)]))
        with ThreadPoolExecutor(max_workers=2) as pool:
            results = list(pool.map(lambda p: _trial(dbs, *p), plans))
        failures = {i: out["verify"] for i, out, _ in results if out["verify"] != EXPECTED}
        assert failures == {}
        kills = sum(sum(k) for _, _, k in results)
        # Most trials must really have killed a run mid-way, or this tests nothing: what the
        # finishing run still had to do shows where the kills landed.
        assert kills >= TRIALS * 3 // 4, f"only {kills} kills landed"
        left = [(out["bill"]["invoices"], out["bill"]["succeeded"]) for _, out, _ in results]
        assert any(0 < inv < SUBS for inv, _ in left), left  # died while invoicing
        assert any(inv == 0 and ok < 270 for inv, ok in left), left  # died while collecting
    finally:
        dbs.drop_all()
    print(f"crash trials: {time.monotonic() - started:.0f}s, run {full}s, left: {left}")
