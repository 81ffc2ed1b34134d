"""Benchmark the member and staff pages: ``python -m bench.pages --members 100000``.

Builds the same gym as ``bench.billing_run`` (a fresh SQLite file, or a ``dues_bench``
database on the PostgreSQL server ``DUES_DATABASE_URL`` names), runs one billing day
through the real billing run so every member has an invoice and a payment, then requests
each page for a sample of members through Django's request handler in this process:
server time only, no network. Prints one JSON line per page with p50, p95 and the
slowest request; the target is p95 at most 150 ms.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import os
import random
import statistics
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

from bench.billing_run import database_prepare, setup

TARGET_MS = 150.0


def percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.pages")
    parser.add_argument("--members", type=int, default=100000)
    parser.add_argument("--requests", type=int, default=200, help="requests per page")
    parser.add_argument("--day", default="2026-03-01")
    parser.add_argument(
        "--page", action="append", default=[], help="only pages whose name has this (repeatable)"
    )
    parser.add_argument("--profile", help="write a cProfile of the measured requests here")
    args = parser.parse_args(argv)
    day = date.fromisoformat(args.day)
    # Static files are not collected for a benchmark; WhiteNoise says so on every client.
    warnings.filterwarnings("ignore", message="No directory at")

    with tempfile.TemporaryDirectory(prefix="dues-bench-") as tmp:
        vendor = database_prepare(tmp)
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dues.settings")
        os.environ["DUES_VAR_DIR"] = tmp
        import django

        django.setup()
        from django.conf import settings
        from django.core.cache import cache
        from django.core.management import call_command
        from django.db import connection
        from django.test import Client

        from dues.billing.links import invoice_link_token
        from dues.billing.models import Invoice
        from dues.catalog.models import Plan
        from dues.core.clock import SimulatedClock, local_midnight
        from dues.dunning.services import policy_default
        from dues.members.models import Member
        from dues.ops.jobs import bill
        from dues.payments.gateways.sandbox import SandboxGateway
        from dues.portal.session import SESSION_KEY
        from dues.portal.views import account, join, links, signin
        from dues.staff.services import staff_role_grant
        from dues.staff.session import ORG_KEY
        from dues.staff.views import actions as staff_actions
        from dues.staff.views import catalog as staff_catalog
        from dues.staff.views import dashboard as staff_dashboard
        from dues.staff.views import dunning as staff_dunning
        from dues.staff.views import members as staff_members
        from dues.staff.views import templates as staff_templates

        # Not setup_test_environment(): it instruments every template render for the test
        # client's assertions, which costs a page of widgets a third of its time.
        settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
        t = time.perf_counter()
        call_command("migrate", interactive=False, verbosity=0)
        setup(args.members, day)
        clock = SimulatedClock(local_midnight(day, "Europe/Stockholm") + timedelta(hours=1))
        bill(as_of=day, clock=clock, gateway=SandboxGateway())
        with connection.cursor() as cursor:
            for table in ("members_member", "billing_invoice", "payments_payment"):
                cursor.execute(f"ANALYZE {table}")
        print(f"setup: {args.members} members billed in {time.perf_counter() - t:.1f}s", flush=True)
        views: list[Any] = [
            account,
            join,
            links,
            signin,
            staff_actions,
            staff_catalog,
            staff_dashboard,
            staff_dunning,
            staff_members,
            staff_templates,
        ]
        for module in views:
            module.CLOCK = clock  # the pages on the benchmark's day

        rng = random.Random(7)
        ids = list(Member.objects.values_list("pk", flat=True))
        sample = rng.sample(ids, min(args.requests, len(ids)))
        invoices = dict(Invoice.objects.filter(payer_id__in=sample).values_list("payer_id", "pk"))
        org_id = Member.objects.values_list("organization_id", flat=True).first()
        assert org_id is not None

        def as_member(member_id: int) -> Client:
            client = Client()
            session = client.session
            session[SESSION_KEY] = member_id
            session.save()
            return client

        def hosted_link(member_id: int) -> str:
            invoice = invoices[member_id]
            token = invoice_link_token(invoice_id=invoice, organization_id=org_id, clock=clock)
            return f"/i/{token}/"

        clients = {m: as_member(m) for m in sample}
        # One front-desk account (no second factor asked) searching and opening profiles.
        from django.contrib.auth import get_user_model

        from dues.core.models import Organization

        desk_user = get_user_model().objects.create_user(username="desk", password="x")
        staff_role_grant(
            user=desk_user,
            organization=Organization.objects.get(pk=org_id),
            role="front_desk",
            clock=clock,
        )
        desk = Client()
        desk.force_login(desk_user, backend="django.contrib.auth.backends.ModelBackend")
        session = desk.session
        session[ORG_KEY] = org_id
        session.save()
        # And a manager (second factor given, as every manager must) on the dashboard.
        from django_otp import DEVICE_ID_SESSION_KEY
        from django_otp.plugins.otp_totp.models import TOTPDevice

        manager_user = get_user_model().objects.create_user(username="manager", password="x")
        staff_role_grant(
            user=manager_user,
            organization=Organization.objects.get(pk=org_id),
            role="manager",
            clock=clock,
        )
        device = TOTPDevice.objects.create(user=manager_user, name="phone", confirmed=True)
        manager = Client()
        manager.force_login(manager_user, backend="django.contrib.auth.backends.ModelBackend")
        session = manager.session
        session[ORG_KEY] = org_id
        session[DEVICE_ID_SESSION_KEY] = device.persistent_id
        session.save()
        numbers = dict(Member.objects.filter(pk__in=sample).values_list("pk", "last_name"))
        plan_id = Plan.objects.filter(organization_id=org_id).values_list("pk", flat=True).first()
        policy_id = policy_default(organization_id=org_id, clock=clock).pk
        pages: dict[str, Callable[[int], str]] = {
            "portal home": lambda m: "/me/",
            "portal invoices": lambda m: "/me/invoices/",
            "portal invoice": lambda m: f"/me/invoices/{invoices[m]}/",
            "portal card": lambda m: "/me/card/",
            "portal messages": lambda m: "/me/messages/",
            "portal settings": lambda m: "/me/settings/",
            "portal data export": lambda m: "/me/export/",
            "portal data export (CSV)": lambda m: "/me/export/csv/",
            "hosted invoice link": hosted_link,
            "join: choose a plan": lambda m: "/join/bench/",
            # A prefix of the last name matches about 1 in 100 members: a page of results.
            "staff search by name": lambda m: f"/staff/members/?q={numbers[m][:9]}",
            "staff search by email": lambda m: f"/staff/members/?q=m{m - 1}@bench",
            "staff member profile": lambda m: f"/staff/members/{m}/",
            # The manager's pages: the dashboard and the set-up, each with its preview.
            "staff dashboard": lambda m: "/staff/dashboard/",
            "staff plans": lambda m: "/staff/plans/",
            "staff plan with preview": lambda m: f"/staff/plans/{plan_id}/",
            "staff dunning policy with timeline": lambda m: f"/staff/dunning/{policy_id}/",
            "staff message templates": lambda m: "/staff/templates/",
            "staff message template with preview": lambda m: (
                "/staff/templates/dunning/reminder/?part=email_html&language=sv"
            ),
        }
        manager_pages = {name for name in pages if name.startswith("staff ")} - {
            "staff search by name",
            "staff search by email",
            "staff member profile",
        }
        staff_pages = {"staff search by name", "staff search by email", "staff member profile"}
        failed = False
        profiler = cProfile.Profile() if args.profile else None
        if profiler is not None:
            connection.force_debug_cursor = True  # and list the slowest statements
        for name, url_of in pages.items():
            if args.page and not any(part in name for part in args.page):
                continue

            def client_of(m: int, name: str = name) -> Client:
                if name in manager_pages:
                    return manager
                return desk if name in staff_pages else clients[m]

            for m in sample[:5]:  # warm caches and templates
                client_of(m).get(url_of(m))
            # The first request with nothing memoized (core.memo keeps organization-wide
            # sums for a minute): what a manager waits for once a minute at most.
            cache.clear()
            t0 = time.perf_counter()
            client_of(sample[0]).get(url_of(sample[0]))
            cold_ms = (time.perf_counter() - t0) * 1000
            times = []
            for m in sample:
                url = url_of(m)
                if profiler is not None:
                    profiler.enable()
                t0 = time.perf_counter()
                response = client_of(m).get(url)
                times.append((time.perf_counter() - t0) * 1000)
                if profiler is not None:
                    profiler.disable()
                if response.status_code != 200:
                    print(f"{name}: {url} answered {response.status_code}", flush=True)
                    failed = True
                    break
            p95 = percentile(times, 0.95)
            print(
                json.dumps(
                    {
                        "bench": "pages",
                        "db": vendor,
                        "members": args.members,
                        "page": name,
                        "requests": len(times),
                        "p50_ms": round(statistics.median(times), 1),
                        "p95_ms": round(p95, 1),
                        "max_ms": round(max(times), 1),
                        "cold_ms": round(cold_ms, 1),
                        "target_p95_ms": TARGET_MS,
                        "met": p95 <= TARGET_MS,
                    }
                ),
                flush=True,
            )
        if profiler is not None:
            profiler.dump_stats(args.profile)
            slowest = sorted(connection.queries, key=lambda q: -float(q["time"]))[:15]
            for query in slowest:
                print(f"{float(query['time']) * 1000:8.1f} ms  {query['sql'][:300]}")
        from django.db import connections

        connections.close_all()
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
