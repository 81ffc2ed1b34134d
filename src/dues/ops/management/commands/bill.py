from __future__ import annotations

import json
from datetime import date
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from dues.core.clock import SystemClock
from dues.ops.scheduler import billing_tick


class Command(BaseCommand):
    help = "Run billing: advance the calendar, invoice what is due, collect payments."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument(
            "--as-of", help="bill up to this date (YYYY-MM-DD); default: each location's today"
        )
        parser.add_argument(
            "--workers",
            type=int,
            default=1,
            help="processes sharing the run (PostgreSQL only; e.g. one per core)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        as_of = None
        if options["as_of"]:
            try:
                as_of = date.fromisoformat(options["as_of"])
            except ValueError as exc:
                raise CommandError(
                    f"--as-of {options['as_of']!r} is not a date (YYYY-MM-DD)"
                ) from exc
        if options["workers"] < 1:
            raise CommandError("--workers must be at least 1")
        try:
            result = billing_tick(clock=SystemClock(), as_of=as_of, workers=options["workers"])
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(json.dumps(result, sort_keys=True))
