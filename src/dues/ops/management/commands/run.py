from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import BaseCommand
from waitress import serve

from dues.core.clock import SystemClock
from dues.ops.scheduler import Scheduler
from dues.wsgi import application


class Command(BaseCommand):
    help = "Serve the web app and run the billing scheduler in one process."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--threads", type=int, default=8)

    def handle(self, *args: Any, **options: Any) -> None:
        call_command("migrate", "--no-input", verbosity=0)
        scheduler = Scheduler(SystemClock())
        scheduler.start()
        url = f"http://{options['host']}:{options['port']}"
        self.stdout.write(f"Dues is running at {url}/admin/  (API docs: {url}/api/docs/)")
        staff = get_user_model().objects.filter(is_staff=True).order_by("pk").first()
        if staff is not None:
            self.stdout.write(f"Staff login: {staff.get_username()} (demo password: dues-demo)")
        try:
            serve(
                application, host=options["host"], port=options["port"], threads=options["threads"]
            )
        finally:
            scheduler.stop()
