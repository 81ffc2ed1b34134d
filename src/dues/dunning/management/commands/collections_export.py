from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand

from dues.core.clock import SystemClock
from dues.core.commands import organization_from_slug
from dues.dunning.collections import collections_export


class Command(BaseCommand):
    help = "Write the collections placement CSV: accounts handed to the agency, not yet sent."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--organization", required=True, help="the organization's slug")
        parser.add_argument("--output", help="write to this file instead of standard output")
        parser.add_argument(
            "--write-off", action="store_true", help="move the placed invoices to bad debt"
        )
        parser.add_argument(
            "--again", action="store_true", help="include accounts already sent before"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        org = organization_from_slug(options["organization"])
        text = collections_export(
            organization_id=org.pk,
            clock=SystemClock(),
            write_off=options["write_off"],
            again=options["again"],
        )
        if options["output"]:
            Path(options["output"]).write_text(text, encoding="utf-8")
        else:
            sys.stdout.write(text)
