"""What a decline means for the next attempt.

Gateways report a decline code (Stripe's names; raw ISO 8583 response codes are accepted
too) and, for Mastercard, a merchant advice code (MAC). The card networks forbid
retrying some of them at all and fine merchants who do ("excessive reattempts"):

- Visa category 1, "issuer will never approve": 04, 07, 12, 14, 15, 41, 43, 46, 57, R0,
  R1, R3 (and their Stripe names: pickup_card, lost_card, stolen_card, ...).
- Mastercard MAC 03 "do not try again" and 21 "payment cancelled": never again on this
  card. MAC 01 "new account information available": wait for the updated card. MAC 24–30:
  "retry after" 1 hour, 24 hours, 2, 4, 6, 8 and 10 days.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum


class Category(StrEnum):
    HARD = "hard"  # never retried: ask the member for another card
    EXPIRED = "expired"  # wait for a card update (portal or account updater)
    FUNDS = "funds"  # insufficient funds: retry after payday
    SOFT = "soft"  # do not honor, generic: wait a day or three
    PROCESSING = "processing"  # the network or issuer failed: retry within hours


HARD_CODES = frozenset(
    {
        "lost_card",
        "stolen_card",
        "pickup_card",
        "restricted_card",
        "fraudulent",
        "merchant_blacklist",
        "security_violation",
        "invalid_account",
        "invalid_number",
        "card_not_supported",
        "transaction_not_allowed",
        "revocation_of_authorization",
        "revocation_of_all_authorizations",
        "stop_payment_order",
        "do_not_try_again",
        "incorrect_cvc",  # cannot be fixed without the member
        "incorrect_number",
        # Visa category 1 response codes, as raw codes.
        "04",
        "07",
        "12",
        "14",
        "15",
        "41",
        "43",
        "46",
        "57",
        "R0",
        "R1",
        "R3",
    }
)
# "no_payment_method": the invoice fell due with no card on file; also waits for one.
# "authentication_required": the bank wants the member present (3-D Secure); they pay
# through the invoice link or save a card again, so it waits for them the same way.
EXPIRED_CODES = frozenset(
    {
        "expired_card",
        "54",
        "invalid_expiry_year",
        "invalid_expiry_month",
        "no_payment_method",
        "authentication_required",
    }
)
FUNDS_CODES = frozenset(
    {
        "insufficient_funds",
        "51",
        "withdrawal_count_limit_exceeded",
        "card_velocity_exceeded",
        "61",
        "65",
    }
)
PROCESSING_CODES = frozenset(
    {
        "processing_error",
        "issuer_not_available",
        "try_again_later",
        "reenter_transaction",
        "91",
        "96",
        "19",
    }
)

# Mastercard merchant advice codes that wait a fixed time before the next attempt.
MAC_RETRY_AFTER = {
    "24": timedelta(hours=1),
    "25": timedelta(hours=24),
    "26": timedelta(days=2),
    "27": timedelta(days=4),
    "28": timedelta(days=6),
    "29": timedelta(days=8),
    "30": timedelta(days=10),
}


@dataclass(frozen=True)
class Decline:
    category: Category
    retry_after: timedelta  # the earliest next attempt, from the failure
    reason: str

    @property
    def retryable(self) -> bool:
        return self.category not in (Category.HARD, Category.EXPIRED)


def decline_classify(decline_code: str, advice_code: str = "") -> Decline:
    """Classify a decline; the advice code, when the network sent one, wins."""
    if advice_code in ("03", "21"):
        return Decline(Category.HARD, timedelta(0), f"Mastercard advice {advice_code}: never retry")
    if advice_code == "01":
        return Decline(Category.EXPIRED, timedelta(0), "Mastercard advice 01: card details changed")
    category = _category(decline_code)
    if advice_code in MAC_RETRY_AFTER:
        wait = MAC_RETRY_AFTER[advice_code]
        return Decline(
            category if category != Category.HARD else Category.SOFT,
            wait,
            f"Mastercard advice {advice_code}: retry after {_describe(wait)}",
        )
    return Decline(category, DEFAULT_WAIT[category], f"{decline_code or 'declined'}: {category}")


DEFAULT_WAIT = {
    Category.HARD: timedelta(0),
    Category.EXPIRED: timedelta(0),
    Category.FUNDS: timedelta(hours=24),
    Category.SOFT: timedelta(hours=24),
    Category.PROCESSING: timedelta(hours=1),
}


def _category(code: str) -> Category:
    if code in HARD_CODES:
        return Category.HARD
    if code in EXPIRED_CODES:
        return Category.EXPIRED
    if code in FUNDS_CODES:
        return Category.FUNDS
    if code in PROCESSING_CODES:
        return Category.PROCESSING
    return Category.SOFT  # do_not_honor, generic_decline and codes we do not know


def _describe(wait: timedelta) -> str:
    if wait < timedelta(days=1):
        return f"{int(wait.total_seconds() // 3600)} h"
    return f"{wait.days} d"
