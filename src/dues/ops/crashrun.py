"""A billing run on a fixed simulated clock, for crash and concurrency trials.

``python -m dues.ops.crashrun setup --subs 300``  builds a gym with subscriptions due on
                                                  the trial day (run after ``migrate``)
``python -m dues.ops.crashrun bill``              runs ``bill(as_of)`` at a fixed instant
``python -m dues.ops.crashrun verify``            prints the run's invariants as JSON
``python -m dues.ops.crashrun finish``            ``bill`` then ``verify`` in one process

The database is whatever ``DUES_DATABASE_URL`` names. ``tests/crash`` kills ``bill`` with
SIGKILL at random moments, re-runs it to completion and checks ``verify``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from datetime import UTC, date, datetime
from typing import Any

AS_OF = date(2026, 1, 15)
NOW = datetime(2026, 1, 15, 12, tzinfo=UTC)
SETUP_AT = datetime(2026, 1, 10, 12, tzinfo=UTC)
# One in ten declines, one in ten loses the gateway's reply; the rest succeed.
CARDS = ["4242424242424242"] * 8 + ["4000000000009995", "4000000000000408"]


def setup(subs: int) -> dict[str, Any]:
    from dues.billing.services import subscription_create
    from dues.catalog.models import Plan, TaxRate
    from dues.core.clock import SimulatedClock
    from dues.core.services import location_create, organization_create
    from dues.members.services import member_create
    from dues.payments.gateways.sandbox import sandbox_tokenize
    from dues.payments.services import payment_method_add

    clock = SimulatedClock(SETUP_AT)
    org = organization_create(name="Crash Gym", slug="crash-gym", clock=clock)
    loc = location_create(
        organization=org, name="Main", timezone="Europe/Stockholm", currency="SEK", country="SE"
    )
    TaxRate.objects.create(
        organization=org, location=loc, category="training", name="VAT", rate_bp=600
    )
    plans = [
        Plan.objects.create(
            organization=org,
            name=f"Plan {i}",
            code=f"plan-{i}",
            interval="month",
            currency="SEK",
            price=price,
            joining_fee=fee,
        )
        for i, (price, fee) in enumerate([(49900, 0), (39900, 19900), (59900, 0)])
    ]
    for i in range(subs):
        member = member_create(
            organization=org,
            first_name=f"M{i}",
            last_name="Crash",
            email=f"m{i}@crash.example",
            clock=clock,
        )
        tok = sandbox_tokenize(CARDS[i % len(CARDS)], 12, 2030)
        payment_method_add(
            payer=member,
            token=str(tok["token"]),
            brand=str(tok["brand"]),
            last4=str(tok["last4"]),
            exp_month=12,
            exp_year=2030,
            clock=clock,
        )
        subscription_create(
            member=member,
            plan=plans[i % len(plans)],
            location=loc,
            start_date=AS_OF,
            clock=clock,
        )
    return {"subscriptions": subs}


def run_bill() -> dict[str, Any]:
    from dues.core.clock import SimulatedClock
    from dues.ops.jobs import bill
    from dues.payments.gateways.sandbox import SandboxGateway

    # "ready" tells a crash harness that start-up is over and billing begins now.
    sys.stdout.write("ready\n")
    sys.stdout.flush()
    started = time.monotonic()
    out: dict[str, Any] = bill(as_of=AS_OF, clock=SimulatedClock(NOW), gateway=SandboxGateway())
    return out | {"seconds": round(time.monotonic() - started, 3)}


def verify() -> dict[str, Any]:
    from django.db.models import Count

    from dues.billing.models import Invoice, InvoiceLine, Subscription
    from dues.ledger.check import ledger_check
    from dues.payments.models import AttemptStatus, Payment, PaymentAttempt, SandboxCharge

    plan_lines = InvoiceLine.objects.filter(kind="plan")
    dup_periods = (
        plan_lines.values("subscription_id", "period_start").annotate(n=Count("id")).filter(n__gt=1)
    )
    billed = set(plan_lines.filter(period_start=AS_OF).values_list("subscription_id", flat=True))
    subs = set(Subscription.objects.values_list("id", flat=True))
    twice_paid = (
        PaymentAttempt.objects.filter(status=AttemptStatus.SUCCEEDED)
        .values("invoice_id")
        .annotate(n=Count("id"))
        .filter(n__gt=1)
    )
    payments_twice = (
        Payment.objects.values("invoice_id").annotate(n=Count("id")).filter(n__gt=1).count()
    )
    charged_keys = SandboxCharge.objects.filter(succeeded=True).count()
    return {
        "subscriptions": len(subs),
        "invoices": Invoice.objects.count(),
        "invoices_of_day": Invoice.objects.filter(issue_date=AS_OF).count(),
        "unbilled_subscriptions": len(subs - billed),
        "duplicate_periods": dup_periods.count(),
        "invoices_charged_twice": twice_paid.count(),
        "invoices_with_two_payments": payments_twice,
        "successful_charges": charged_keys,
        "payments": Payment.objects.count(),
        "paid": Invoice.objects.filter(status="paid").count(),
        "open": Invoice.objects.filter(status="open").count(),
        "pending_attempts": PaymentAttempt.objects.filter(status=AttemptStatus.PENDING).count(),
        "attempts": PaymentAttempt.objects.count(),
        "ledger": {k: v[:5] for k, v in ledger_check().items() if v},
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="crashrun")
    parser.add_argument("command", choices=["setup", "bill", "verify", "finish"])
    parser.add_argument("--subs", type=int, default=300)
    args = parser.parse_args(argv)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dues.settings")
    import django

    django.setup()
    if args.command == "setup":
        out: dict[str, Any] = setup(args.subs)
    elif args.command == "bill":
        out = run_bill()
    elif args.command == "verify":
        out = verify()
    else:
        out = {"bill": run_bill(), "verify": verify()}
    sys.stdout.write(json.dumps(out, sort_keys=True) + "\n")


if __name__ == "__main__":
    main()
