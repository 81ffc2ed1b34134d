from __future__ import annotations

import signal
from typing import Any

from django.core.management.base import BaseCommand

from dues.core.clock import SystemClock
from dues.ops.scheduler import Scheduler


class Command(BaseCommand):
    help = (
        "Run the scheduler alone (billing, dunning, classes, messages and webhooks), for a "
        "deployment whose web app runs elsewhere, e.g. under gunicorn. Run exactly one."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        scheduler = Scheduler(SystemClock())
        # SIGTERM (a service manager stopping it) ends the loop after the current tick.
        signal.signal(signal.SIGTERM, lambda *_: scheduler.stop())
        scheduler.start()
        self.stdout.write("Dues scheduler running; Ctrl-C or SIGTERM stops it.")
        try:
            while scheduler.is_alive():
                scheduler.join(timeout=1.0)
        except KeyboardInterrupt:
            scheduler.stop()
        scheduler.join(timeout=600)
