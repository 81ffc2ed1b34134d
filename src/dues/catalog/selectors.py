from __future__ import annotations

from dues.catalog.models import TaxRate


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
