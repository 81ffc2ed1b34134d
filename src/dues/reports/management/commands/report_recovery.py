from __future__ import annotations

import sys
from datetime import date
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from dues.billing.periods import add_periods
from dues.core.clock import SystemClock
from dues.core.commands import organization_from_slug
from dues.core.selectors import organization_today
from dues.reports.render import recovery_text
from dues.reports.selectors import recovery_by_month


def month(value: str, name: str) -> date:
    try:
        return date.fromisoformat(f"{value}-01")
    except ValueError:
        raise CommandError(f"{name} {value!r} is not a month (YYYY-MM)") from None


class Command(BaseCommand):
    help = (
        "Failed payments by month of the first failure and decline code: how many and how "
        "much failed, and how much was recovered."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--organization", required=True, help="the organization's slug")
        parser.add_argument("--from", dest="first", help="first month, YYYY-MM (default: "
                            "eleven months before this one)")  # fmt: skip
        parser.add_argument("--to", dest="last", help="last month, YYYY-MM (default: this one)")
        parser.add_argument(
            "--totals", action="store_true", help="one row per month, all decline codes"
        )
        parser.add_argument("--format", choices=["table", "csv"], default="table")

    def handle(self, *args: Any, **options: Any) -> None:
        org = organization_from_slug(options["organization"])
        today = organization_today(clock=SystemClock(), organization_id=org.pk)
        this_month = today.replace(day=1)
        last = month(options["last"], "--to") if options["last"] else this_month
        first = (
            month(options["first"], "--from")
            if options["first"]
            else add_periods(last, "month", -11)
        )
        if first > last:
            raise CommandError("--from must not be after --to")
        rows = recovery_by_month(
            organization_id=org.pk,
            first=first,
            until=add_periods(last, "month", 1),
            by_code=not options["totals"],
        )
        sys.stdout.write(recovery_text(rows, options["format"]))
