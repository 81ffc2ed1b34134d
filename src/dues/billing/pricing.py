"""Invoice-line arithmetic: pure functions, no database.

Rounding rule (written once, used everywhere): every fraction of a minor unit is rounded
half away from zero, once per line, on the line's amount:
- percent discount: ``round(gross × bp / 10000)``; a fixed discount is capped at the gross;
- proration: ``round(price × days_used / days_in_period)``;
- tax-inclusive prices: ``tax = round(gross × rate / (1 + rate))``, net = gross − tax;
- tax-exclusive prices: ``tax = round(net × rate)``.
Invoice totals are sums of the already-rounded lines, so they never drift.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from fractions import Fraction

from dues.core.money import percent_of, round_half_up, tax_exclusive_part


@dataclass(frozen=True)
class LineSpec:
    kind: str
    description: str
    quantity: int
    unit_amount: int
    discount_amount: int
    tax_rate_bp: int
    net_amount: int
    tax_amount: int
    revenue_category: str
    subscription_id: int | None = None
    period_start: date | None = None
    period_end: date | None = None

    @property
    def total(self) -> int:
        return self.net_amount + self.tax_amount


def discount_for(gross: int, *, percent_bp: int = 0, amount_off: int = 0) -> int:
    if percent_bp:
        return min(gross, percent_of(gross, percent_bp))
    return min(gross, amount_off)


def prorate(amount: int, fraction: Fraction) -> int:
    return round_half_up(amount * fraction)


def line_build(
    *,
    kind: str,
    description: str,
    unit_amount: int,
    revenue_category: str,
    tax_rate_bp: int,
    prices_include_tax: bool,
    quantity: int = 1,
    discount_amount: int = 0,
    subscription_id: int | None = None,
    period_start: date | None = None,
    period_end: date | None = None,
) -> LineSpec:
    """One line; ``unit_amount`` may be negative for a proration credit."""
    gross = unit_amount * quantity - discount_amount
    if prices_include_tax:
        net, tax = tax_exclusive_part(gross, tax_rate_bp)
    else:
        net, tax = gross, percent_of(gross, tax_rate_bp)
    return LineSpec(
        kind=kind,
        description=description,
        quantity=quantity,
        unit_amount=unit_amount,
        discount_amount=discount_amount,
        tax_rate_bp=tax_rate_bp,
        net_amount=net,
        tax_amount=tax,
        revenue_category=revenue_category,
        subscription_id=subscription_id,
        period_start=period_start,
        period_end=period_end,
    )
