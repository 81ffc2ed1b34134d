"""The in-process scheduler: each location is billed once its local day has begun.

``billing_tick`` bills every organization up to the local date of its locations (a
location's day starts at its own midnight). It is safe to call as often as we like: the
billing run is idempotent. ``dues run`` calls it every minute in a background thread,
followed by the classes tick (next weeks' sessions made, reminders due, finished classes
closed and their no-shows billed) and ``deliver`` (events to consumers, then email and
SMS).
"""

from __future__ import annotations

import logging
import threading
from datetime import date

from dues.classes.tasks import classes_tick
from dues.core.clock import Clock
from dues.core.selectors import organizations_today
from dues.ops.jobs import bill, deliver

log = logging.getLogger(__name__)


def billing_tick(*, clock: Clock, as_of: date | None = None, workers: int = 1) -> dict[str, int]:
    totals: dict[str, int] = {}
    for org_id, today in sorted(organizations_today(clock=clock).items()):
        day = as_of or today
        result = bill(as_of=day, clock=clock, organization_id=org_id, workers=workers)
        for key, value in result.items():
            totals[key] = totals.get(key, 0) + value
    return totals


class Scheduler(threading.Thread):
    def __init__(self, clock: Clock, interval_seconds: float = 60.0) -> None:
        super().__init__(name="dues-scheduler", daemon=True)
        self.clock = clock
        self.interval = interval_seconds
        self.stopped = threading.Event()

    def run(self) -> None:
        while not self.stopped.is_set():
            try:
                billing_tick(clock=self.clock)
            except Exception:  # the scheduler must outlive one bad tick
                log.exception("billing tick failed")
            try:
                classes_tick(clock=self.clock)
            except Exception:
                log.exception("classes tick failed")
            try:
                deliver(clock=self.clock)
            except Exception:
                log.exception("delivering events and messages failed")
            self.stopped.wait(self.interval)

    def stop(self) -> None:
        self.stopped.set()
