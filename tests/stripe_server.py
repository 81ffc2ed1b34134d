"""A local stand-in for Stripe's API, served over real HTTP to the official SDK.

Responses are Stripe's published example objects (``../shared/stripe/fixtures3.json``)
shaped per request: ids, amounts, statuses and errors follow what the request asked. It
keeps its own state (customers, intents, refunds), honours idempotency keys as Stripe does
(same key and parameters: the first response again; other parameters: an error), and plays
test cards by payment method id:

- Stripe's test methods: ``pm_card_visa``, ``pm_card_chargeDeclinedInsufficientFunds``, ...
- the sandbox's tokens (``sbx_<behaviour>_...``), so the same tests drive both gateways;
- methods a test registers with ``card(...)`` (any decline and advice code).
"""

from __future__ import annotations

import copy
import hashlib
import hmac
import itertools
import json
import os
import re
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from dues.payments.gateways.sandbox import behaviour_of


def _fixtures_path() -> Path:
    """``DUES_STRIPE_FIXTURES``, else the team's ``shared/stripe`` beside the checkout."""
    if os.environ.get("DUES_STRIPE_FIXTURES"):
        return Path(os.environ["DUES_STRIPE_FIXTURES"])
    # Beside this checkout, or in the team machines' shared folder (a clone made elsewhere,
    # as CI's is, has no ../shared).
    places = [*Path(__file__).resolve().parents, Path("/work")]
    for parent in places:
        candidate = parent / "shared" / "stripe" / "fixtures3.json"
        if candidate.exists():
            return candidate
    raise FileNotFoundError(
        "Stripe's example objects (shared/stripe/fixtures3.json) are not beside this "
        "checkout; set DUES_STRIPE_FIXTURES to the file"
    )


_RESOURCES: dict[str, Any] = json.loads(_fixtures_path().read_text())["resources"]

# Stripe's documented test payment methods and what they do.
STRIPE_TEST_METHODS = {
    "pm_card_visa": "success",
    "pm_card_mastercard": "success",
    "pm_card_chargeDeclined": "generic_decline",
    "pm_card_chargeDeclinedInsufficientFunds": "insufficient_funds",
    "pm_card_chargeDeclinedLostCard": "lost_card",
    "pm_card_chargeDeclinedStolenCard": "stolen_card",
    "pm_card_chargeDeclinedFraudulent": "fraudulent",
    "pm_card_chargeDeclinedExpiredCard": "expired_card",
    "pm_card_chargeDeclinedIncorrectCvc": "incorrect_cvc",
    "pm_card_chargeDeclinedProcessingError": "processing_error",
    "pm_card_authenticationRequired": "authentication_required",
    "pm_sepa_debit": "processing",
}
# Codes Stripe sends as ``code`` alone; the rest come as card_declined + decline_code.
_CODE_ONLY = {"expired_card", "incorrect_cvc", "processing_error"}


def fixture(kind: str) -> dict[str, Any]:
    return copy.deepcopy(_RESOURCES[kind])


def _nest(pairs: list[tuple[str, str]]) -> dict[str, Any]:
    """Stripe's form encoding (``metadata[k]=v``, ``types[0]=card``) back into objects."""
    out: dict[str, Any] = {}
    for raw, value in pairs:
        parts = re.findall(r"[^\[\]]+", raw)
        node = out
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = value
    return _lists(out)


def _lists(node: Any) -> Any:
    if isinstance(node, dict):
        if node and all(k.isdigit() for k in node):
            return [_lists(node[k]) for k in sorted(node, key=int)]
        return {k: _lists(v) for k, v in node.items()}
    return node


def signature(payload: bytes, secret: str, timestamp: int | None = None) -> str:
    """A ``Stripe-Signature`` header, computed as Stripe documents it."""
    t = int(time.time()) if timestamp is None else timestamp
    mac = hmac.new(secret.encode(), f"{t}.".encode() + payload, hashlib.sha256).hexdigest()
    return f"t={t},v1={mac}"


@dataclass
class Card:
    behaviour: str
    brand: str = "visa"
    last4: str = "4242"
    exp_month: int = 12
    exp_year: int = 2030
    advice: str = ""  # network advice code (Mastercard MAC)
    stripe_advice: str = ""  # Stripe's advice_code


class FakeStripe:
    def __init__(self, keys: set[str]) -> None:
        self.keys = keys
        self.ids = itertools.count(1)
        self.lock = threading.Lock()
        self.customers: dict[str, dict[str, Any]] = {}
        self.methods: dict[str, dict[str, Any]] = {}
        self.cards: dict[str, Card] = {}
        self.setup_intents: dict[str, dict[str, Any]] = {}
        self.intents: dict[str, dict[str, Any]] = {}
        self.charges: dict[str, dict[str, Any]] = {}
        self.refunds: dict[str, dict[str, Any]] = {}
        self.idempotency: dict[str, tuple[str, int, bytes]] = {}
        self.failures: dict[str, int] = {}
        self.requests: list[tuple[str, str, dict[str, Any], dict[str, str]]] = []
        self.drop_replies = 0  # answer nothing to the next N requests (after doing them)
        self.down = False  # refuse every request with a 500
        self.url = ""

    def new_id(self, prefix: str) -> str:
        return f"{prefix}_test{next(self.ids):06d}"

    # --- test cards -----------------------------------------------------------------

    def card(self, behaviour: str = "success", **details: Any) -> str:
        """Register a card payment method; returns its id."""
        pm_id = self.new_id("pm")
        self.cards[pm_id] = Card(behaviour, **details)
        return pm_id

    def _card(self, pm_id: str) -> Card:
        if pm_id in self.cards:
            return self.cards[pm_id]
        if pm_id in STRIPE_TEST_METHODS:
            return Card(STRIPE_TEST_METHODS[pm_id])
        return Card(behaviour_of(pm_id))

    def method(self, pm_id: str) -> dict[str, Any]:
        if pm_id not in self.methods:
            c = self._card(pm_id)
            pm = fixture("payment_method")
            pm["id"] = pm_id
            pm["metadata"] = {}
            if c.behaviour == "processing":
                pm["type"] = "sepa_debit"
                pm["card"] = None
                pm["sepa_debit"] = {"bank_code": "37040044", "country": "DE", "last4": "3000"}
            else:
                pm["card"].update(
                    brand=c.brand, last4=c.last4, exp_month=c.exp_month, exp_year=c.exp_year
                )
                pm["card"]["display_brand"] = c.brand
            self.methods[pm_id] = pm
        return self.methods[pm_id]

    # --- the API --------------------------------------------------------------------

    def handle(
        self, verb: str, path: str, params: dict[str, Any], headers: dict[str, str]
    ) -> tuple[int, dict[str, Any]]:
        key = headers.get("authorization", "").removeprefix("Bearer ")
        if key not in self.keys:
            return 401, _error(
                "invalid_request_error", f"Invalid API Key provided: {key[:8]}****", ""
            )
        route = (verb, re.sub(r"^(/v1/\w+)/(?!search$)[^/]+$", r"\1/ID", path))
        ident = path.rsplit("/", 1)[-1]
        handlers = {
            ("POST", "/v1/customers"): self.customer_create,
            ("POST", "/v1/setup_intents"): self.setup_intent_create,
            ("GET", "/v1/setup_intents/ID"): lambda p: self._get(self.setup_intents, ident),
            ("GET", "/v1/payment_methods/ID"): lambda p: (200, self.method(ident)),
            ("POST", "/v1/payment_intents"): self.intent_create,
            ("GET", "/v1/payment_intents/search"): self.intent_search,
            ("GET", "/v1/payment_intents/ID"): lambda p: self._get(self.intents, ident),
            ("GET", "/v1/charges/ID"): lambda p: self._get(self.charges, ident),
            ("POST", "/v1/refunds"): self.refund_create,
        }
        handler = handlers.get(route)
        if handler is None:
            return 404, _error("invalid_request_error", f"Unrecognized request URL {path}", "")
        return handler(params)

    def _get(self, store: dict[str, dict[str, Any]], ident: str) -> tuple[int, dict[str, Any]]:
        if ident not in store:
            return 404, _error(
                "invalid_request_error", f"No such object: '{ident}'", "resource_missing"
            )
        return 200, store[ident]

    def customer_create(self, params: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        customer = fixture("customer")
        customer.update(
            id=self.new_id("cus"),
            email=params.get("email"),
            name=params.get("name"),
            metadata=params.get("metadata", {}),
            discount=None,
        )
        self.customers[customer["id"]] = customer
        return 200, customer

    def setup_intent_create(self, params: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        if params.get("customer") not in self.customers:
            return 400, _error(
                "invalid_request_error", "No such customer", "resource_missing", "customer"
            )
        seti = fixture("setup_intent")
        seti_id = self.new_id("seti")
        seti.update(
            id=seti_id,
            client_secret=f"{seti_id}_secret_{hashlib.sha256(seti_id.encode()).hexdigest()[:20]}",
            customer=params["customer"],
            usage=params.get("usage", "off_session"),
            payment_method_types=params.get("payment_method_types", ["card"]),
            metadata=params.get("metadata", {}),
            last_setup_error=None,
            next_action=None,
        )
        self.setup_intents[seti_id] = seti
        return 200, seti

    def setup_confirm(self, seti_id: str, pm_id: str) -> dict[str, Any]:
        """What Stripe's hosted fields do when the member saves a method."""
        seti = self.setup_intents[seti_id]
        if pm_id in STRIPE_TEST_METHODS:
            # Like Stripe, a test method's shortcut makes a new method each time.
            pm_id = self.card(STRIPE_TEST_METHODS[pm_id])
        pm = self.method(pm_id)
        pm["customer"] = seti["customer"]
        seti.update(status="succeeded", payment_method=pm_id)
        if pm["type"] == "sepa_debit":
            seti["mandate"] = self.new_id("mandate")
        return seti

    def intent_create(self, params: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        pm_id = params.get("payment_method", "")
        card = self._card(pm_id)
        pm = self.method(pm_id)
        customer = params.get("customer")
        if pm.get("customer") and customer and pm["customer"] != customer:
            return 400, _error(
                "invalid_request_error",
                "The payment method does not belong to this customer.",
                "payment_method_not_available",
            )
        intent = fixture("payment_intent")
        intent_id = self.new_id("pi")
        amount = int(params["amount"])
        intent.update(
            id=intent_id,
            client_secret=f"{intent_id}_secret_x",
            amount=amount,
            currency=params["currency"],
            customer=customer,
            payment_method=pm_id,
            metadata=params.get("metadata", {}),
            description=params.get("description"),
            payment_method_types=[pm["type"]],
            last_payment_error=None,
            next_action=None,
            canceled_at=None,
            transfer_data=None,
        )
        self.intents[intent_id] = intent
        outcome = card.behaviour
        if outcome.startswith("failthen"):
            seen = self.failures.get(pm_id, 0)
            outcome = (
                "success" if seen >= int(outcome.removeprefix("failthen")) else "insufficient_funds"
            )
        if outcome in ("success", "lost_reply"):
            charge = self._charge(intent, paid=True)
            intent.update(status="succeeded", amount_received=amount, latest_charge=charge["id"])
            return 200, intent
        if outcome == "processing":
            charge = self._charge(intent, paid=False)
            intent.update(status="processing", latest_charge=charge["id"])
            return 200, intent
        if outcome == "authentication_required":
            error = _error_body(
                "card_error", "This payment requires authentication.", "authentication_required"
            )
            intent.update(status="requires_action", next_action={"type": "use_stripe_sdk"})
        else:
            self.failures[pm_id] = self.failures.get(pm_id, 0) + 1
            code_only = outcome in _CODE_ONLY
            error = _error_body(
                "card_error",
                "Your card was declined.",
                outcome if code_only else "card_declined",
                decline_code=None if code_only else outcome,
            )
            if card.advice:
                error["network_advice_code"] = card.advice
            if card.stripe_advice:
                error["advice_code"] = card.stripe_advice
            charge = self._charge(intent, paid=False)
            error["charge"] = charge["id"]
            intent.update(status="requires_payment_method", latest_charge=charge["id"])
        intent["last_payment_error"] = dict(error)
        error["payment_intent"] = intent
        return 402, {"error": error}

    def _charge(self, intent: dict[str, Any], *, paid: bool) -> dict[str, Any]:
        charge = fixture("charge")
        charge.update(
            id=self.new_id("ch"),
            amount=intent["amount"],
            amount_captured=intent["amount"] if paid else 0,
            captured=paid,
            paid=paid,
            status="succeeded" if paid else "failed",
            currency=intent["currency"],
            customer=intent["customer"],
            payment_intent=intent["id"],
            payment_method=intent["payment_method"],
            metadata=intent["metadata"],
        )
        self.charges[charge["id"]] = charge
        return charge

    def intent_search(self, params: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        match = re.fullmatch(r"metadata\['(\w+)'\]:'([^']*)'", params.get("query", ""))
        if not match:
            return 400, _error("invalid_request_error", "Unsupported query", "parameter_invalid")
        field, value = match.groups()
        data = [i for i in self.intents.values() if i["metadata"].get(field) == value]
        return 200, {
            "object": "search_result",
            "data": data,
            "has_more": False,
            "next_page": None,
            "url": "/v1/payment_intents/search",
        }

    def refund_create(self, params: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        intent = self.intents.get(params.get("payment_intent", ""))
        if intent is None or intent["status"] != "succeeded":
            return 400, _error(
                "invalid_request_error",
                "This PaymentIntent has no successful charge.",
                "charge_not_refundable",
                "payment_intent",
            )
        amount = int(params.get("amount", intent["amount_received"]))
        charge = self.charges[intent["latest_charge"]]
        if charge["amount_refunded"] + amount > charge["amount"]:
            return 400, _error(
                "invalid_request_error",
                f"Refund amount ({amount}) is greater than unrefunded amount on charge.",
                "amount_too_large",
                "amount",
            )
        charge["amount_refunded"] += amount
        charge["refunded"] = charge["amount_refunded"] == charge["amount"]
        refund = fixture("refund")
        refund.update(
            id=self.new_id("re"),
            amount=amount,
            charge=charge["id"],
            payment_intent=intent["id"],
            currency=intent["currency"],
            metadata=params.get("metadata", {}),
            status="succeeded",
        )
        self.refunds[refund["id"]] = refund
        return 200, refund

    # --- events, as Stripe would send them ----------------------------------------------

    def event(
        self,
        type_: str,
        obj: dict[str, Any],
        *,
        created: int | None = None,
        previous: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        event = fixture("event")
        event.update(
            id=self.new_id("evt"),
            type=type_,
            created=int(time.time()) if created is None else created,
            data={
                "object": copy.deepcopy(obj),
                **({"previous_attributes": previous} if previous else {}),
            },
            api_version="2026-10-28.endive",
        )
        return event

    def dispute(
        self,
        intent_id: str,
        *,
        status: str = "needs_response",
        reason: str = "fraudulent",
        due_by: int = 1_900_000_000,
    ) -> dict[str, Any]:
        intent = self.intents[intent_id]
        dispute = fixture("dispute")
        dispute.update(
            id=f"dp_{intent_id[3:]}",
            amount=intent["amount"],
            currency=intent["currency"],
            charge=intent["latest_charge"],
            payment_intent=intent_id,
            reason=reason,
            status=status,
            is_charge_refundable=False,
        )
        dispute["evidence_details"]["due_by"] = due_by
        return dispute

    def card_renewed(self, pm_id: str, *, exp_month: int, exp_year: int, last4: str | None = None):
        """The issuer renewed the card; returns the updated payment method."""
        pm = self.method(pm_id)
        pm["card"].update(exp_month=exp_month, exp_year=exp_year)
        if last4:
            pm["card"]["last4"] = last4
        return copy.deepcopy(pm)


def _error_body(
    type_: str,
    message: str,
    code: str,
    *,
    decline_code: str | None = None,
    param: str | None = None,
) -> dict[str, Any]:
    body: dict[str, Any] = {"type": type_, "message": message, "code": code}
    if decline_code:
        body["decline_code"] = decline_code
    if param:
        body["param"] = param
    return body


def _error(type_: str, message: str, code: str, param: str | None = None) -> dict[str, Any]:
    return {"error": _error_body(type_, message, code, param=param)}


def _fingerprint(verb: str, path: str, params: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps([verb, path, params], sort_keys=True).encode()).hexdigest()


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _serve(self, verb: str) -> None:
        fake = self.server.fake
        split = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length).decode() if length else ""
        params = _nest(parse_qsl(split.query if verb == "GET" else body, keep_blank_values=True))
        headers = {k.lower(): v for k, v in self.headers.items()}
        with fake.lock:
            fake.requests.append((verb, split.path, params, headers))
            if fake.down:
                status, payload = 500, _error("api_error", "Stripe is having trouble", "")
                raw = json.dumps(payload).encode()
            else:
                key = headers.get("idempotency-key")
                fp = _fingerprint(verb, split.path, params)
                replay = fake.idempotency.get(key) if key and verb == "POST" else None
                if replay is not None and replay[0] != fp:
                    status, raw = (
                        400,
                        json.dumps(
                            _error(
                                "idempotency_error",
                                "Keys for idempotent requests can only be used with the same "
                                "parameters they were first used with.",
                                "idempotency_key_in_use",
                            )
                        ).encode(),
                    )
                elif replay is not None:
                    status, raw = replay[1], replay[2]
                else:
                    status, payload = fake.handle(verb, split.path, params, headers)
                    raw = json.dumps(payload).encode()
                    if key and verb == "POST" and status != 500:
                        fake.idempotency[key] = (fp, status, raw)
            drop = fake.drop_replies > 0 or (
                verb == "POST"
                and split.path == "/v1/payment_intents"
                and fake._card(params.get("payment_method", "")).behaviour == "lost_reply"
            )
            if fake.drop_replies > 0:
                fake.drop_replies -= 1
        if drop:
            self.close_connection = True
            return  # done at "Stripe", the reply lost on the way
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(raw)))
        self.send_header("Request-Id", f"req_{len(fake.requests)}")
        self.end_headers()
        self.wfile.write(raw)

    def do_GET(self) -> None:
        self._serve("GET")

    def do_POST(self) -> None:
        self._serve("POST")


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    fake: FakeStripe


@contextmanager
def stripe_server(keys: set[str]) -> Iterator[FakeStripe]:
    server = _Server(("127.0.0.1", 0), _Handler)
    server.fake = FakeStripe(keys)
    server.fake.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield server.fake
    finally:
        server.shutdown()
        server.server_close()
