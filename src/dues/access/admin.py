"""Access rows are written by services (credentials by staff on the member profile,
devices by ``dues access_device_add`` which shows the key once, decisions by the door), so
the admin only shows them."""

from __future__ import annotations

from django.contrib import admin

from dues.access.models import AccessDecision, AccessDevice, Credential, VisitPack
from dues.core.admin import ReadOnlyModelAdmin


@admin.register(Credential)
class CredentialAdmin(ReadOnlyModelAdmin):
    list_display = ("member", "kind", "value", "issued_at", "revoked_at")
    list_filter = ("kind",)
    search_fields = ("value", "member__last_name", "member__email")
    list_select_related = ("member",)
    exclude = ("secret",)


@admin.register(AccessDevice)
class AccessDeviceAdmin(ReadOnlyModelAdmin):
    list_display = ("name", "location", "prefix", "active", "last_seen_at")
    list_filter = ("active",)
    search_fields = ("name", "prefix")
    list_select_related = ("location", "location__organization")
    exclude = ("key_hash",)


@admin.register(VisitPack)
class VisitPackAdmin(ReadOnlyModelAdmin):
    list_display = ("member", "entries_used", "entries_total", "valid_from", "expires_at")
    search_fields = ("member__last_name", "member__email")
    list_select_related = ("member",)


@admin.register(AccessDecision)
class AccessDecisionAdmin(ReadOnlyModelAdmin):
    list_display = ("at", "location", "member", "allowed", "reason_code", "override_by")
    list_filter = ("allowed", "reason_code")
    search_fields = ("value",)
    list_select_related = ("location", "location__organization", "member", "override_by")
