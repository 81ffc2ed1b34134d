"""The portal's pages on the test's clock, and a browser signed in as a member."""

from __future__ import annotations

import pytest
from django.test import Client

from dues.members.models import Member
from dues.portal.signin import signin_token
from dues.portal.views import account, join, links, signin


@pytest.fixture
def portal_clock(monkeypatch, clock):
    for module in (account, join, links, signin):
        monkeypatch.setattr(module, "CLOCK", clock)
    return clock


@pytest.fixture
def signed_in():
    """``signed_in(member, clock)``: a client that signed in with an emailed link."""

    def sign_in(member: Member, clock) -> Client:
        client = Client()
        url = f"/me/signin/{signin_token(member, clock=clock)}/"
        assert client.post(url).status_code == 302
        return client

    return sign_in
