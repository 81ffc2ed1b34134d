"""SMS backends. A backend sends one text and returns the provider's id for it; the one
in use is named by the ``DUES_SMS_BACKEND`` setting, so a provider adapter is one class.

- ``ConsoleSmsBackend`` prints (development).
- ``FileSmsBackend`` appends one JSON line per SMS to ``DUES_SMS_FILE`` (demos, tests and
  gateways that pick messages up from a spool file).
"""

from __future__ import annotations

import json
import sys
import uuid
from typing import Protocol

from django.conf import settings
from django.utils.module_loading import import_string


class SmsError(Exception):
    """The provider refused or could not be reached; the message is tried again later."""


class SmsBackend(Protocol):
    def send(self, *, to: str, body: str, reference: str) -> str: ...


class ConsoleSmsBackend:
    def send(self, *, to: str, body: str, reference: str) -> str:
        sys.stdout.write(f"SMS to {to} ({reference}):\n{body}\n")
        return f"console-{uuid.uuid4().hex}"


class NullSmsBackend:
    """Sends nothing and reports success: for simulations, whose members are simulated."""

    def send(self, *, to: str, body: str, reference: str) -> str:
        return f"null-{reference}"


class FileSmsBackend:
    def send(self, *, to: str, body: str, reference: str) -> str:
        provider_id = f"file-{uuid.uuid4().hex}"
        path = settings.DUES_SMS_FILE
        path.parent.mkdir(parents=True, exist_ok=True)
        line = json.dumps({"id": provider_id, "to": to, "body": body, "reference": reference})
        with path.open("a", encoding="utf-8") as f:
            f.write(line + "\n")
        return provider_id


def sms_backend() -> SmsBackend:
    backend: SmsBackend = import_string(settings.DUES_SMS_BACKEND)()
    return backend
