"""Monthly recurring revenue: a price per billing interval made monthly. The one copy of
the normalisation: the staff dashboard and ``dues simulate`` both use it."""

from __future__ import annotations

# Monthly-normalised price = price * numerator / denominator: a week is 52/12 of a month
# (52 weeks a year), a quarter a third, a year a twelfth.
MONTHLY_FACTOR: dict[str, tuple[int, int]] = {
    "week": (52, 12),
    "month": (1, 1),
    "quarter": (1, 3),
    "year": (1, 12),
}


def monthly_price(price: int, interval: str) -> int:
    """``price`` per ``interval`` as an amount per month, in the same minor units, rounded
    down. Pass a sum of prices of one interval to round once for all of them. KeyError for
    an interval with no factor."""
    num, den = MONTHLY_FACTOR[interval]
    return price * num // den
