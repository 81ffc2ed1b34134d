"""Classes in the admin: class types, rooms, instructors, schedules and the rules by
location are edited here; sessions, bookings and credits are changed through the staff
app's screens (which call the services), so here they are read-only."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from dues.classes.models import (
    Booking,
    ClassCreditAccount,
    ClassCreditEntry,
    ClassSession,
    ClassType,
    Instructor,
    LocationClassRules,
    Room,
    Schedule,
)
from dues.core.admin import DuesModelAdmin, OrgOwnedAdmin


@admin.register(ClassType)
class ClassTypeAdmin(OrgOwnedAdmin):
    list_display = ("name", "code", "duration_minutes", "credits_per_booking", "active")
    list_filter = ("organization", "active")
    search_fields = ("name", "code")
    filter_horizontal = ("plans",)


@admin.register(LocationClassRules)
class LocationClassRulesAdmin(OrgOwnedAdmin):
    list_display = ("location", "booking_opens_days", "cancel_cutoff_hours", "no_show_fee")
    search_fields = ("location__name",)


@admin.register(Instructor)
class InstructorAdmin(OrgOwnedAdmin):
    list_display = ("name", "email", "active")
    list_filter = ("organization", "active")
    search_fields = ("name", "email")


@admin.register(Room)
class RoomAdmin(OrgOwnedAdmin):
    list_display = ("name", "location", "capacity")
    list_filter = ("organization",)
    search_fields = ("name", "location__name")


@admin.register(Schedule)
class ScheduleAdmin(OrgOwnedAdmin):
    list_display = ("class_type", "rrule", "start_time", "starts_on", "ends_on", "room", "active")
    list_filter = ("organization", "active")
    search_fields = ("class_type__name", "room__name")
    list_select_related = ("class_type", "room")


class ReadOnlyAdmin(DuesModelAdmin):
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(ClassSession)
class ClassSessionAdmin(ReadOnlyAdmin):
    list_display = ("class_type", "starts_at", "room", "capacity", "status")
    list_filter = ("status",)
    search_fields = ("class_type__name", "room__name")
    list_select_related = ("class_type", "room")


@admin.register(Booking)
class BookingAdmin(ReadOnlyAdmin):
    list_display = ("session", "member", "status", "entitlement", "created_at")
    list_filter = ("status", "entitlement")
    search_fields = ("member__first_name", "member__last_name", "member__email")
    list_select_related = ("session__class_type", "member")


@admin.register(ClassCreditAccount)
class ClassCreditAccountAdmin(ReadOnlyAdmin):
    list_display = ("member", "balance")
    search_fields = ("member__first_name", "member__last_name", "member__email")
    list_select_related = ("member",)


@admin.register(ClassCreditEntry)
class ClassCreditEntryAdmin(ReadOnlyAdmin):
    list_display = ("account", "amount", "kind", "reason", "created_at")
    list_filter = ("kind",)
    search_fields = ("reason",)
