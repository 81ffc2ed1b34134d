"""Ledger: the chart of accounts and the journal, view-only (entries post from services)."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from dues.core.admin import (
    EMPTY,
    DuesModelAdmin,
    ReadOnlyModelAdmin,
    ReadOnlyTabularInline,
    money,
)
from dues.ledger.models import Account, JournalEntry, JournalLine
from dues.members.admin import member_search_fields


def debit(line: JournalLine) -> str:
    return money(line.amount, line.currency) if line.amount > 0 else EMPTY


def credit(line: JournalLine) -> str:
    return money(-line.amount, line.currency) if line.amount < 0 else EMPTY


@admin.register(Account)
class AccountAdmin(DuesModelAdmin):
    """Accounts are seeded from the chart; staff may rename one, nothing more.

    The code and type are what postings and exports rely on.
    """

    list_display = ("code", "name", "type", "organization")
    list_display_links = ("code", "name")
    list_filter = ("type", "organization")
    search_fields = ("code", "name")
    list_select_related = ("organization",)
    fields = ("organization", "code", "name", "type")
    readonly_fields = ("organization", "code", "type")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class JournalLineInline(ReadOnlyTabularInline):
    model = JournalLine
    fields = ("account", "member", "debit_display", "credit_display")
    readonly_fields = fields
    show_change_link = False

    def get_queryset(self, request: HttpRequest) -> QuerySet[JournalLine]:
        return super().get_queryset(request).select_related("account", "member")

    @admin.display(description=_("Debit"))
    def debit_display(self, obj: JournalLine) -> str:
        return debit(obj)

    @admin.display(description=_("Credit"))
    def credit_display(self, obj: JournalLine) -> str:
        return credit(obj)


@admin.register(JournalEntry)
class JournalEntryAdmin(ReadOnlyModelAdmin):
    list_display = ("id", "kind", "source", "memo", "posted_at", "organization")
    list_select_related = ("organization",)
    ordering = ("-id",)
    search_fields = ("memo", "kind", "source_type", "source_id__exact")
    search_help_text = _("Memo, kind, or source (type or id).")
    list_filter = ("organization",)
    date_hierarchy = "posted_at"
    fields = ("organization", "kind", "source_type", "source_id", "memo", "posted_at")
    inlines = (JournalLineInline,)

    @admin.display(description=_("Source"), ordering="source_type")
    def source(self, obj: JournalEntry) -> str:
        return f"{obj.source_type}:{obj.source_id}"


@admin.register(JournalLine)
class JournalLineAdmin(ReadOnlyModelAdmin):
    list_display = ("entry", "account", "member", "debit_display", "credit_display")
    list_select_related = ("entry", "account", "member")
    ordering = ("-id",)
    search_fields = (
        "account__code",
        "account__name",
        "entry__memo",
        *member_search_fields("member"),
    )
    list_filter = ("account__type", "account", "organization")

    @admin.display(description=_("Debit"), ordering="amount")
    def debit_display(self, obj: JournalLine) -> str:
        return debit(obj)

    @admin.display(description=_("Credit"))
    def credit_display(self, obj: JournalLine) -> str:
        return credit(obj)
