"""Dunning: policies (editable) and cases (written by the dunning run, read here)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from dues.core.admin import (
    EMPTY,
    InheritOrganizationInlinesMixin,
    MoneyAdminForm,
    OrgOwnedAdmin,
    ReadOnlyModelAdmin,
    money,
    stamp_new_row,
)
from dues.core.clock import SystemClock
from dues.dunning.checks import channels_problem, policy_problems
from dues.dunning.models import DunningCase, DunningPolicy, Payday, ReminderStep
from dues.members.admin import member_search_fields


class DunningPolicyForm(MoneyAdminForm):
    money_fields = ("late_fee_amount",)
    percent_fields = ("late_fee_bp",)
    currency_field = "late_fee_currency"

    class Meta:
        model = DunningPolicy
        fields = "__all__"

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        for name, problem in policy_problems(cleaned).items():
            if name in self.fields:
                self.add_error(name, problem)
        return cleaned


class ReminderStepForm(forms.ModelForm):  # type: ignore[type-arg]
    class Meta:
        model = ReminderStep
        fields = ("day_offset", "tone", "channels")

    def clean_channels(self) -> Any:
        channels = self.cleaned_data["channels"]
        problem = channels_problem(channels)
        if problem:
            raise forms.ValidationError(problem)
        return channels


class ReminderStepInline(admin.TabularInline):  # type: ignore[type-arg]
    model = ReminderStep
    form = ReminderStepForm
    extra = 0


@admin.register(DunningPolicy)
class DunningPolicyAdmin(InheritOrganizationInlinesMixin, OrgOwnedAdmin):
    form = DunningPolicyForm
    inlines = (ReminderStepInline,)
    list_display = ("name", "plan", "retry_mode", "max_attempts", "max_days", "final_action")
    list_filter = ("retry_mode", "final_action", "organization")
    search_fields = ("name", "plan__name")
    list_select_related = ("plan",)
    readonly_fields = ("created_at", "updated_at")
    fieldsets = (
        (None, {"fields": ("organization", "name", "plan")}),
        (
            _("Retries"),
            {"fields": ("retry_mode", "retry_days", "max_attempts", "max_days", "final_action")},
        ),
        (
            _("Restrictions (days after the first failure)"),
            {
                "fields": (
                    "grace_days",
                    "block_bookings_after_days",
                    "block_access_after_days",
                    "cancel_after_days",
                )
            },
        ),
        (
            _("Late fee"),
            {
                "fields": (
                    "late_fee_kind",
                    "late_fee_currency",
                    "late_fee_amount",
                    "late_fee_bp",
                    "late_fee_after_days",
                )
            },
        ),
        (None, {"fields": ("created_at", "updated_at")}),
    )

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        stamp_new_row(obj)
        obj.updated_at = SystemClock().now()
        super().save_model(request, obj, form, change)


@admin.register(Payday)
class PaydayAdmin(OrgOwnedAdmin):
    list_display = ("location", "days")
    list_select_related = ("location__organization",)
    search_fields = ("location__name",)

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        obj.organization_id = obj.location.organization_id
        super().save_model(request, obj, form, change)


@admin.register(DunningCase)
class DunningCaseAdmin(ReadOnlyModelAdmin):
    list_display = (
        "invoice",
        "payer_name",
        "status",
        "amount_due",
        "attempts",
        "last_decline_code",
        "next_retry_at",
        "restriction_level",
        "opened_at",
    )
    list_filter = ("status", "is_fee", "restriction_level", "organization")
    list_select_related = ("invoice", "payer")
    search_fields = ("invoice__number", "last_decline_code", *member_search_fields("payer"))
    date_hierarchy = "opened_at"

    @admin.display(description=_("Payer"), ordering="payer__last_name")
    def payer_name(self, obj: DunningCase) -> str:
        return obj.payer.full_name

    @admin.display(description=_("Amount due"))
    def amount_due(self, obj: DunningCase) -> str:
        if not obj.invoice.amount_due:
            return EMPTY
        return money(obj.invoice.amount_due, obj.invoice.currency)


@admin.register(ReminderStep)
class ReminderStepAdmin(OrgOwnedAdmin):
    form = ReminderStepForm
    list_display = ("policy", "day_offset", "tone", "channels")
    list_filter = ("tone", "organization")
    list_select_related = ("policy",)
    search_fields = ("policy__name",)
    fields = ("policy", "day_offset", "tone", "channels")

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        obj.organization_id = obj.policy.organization_id
        super().save_model(request, obj, form, change)
