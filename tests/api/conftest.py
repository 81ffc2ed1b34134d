from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from rest_framework.test import APIClient

from dues.api.services import api_key_create
from dues.core.clock import local_date
from tests.factories import make_location, make_org


def authed_client(org, clock) -> APIClient:
    _, secret = api_key_create(organization=org, name="test", clock=clock)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    return client


@pytest.fixture
def api(org, clock):
    return authed_client(org, clock)


@pytest.fixture
def other_org(clock):
    return make_org(clock, slug="rival-gym")


@pytest.fixture
def other_location(other_org):
    return make_location(other_org)


@pytest.fixture
def other_api(other_org, clock):
    return authed_client(other_org, clock)


@pytest.fixture
def today(location) -> date:
    """The API runs on the system clock; "today" is the location's local date."""
    return local_date(datetime.now(UTC), location.timezone)


def counts(*models) -> dict[str, int]:
    return {m.__name__: m.objects.count() for m in models}
