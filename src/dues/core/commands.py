"""What the product's management commands share."""

from __future__ import annotations

from django.core.management.base import CommandError

from dues.core.models import Organization


def organization_from_slug(slug: str) -> Organization:
    org = Organization.objects.filter(slug=slug).first()
    if org is None:
        raise CommandError(f"no organization with slug {slug!r}")
    return org
