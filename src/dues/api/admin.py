"""API keys and the idempotency store.

Only a hash of a key's secret is kept, so the admin can name or revoke a key but never
shows or accepts a secret. Issuing keys (which shows the secret once) is not done here.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from dues.api.models import ApiKey, IdempotentRequest
from dues.core.admin import DuesModelAdmin, ReadOnlyModelAdmin, pretty_json


@admin.register(ApiKey)
class ApiKeyAdmin(DuesModelAdmin):
    list_display = ("name", "prefix", "active", "organization", "created_at", "last_used_at")
    list_filter = ("active", "organization")
    search_fields = ("name", "prefix", "organization__name")
    list_select_related = ("organization",)
    fields = (
        "organization",
        "name",
        "prefix",
        "active",
        "secret_hash",
        "created_at",
        "last_used_at",
    )
    readonly_fields = ("organization", "prefix", "secret_hash", "created_at", "last_used_at")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # revoke by clearing "active"; the row stays for the audit trail


@admin.register(IdempotentRequest)
class IdempotentRequestAdmin(ReadOnlyModelAdmin):
    list_display = ("key", "method", "path", "status_code", "organization", "created_at")
    list_filter = ("organization",)
    ordering = ("-id",)
    search_fields = ("key", "path")
    list_select_related = ("organization",)
    date_hierarchy = "created_at"
    fields = (
        "organization",
        "key",
        "method",
        "path",
        "request_hash",
        "status_code",
        "response_pretty",
        "created_at",
    )

    @admin.display(description=_("Response body"))
    def response_pretty(self, obj: IdempotentRequest) -> str:
        return pretty_json(obj.response_body)
