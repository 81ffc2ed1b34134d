"""``dues access_device_add --location <id> --name "Front door"``: add a door device and
print its key (shown this once) and the allow-list's public key."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from dues.access.services import AccessServiceError, device_create
from dues.access.signing import public_key
from dues.core.clock import SystemClock
from dues.core.models import Location


class Command(BaseCommand):
    help = "Add a door controller or turnstile at a location and print its key once."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--location", type=int, required=True, help="Location id")
        parser.add_argument("--name", required=True, help="e.g. 'Front door'")

    def handle(self, *args: Any, **options: Any) -> None:
        location = Location.objects.filter(pk=options["location"]).first()
        if location is None:
            raise CommandError(f"--location: no location with id {options['location']}")
        try:
            device, key = device_create(
                location=location, name=options["name"], clock=SystemClock()
            )
        except AccessServiceError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(f"device {device.pk} at {location.name}")
        self.stdout.write(f"key (shown once): {key}")
        self.stdout.write(f"allow-list public key: {public_key()}")
