"""Reads about organizations that several apps share."""

from __future__ import annotations

from datetime import date

from dues.core.clock import Clock, local_date
from dues.core.models import Location


def organizations_today(*, clock: Clock, organization_id: int | None = None) -> dict[int, date]:
    """Each organization's current day: the earliest local date among its locations, so
    nothing dated runs for a location before its own midnight."""
    locations = Location.objects.all()
    if organization_id is not None:
        locations = locations.filter(organization_id=organization_id)
    now = clock.now()
    days: dict[int, date] = {}
    for org_id, tz in locations.values_list("organization_id", "timezone"):
        today = local_date(now, tz)
        days[org_id] = min(days.get(org_id, today), today)
    return days


def organization_today(*, clock: Clock, organization_id: int) -> date:
    """The organization's current day; UTC's for one without a location yet."""
    days = organizations_today(clock=clock, organization_id=organization_id)
    return days.get(organization_id, local_date(clock.now(), "UTC"))


def organization_zone(*, organization_id: int) -> str:
    """The time zone the organization's own staff read times in: its first location's
    (the one it was set up with); UTC for one without a location yet."""
    zone = (
        Location.objects.filter(organization_id=organization_id)
        .order_by("id")
        .values_list("timezone", flat=True)
        .first()
    )
    return zone or "UTC"
