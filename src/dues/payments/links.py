"""Signed links for members without a login to their card details (the invoice link is
``billing.links``): a link names one member of one organization and an expiry checked
against the injected clock."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.core import signing

from dues.billing.links import LinkExpired
from dues.core.clock import Clock

SALT = "dues.payments.card-link"
LINK_LIFETIME = timedelta(days=45)


def card_link(*, member_id: int, organization_id: int, clock: Clock) -> str:
    expires = int((clock.now() + LINK_LIFETIME).timestamp())
    token = signing.dumps({"m": member_id, "o": organization_id, "x": expires}, salt=SALT)
    return f"{settings.DUES_PUBLIC_URL}/c/{token}/"


def card_link_read(token: str, *, clock: Clock) -> tuple[int, int]:
    """(organization id, member id); raises ``signing.BadSignature`` or ``LinkExpired``."""
    data = signing.loads(token, salt=SALT)
    if clock.now().timestamp() > data["x"]:
        raise LinkExpired("this link has expired")
    return int(data["o"]), int(data["m"])
