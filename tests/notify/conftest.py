from __future__ import annotations

import pytest

from tests.notify.twilio_server import ACCOUNT_SID, AUTH_TOKEN, twilio_server


@pytest.fixture
def twilio(settings):
    """The Twilio SMS backend, pointed at a local Twilio API; yields that server."""
    with twilio_server() as fake:
        settings.DUES_SMS_BACKEND = "dues.notify.sms.TwilioSmsBackend"
        settings.DUES_TWILIO_ACCOUNT_SID = ACCOUNT_SID
        settings.DUES_TWILIO_AUTH_TOKEN = AUTH_TOKEN
        settings.DUES_TWILIO_FROM = "+46700000001"
        settings.DUES_TWILIO_MESSAGING_SERVICE_SID = ""
        settings.DUES_TWILIO_STATUS_CALLBACK = ""
        settings.DUES_TWILIO_API_BASE = fake.url
        settings.DUES_TWILIO_TIMEOUT = 0.5
        yield fake
