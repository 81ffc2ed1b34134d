from __future__ import annotations

from typing import Any

from django.utils import timezone
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions, permissions
from rest_framework.request import Request

from dues.api.models import ApiKey


class ApiKeyAuthentication(authentication.BaseAuthentication):
    """``Authorization: Bearer dk_xxxx.secret``: the request acts for the key's organization."""

    keyword = "Bearer"

    def authenticate(self, request: Request) -> tuple[Any, ApiKey] | None:
        header = authentication.get_authorization_header(request).decode("latin-1")
        if not header:
            return None
        parts = header.split()
        if len(parts) != 2 or parts[0] != self.keyword:
            raise exceptions.AuthenticationFailed("use 'Authorization: Bearer <api key>'")
        secret = parts[1]
        prefix = secret.split(".", 1)[0]
        key = (
            ApiKey.objects.select_related("organization").filter(prefix=prefix, active=True).first()
        )
        if key is None or key.secret_hash != ApiKey.hash_secret(secret):
            raise exceptions.AuthenticationFailed("unknown or revoked API key")
        ApiKey.objects.filter(pk=key.pk).update(last_used_at=timezone.now())
        return (key, key)

    def authenticate_header(self, request: Request) -> str:
        return self.keyword


class HasOrganization(permissions.BasePermission):
    message = "an API key is required"

    def has_permission(self, request: Request, view: Any) -> bool:
        return isinstance(request.auth, ApiKey)


class ApiKeyAuthenticationScheme(OpenApiAuthenticationExtension):  # type: ignore[no-untyped-call]
    """Describes ``Authorization: Bearer <api key>`` in the OpenAPI schema."""

    target_class = "dues.api.auth.ApiKeyAuthentication"
    name = "ApiKeyAuth"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {"type": "http", "scheme": "bearer", "bearerFormat": "dk_<prefix>.<secret>"}
