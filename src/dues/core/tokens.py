"""Signed tokens for links members open without a login (an invoice, their card, a
sign-in). The payload and its expiry are signed together, so changing either breaks the
signature; the expiry is checked against the injected clock, so links behave the same on
the simulated clock as on the wall clock."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.core import signing

from dues.core.clock import Clock


class LinkExpired(signing.BadSignature):
    pass


def token_sign(data: dict[str, Any], *, salt: str, lifetime: timedelta, clock: Clock) -> str:
    expires = int((clock.now() + lifetime).timestamp())
    return signing.dumps({**data, "x": expires}, salt=salt)


def token_read(token: str, *, salt: str, clock: Clock) -> dict[str, Any]:
    """The signed payload. Raises ``signing.BadSignature`` for a forged or altered token,
    ``LinkExpired`` (a subclass) for one past its expiry."""
    data: dict[str, Any] = signing.loads(token, salt=salt)
    if clock.now().timestamp() > data["x"]:
        raise LinkExpired("this link has expired")
    return data
