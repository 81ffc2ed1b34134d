from __future__ import annotations

from datetime import datetime

from django.db.models import Q, QuerySet

from dues.catalog.models import Contract, ContractVersion, Plan, TaxRate
from dues.core.models import Location


def tax_rate_bp(*, location_id: int, category: str) -> int:
    """The rate for ``category`` at a location; 0 when none is configured (exempt)."""
    rate = (
        TaxRate.objects.filter(location_id=location_id, category=category)
        .values_list("rate_bp", flat=True)
        .first()
    )
    return int(rate or 0)


def tax_rates_for_locations(location_ids: set[int]) -> dict[tuple[int, str], int]:
    rows = TaxRate.objects.filter(location_id__in=location_ids).values_list(
        "location_id", "category", "rate_bp"
    )
    return {(loc, cat): int(bp) for loc, cat, bp in rows}


def plans_sold_online(location: Location) -> QuerySet[Plan]:
    """Plans a visitor may join at this location: active, sold online, priced in the
    location's currency, and sold there (a plan with no locations is sold at all)."""
    return (
        Plan.objects.filter(
            organization_id=location.organization_id,
            active=True,
            sold_online=True,
            currency=location.currency,
        )
        .filter(Q(locations=location) | Q(locations__isnull=True))
        .distinct()
        .order_by("price", "name")
    )


def contract_version_current(
    contract: Contract, *, language: str, now: datetime
) -> ContractVersion | None:
    """The wording a member joining now signs: the latest published version, in their
    language when it has been translated, else in the first language it was written in."""
    latest = (
        ContractVersion.objects.filter(contract=contract, published_at__lte=now)
        .order_by("-version")
        .values_list("version", flat=True)
        .first()
    )
    if latest is None:
        return None
    versions = ContractVersion.objects.filter(contract=contract, version=latest)
    return versions.filter(language=language).first() or versions.order_by("id").first()
