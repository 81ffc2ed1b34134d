"""The chart of accounts every organization starts with."""

from __future__ import annotations

from dues.catalog.models import RevenueCategory

RECEIVABLE = "1100"
CLEARING = "1200"  # money the gateway holds for us until payout
CASH = "1000"  # cash and card terminal takings at the desk
DISPUTED = "1300"  # payments the card network took back while a dispute is open
TAX_PAYABLE = "2200"
MEMBER_CREDIT = "2300"
REFUNDS = "4900"  # contra-revenue: credit notes and refunds
BAD_DEBT = "6100"
CHARGEBACKS = "6200"  # disputes lost

REVENUE_BY_CATEGORY: dict[str, str] = {
    RevenueCategory.MEMBERSHIP: "4000",
    RevenueCategory.JOINING_FEE: "4010",
    RevenueCategory.ADDON: "4020",
    RevenueCategory.FREEZE_FEE: "4030",
    RevenueCategory.LATE_FEE: "4040",
    RevenueCategory.PRODUCT: "4100",
    RevenueCategory.OTHER: "4800",
}

CHART: list[tuple[str, str, str]] = [
    (CASH, "Cash and desk terminal", "asset"),
    (RECEIVABLE, "Accounts receivable (members)", "asset"),
    (CLEARING, "Payment gateway clearing", "asset"),
    (DISPUTED, "Disputed payments held by the card network", "asset"),
    (TAX_PAYABLE, "Tax payable", "liability"),
    (MEMBER_CREDIT, "Member credit balances", "liability"),
    ("4000", "Revenue: memberships", "income"),
    ("4010", "Revenue: joining fees", "income"),
    ("4020", "Revenue: add-ons and services", "income"),
    ("4030", "Revenue: freeze fees", "income"),
    ("4040", "Revenue: late fees", "income"),
    ("4100", "Revenue: products", "income"),
    ("4800", "Revenue: other", "income"),
    (REFUNDS, "Refunds and credit notes", "income"),
    (BAD_DEBT, "Bad debt written off", "expense"),
    (CHARGEBACKS, "Chargebacks lost", "expense"),
]
