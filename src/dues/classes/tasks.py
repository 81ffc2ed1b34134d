"""Job entry points for classes (they only call services): run them every few minutes."""

from __future__ import annotations

from dues.classes.services import reminders_send, sessions_close, sessions_materialize
from dues.core.clock import Clock


def classes_tick(*, clock: Clock) -> dict[str, int]:
    """Make the coming weeks' sessions, send due reminders, close finished classes."""
    return {
        "sessions": sessions_materialize(clock=clock),
        "reminders": reminders_send(clock=clock),
        "no_shows": sessions_close(clock=clock),
    }
