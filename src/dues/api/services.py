"""Issuing API keys: the plaintext secret is returned once and only its hash is kept."""

from __future__ import annotations

from django.core.exceptions import ValidationError

from dues.api.models import ApiKey
from dues.core.clock import Clock
from dues.core.models import Organization


def api_key_create(*, organization: Organization, name: str, clock: Clock) -> tuple[ApiKey, str]:
    name = name.strip()
    if not name:
        raise ValidationError({"name": "give the key a name"})
    prefix, secret = ApiKey.generate()
    key = ApiKey.objects.create(
        organization=organization,
        name=name,
        prefix=prefix,
        secret_hash=ApiKey.hash_secret(secret),
        created_at=clock.now(),
    )
    return key, secret
