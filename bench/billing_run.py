"""Benchmark the billing run: ``python -m bench.billing_run --members 100000``.

Builds a fresh database (a temporary SQLite file, or, when ``DUES_DATABASE_URL`` points at
PostgreSQL, a database named ``dues_bench`` dropped and re-created on that server),
bulk-creates one gym whose members all have a working card and an active subscription due
the same day (setup is not measured), then times the billing run phase by phase and ends
with one JSON line and the ledger check.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import tempfile
import time
from datetime import date, timedelta
from urllib.parse import urlsplit, urlunsplit

BENCH_DB = "dues_bench"


def database_prepare(tmpdir: str) -> str:
    """Point DUES_DATABASE_URL at a fresh database; return the vendor name."""
    url = os.environ.get("DUES_DATABASE_URL", "")
    if not url or url.startswith("sqlite"):
        os.environ["DUES_DATABASE_URL"] = f"sqlite:///{tmpdir}/bench.sqlite3"
        return "sqlite"
    import dj_database_url
    import psycopg

    cfg = dj_database_url.parse(url)
    with psycopg.connect(
        host=cfg["HOST"],
        port=cfg["PORT"] or 5432,
        user=cfg["USER"],
        password=cfg.get("PASSWORD") or None,
        dbname="postgres",
        autocommit=True,
    ) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {BENCH_DB} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {BENCH_DB}")
    parts = urlsplit(url)
    os.environ["DUES_DATABASE_URL"] = urlunsplit(parts._replace(path=f"/{BENCH_DB}"))
    return "postgresql"


def setup(members: int, day: date) -> None:
    from dues.billing.models import Subscription, SubscriptionStatus
    from dues.catalog.models import Plan, TaxRate
    from dues.core.clock import SimulatedClock, local_midnight
    from dues.core.services import location_create, organization_create
    from dues.members.models import Member, MemberStatus
    from dues.members.search import search_keys
    from dues.payments.models import PaymentMethod

    clock = SimulatedClock(local_midnight(day, "Europe/Stockholm"))
    now = clock.now()
    org = organization_create(name="Bench Gym", slug="bench", clock=clock)
    loc = location_create(
        organization=org, name="Main", timezone="Europe/Stockholm", currency="SEK", country="SE"
    )
    TaxRate.objects.create(
        organization=org, location=loc, category="training", name="VAT", rate_bp=600
    )
    plan = Plan.objects.create(
        organization=org, name="Monthly", code="monthly", currency="SEK", price=49900
    )
    chunk = 10000
    for lo in range(0, members, chunk):
        n = min(chunk, members - lo)
        people = Member.objects.bulk_create(
            [
                Member(
                    organization=org,
                    first_name="Bench",
                    last_name=f"Member{lo + i}",
                    email=f"m{lo + i}@bench.example",
                    status=MemberStatus.ACTIVE,
                    home_location=loc,
                    member_number=f"B{lo + i:07d}",
                    created_at=now,
                    # bulk_create skips save(), which keeps the staff search keys
                    **search_keys(
                        first_name="Bench",
                        last_name=f"Member{lo + i}",
                        email=f"m{lo + i}@bench.example",
                        phone="",
                    ),
                )
                for i in range(n)
            ],
            batch_size=2000,
        )
        PaymentMethod.objects.bulk_create(
            [
                PaymentMethod(
                    organization=org,
                    payer_id=m.pk,
                    token=f"sbx_success_{m.pk:012x}",
                    brand="visa",
                    last4="4242",
                    exp_month=12,
                    exp_year=2030,
                    is_default=True,
                    created_at=now,
                    updated_at=now,
                )
                for m in people
            ],
            batch_size=2000,
        )
        Subscription.objects.bulk_create(
            [
                Subscription(
                    organization=org,
                    member_id=m.pk,
                    payer_id=m.pk,
                    plan=plan,
                    location=loc,
                    status=SubscriptionStatus.ACTIVE,
                    interval=plan.interval,
                    currency="SEK",
                    price=plan.price,
                    start_date=day - timedelta(days=31),
                    billing_anchor_day=day.day,
                    anchor_date=day,
                    next_period_index=0,
                    next_billing_date=day,
                    created_at=now,
                )
                for m in people
            ],
            batch_size=2000,
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.billing_run")
    parser.add_argument("--members", type=int, default=100000)
    parser.add_argument("--day", default="2026-03-01")
    parser.add_argument("--profile", help="write a cProfile of the billing run to this file")
    parser.add_argument(
        "--workers",
        type=int,
        help="billing processes sharing the run (PostgreSQL; default: one per core)",
    )
    args = parser.parse_args(argv)
    day = date.fromisoformat(args.day)

    with tempfile.TemporaryDirectory(prefix="dues-bench-") as tmp:
        vendor = database_prepare(tmp)
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dues.settings")
        os.environ["DUES_VAR_DIR"] = tmp
        import django

        django.setup()
        from django.conf import settings
        from django.core.management import call_command

        from dues.billing.run import invoice_due
        from dues.billing.services import subscriptions_advance
        from dues.core.clock import SimulatedClock, local_midnight
        from dues.ledger.check import ledger_check
        from dues.ops.jobs import collect_in_workers, invoice_in_workers
        from dues.payments.collect import collect
        from dues.payments.gateways.sandbox import SandboxGateway

        workers = args.workers or ((os.cpu_count() or 1) if vendor == "postgresql" else 1)
        print(
            f"database: {vendor}; batch size {settings.DUES_BILLING_BATCH_SIZE}; "
            f"{workers} worker(s)",
            flush=True,
        )
        t = time.perf_counter()
        call_command("migrate", interactive=False, verbosity=0)
        setup(args.members, day)
        from django.db import connection

        # Fresh statistics for the tables setup filled, as a live database has. The tables
        # the run fills are left unanalysed: statistics saying "empty" would make
        # PostgreSQL plan its foreign-key checks as sequential scans for the whole run, a
        # state no live database is in.
        from dues.billing.models import Subscription
        from dues.members.models import Member
        from dues.payments.models import PaymentMethod

        with connection.cursor() as cursor:
            for model in (Member, PaymentMethod, Subscription):
                cursor.execute(f"ANALYZE {model._meta.db_table}")
        print(f"setup: {args.members} members in {time.perf_counter() - t:.1f}s", flush=True)

        clock = SimulatedClock(local_midnight(day, "Europe/Stockholm") + timedelta(hours=1))
        gateway = SandboxGateway()
        profiler = None
        if args.profile:
            import cProfile

            profiler = cProfile.Profile()
            profiler.enable()
        # The same three steps as dues.ops.jobs.bill, timed one by one.
        phases: list[tuple[str, float, object]] = []
        t0 = time.perf_counter()
        advanced = subscriptions_advance(as_of=day, clock=clock)
        t1 = time.perf_counter()
        phases.append(("advance", t1 - t0, advanced))
        if workers > 1:
            invoices = invoice_in_workers(workers, as_of=day, clock=clock)
        else:
            invoices = invoice_due(as_of=day, clock=clock)
        t2 = time.perf_counter()
        phases.append(("invoicing", t2 - t1, invoices))
        if workers > 1:
            collected = collect_in_workers(workers, clock=clock, gateway=gateway)
        else:
            collected = collect(clock=clock, gateway=gateway)
        t3 = time.perf_counter()
        phases.append(("collection", t3 - t2, collected))
        if profiler is not None:
            profiler.disable()
            profiler.dump_stats(args.profile)
        for name, seconds, result in phases:
            print(f"{name}: {seconds:.2f}s -> {result}", flush=True)
        seconds = t3 - t0
        # The largest process: the run itself or one of its workers.
        peak_mb = (
            max(
                resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
                resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss,
            )
            / 1024
        )
        print(
            json.dumps(
                {
                    "bench": "billing_run",
                    "db": vendor,
                    "members": args.members,
                    "seconds": round(seconds, 2),
                    "members_per_s": round(args.members / seconds, 1),
                    "peak_rss_mb": round(peak_mb, 1),
                    "workers": workers,
                }
            ),
            flush=True,
        )
        violations = ledger_check()
        failures = sum(len(v) for v in violations.values())
        ok = invoices == args.members and collected.get("succeeded") == args.members
        if failures:
            for name, vs in sorted(violations.items()):
                for v in vs[:10]:
                    print(f"  {name}: {v}")
            print(f"ledger check failed: {failures} violation(s)")
        else:
            print("ledger check passed")
        if not ok:
            print(f"expected {args.members} invoices and charges; got {invoices}, {collected}")
        from django.db import connections

        connections.close_all()
    return 0 if (ok and not failures) else 1


if __name__ == "__main__":
    sys.exit(main())
