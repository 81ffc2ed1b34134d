"""Signed invoice links: they name one invoice, cannot be altered, and expire on the
injected clock."""

from __future__ import annotations

import pytest
from django.core import signing

from dues.billing.links import LINK_LIFETIME, LinkExpired, invoice_link, invoice_link_read


def token_of(link: str) -> str:
    return link.rstrip("/").rsplit("/", 1)[1]


def test_link_reads_back_and_expires(clock):
    token = token_of(invoice_link(invoice_id=7, organization_id=3, clock=clock))
    assert invoice_link_read(token, clock=clock) == (3, 7)
    clock.advance(LINK_LIFETIME)
    assert invoice_link_read(token, clock=clock) == (3, 7)
    clock.advance(LINK_LIFETIME / 1000)
    with pytest.raises(LinkExpired):
        invoice_link_read(token, clock=clock)


def test_altered_link_is_refused(clock):
    token = token_of(invoice_link(invoice_id=7, organization_id=3, clock=clock))
    payload, rest = token.split(":", 1)
    other = signing.dumps({"i": 8, "o": 3, "x": 4102444800}, salt="another-salt")
    for forged in (payload[:-2] + "AA:" + rest, other, token + "x"):
        with pytest.raises(signing.BadSignature):
            invoice_link_read(forged, clock=clock)
