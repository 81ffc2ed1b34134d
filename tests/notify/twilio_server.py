"""A local Twilio Programmable Messaging API for tests: a real HTTP server that checks the
path, the basic-auth credentials and the form fields as Twilio does, and answers with
Twilio's bodies. Twilio's magic test numbers behave as with test credentials
(+15005550001: 21211 invalid number; +15005550009: 21614 not a mobile number); ``fail``
queues answers for the next requests (``500``, ``429`` or ``slow``)."""

from __future__ import annotations

import base64
import json
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs

ACCOUNT_SID = "AC" + "0123456789abcdef" * 2
AUTH_TOKEN = "twilio-test-token-3f9a1c"
MESSAGING_SERVICE_SID = "MG" + "fedcba9876543210" * 2

REFUSED = {
    "+15005550001": (21211, "The 'To' number +15005550001 is not a valid phone number."),
    "+15005550009": (21614, "'To' number is not a valid mobile number"),
}


@dataclass
class FakeTwilio:
    url: str = ""
    requests: list[dict[str, str]] = field(
        default_factory=list
    )  # forms that passed the credentials check
    sids: list[str] = field(default_factory=list)  # of the messages it took
    fail: list[str] = field(default_factory=list)
    release: threading.Event = field(default_factory=threading.Event)


def _handler(fake: FakeTwilio) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:  # quiet
            pass

        def answer(self, status: int, body: dict[str, object]) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def error(self, status: int, code: int, message: str) -> None:
            more = f"https://www.twilio.com/docs/errors/{code}"
            self.answer(status, {"code": code, "message": message, "more_info": more,
                                 "status": status})  # fmt: skip

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            raw = self.rfile.read(length).decode()
            form = {k: v[0] for k, v in parse_qs(raw, keep_blank_values=True).items()}
            if self.path != f"/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json":
                return self.error(404, 20404, "The requested resource was not found")
            expected = base64.b64encode(f"{ACCOUNT_SID}:{AUTH_TOKEN}".encode()).decode()
            if self.headers.get("Authorization") != f"Basic {expected}":
                return self.error(401, 20003, "Authenticate")
            if self.headers.get("Content-Type") != "application/x-www-form-urlencoded":
                return self.error(400, 21000, "Expected a form body")
            fake.requests.append(form)
            if fake.fail:
                kind = fake.fail.pop(0)
                if kind == "slow":  # past the client's timeout; let go when the test ends
                    fake.release.wait(10)
                    return None
                if kind == "429":
                    return self.error(429, 20429, "Too Many Requests")
                return self.error(500, 20500, "Internal Server Error")
            if not form.get("To"):
                return self.error(400, 21604, "A 'To' phone number is required.")
            if not (form.get("From") or form.get("MessagingServiceSid")):
                return self.error(400, 21603, "A 'From' phone number is required.")
            if not form.get("Body"):
                return self.error(400, 21602, "Message body is required.")
            if form["To"] in REFUSED:
                return self.error(400, *REFUSED[form["To"]])
            fake.sids.append("SM" + uuid.uuid4().hex)
            return self.answer(
                201,
                {
                    "sid": fake.sids[-1],
                    "account_sid": ACCOUNT_SID,
                    "to": form["To"],
                    "from": form.get("From"),
                    "messaging_service_sid": form.get("MessagingServiceSid"),
                    "body": form["Body"],
                    "status": "queued",
                },
            )

    return Handler


@contextmanager
def twilio_server() -> Iterator[FakeTwilio]:
    fake = FakeTwilio()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(fake))
    server.daemon_threads = True
    fake.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield fake
    finally:
        fake.release.set()
        server.shutdown()
        server.server_close()
