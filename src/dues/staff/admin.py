"""Staff roles and the audit log in the admin. django-otp's TOTP device admin is taken out:
a device's key is a secret, and staff set theirs up in the staff app."""

from __future__ import annotations

import contextlib
from typing import Any

from django.contrib import admin
from django.contrib.admin.exceptions import NotRegistered
from django.http import HttpRequest
from django_otp.plugins.otp_totp.models import TOTPDevice

from dues.core.admin import DuesModelAdmin, ReadOnlyModelAdmin, stamp_new_row
from dues.staff.models import StaffAction, StaffChange, StaffRole

with contextlib.suppress(NotRegistered):
    admin.site.unregister(TOTPDevice)


@admin.register(StaffRole)
class StaffRoleAdmin(DuesModelAdmin):
    list_display = ("user", "organization", "role", "created_at")
    list_filter = ("role",)
    search_fields = ("user__username", "organization__name")
    readonly_fields = ("created_at",)

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        stamp_new_row(obj)
        super().save_model(request, obj, form, change)


@admin.register(StaffAction)
class StaffActionAdmin(DuesModelAdmin):
    list_display = ("at", "user", "organization", "member", "action")
    list_filter = ("action",)
    search_fields = ("user__username", "member__member_number", "member__last_name")
    readonly_fields = ("organization", "user", "member", "action", "detail", "at")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(StaffChange)
class StaffChangeAdmin(ReadOnlyModelAdmin):
    list_display = ("at", "user", "organization", "action", "summary")
    list_filter = ("action",)
    search_fields = ("user__username", "target", "summary")
