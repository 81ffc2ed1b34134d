from __future__ import annotations

from django.db import transaction

from dues.core.clock import Clock
from dues.core.models import Location, Organization, Sequence


def organization_create(
    *,
    name: str,
    slug: str,
    clock: Clock,
    prices_include_tax: bool = True,
    default_currency: str = "SEK",
    invoice_prefix: str = "INV",
    **details: str,
) -> Organization:
    """A new business with its numbering sequences; the ledger chart is added by the
    ledger app on first posting (``ledger.services.chart_create``)."""
    with transaction.atomic():
        org = Organization(
            name=name,
            slug=slug,
            prices_include_tax=prices_include_tax,
            default_currency=default_currency,
            invoice_prefix=invoice_prefix,
            created_at=clock.now(),
            **details,
        )
        org.full_clean()
        org.save()
        for seq in ("invoice", "credit_note"):
            Sequence.objects.create(organization=org, name=seq)
    return org


def location_create(
    *,
    organization: Organization,
    name: str,
    timezone: str,
    currency: str,
    country: str,
    locale: str = "en",
    address: str = "",
) -> Location:
    loc = Location(
        organization=organization,
        name=name,
        timezone=timezone,
        currency=currency.upper(),
        country=country.upper(),
        locale=locale,
        address=address,
    )
    loc.full_clean()
    loc.save()
    return loc
