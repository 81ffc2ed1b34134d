"""Signed links to one invoice, for members who are not logged in (the hosted invoice
page). A link names one invoice of one organization and an expiry; changing any of them
breaks the signature, so a link cannot be turned into a link to another invoice."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings

from dues.core.clock import Clock
from dues.core.tokens import LinkExpired, token_read, token_sign

__all__ = ["LINK_LIFETIME", "LinkExpired", "invoice_link", "invoice_link_read"]

SALT = "dues.billing.invoice-link"
LINK_LIFETIME = timedelta(days=60)


def invoice_link_token(*, invoice_id: int, organization_id: int, clock: Clock) -> str:
    return token_sign(
        {"i": invoice_id, "o": organization_id}, salt=SALT, lifetime=LINK_LIFETIME, clock=clock
    )


def invoice_link(*, invoice_id: int, organization_id: int, clock: Clock) -> str:
    token = invoice_link_token(invoice_id=invoice_id, organization_id=organization_id, clock=clock)
    return f"{settings.DUES_PUBLIC_URL}/i/{token}/"


def invoice_link_read(token: str, *, clock: Clock) -> tuple[int, int]:
    """(organization id, invoice id) from a link's token. Raises ``signing.BadSignature``
    for a forged or altered token, ``LinkExpired`` for one past its expiry."""
    data = token_read(token, salt=SALT, clock=clock)
    return int(data["o"]), int(data["i"])
