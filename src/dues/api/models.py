from __future__ import annotations

import hashlib
import secrets

from django.db import models

from dues.core.models import OrgOwned


class ApiKey(OrgOwned):
    """An organization-scoped key. Only a SHA-256 of the secret is stored."""

    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=12, unique=True)
    secret_hash = models.CharField(max_length=64)
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField()
    last_used_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @staticmethod
    def hash_secret(secret: str) -> str:
        return hashlib.sha256(secret.encode()).hexdigest()

    @staticmethod
    def generate() -> tuple[str, str]:
        prefix = "dk_" + secrets.token_hex(4)
        return prefix, f"{prefix}.{secrets.token_urlsafe(32)}"


class IdempotentRequest(OrgOwned):
    """A POST replayed with the same ``Idempotency-Key`` gets the stored response back."""

    key = models.CharField(max_length=255)
    method = models.CharField(max_length=8)
    path = models.CharField(max_length=300)
    request_hash = models.CharField(max_length=64)
    status_code = models.PositiveSmallIntegerField(null=True)
    response_body = models.JSONField(null=True)
    created_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["organization", "key"], name="idempotent_key_per_org")
        ]

    def __str__(self) -> str:
        return f"{self.method} {self.path} [{self.key}]"
