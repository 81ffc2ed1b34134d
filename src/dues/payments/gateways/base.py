"""The one gateway interface. A gateway charges a saved token under our idempotency key,
answers what happened to a key it was sent (to resolve lost replies), and refunds."""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import ClassVar

from django.conf import settings
from django.utils.module_loading import import_string


class GatewayError(Exception):
    """The gateway could not be reached or answered nonsense; the outcome is unknown."""


class GatewayTimeout(GatewayError):
    """The request may or may not have been carried out: ask ``lookup`` later."""


class GatewayConfigError(GatewayError):
    """The gateway is not set up for this organization (no keys, say): nothing was sent."""


@dataclass(frozen=True)
class ChargeRequest:
    idempotency_key: str
    token: str
    amount: int
    currency: str
    description: str = ""
    organization_id: int | None = None  # whose gateway account, where keys are per gym
    customer: str = ""  # the gateway's customer the token is saved on, if it has one


@dataclass(frozen=True)
class ChargeResult:
    idempotency_key: str
    succeeded: bool
    reference: str = ""
    decline_code: str = ""
    message: str = ""
    advice_code: str = ""  # Mastercard merchant advice code, when the network sent one
    # Accepted but not settled yet (a bank debit takes days): neither paid nor failed.
    pending: bool = False


@dataclass(frozen=True)
class RefundResult:
    idempotency_key: str
    succeeded: bool
    reference: str = ""
    message: str = ""


@dataclass(frozen=True)
class SetupStart:
    """A started save of a card or mandate: the page's hosted fields finish it."""

    reference: str
    client_secret: str
    publishable_key: str


@dataclass(frozen=True)
class SavedMethod:
    """A saved payment method as the gateway describes it (no number, ever)."""

    token: str
    kind: str  # PaymentMethod.Kind
    last4: str
    brand: str = ""
    exp_month: int | None = None
    exp_year: int | None = None
    mandate_reference: str = ""
    customer: str = ""


class Gateway:
    name: ClassVar[str] = "base"
    # Concurrent requests the provider accepts from us; charge_many never exceeds it.
    max_concurrency: ClassVar[int] = 8
    # Cards are typed into the gateway's own fields (customer_create, setup_start, ...).
    hosted_fields: ClassVar[bool] = False

    def charge(self, request: ChargeRequest) -> ChargeResult:
        raise NotImplementedError

    def lookup(self, request: ChargeRequest) -> ChargeResult | None:
        """What happened to a charge sent as ``request`` (found by its idempotency key);
        ``None`` if it never arrived."""
        raise NotImplementedError

    def refund(
        self,
        *,
        idempotency_key: str,
        charge_reference: str,
        amount: int,
        currency: str,
        organization_id: int | None = None,
    ) -> RefundResult:
        raise NotImplementedError

    # Saving methods through hosted fields, for gateways that have them.

    def customer_create(
        self, *, idempotency_key: str, name: str, email: str, organization_id: int | None
    ) -> str:
        raise NotImplementedError(f"the {self.name} gateway keeps no customers")

    def setup_start(
        self, *, customer: str, kinds: Sequence[str], organization_id: int | None
    ) -> SetupStart:
        raise NotImplementedError(f"the {self.name} gateway has no hosted fields")

    def setup_result(self, *, reference: str, organization_id: int | None) -> SavedMethod | None:
        """The method a finished setup saved; ``None`` while the member has not finished."""
        raise NotImplementedError(f"the {self.name} gateway has no hosted fields")

    def charge_many(self, requests: Sequence[ChargeRequest]) -> list[ChargeResult | None]:
        """Charge concurrently; ``None`` marks an unknown outcome (timeout, connection lost)."""

        def one(request: ChargeRequest) -> ChargeResult | None:
            try:
                return self.charge(request)
            except GatewayError:
                return None

        if len(requests) <= 1:
            return [one(r) for r in requests]
        with ThreadPoolExecutor(max_workers=self.max_concurrency) as pool:
            return list(pool.map(one, requests))


def gateway_get(name: str | None = None) -> Gateway:
    path = settings.DUES_GATEWAY
    gateway = import_string(path)()
    if not isinstance(gateway, Gateway):
        raise TypeError(f"{path} is not a Gateway")
    return gateway
