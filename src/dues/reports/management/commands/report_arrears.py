from __future__ import annotations

import sys
from datetime import date
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from dues.core.clock import SystemClock
from dues.core.commands import organization_from_slug
from dues.core.selectors import organization_today
from dues.reports.render import arrears_text
from dues.reports.selectors import arrears_aging


class Command(BaseCommand):
    help = "Open arrears: overdue invoices by days overdue (1-30, 31-60, 61-90, 91+) and by payer."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--organization", required=True, help="the organization's slug")
        parser.add_argument("--as-of", help="YYYY-MM-DD (default: the organization's today)")
        parser.add_argument("--format", choices=["table", "csv"], default="table")

    def handle(self, *args: Any, **options: Any) -> None:
        org = organization_from_slug(options["organization"])
        if options["as_of"]:
            try:
                as_of = date.fromisoformat(options["as_of"])
            except ValueError:
                raise CommandError(f"--as-of {options['as_of']!r} is not a date") from None
        else:
            as_of = organization_today(clock=SystemClock(), organization_id=org.pk)
        sys.stdout.write(
            arrears_text(arrears_aging(organization_id=org.pk, as_of=as_of), options["format"])
        )
