"""Signed links to one invoice, for members who are not logged in (the hosted invoice
page). A link names one invoice of one organization and an expiry; changing any of them
breaks the signature, so a link cannot be turned into a link to another invoice."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.core import signing

from dues.core.clock import Clock

SALT = "dues.billing.invoice-link"
LINK_LIFETIME = timedelta(days=60)


class LinkExpired(signing.BadSignature):
    pass


def invoice_link_token(*, invoice_id: int, organization_id: int, clock: Clock) -> str:
    # The expiry is signed with the ids and checked against the injected clock, so links
    # behave the same on the simulated clock as on the wall clock.
    expires = int((clock.now() + LINK_LIFETIME).timestamp())
    return signing.dumps({"i": invoice_id, "o": organization_id, "x": expires}, salt=SALT)


def invoice_link(*, invoice_id: int, organization_id: int, clock: Clock) -> str:
    token = invoice_link_token(invoice_id=invoice_id, organization_id=organization_id, clock=clock)
    return f"{settings.DUES_PUBLIC_URL}/i/{token}/"


def invoice_link_read(token: str, *, clock: Clock) -> tuple[int, int]:
    """(organization id, invoice id) from a link's token. Raises ``signing.BadSignature``
    for a forged or altered token, ``LinkExpired`` for one past its expiry."""
    data = signing.loads(token, salt=SALT)
    if clock.now().timestamp() > data["x"]:
        raise LinkExpired("this invoice link has expired")
    return int(data["o"]), int(data["i"])
