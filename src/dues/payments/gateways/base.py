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


@dataclass(frozen=True)
class ChargeRequest:
    idempotency_key: str
    token: str
    amount: int
    currency: str
    description: str = ""


@dataclass(frozen=True)
class ChargeResult:
    idempotency_key: str
    succeeded: bool
    reference: str = ""
    decline_code: str = ""
    message: str = ""
    advice_code: str = ""  # Mastercard merchant advice code, when the network sent one


@dataclass(frozen=True)
class RefundResult:
    idempotency_key: str
    succeeded: bool
    reference: str = ""
    message: str = ""


class Gateway:
    name: ClassVar[str] = "base"
    # Concurrent requests the provider accepts from us; charge_many never exceeds it.
    max_concurrency: ClassVar[int] = 8

    def charge(self, request: ChargeRequest) -> ChargeResult:
        raise NotImplementedError

    def lookup(self, idempotency_key: str) -> ChargeResult | None:
        """What happened to a charge sent with this key; ``None`` if it never arrived."""
        raise NotImplementedError

    def refund(
        self, *, idempotency_key: str, charge_reference: str, amount: int, currency: str
    ) -> RefundResult:
        raise NotImplementedError

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
