"""Attendance, read from the decision log: visits by hour and weekday (in each location's
own time zone), per location and plan, and the members not seen for N days (the at-risk
list; as a queryset it is also a segment for marketing)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from django.db.models import Count, Exists, F, Max, OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import ExtractHour, ExtractIsoWeekDay

from dues.access.models import AccessDecision
from dues.billing.models import Subscription, SubscriptionStatus
from dues.catalog.models import Plan
from dues.core.clock import Clock
from dues.core.models import Location
from dues.members.models import Member


def _entries(organization_id: int, since: datetime, until: datetime) -> QuerySet[AccessDecision]:
    return AccessDecision.objects.filter(
        organization_id=organization_id, allowed=True, at__gte=since, at__lt=until
    )


def visits_by_hour_and_weekday(
    *,
    organization_id: int,
    since: datetime,
    until: datetime,
    location_id: int | None = None,
    plan_id: int | None = None,
) -> list[list[int]]:
    """Entries in ``[since, until)`` as a 7 × 24 grid: ``grid[weekday][hour]`` with
    Monday = 0, each entry counted at its location's local hour."""
    grid = [[0] * 24 for _ in range(7)]
    locations = Location.objects.filter(organization_id=organization_id)
    if location_id is not None:
        locations = locations.filter(pk=location_id)
    for location in locations:
        tz = ZoneInfo(location.timezone)
        rows = _entries(organization_id, since, until).filter(location_id=location.pk)
        if plan_id is not None:
            rows = rows.filter(plan_id_at_entry=plan_id)
        counted = (
            rows.annotate(wd=ExtractIsoWeekDay("at", tzinfo=tz), hr=ExtractHour("at", tzinfo=tz))
            .values("wd", "hr")
            .annotate(n=Count("id"))
            .order_by()
        )
        for row in counted:
            grid[row["wd"] - 1][row["hr"]] += row["n"]
    return grid


@dataclass(frozen=True)
class VisitsRow:
    location: str
    plan: str
    visits: int
    members: int


def visits_by_location_and_plan(
    *, organization_id: int, since: datetime, until: datetime
) -> list[VisitsRow]:
    """Entries and distinct members per location and plan (a visit-pack entry has no plan)."""
    rows = (
        _entries(organization_id, since, until)
        .values("location_id", "plan_id_at_entry")
        .annotate(n=Count("id"), people=Count("member_id", distinct=True))
        .order_by()
    )
    names = dict(Location.objects.filter(organization_id=organization_id).values_list("id", "name"))
    plans = dict(Plan.objects.filter(organization_id=organization_id).values_list("id", "name"))
    out = [
        VisitsRow(
            location=names.get(r["location_id"], "?"),
            plan=plans.get(r["plan_id_at_entry"], "Visit pack / override")
            if r["plan_id_at_entry"]
            else "Visit pack / override",
            visits=r["n"],
            members=r["people"],
        )
        for r in rows
    ]
    return sorted(out, key=lambda r: (r.location, r.plan))


@dataclass(frozen=True)
class AtRisk:
    member: Member
    last_visit: datetime | None


def at_risk_queryset(*, organization_id: int, days: int, clock: Clock) -> QuerySet[Member]:
    """Members with a current membership not seen for ``days``: their last entry is older,
    or they never entered and joined more than ``days`` ago. Annotated ``last_visit``."""
    if days < 1:
        raise ValueError("days: must be at least 1")
    cutoff = clock.now() - timedelta(days=days)
    last = (
        AccessDecision.objects.filter(member_id=OuterRef("pk"), allowed=True)
        .order_by()
        .values("member_id")
        .annotate(last=Max("at"))
        .values("last")
    )
    current = Subscription.objects.filter(
        member_id=OuterRef("pk"),
        status__in=[SubscriptionStatus.ACTIVE, SubscriptionStatus.TRIALING],
    )
    return (
        Member.objects.filter(organization_id=organization_id)
        .filter(Exists(current))
        .annotate(last_visit=Subquery(last))
        .filter(Q(last_visit__lt=cutoff) | Q(last_visit__isnull=True, created_at__lt=cutoff))
        .order_by(F("last_visit").asc(nulls_first=True), "id")
    )


def at_risk_members(
    *, organization_id: int, days: int, clock: Clock, limit: int = 100
) -> list[AtRisk]:
    return [
        AtRisk(member=m, last_visit=m.last_visit)  # type: ignore[attr-defined]
        for m in at_risk_queryset(organization_id=organization_id, days=days, clock=clock)[:limit]
    ]
