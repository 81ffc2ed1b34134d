"""SMS backends. A backend sends one text and returns the provider's id for it; the one
in use is named by the ``DUES_SMS_BACKEND`` setting, so a provider adapter is one class.

- ``ConsoleSmsBackend`` prints (development).
- ``FileSmsBackend`` appends one JSON line per SMS to ``DUES_SMS_FILE`` (demos, tests and
  gateways that pick messages up from a spool file).
- ``TwilioSmsBackend`` sends through Twilio's Programmable Messaging REST API.
"""

from __future__ import annotations

import json
import re
import sys
import uuid
from dataclasses import dataclass
from typing import Protocol

import httpx
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.utils.module_loading import import_string


class SmsError(Exception):
    """The provider refused or could not be reached; the message is tried again later,
    unless ``permanent`` (e.g. the number does not exist): then trying again cannot help.
    ``code`` is the provider's error code, when it gave one."""

    def __init__(self, message: str, *, code: int | None = None, permanent: bool = False):
        super().__init__(message)
        self.code = code
        self.permanent = permanent


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


E164 = re.compile(r"\+[1-9]\d{1,14}")
# An alphanumeric sender ID (where the destination country allows one): up to 11 letters,
# digits and spaces, at least one of them a letter.
SENDER_ID = re.compile(r"(?=.*[A-Za-z])[A-Za-z0-9 ]{1,11}")
# Twilio's refusals that are about the recipient's number itself: not a number, cannot be
# routed, cannot take SMS (a landline), or its owner replied STOP. Trying again cannot
# help. Every other refusal (our credentials, our sender, the account's limits) can pass
# once the gym fixes its set-up, so it is tried again like an outage.
TWILIO_PERMANENT = frozenset({21211, 21610, 21612, 21614, 21635})


class TwilioSmsBackend:
    """Twilio's Programmable Messaging REST API: one form POST per SMS, answered with the
    message's sid (``SM…``), which becomes the provider id.

    The API takes no idempotency key, so an SMS Twilio accepted whose answer was lost (a
    timeout) is sent again on the retry: at-least-once, as ``send`` says for all messages.
    """

    def __init__(self) -> None:
        self.account_sid = _setting("DUES_TWILIO_ACCOUNT_SID")
        self._auth_token = _setting("DUES_TWILIO_AUTH_TOKEN")
        self.service_sid: str = settings.DUES_TWILIO_MESSAGING_SERVICE_SID
        self.sender: str = settings.DUES_TWILIO_FROM
        if not (self.service_sid or self.sender):
            raise ImproperlyConfigured(
                "DUES_TWILIO_FROM (or DUES_TWILIO_MESSAGING_SERVICE_SID) is not set: the "
                "Twilio SMS backend needs a sender"
            )
        if self.sender and not (E164.fullmatch(self.sender) or SENDER_ID.fullmatch(self.sender)):
            raise ImproperlyConfigured(
                f"DUES_TWILIO_FROM={self.sender!r} is neither an E.164 number (+46701234567) "
                "nor an alphanumeric sender ID (up to 11 letters and digits)"
            )
        base = settings.DUES_TWILIO_API_BASE.rstrip("/")
        self.url = f"{base}/2010-04-01/Accounts/{self.account_sid}/Messages.json"
        self.timeout: float = settings.DUES_TWILIO_TIMEOUT
        self.status_callback: str = settings.DUES_TWILIO_STATUS_CALLBACK

    def __repr__(self) -> str:  # without the token, should the backend end up in a log
        return f"TwilioSmsBackend(account_sid={self.account_sid!r})"

    def send(self, *, to: str, body: str, reference: str) -> str:
        # Numbers are typed as people write them ("+46 70-123 45 67"); Twilio wants E.164.
        to = re.sub(r"[\s\-().]", "", to)
        if not E164.fullmatch(to):
            raise SmsError(
                f"{to!r} is not a phone number in E.164 form (like +46701234567)", permanent=True
            )
        form = {"To": to, "Body": body}
        if self.service_sid:  # the service picks the sender from its pool
            form["MessagingServiceSid"] = self.service_sid
        else:
            form["From"] = self.sender
        if self.status_callback:
            form["StatusCallback"] = self.status_callback
        try:
            response = httpx.post(
                self.url,
                data=form,
                auth=(self.account_sid, self._auth_token),
                timeout=self.timeout,
            )
        except httpx.TimeoutException as exc:
            raise SmsError(f"Twilio did not answer within {self.timeout:g} s") from exc
        except httpx.HTTPError as exc:
            raise SmsError(f"Twilio could not be reached: {exc}") from exc
        return _twilio_sid(response)


def _twilio_sid(response: httpx.Response) -> str:
    """The message sid from a success; otherwise an ``SmsError`` with Twilio's code."""
    status = response.status_code
    if 200 <= status < 300:
        try:
            return str(response.json()["sid"])
        except (ValueError, KeyError, TypeError) as exc:
            raise SmsError(f"Twilio answered HTTP {status} without a message sid") from exc
    if status == 429 or status >= 500 or status < 400:
        raise SmsError(f"Twilio answered HTTP {status}; trying again later")
    try:  # Twilio's error body: {"code": 21211, "message": "...", "more_info": ..., "status": 400}
        error = response.json()
        code, text = int(error["code"]), str(error["message"])
    except (ValueError, KeyError, TypeError) as exc:
        raise SmsError(f"Twilio refused the SMS (HTTP {status})") from exc
    raise SmsError(f"Twilio error {code}: {text}", code=code, permanent=code in TWILIO_PERMANENT)


def _setting(name: str) -> str:
    value: str = getattr(settings, name, "")
    if not value:
        raise ImproperlyConfigured(f"{name} is not set: the Twilio SMS backend needs it")
    return value


def sms_backend() -> SmsBackend:
    backend: SmsBackend = import_string(settings.DUES_SMS_BACKEND)()
    return backend


# --- how long an SMS is ---------------------------------------------------------------------

# The GSM 03.38 default alphabet (one 7-bit unit each) and its extension table (two units:
# the escape and the character). A text with any other character goes as UCS-2 (two bytes
# a unit): Thai, Chinese, and also typographic quotes, "ç" or a no-break space.
GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENSION = frozenset("^{}\\[~]|€\f")


@dataclass(frozen=True)
class SmsLength:
    """``characters`` in the encoding's units; ``segments`` the SMS it is sent as (one up
    to 160 GSM-7 or 70 UCS-2 units; longer, 153 or 67 each, the rest carry the header)."""

    encoding: str  # "GSM-7" or "UCS-2"
    characters: int
    segments: int
    per_segment: int


def sms_length(text: str) -> SmsLength:
    if all(c in GSM7_BASIC or c in GSM7_EXTENSION for c in text):
        units = sum(2 if c in GSM7_EXTENSION else 1 for c in text)
        single, multi, encoding = 160, 153, "GSM-7"
    else:
        units = len(text.encode("utf-16-le")) // 2
        single, multi, encoding = 70, 67, "UCS-2"
    if units <= single:
        return SmsLength(encoding, units, 1 if units else 0, single)
    return SmsLength(encoding, units, -(-units // multi), multi)
