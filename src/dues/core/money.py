"""Money as integers in the currency's minor unit (never a float).

The exponent of each ISO 4217 currency comes from Babel's CLDR data (SEK 2, JPY 0, ...).
Rounding rule used everywhere a fraction appears (tax, percent discounts, proration):
round half away from zero, once per invoice line, on the line's amount.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction

from babel.core import Locale
from babel.numbers import format_currency, get_currency_precision, list_currencies

# Above this an amount is a typing error, not a gym fee (≈ 10 million in major units).
MAX_MINOR_AMOUNT = 10_000_000_00

_KNOWN_CURRENCIES = frozenset(list_currencies())


class MoneyError(ValueError):
    """An amount or currency that cannot be money."""


def validate_currency(code: str) -> str:
    code = (code or "").upper()
    if code not in _KNOWN_CURRENCIES:
        raise MoneyError(f"unknown currency {code!r}: use an ISO 4217 code such as SEK or EUR")
    return code


def exponent(currency: str) -> int:
    return int(get_currency_precision(validate_currency(currency)))


def validate_amount(amount: int, *, allow_zero: bool = True, field: str = "amount") -> int:
    if isinstance(amount, bool) or not isinstance(amount, int):
        raise MoneyError(f"{field} must be an integer in the currency's minor unit")
    if amount < 0:
        raise MoneyError(f"{field} must not be negative")
    if amount == 0 and not allow_zero:
        raise MoneyError(f"{field} must be greater than zero")
    if amount > MAX_MINOR_AMOUNT:
        raise MoneyError(f"{field} {amount} is larger than any gym charge ({MAX_MINOR_AMOUNT})")
    return amount


def round_half_up(value: Fraction) -> int:
    """Round a rational amount of minor units half away from zero."""
    sign = -1 if value < 0 else 1
    magnitude = abs(value)
    whole, remainder = divmod(magnitude.numerator, magnitude.denominator)
    if remainder * 2 >= magnitude.denominator:
        whole += 1
    return sign * whole


def percent_of(amount: int, basis_points: int) -> int:
    """``amount × basis_points / 10000`` rounded half up (2500 bp = 25%)."""
    return round_half_up(Fraction(amount * basis_points, 10000))


def tax_exclusive_part(gross: int, rate_bp: int) -> tuple[int, int]:
    """Split a tax-inclusive ``gross`` into (net, tax); tax is rounded, net takes the rest."""
    tax = round_half_up(Fraction(gross * rate_bp, 10000 + rate_bp))
    return gross - tax, tax


def allocate(total: int, weights: list[int]) -> list[int]:
    """Split ``total`` across ``weights`` proportionally; the parts sum exactly to ``total``.

    Largest-remainder method: floor every share, then hand the leftover units to the
    shares with the largest remainders (earliest first on ties).
    """
    if not weights:
        raise MoneyError("cannot allocate across no weights")
    weight_sum = sum(weights)
    if weight_sum == 0:
        parts = [0] * len(weights)
        parts[0] = total
        return parts
    floors = [total * w // weight_sum for w in weights]
    remainders = [total * w % weight_sum for w in weights]
    leftover = total - sum(floors)
    order = sorted(range(len(weights)), key=lambda i: (-remainders[i], i))
    for i in order[:leftover]:
        floors[i] += 1
    return floors


def to_decimal(amount: int, currency: str) -> Decimal:
    return Decimal(amount).scaleb(-exponent(currency))


def from_decimal(value: Decimal | str, currency: str) -> int:
    """Major-unit decimal (``"199.00"``) to minor units; refuses sub-minor precision."""
    quantum = Decimal(1).scaleb(-exponent(currency))
    dec = Decimal(value)
    if dec.quantize(quantum, rounding=ROUND_HALF_UP) != dec:
        raise MoneyError(f"{value} has more decimals than {currency} allows")
    return int(dec.scaleb(exponent(currency)))


def format_money(amount: int, currency: str, locale: str = "en") -> str:
    return format_currency(to_decimal(amount, currency), currency, locale=Locale.parse(locale))
