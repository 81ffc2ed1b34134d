"""Stripe, through the official SDK, behind the one gateway interface.

- A charge is an off-session PaymentIntent confirmed at once, sent with our attempt key as
  Stripe's idempotency key and in its metadata (``dues_attempt_key``), on the payer's
  Customer and saved PaymentMethod.
- An unknown outcome is looked up by that metadata. Not finding it is safe to act on: a
  search that lags within Stripe's 24 hours of idempotency is answered by replaying the same
  key, which returns the first result instead of charging again.
- Declines come back as Stripe's decline codes (the names our taxonomy uses) and the card
  network's advice code; Stripe's own advice "do_not_try_again" becomes a hard decline.
- Keys: the organization's own (``GatewayAccount``, encrypted) or the environment's.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from threading import Lock
from typing import Any, ClassVar

import stripe
from django.conf import settings

from dues.core.crypto import secret_open
from dues.payments.gateways.base import (
    ChargeRequest,
    ChargeResult,
    Gateway,
    GatewayConfigError,
    GatewayError,
    GatewayTimeout,
    RefundResult,
    SavedMethod,
    SetupStart,
)
from dues.payments.models import GatewayAccount

GATEWAY = "stripe"
ATTEMPT_KEY = "dues_attempt_key"
# Stripe's payment method types, and ours.
KINDS = {"card": "card", "sepa_debit": "sepa_debit", "us_bank_account": "bank_debit"}
STRIPE_TYPES = {ours: theirs for theirs, ours in KINDS.items()}
# Stripe's error codes that are a decline without an issuer decline code.
_GENERIC = {"card_declined", ""}


@dataclass(frozen=True)
class StripeKeys:
    secret_key: str
    webhook_secret: str
    publishable_key: str


def stripe_keys(organization_id: int | None) -> StripeKeys:
    """The organization's stored keys, else the environment's; names what is missing."""
    account = (
        GatewayAccount.objects.filter(organization_id=organization_id, gateway=GATEWAY).first()
        if organization_id is not None
        else None
    )
    if account is not None and account.secret_key_sealed:
        return StripeKeys(
            secret_open(account.secret_key_sealed),
            secret_open(account.webhook_secret_sealed),
            account.publishable_key,
        )
    if not settings.DUES_STRIPE_SECRET_KEY:
        raise GatewayConfigError(
            f"organization {organization_id} has no Stripe keys and DUES_STRIPE_SECRET_KEY "
            "is not set"
        )
    return StripeKeys(
        settings.DUES_STRIPE_SECRET_KEY,
        settings.DUES_STRIPE_WEBHOOK_SECRET,
        settings.DUES_STRIPE_PUBLISHABLE_KEY,
    )


def decline_from_error(error: Mapping[str, Any]) -> tuple[str, str, str]:
    """(decline code, advice code, message) from a Stripe card error."""
    code = error.get("decline_code") or error.get("code") or ""
    if code in _GENERIC:
        code = "generic_decline"
    advice = error.get("network_advice_code") or ""
    if error.get("advice_code") == "do_not_try_again":
        code = "do_not_try_again"
    message = error.get("message") or "Your card was declined."
    return code, advice[:4], message[:200]


def _plain(obj: Any) -> dict[str, Any]:
    """The SDK's objects as plain dicts (they are not dicts themselves)."""
    return obj.to_dict() if isinstance(obj, stripe.StripeObject) else dict(obj or {})


@contextmanager
def stripe_errors(what: str) -> Iterator[None]:
    """Stripe's exceptions as ours: no answer (network, Stripe's own 5xx, rate limit) is an
    unknown outcome; anything else is a refusal. Callers catch the ones they answer first."""
    try:
        yield
    except (stripe.APIConnectionError, stripe.APIError, stripe.RateLimitError) as exc:
        raise GatewayTimeout(f"no answer from Stripe for {what}") from exc
    except stripe.InvalidRequestError as exc:
        raise GatewayError(f"Stripe refused {what}: {exc.user_message or exc.code}") from exc
    except stripe.StripeError as exc:
        # The code only: an authentication error's message quotes part of the key.
        raise GatewayError(f"Stripe refused {what}: {exc.code}") from exc


def result_from_intent(key: str, intent: Mapping[str, Any]) -> ChargeResult:
    """What a PaymentIntent says about the charge it carries."""
    status = intent.get("status")
    if status == "succeeded":
        return ChargeResult(key, True, reference=intent["id"])
    if status == "processing":
        return ChargeResult(key, False, reference=intent["id"], pending=True)
    if status == "requires_action":
        # Off-session, the bank wants the member present (3-D Secure): they pay online.
        return ChargeResult(
            key,
            False,
            reference=intent["id"],
            decline_code="authentication_required",
            message="The bank asks the member to confirm this payment.",
        )
    error = intent.get("last_payment_error")
    if error:
        code, advice, message = decline_from_error(error)
        return ChargeResult(key, False, intent["id"], code, message, advice)
    return ChargeResult(
        key, False, reference=intent["id"], decline_code=status or "unknown", message=status or ""
    )


class StripeGateway(Gateway):
    name: ClassVar[str] = GATEWAY
    # Stripe's live API allows 100 requests a second per account; a handful in flight
    # keeps well under it while a billing run still overlaps network waits.
    max_concurrency: ClassVar[int] = 8
    hosted_fields: ClassVar[bool] = True

    def __init__(self, *, api_base: str | None = None, max_network_retries: int = 2) -> None:
        self.api_base = api_base if api_base is not None else settings.DUES_STRIPE_API_BASE
        self.max_network_retries = max_network_retries
        self._clients: dict[str, stripe.StripeClient] = {}
        self._keys: dict[int | None, StripeKeys] = {}
        self._lock = Lock()

    def keys(self, organization_id: int | None) -> StripeKeys:
        """Read once per gateway object (one job run), so worker threads never query."""
        if organization_id not in self._keys:
            self._keys[organization_id] = stripe_keys(organization_id)
        return self._keys[organization_id]

    def client(self, organization_id: int | None) -> stripe.StripeClient:
        key = self.keys(organization_id).secret_key
        with self._lock:
            if key not in self._clients:
                bases: Any = {"api": self.api_base} if self.api_base else None
                self._clients[key] = stripe.StripeClient(
                    key,
                    base_addresses=bases,
                    max_network_retries=self.max_network_retries,
                    http_client=stripe.HTTPXClient(allow_sync_methods=True),
                )
            return self._clients[key]

    # --- charges ------------------------------------------------------------------------

    def charge_many(self, requests: Sequence[ChargeRequest]) -> list[ChargeResult | None]:
        for organization_id in {r.organization_id for r in requests}:
            self.client(organization_id)  # keys read here, in the caller's thread
        return super().charge_many(requests)

    def charge(self, request: ChargeRequest) -> ChargeResult:
        params: Any = {
            "amount": request.amount,
            "currency": request.currency.lower(),
            "payment_method": request.token,
            "confirm": True,
            "off_session": True,
            "metadata": {ATTEMPT_KEY: request.idempotency_key},
        }
        if request.customer:
            params["customer"] = request.customer
        if request.description:
            params["description"] = request.description
        client = self.client(request.organization_id)
        with stripe_errors(request.idempotency_key):
            try:
                intent = client.v1.payment_intents.create(
                    params, {"idempotency_key": request.idempotency_key}
                )
            except stripe.CardError as exc:
                error = _plain(exc.error)
                code, advice, message = decline_from_error(error)
                intent_id = (error.get("payment_intent") or {}).get("id") or ""
                return ChargeResult(
                    request.idempotency_key, False, intent_id, code, message, advice
                )
            except stripe.InvalidRequestError as exc:
                # Stripe refused the request itself (a detached method, say): nothing charged.
                return ChargeResult(
                    request.idempotency_key,
                    False,
                    decline_code=exc.code or "invalid_request",
                    message=(exc.user_message or str(exc))[:200],
                )
        return result_from_intent(request.idempotency_key, _plain(intent))

    def lookup(self, request: ChargeRequest) -> ChargeResult | None:
        key = request.idempotency_key
        client = self.client(request.organization_id)
        found = self._call(
            f"the lookup of {key}",
            client.v1.payment_intents.search,
            {"query": f"metadata['{ATTEMPT_KEY}']:'{key}'", "limit": 1},
        )
        if not found.data:
            return None
        return result_from_intent(key, _plain(found.data[0]))

    # --- refunds ------------------------------------------------------------------------

    def refund(
        self,
        *,
        idempotency_key: str,
        charge_reference: str,
        amount: int,
        currency: str,
        organization_id: int | None = None,
    ) -> RefundResult:
        target = "charge" if charge_reference.startswith(("ch_", "py_")) else "payment_intent"
        client = self.client(organization_id)
        params: Any = {
            target: charge_reference,
            "amount": amount,
            "metadata": {"dues_refund": idempotency_key},
        }
        with stripe_errors(f"refund {idempotency_key}"):
            try:
                refund = _plain(
                    client.v1.refunds.create(params, {"idempotency_key": idempotency_key})
                )
            except stripe.InvalidRequestError as exc:
                return RefundResult(
                    idempotency_key, False, message=(exc.user_message or str(exc))[:200]
                )
        # A bank debit's refund is "pending" for days; Stripe has accepted it.
        ok = refund.get("status") in ("succeeded", "pending")
        return RefundResult(
            idempotency_key, ok, reference=refund["id"], message=refund.get("status") or ""
        )

    # --- customers and saved methods ----------------------------------------------------

    def _call(self, what: str, fn: Any, *args: Any) -> Any:
        with stripe_errors(what):
            return fn(*args)

    def customer_create(
        self, *, idempotency_key: str, name: str, email: str, organization_id: int | None
    ) -> str:
        client = self.client(organization_id)
        params: Any = {"name": name, "metadata": {"dues_payer": idempotency_key}}
        if email:
            params["email"] = email
        customer = self._call(
            "a new customer",
            client.v1.customers.create,
            params,
            {"idempotency_key": idempotency_key},
        )
        return str(_plain(customer)["id"])

    def setup_start(
        self, *, customer: str, kinds: Sequence[str], organization_id: int | None
    ) -> SetupStart:
        keys = self.keys(organization_id)
        client = self.client(organization_id)
        params: Any = {
            "customer": customer,
            "usage": "off_session",
            "payment_method_types": [STRIPE_TYPES[k] for k in kinds],
        }
        seti = _plain(self._call("a setup", client.v1.setup_intents.create, params))
        return SetupStart(seti["id"], seti["client_secret"], keys.publishable_key)

    def setup_result(self, *, reference: str, organization_id: int | None) -> SavedMethod | None:
        client = self.client(organization_id)
        seti = _plain(self._call(f"setup {reference}", client.v1.setup_intents.retrieve, reference))
        if seti["status"] != "succeeded" or not seti.get("payment_method"):
            return None
        pm_id = seti["payment_method"]
        if not isinstance(pm_id, str):
            pm_id = pm_id["id"]
        pm = _plain(self._call(f"method {pm_id}", client.v1.payment_methods.retrieve, pm_id))
        mandate = seti.get("mandate") or ""
        return saved_method(pm, customer=seti.get("customer") or "", mandate=mandate)

    def charge_intent(self, *, charge: str, organization_id: int | None) -> str:
        """The PaymentIntent a charge belongs to (older disputes name only the charge)."""
        client = self.client(organization_id)
        found = _plain(self._call(f"charge {charge}", client.v1.charges.retrieve, charge))
        return str(found.get("payment_intent") or "")


def saved_method(pm: Mapping[str, Any], *, customer: str = "", mandate: Any = "") -> SavedMethod:
    """Our description of a Stripe PaymentMethod object."""
    kind = KINDS.get(pm["type"])
    if kind is None:
        raise GatewayError(f"payment method type {pm['type']!r} is not one Dues collects")
    details = pm[pm["type"]]
    return SavedMethod(
        token=pm["id"],
        kind=kind,
        last4=details["last4"],
        brand=details.get("brand") or "",
        exp_month=details.get("exp_month"),
        exp_year=details.get("exp_year"),
        mandate_reference=mandate if isinstance(mandate, str) else mandate["id"],
        customer=customer or pm.get("customer") or "",
    )
