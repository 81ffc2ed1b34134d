"""The demo gym, the simulator and the billing benchmark run end to end."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest

from dues.billing.models import Invoice, Subscription
from dues.core.models import Organization
from dues.ledger.check import ledger_check
from dues.members.models import Member
from dues.ops.demo import demo_build, staff_users_create
from dues.payments.models import Payment, PaymentAttempt

ROOT = Path(__file__).resolve().parents[2]
DUES = ROOT / ".venv" / "bin" / "dues"


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env.pop("DUES_DATABASE_URL", None)  # the simulator and bench build their own database
    env.pop("DUES_SIMULATE_CHILD", None)
    return env


@pytest.mark.django_db(transaction=True)
def test_demo_builds_a_consistent_gym():
    gym = demo_build(today=date(2026, 6, 30), members=60, days=75)
    logins = staff_users_create()
    assert gym.organization.name == "Northside Fitness"
    assert Organization.objects.count() == 1
    assert {s.location.name for s in gym.sites} == {"Stockholm", "Paris"}
    assert Member.objects.count() >= 60
    assert Member.objects.exclude(payer=None).exists()  # households
    assert Subscription.objects.filter(currency="EUR").exists()
    assert Invoice.objects.count() > 60
    assert Payment.objects.exists()
    assert PaymentAttempt.objects.filter(status="failed").exists()
    assert ("staff", "dues-demo") in logins
    assert all(not v for v in ledger_check().values())


@pytest.mark.django_db(transaction=True)
def test_demo_command_if_empty_leaves_existing_data_alone():
    from django.core.management import call_command

    from tests.factories import clock_at, make_org

    make_org(clock_at(2026, 1, 1))
    call_command("demo", "--if-empty")
    assert Organization.objects.count() == 1


def _simulate(*extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(DUES), "simulate", "--members", "40", "--months", "2", "--seed", "7", *extra],
        cwd=ROOT,
        env=_env(),
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_simulate_is_deterministic_and_balances():
    first = _simulate()
    second = _simulate()
    assert first.returncode == 0, first.stderr
    assert second.returncode == 0, second.stderr
    assert first.stdout == second.stdout
    lines = first.stdout.splitlines()
    assert lines[-1] == "ledger check passed"
    assert any(line.startswith("2026-01 ") for line in lines)
    assert any(line.startswith("2026-02 ") for line in lines)


def test_bench_prints_a_json_line():
    result = subprocess.run(
        [sys.executable, "-m", "bench.billing_run", "--members", "200"],
        cwd=ROOT,
        env=_env(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    rows = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    assert len(rows) == 1
    row = rows[0]
    assert row["bench"] == "billing_run"
    assert row["db"] == "sqlite"
    assert row["members"] == 200
    assert row["seconds"] > 0
    assert row["members_per_s"] > 0
    assert row["peak_rss_mb"] > 0
    assert "ledger check passed" in result.stdout
