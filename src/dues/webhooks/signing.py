"""The delivery signature: ``Dues-Signature: t=<unix seconds>,v1=<hex>``, where ``hex`` is
HMAC-SHA256 with the endpoint's secret over ``"<t>.<body>"``. Receivers recompute it,
compare in constant time, and refuse a ``t`` older than they allow (five minutes is usual)."""

from __future__ import annotations

import hashlib
import hmac

HEADER = "Dues-Signature"


def signature(secret: str, timestamp: int, body: bytes) -> str:
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"
