from __future__ import annotations

import pytest

from dues.access.models import CredentialKind
from dues.access.services import credential_issue
from tests.factories import join


@pytest.fixture
def member_sub(org, location, clock):
    """A member with an active monthly membership (joined 15 January 2026)."""
    return join(org, location, clock)


@pytest.fixture
def member(member_sub):
    return member_sub[0]


@pytest.fixture
def sub(member_sub):
    return member_sub[1]


@pytest.fixture
def tag(member, clock):
    """The member's barcode key tag."""
    return credential_issue(
        member=member, kind=CredentialKind.BARCODE, value="TAG-0001", clock=clock
    )
