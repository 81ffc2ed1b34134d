from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from dues.ledger.check import ledger_check


class Command(BaseCommand):
    help = "Verify every ledger and invoicing invariant; exits non-zero on any violation."

    def handle(self, *args: Any, **options: Any) -> None:
        failures = 0
        for name, violations in ledger_check().items():
            mark = "ok" if not violations else f"{len(violations)} violation(s)"
            self.stdout.write(f"{name}: {mark}")
            for v in violations[:20]:
                self.stdout.write(f"  - {v}")
            failures += len(violations)
        if failures:
            raise CommandError(f"ledger check failed: {failures} violation(s)")
        self.stdout.write("ledger check passed")
