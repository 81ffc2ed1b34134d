"""The ``dues`` command: Django's management commands plus the product's own.

dues run                  serve the web app and run the scheduler
dues bill [--as-of DATE]  run billing for a day (default: today at each location)
dues simulate ...         run a gym through the test clock
dues ledger check         verify every money invariant (exit 1 on a violation)
dues collections export   the collections agency's placement CSV
dues report recovery      failed and recovered payments by month and decline code
dues report arrears       overdue invoices by age and by payer
dues demo [--if-empty]    load the demo gym
dues <django command>     e.g. migrate, createsuperuser, shell
"""

from __future__ import annotations

import os
import sys

# "dues <group> <verb>" runs the management command "<group>_<verb>".
GROUPS = {"ledger", "collections", "report"}


def main(argv: list[str] | None = None) -> None:
    argv = list(sys.argv if argv is None else argv)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dues.settings")
    if len(argv) >= 3 and argv[1] in GROUPS:
        argv = [argv[0], f"{argv[1]}_{argv[2]}", *argv[3:]]
    from django.core.management import execute_from_command_line

    execute_from_command_line(argv)


if __name__ == "__main__":
    main()
