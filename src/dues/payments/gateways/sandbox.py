"""The built-in sandbox gateway: deterministic test cards in Stripe's style.

Card numbers are turned into tokens by ``sandbox_tokenize`` (the stand-in for the hosted
card fields a real gateway provides); the number itself is never stored. A token names
its behaviour, so every outcome is reproducible:

==================  ===============================================
number              behaviour
==================  ===============================================
4242424242424242    succeeds (Visa)
5555555555554444    succeeds (Mastercard)
4000000000009995    insufficient_funds
4000000000000044    do_not_honor
4000000000000002    generic_decline
4000000000000069    expired_card
4000000000009987    lost_card
4000000000009979    stolen_card
4000000000000127    incorrect_cvc
4000000000000119    processing_error
400000000000300N    fails N times with insufficient_funds, then succeeds
4000000000000408    charges, but the reply is lost (timeout); lookup tells
==================  ===============================================

The gateway's own record of charges (``SandboxCharge``) is its "remote" state: replaying a
key returns the first answer, and ``lookup`` resolves lost replies.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from collections.abc import Sequence
from datetime import UTC, date, datetime
from typing import ClassVar, NamedTuple

from django.db import IntegrityError, transaction
from django.db.models import F

from dues.core.db import forbid_transaction
from dues.core.rows import rows_insert
from dues.payments.gateways.base import (
    ChargeRequest,
    ChargeResult,
    Gateway,
    GatewayTimeout,
    RefundResult,
)
from dues.payments.models import SandboxCharge

TEST_CARDS: dict[str, str] = {
    "4242424242424242": "success",
    "5555555555554444": "success",
    "4000000000009995": "insufficient_funds",
    "4000000000000044": "do_not_honor",
    "4000000000000002": "generic_decline",
    "4000000000000069": "expired_card",
    "4000000000009987": "lost_card",
    "4000000000009979": "stolen_card",
    "4000000000000127": "incorrect_cvc",
    "4000000000000119": "processing_error",
    "4000000000000408": "lost_reply",
}
for _n in range(1, 10):
    TEST_CARDS[f"400000000000300{_n}"] = f"failthen{_n}"

DECLINE_MESSAGES = {
    "insufficient_funds": "Your card has insufficient funds.",
    "do_not_honor": "Your card was declined.",
    "generic_decline": "Your card was declined.",
    "expired_card": "Your card has expired.",
    "lost_card": "Your card was declined.",
    "stolen_card": "Your card was declined.",
    "incorrect_cvc": "Your card's security code is incorrect.",
    "processing_error": "An error occurred while processing your card. Try again.",
}


class SandboxCardError(ValueError):
    pass


def _luhn_ok(number: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(number)):
        d = int(ch)
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def sandbox_tokenize(number: str, exp_month: int, exp_year: int) -> dict[str, object]:
    """Stand-in for a gateway's hosted fields: number in, token and display details out."""
    digits = "".join(ch for ch in number if ch.isdigit())
    if len(digits) < 12 or (digits not in TEST_CARDS and not _luhn_ok(digits)):
        raise SandboxCardError("card number is not valid")
    behaviour = TEST_CARDS.get(digits, "success")
    brand = "mastercard" if digits.startswith("5") else "visa"
    fingerprint = hashlib.sha256(f"{digits}{exp_month}{exp_year}".encode()).hexdigest()[:12]
    # Like a real gateway, each attach gets its own token; the fingerprint identifies the card.
    return {
        "token": f"sbx_{behaviour}_{fingerprint}_{secrets.token_hex(4)}",
        "brand": brand,
        "last4": digits[-4:],
        "exp_month": exp_month,
        "exp_year": exp_year,
    }


# Longest first: behaviour names contain underscores (lost_reply, insufficient_funds).
_BEHAVIOURS = sorted(set(TEST_CARDS.values()) | {"success"}, key=len, reverse=True)


def behaviour_of(token: str) -> str:
    if token.startswith("sbx_"):
        rest = token[4:]
        for behaviour in _BEHAVIOURS:
            if rest.startswith(behaviour + "_"):
                return behaviour
    return "success"


def _reference(key: str) -> str:
    # Base32, not hex: a hex digest can hold a long run of digits that reads as a card
    # number to the scanners that check no card number is ever stored.
    digest = base64.b32encode(hashlib.sha256(key.encode()).digest()).decode().lower()
    return "ch_sbx_" + digest[:20]


CHARGE_COLUMNS = [
    "idempotency_key",
    "token",
    "amount",
    "currency",
    "succeeded",
    "decline_code",
    "reference",
    "refunded",
    "created_at",
]


class _Charge(NamedTuple):
    idempotency_key: str
    succeeded: bool
    reference: str
    decline_code: str


def _charges(keys: Sequence[str]) -> dict[str, _Charge]:
    rows = SandboxCharge.objects.filter(idempotency_key__in=keys).values_list(*_Charge._fields)
    return {row[0]: _Charge(*row) for row in rows}


def _result(row: _Charge) -> ChargeResult:
    return ChargeResult(
        idempotency_key=row.idempotency_key,
        succeeded=row.succeeded,
        reference=row.reference,
        decline_code=row.decline_code,
        message="" if row.succeeded else DECLINE_MESSAGES.get(row.decline_code, "Declined."),
    )


class SandboxGateway(Gateway):
    name: ClassVar[str] = "sandbox"

    def _decide(self, request: ChargeRequest, prior_failures: int) -> tuple[bool, str]:
        behaviour = behaviour_of(request.token)
        if behaviour in ("success", "lost_reply"):
            return True, ""
        if behaviour.startswith("failthen"):
            needed = int(behaviour.removeprefix("failthen"))
            return (True, "") if prior_failures >= needed else (False, "insufficient_funds")
        return False, behaviour

    def _record(self, requests: Sequence[ChargeRequest]) -> dict[str, _Charge]:
        """Record a decision for each request whose key is new; return every key's row."""
        forbid_transaction("a gateway call")
        keys = [r.idempotency_key for r in requests]
        existing = _charges(keys)
        fresh = [r for r in requests if r.idempotency_key not in existing]
        failures: dict[str, int] = {}
        for token in {r.token for r in fresh if behaviour_of(r.token).startswith("failthen")}:
            failures[token] = SandboxCharge.objects.filter(token=token, succeeded=False).count()
        rows = []
        now = datetime.now(UTC)
        for r in fresh:
            ok, code = self._decide(r, failures.get(r.token, 0))
            if not ok and r.token in failures:
                failures[r.token] += 1
            rows.append(
                (
                    r.idempotency_key,
                    r.token,
                    r.amount,
                    r.currency,
                    ok,
                    code,
                    _reference(r.idempotency_key),
                    0,
                    now,
                )
            )
        try:
            with transaction.atomic():
                rows_insert(SandboxCharge, CHARGE_COLUMNS, rows)
        except IntegrityError:
            # A concurrent replay of the same key won; its answer is the answer.
            for row in rows:
                SandboxCharge.objects.get_or_create(
                    idempotency_key=row[0],
                    defaults=dict(zip(CHARGE_COLUMNS[1:], row[1:], strict=True)),
                )
        return _charges(keys)

    def charge(self, request: ChargeRequest) -> ChargeResult:
        row = self._record([request])[request.idempotency_key]
        if behaviour_of(request.token) == "lost_reply":
            raise GatewayTimeout(f"no reply for {request.idempotency_key}")
        return _result(row)

    def charge_many(self, requests: Sequence[ChargeRequest]) -> list[ChargeResult | None]:
        rows = self._record(requests)
        return [
            None if behaviour_of(r.token) == "lost_reply" else _result(rows[r.idempotency_key])
            for r in requests
        ]

    def lookup(self, request: ChargeRequest) -> ChargeResult | None:
        row = _charges([request.idempotency_key]).get(request.idempotency_key)
        return _result(row) if row else None

    def refund(
        self,
        *,
        idempotency_key: str,
        charge_reference: str,
        amount: int,
        currency: str,
        organization_id: int | None = None,
    ) -> RefundResult:
        updated = SandboxCharge.objects.filter(
            reference=charge_reference,
            succeeded=True,
            currency=currency,
            refunded__lte=F("amount") - amount,
        ).update(refunded=F("refunded") + amount)
        if not updated:
            return RefundResult(idempotency_key, False, message="charge not found or over-refunded")
        return RefundResult(
            idempotency_key, True, reference="re_" + _reference(idempotency_key)[3:]
        )

    def account_updates(
        self, tokens: Sequence[tuple[str, int, int]], today: date
    ) -> dict[str, tuple[int, int]]:
        """The account updater: for cards expiring within 30 days, the issuer renewed
        two in three (by a stable hash of the card's fingerprint) with a new expiry three
        years on."""
        updates: dict[str, tuple[int, int]] = {}
        for token, month, year in tokens:
            expiry_end = date(year + (month // 12), month % 12 + 1, 1)
            if (expiry_end - today).days > 31:
                continue
            fingerprint = token.rsplit("_", 2)[-2] if token.count("_") >= 3 else token
            if int(hashlib.sha256(fingerprint.encode()).hexdigest(), 16) % 3 == 0:
                continue
            updates[token] = (month, year + 3)
        return updates
