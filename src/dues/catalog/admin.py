"""Catalog: what the gym sells. Prices are typed in major units (199.00), stored in minor."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from dues.catalog.models import AddOn, Contract, ContractVersion, Coupon, Plan, TaxRate
from dues.catalog.services import ADDON_FIELDS, PLAN_FIELDS, addon_check, plan_check
from dues.core.admin import (
    EMPTY,
    LocationListFilter,
    MoneyAdminForm,
    OrgOwnedAdmin,
    money,
    money_column,
    percent,
    validate_currency_code,
)


def _organization(form: forms.ModelForm, cleaned: dict[str, Any]) -> Any:  # type: ignore[type-arg]
    return cleaned.get("organization") or getattr(form.instance, "organization", None)


def _apply_rules(
    form: forms.ModelForm,  # type: ignore[type-arg]
    cleaned: dict[str, Any],
    fields: tuple[str, ...],
    check: Callable[[dict[str, Any]], dict[str, Any]],
) -> None:
    """Run the catalog service's rules (``catalog.services``) on what was typed; fields the
    form does not show keep the row's value. Their errors go on the fields they name,
    unless the form has already said what is wrong there."""
    values = {f: cleaned[f] if f in cleaned else getattr(form.instance, f, None) for f in fields}
    try:
        result = check(values)
    except ValidationError as exc:
        for field, messages in exc.message_dict.items():
            if field not in form.errors:
                form.add_error(field if field in form.fields else None, messages)
        return
    for field in fields:
        if field in form.fields and field in cleaned:
            cleaned[field] = result[field]


# --- tax rates --------------------------------------------------------------------------------


class TaxRateForm(MoneyAdminForm):
    percent_fields = ("rate_bp",)

    class Meta:
        model = TaxRate
        exclude = ("organization",)
        labels = {"rate_bp": _("Rate (%)")}


@admin.register(TaxRate)
class TaxRateAdmin(OrgOwnedAdmin):
    """The organization follows the location, so it is not asked for."""

    form = TaxRateForm
    list_display = ("name", "rate", "category", "location", "organization")
    list_filter = ("organization", ("location", LocationListFilter), "category")
    search_fields = ("name", "location__name", "organization__name")
    list_select_related = ("location__organization", "organization")
    fields = ("location", "category", "name", "rate_bp")

    @admin.display(description=_("Rate"), ordering="rate_bp")
    def rate(self, obj: TaxRate) -> str:
        return percent(obj.rate_bp)

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        # The location (and with it the organization) is fixed once the rate exists.
        return ["location"] if obj is not None else []

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        obj.organization_id = obj.location.organization_id
        super().save_model(request, obj, form, change)


# --- plans ------------------------------------------------------------------------------------


class PlanForm(MoneyAdminForm):
    money_fields = ("price", "joining_fee", "freeze_fee")

    class Meta:
        model = Plan
        fields = (
            "organization",
            "name",
            "code",
            "description",
            "active",
            "currency",
            "interval",
            "price",
            "joining_fee",
            "freeze_fee",
            "minimum_term_periods",
            "notice_days",
            "trial_days",
            "tax_category",
            "locations",
            "sold_online",
        )
        labels = {
            "minimum_term_periods": _("Minimum term (periods)"),
            "notice_days": _("Notice (days)"),
            "trial_days": _("Trial (days)"),
            "sold_online": _("Sold online"),
        }

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        organization = _organization(self, cleaned)
        if organization is not None:
            stored = self.instance if self.instance.pk else None
            locations = list(cleaned.get("locations") or [])
            _apply_rules(
                self,
                cleaned,
                PLAN_FIELDS,
                lambda values: plan_check(
                    organization_id=organization.pk,
                    values=values,
                    locations=locations,
                    plan=stored,
                ),
            )
        return cleaned


@admin.register(Plan)
class PlanAdmin(OrgOwnedAdmin):
    form = PlanForm
    list_display = (
        "name",
        "code",
        "interval",
        "price_display",
        "joining_fee_display",
        "minimum_term_periods",
        "notice_days",
        "trial_days",
        "sold_online",
        "active",
        "organization",
    )
    list_filter = (
        "active",
        "sold_online",
        "interval",
        "organization",
        "tax_category",
        ("locations", LocationListFilter),
    )
    search_fields = ("name", "code", "description")
    list_select_related = ("organization",)
    prepopulated_fields = {"code": ("name",)}
    filter_horizontal = ("locations",)
    fieldsets = (
        (None, {"fields": ("organization", "name", "code", "description", "active")}),
        (
            _("Price"),
            {"fields": ("currency", "interval", "price", "joining_fee", "freeze_fee")},
        ),
        (
            _("Terms"),
            {"fields": ("minimum_term_periods", "notice_days", "trial_days", "tax_category")},
        ),
        (_("Where it is sold"), {"fields": ("locations", "sold_online")}),
    )

    price_display = money_column("price", _("Price"))

    @admin.display(description=_("Joining fee"), ordering="joining_fee")
    def joining_fee_display(self, obj: Plan) -> str:
        return money(obj.joining_fee, obj.currency) if obj.joining_fee else EMPTY


# --- add-ons ----------------------------------------------------------------------------------


class AddOnForm(MoneyAdminForm):
    money_fields = ("price",)

    class Meta:
        model = AddOn
        fields = (
            "organization",
            "name",
            "code",
            "kind",
            "currency",
            "price",
            "sessions",
            "tax_category",
            "active",
        )
        labels = {"sessions": _("Sessions in a pack")}

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        organization = _organization(self, cleaned)
        if organization is not None:
            stored = self.instance if self.instance.pk else None
            _apply_rules(
                self,
                cleaned,
                ADDON_FIELDS,
                lambda values: addon_check(
                    organization_id=organization.pk, values=values, addon=stored
                ),
            )
        return cleaned


@admin.register(AddOn)
class AddOnAdmin(OrgOwnedAdmin):
    form = AddOnForm
    list_display = (
        "name",
        "code",
        "kind",
        "price_display",
        "sessions",
        "tax_category",
        "active",
        "organization",
    )
    list_filter = ("active", "kind", "tax_category", "organization")
    search_fields = ("name", "code")
    list_select_related = ("organization",)
    prepopulated_fields = {"code": ("name",)}
    fields = (
        "organization",
        "name",
        "code",
        "kind",
        "currency",
        "price",
        "sessions",
        "tax_category",
        "active",
    )

    price_display = money_column("price", _("Price"))


# --- coupons ----------------------------------------------------------------------------------


class CouponForm(MoneyAdminForm):
    money_fields = ("amount_off",)
    percent_fields = ("percent_bp",)

    class Meta:
        model = Coupon
        fields = (
            "organization",
            "code",
            "name",
            "kind",
            "percent_bp",
            "currency",
            "amount_off",
            "duration_periods",
            "max_redemptions",
            "active",
        )
        labels = {
            "percent_bp": _("Percent off (%)"),
            "amount_off": _("Amount off"),
            "duration_periods": _("Duration (billing periods)"),
            "max_redemptions": _("Maximum redemptions"),
        }
        help_texts = {"currency": _("Needed for a fixed amount off, e.g. SEK.")}

    def clean(self) -> dict[str, Any]:
        # Check the currency before the base class converts the amount with it.
        currency = self.cleaned_data.get("currency")
        if currency:
            try:
                self.cleaned_data["currency"] = validate_currency_code(currency)
            except forms.ValidationError as exc:
                self.add_error("currency", exc)
        cleaned = super().clean()
        kind = cleaned.get("kind")
        percent_bp = cleaned.get("percent_bp") or 0
        amount_off = cleaned.get("amount_off") or 0
        if kind == Coupon.Kind.PERCENT:
            if percent_bp <= 0 and "percent_bp" not in self.errors:
                self.add_error("percent_bp", _("A percent-off coupon needs a percentage."))
            if amount_off:
                self.add_error("amount_off", _("Leave empty for a percent-off coupon."))
        elif kind == Coupon.Kind.FIXED:
            if amount_off <= 0 and "amount_off" not in self.errors:
                self.add_error("amount_off", _("A fixed coupon needs an amount."))
            if percent_bp:
                self.add_error("percent_bp", _("Leave at 0 for a fixed-amount coupon."))
            if not cleaned.get("currency") and "currency" not in self.errors:
                self.add_error("currency", _("A fixed-amount coupon needs a currency."))
        return cleaned


@admin.register(Coupon)
class CouponAdmin(OrgOwnedAdmin):
    form = CouponForm
    list_display = (
        "code",
        "name",
        "kind",
        "value",
        "duration",
        "max_redemptions",
        "active",
        "organization",
    )
    list_filter = ("active", "kind", "organization")
    search_fields = ("code", "name")
    list_select_related = ("organization",)
    fields = (
        "organization",
        "code",
        "name",
        "kind",
        "percent_bp",
        "currency",
        "amount_off",
        "duration_periods",
        "max_redemptions",
        "active",
    )

    @admin.display(description=_("Discount"))
    def value(self, obj: Coupon) -> str:
        if obj.kind == Coupon.Kind.PERCENT:
            return percent(obj.percent_bp)
        return money(obj.amount_off, obj.currency)

    @admin.display(description=_("Duration"), ordering="duration_periods")
    def duration(self, obj: Coupon) -> str:
        if obj.duration_periods is None:
            return str(_("forever"))
        return str(_("%(n)s periods") % {"n": obj.duration_periods})


# --- contracts ----------------------------------------------------------------------------------


class ContractVersionInline(admin.StackedInline):  # type: ignore[type-arg]
    model = ContractVersion
    extra = 0
    fields = ("version", "language", "title", "body", "published_at")
    exclude = ("organization",)


@admin.register(Contract)
class ContractAdmin(OrgOwnedAdmin):
    """A contract and its wordings. A published version that members signed is kept as
    it is: their signatures hold the exact text, and a new wording is a new version."""

    list_display = ("name", "code", "organization")
    list_filter = ("organization",)
    search_fields = ("name", "code")
    inlines = (ContractVersionInline,)

    def save_formset(self, request: HttpRequest, form: Any, formset: Any, change: bool) -> None:
        for obj in formset.save(commit=False):
            obj.organization_id = form.instance.organization_id
            obj.save()
        for obj in formset.deleted_objects:
            obj.delete()


@admin.register(ContractVersion)
class ContractVersionAdmin(OrgOwnedAdmin):
    list_display = ("contract", "version", "language", "title", "published_at")
    list_filter = ("organization", "language")
    search_fields = ("title", "contract__name")
    fields = ("contract", "version", "language", "title", "body", "published_at")

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        obj.organization_id = obj.contract.organization_id
        super().save_model(request, obj, form, change)
