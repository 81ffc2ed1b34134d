from __future__ import annotations

import os

import pytest

from dues.payments.gateways.sandbox import SandboxGateway
from tests.factories import clock_at, make_location, make_org


def pytest_report_header() -> str:
    from django.conf import settings

    return f"database: {settings.DATABASES['default']['ENGINE']}"


@pytest.fixture(autouse=True)
def _empty_cache():
    """Each test starts with nothing memoized (``core.memo``): ids repeat across tests."""
    from django.core.cache import cache

    cache.clear()


@pytest.fixture(autouse=True)
def _default_language():
    """Each test starts in the default language: a request through the test client leaves
    the language LocaleMiddleware chose active in the thread, and the next test on that
    worker would format money and dates in it."""
    from django.utils import translation

    translation.deactivate()
    yield
    translation.deactivate()


@pytest.fixture
def clock():
    return clock_at(2026, 1, 15)


@pytest.fixture
def org(db, clock):
    return make_org(clock)


@pytest.fixture
def location(org):
    return make_location(org)


STRIPE_KEY = "sk_test_dues_install_0000"
STRIPE_WEBHOOK_SECRET = "whsec_dues_install_0000"


@pytest.fixture
def stripe_api(settings):
    """A local Stripe API serving Stripe's example objects, and Dues pointed at it."""
    from tests.stripe_server import stripe_server

    with stripe_server({STRIPE_KEY}) as fake:
        settings.DUES_STRIPE_SECRET_KEY = STRIPE_KEY
        settings.DUES_STRIPE_WEBHOOK_SECRET = STRIPE_WEBHOOK_SECRET
        settings.DUES_STRIPE_PUBLISHABLE_KEY = "pk_test_dues_install_0000"
        settings.DUES_STRIPE_API_BASE = fake.url
        yield fake


@pytest.fixture
def stripe_gw(stripe_api):
    """Stripe on the local server, without SDK retries: a lost reply is left for lookup."""
    from dues.payments.gateways.stripe import StripeGateway

    return StripeGateway(max_network_retries=0)


@pytest.fixture
def gateway(request):
    """The sandbox; in modules marked ``both_gateways``, also Stripe on the local server."""
    if getattr(request, "param", "sandbox") == "stripe":
        return request.getfixturevalue("stripe_gw")
    return SandboxGateway()


def pytest_generate_tests(metafunc):
    if "gateway" in metafunc.fixturenames and metafunc.definition.get_closest_marker(
        "both_gateways"
    ):
        metafunc.parametrize("gateway", ["sandbox", "stripe"], indirect=True)


@pytest.fixture
def smtp(settings):
    """A real SMTP server, and Django's SMTP backend pointed at it."""
    from tests.smtp import smtp_server

    with smtp_server() as (inbox, port):
        settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
        settings.EMAIL_HOST = "127.0.0.1"
        settings.EMAIL_PORT = port
        settings.EMAIL_USE_TLS = False
        yield inbox


@pytest.fixture
def sms_file(settings, tmp_path):
    """The file SMS backend, writing to a fresh file; returns a reader of what it sent."""
    import json

    path = tmp_path / "sms.jsonl"
    settings.DUES_SMS_BACKEND = "dues.notify.sms.FileSmsBackend"
    settings.DUES_SMS_FILE = path

    def sent() -> list[dict[str, str]]:
        if not path.exists():
            return []
        return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]

    return sent


@pytest.fixture
def is_postgres():
    from django.db import connection

    return connection.vendor == "postgresql"


def pytest_collection_modifyitems(config, items):
    from django.db import connections

    vendor = connections["default"].vendor
    if vendor != "postgresql":
        skip = pytest.mark.skip(reason="needs PostgreSQL")
        for item in items:
            if "postgres_only" in item.keywords:
                item.add_marker(skip)
    if os.environ.get("CI") == "true" and os.environ.get("DUES_REQUIRE_POSTGRES") == "1":
        assert vendor == "postgresql", "CI run for PostgreSQL is not using PostgreSQL"
