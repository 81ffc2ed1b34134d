from __future__ import annotations

import sys
from datetime import date
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from dues.core.clock import SystemClock
from dues.core.commands import organization_from_slug
from dues.core.selectors import organization_today
from dues.reports.render import recovery_text
from dues.reports.selectors import month_first, months_span, recovery_by_month


def month(value: str | None, name: str) -> date | None:
    if value is None:
        return None
    try:
        return month_first(value)
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
        try:
            first, until = months_span(
                first=month(options["first"], "--from"),
                last=month(options["last"], "--to"),
                today=organization_today(clock=SystemClock(), organization_id=org.pk),
            )
        except ValueError:
            raise CommandError("--from must not be after --to") from None
        rows = recovery_by_month(
            organization_id=org.pk,
            first=first,
            until=until,
            by_code=not options["totals"],
        )
        sys.stdout.write(recovery_text(rows, options["format"]))
