"""What a subscription owes for one period: a pure function of the subscription, its plan,
add-ons, coupon and the tax rate (so previews need no database writes)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta

from dues.billing.periods import Period
from dues.billing.pricing import LineSpec, discount_for, line_build, prorate
from dues.catalog.models import RevenueCategory


@dataclass(frozen=True)
class CouponTerms:
    percent_bp: int
    amount_off: int
    name: str


@dataclass(frozen=True)
class AddOnTerms:
    name: str
    quantity: int
    unit_price: int
    tax_rate_bp: int


def period_label(period: Period) -> str:
    last_day = period.end - timedelta(days=1)
    return f"{period.start.isoformat()} – {last_day.isoformat()}"


def period_lines(
    *,
    subscription_id: int,
    plan_name: str,
    price: int,
    period: Period,
    tax_rate_bp: int,
    prices_include_tax: bool,
    joining_fee: int = 0,
    coupon: CouponTerms | None = None,
    addons: Sequence[AddOnTerms] = (),
) -> list[LineSpec]:
    fraction = period.fraction
    amount = prorate(price, fraction)
    discount = 0
    if coupon is not None:
        discount = discount_for(amount, percent_bp=coupon.percent_bp, amount_off=coupon.amount_off)
    label = period_label(period)
    lines = [
        line_build(
            kind="plan",
            description=f"{plan_name}, {label}" + (" (prorated)" if period.is_stub else ""),
            unit_amount=amount,
            discount_amount=discount,
            revenue_category=RevenueCategory.MEMBERSHIP,
            tax_rate_bp=tax_rate_bp,
            prices_include_tax=prices_include_tax,
            subscription_id=subscription_id,
            period_start=period.start,
            period_end=period.end,
        )
    ]
    if joining_fee:
        lines.append(
            line_build(
                kind="joining_fee",
                description=f"Joining fee, {plan_name}",
                unit_amount=joining_fee,
                revenue_category=RevenueCategory.JOINING_FEE,
                tax_rate_bp=tax_rate_bp,
                prices_include_tax=prices_include_tax,
                subscription_id=subscription_id,
            )
        )
    for addon in addons:
        lines.append(
            line_build(
                kind="addon",
                description=f"{addon.name}, {label}",
                unit_amount=prorate(addon.unit_price, fraction),
                quantity=addon.quantity,
                revenue_category=RevenueCategory.ADDON,
                tax_rate_bp=addon.tax_rate_bp,
                prices_include_tax=prices_include_tax,
                subscription_id=subscription_id,
                period_start=period.start,
                period_end=period.end,
            )
        )
    return lines
