"""What joining a plan costs, and which memberships a plan's prices reach: reads only.

``first_charge`` builds the membership a sign-up today would create with
``subscription_build`` (checked, never saved) and prices it with
``subscription_preview_next``, the billing run's own code: the first invoice (joining fee,
the first period, which starts after any trial, tax as the organization states prices),
then, moving the unsaved membership past that period exactly as the run does
(``subscription_period_invoiced``), the charge after it. Nothing here reads the plan back
from the database, so a plan being edited and not yet saved previews the same way; the
join page (``portal.join``) and the staff plan editor share this one copy.
"""

from __future__ import annotations

import copy
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

from django.db.models import Count

from dues.billing.models import Subscription, SubscriptionAddOn, SubscriptionStatus
from dues.billing.pricing import LineSpec
from dues.billing.run import subscription_next_period, subscription_period_invoiced
from dues.billing.services import (
    cancellation_date,
    subscription_build,
    subscription_preview_next,
    today_at,
)
from dues.catalog.models import Plan
from dues.core.clock import Clock
from dues.core.models import Location, Organization
from dues.members.models import Member

# Memberships still running (a cancellation that takes effect later included).
LIVE_STATUSES = (
    SubscriptionStatus.PENDING,
    SubscriptionStatus.TRIALING,
    SubscriptionStatus.ACTIVE,
    SubscriptionStatus.FROZEN,
)


@dataclass(frozen=True)
class FirstCharge:
    """Joining today: the first invoice (``on``: today, or the day a trial ends), the
    charge after it, and the earliest end for someone who gave notice on day one."""

    on: date
    total: int
    lines: list[LineSpec]
    trial_end: date | None
    minimum_term_end: date | None
    next_on: date
    next_total: int
    earliest_end: date


def first_charge(
    *, organization: Organization, plan: Plan, location: Location, clock: Clock
) -> FirstCharge:
    """What joining ``plan`` at ``location`` today costs and when it is charged, priced by
    the billing run's own rules on a membership that is built and not saved. ``plan`` may
    be unsaved (a plan being edited); raises ``SubscriptionError`` when nobody could join
    it there (not sold any more, another currency)."""
    visitor = Member(organization=organization)
    start = today_at(location, clock)
    sub = subscription_build(
        member=visitor,
        plan=plan,
        location=location,
        start_date=start,
        clock=clock,
        sold_online=True,
    )
    first = subscription_preview_next(sub)
    assert sub.next_billing_date is not None
    after = copy.copy(sub)
    subscription_period_invoiced(after, subscription_next_period(after))
    second = subscription_preview_next(after)
    assert after.next_billing_date is not None
    return FirstCharge(
        on=sub.next_billing_date,
        total=first["total"],
        lines=first["lines"],
        trial_end=sub.trial_end,
        minimum_term_end=sub.minimum_term_end,
        next_on=after.next_billing_date,
        next_total=second["total"],
        earliest_end=cancellation_date(after, start),
    )


@dataclass(frozen=True)
class PriceCount:
    """``count`` running memberships paying ``price`` (minor units of ``currency``)."""

    price: int
    currency: str
    count: int


def plan_memberships_by_price(
    *, organization_id: int, plan_ids: Iterable[int] | None = None
) -> dict[int, list[PriceCount]]:
    """Per plan, the running memberships on it grouped by the price each pays (fixed at
    sign-up or at its last plan change), lowest price first."""
    rows = Subscription.objects.filter(organization_id=organization_id, status__in=LIVE_STATUSES)
    if plan_ids is not None:
        rows = rows.filter(plan_id__in=list(plan_ids))
    found: dict[int, list[PriceCount]] = defaultdict(list)
    for plan_id, price, currency, n in (
        rows.values_list("plan_id", "price", "currency")
        .annotate(n=Count("id"))
        .order_by("plan_id", "price", "currency")
    ):
        found[plan_id].append(PriceCount(price=price, currency=currency, count=n))
    return dict(found)


def plan_changes_scheduled(*, organization_id: int, plan_id: int) -> int:
    """Running memberships due to move to this plan at the end of their period: they take
    the plan's price as it is on that day (``billing.run.switch_to_pending_plan``)."""
    return Subscription.objects.filter(
        organization_id=organization_id, pending_plan_id=plan_id, status__in=LIVE_STATUSES
    ).count()


def addon_memberships_by_price(*, organization_id: int) -> dict[int, list[PriceCount]]:
    """Per add-on, the running memberships carrying it grouped by the unit price each
    pays (fixed when it was added)."""
    rows = SubscriptionAddOn.objects.filter(
        organization_id=organization_id, subscription__status__in=LIVE_STATUSES
    )
    found: dict[int, list[PriceCount]] = defaultdict(list)
    for addon_id, price, currency, n in (
        rows.values_list("addon_id", "unit_price", "subscription__currency")
        .annotate(n=Count("id"))
        .order_by("addon_id", "unit_price", "subscription__currency")
    ):
        found[addon_id].append(PriceCount(price=price, currency=currency, count=n))
    return dict(found)
