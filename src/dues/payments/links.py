"""Signed links for members without a login to their card details (the invoice link is
``billing.links``): a link names one member of one organization and an expiry checked
against the injected clock."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings

from dues.core.clock import Clock
from dues.core.tokens import token_read, token_sign

SALT = "dues.payments.card-link"
LINK_LIFETIME = timedelta(days=45)


def card_link(*, member_id: int, organization_id: int, clock: Clock) -> str:
    token = token_sign(
        {"m": member_id, "o": organization_id}, salt=SALT, lifetime=LINK_LIFETIME, clock=clock
    )
    return f"{settings.DUES_PUBLIC_URL}/c/{token}/"


def card_link_read(token: str, *, clock: Clock) -> tuple[int, int]:
    """(organization id, member id); raises ``signing.BadSignature`` or ``LinkExpired``."""
    data = token_read(token, salt=SALT, clock=clock)
    return int(data["o"]), int(data["m"])
