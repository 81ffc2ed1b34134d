"""The rotating QR code: TOTP-style (RFC 6238 with HMAC-SHA256 and a 25 s step).

The member app shows ``<public id>.<code>`` where ``code`` is the first 10 bytes of
HMAC-SHA256(credential secret, step as 8 bytes big-endian) in base32, and ``step`` is
``unix time // 25``. Everything is upper-case base32 and a dot, so the QR code is encoded in
alphanumeric mode: 25 characters fit a version 2 symbol that any phone camera reads.

The server accepts the code of the step ``now`` falls in, and of a neighbouring step only
within ``SKEW_SECONDS`` of the boundary (the phone's clock may be a little off): a
screenshot stops working at most 25 s + ``SKEW_SECONDS`` = 30 s after the code was first
shown.
A code is used once: ``decide`` refuses a step not later than the last one that entered.
The portal computes the same code in the browser (WebCrypto), so it works offline.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from datetime import datetime

STEP_SECONDS = 25
SKEW_SECONDS = 5
CODE_BYTES = 10
ID_LENGTH = 8

PAYLOAD_RE = re.compile(r"^([A-Z2-7]{8})\.([A-Z2-7]{16})$")


def qr_new_id() -> str:
    return base64.b32encode(secrets.token_bytes(5)).decode()


def qr_new_secret() -> bytes:
    return secrets.token_bytes(20)


def qr_step(at: datetime) -> int:
    return int(at.timestamp()) // STEP_SECONDS


def qr_code(secret: bytes, step: int) -> str:
    mac = hmac.new(secret, step.to_bytes(8, "big"), hashlib.sha256).digest()
    return base64.b32encode(mac[:CODE_BYTES]).decode()


def qr_payload(public_id: str, secret: bytes, at: datetime) -> str:
    """What the member app shows at ``at`` (tests and the desk's own preview use it)."""
    return f"{public_id}.{qr_code(secret, qr_step(at))}"


def qr_parse(payload: str) -> tuple[str, str] | None:
    """``(public id, code)`` of a scanned QR payload, or None when it is not one."""
    found = PAYLOAD_RE.match(payload.strip().upper())
    return (found.group(1), found.group(2)) if found else None


def qr_verify(secret: bytes, code: str, at: datetime) -> int | None:
    """The step ``code`` belongs to if it is acceptable at ``at``; None when it is not."""
    seconds = at.timestamp()
    steps = {
        int(seconds - SKEW_SECONDS) // STEP_SECONDS,
        int(seconds) // STEP_SECONDS,
        int(seconds + SKEW_SECONDS) // STEP_SECONDS,
    }
    for step in sorted(steps, reverse=True):
        if hmac.compare_digest(qr_code(secret, step), code):
            return step
    return None
