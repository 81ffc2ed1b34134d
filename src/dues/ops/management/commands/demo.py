from __future__ import annotations

import time
from typing import Any

from django.core.management.base import BaseCommand

from dues.core.clock import SystemClock, local_date
from dues.core.models import Organization
from dues.ledger.check import ledger_check
from dues.ops.demo import STOCKHOLM, demo_build, staff_users_create


class Command(BaseCommand):
    help = "Load the demo gym (Northside Fitness) with six months of billing history."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument(
            "--if-empty", action="store_true", help="do nothing if any organization exists"
        )
        parser.add_argument("--seed", type=int, default=2026)
        parser.add_argument("--members", type=int, default=200)

    def handle(self, *args: Any, **options: Any) -> None:
        if options["if_empty"] and Organization.objects.exists():
            self.stdout.write("Demo not loaded: the database already has an organization.")
            return
        started = time.monotonic()
        today = local_date(SystemClock().now(), STOCKHOLM)
        self.stdout.write(f"Building Northside Fitness up to {today} ...")
        gym = demo_build(
            today=today,
            seed=options["seed"],
            members=options["members"],
            log=self.stdout.write,
        )
        logins = staff_users_create()
        failures = sum(len(v) for v in ledger_check().values())
        self.stdout.write(
            f"Loaded {gym.organization.name}: {len(gym.members)} members, "
            f"{len(gym.sites)} locations in {time.monotonic() - started:.1f}s; "
            f"ledger check {'passed' if not failures else f'FAILED ({failures})'}."
        )
        for username, password in logins:
            self.stdout.write(f"Staff login: {username} / {password}")
