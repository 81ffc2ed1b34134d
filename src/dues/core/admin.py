"""Admin for the core app, plus the building blocks every other app's admin uses.

The admin is a staff tool for browsing everything and for simple edits of reference data
(organizations, locations, members, plans, add-ons, coupons, tax rates). Rows that record
money or machinery (invoices once finalised, credit notes, payments, ledger, outbox,
counters) are view-only here: they change only through the apps' services.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterable
from decimal import Decimal
from typing import TYPE_CHECKING, Any
from zoneinfo import available_timezones

from babel.core import UnknownLocaleError
from django import forms
from django.contrib import admin
from django.db import models
from django.http import HttpRequest
from django.utils.html import format_html
from django.utils.translation import get_language, to_locale
from django.utils.translation import gettext_lazy as _

from dues.core.clock import SystemClock
from dues.core.models import Location, Organization, OutboxDelivery, OutboxEvent, Sequence
from dues.core.money import MoneyError, format_money, from_decimal, to_decimal, validate_currency

admin.site.site_header = _("Dues administration")
admin.site.site_title = _("Dues administration")
admin.site.index_title = _("Gym, members and billing")

# Admin saves are edge code, not domain code: they stamp rows with the real time.
ADMIN_CLOCK = SystemClock()

EMPTY = "—"

if TYPE_CHECKING:
    pass

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise


# --- display helpers ------------------------------------------------------------------------


def _admin_locale() -> str:
    return to_locale(get_language() or "en")


def money(amount: int | None, currency: str | None) -> str:
    """``amount`` minor units formatted for the staff member's language (``SEK 199.00``).

    Never raises: a row with a broken currency still lists, showing the raw integer.
    """
    if amount is None:
        return EMPTY
    try:
        return format_money(amount, currency or "", _admin_locale())
    except (UnknownLocaleError, ValueError):
        # MoneyError is a ValueError; an unknown UI locale falls back to English.
        try:
            return format_money(amount, currency or "", "en")
        except ValueError:
            return f"{amount} {currency or ''}".strip()


def money_column(field: str, label: StrOrPromise) -> Any:
    """A list/detail column showing ``field`` as money in the row's currency."""

    @admin.display(description=label, ordering=field)
    def show(self: Any, obj: Any) -> str:
        return money(getattr(obj, field), obj.currency)

    return show


def percent(basis_points: int | None) -> str:
    if basis_points is None:
        return EMPTY
    return f"{Decimal(basis_points) / 100:g} %"


def pretty_json(value: Any) -> str:
    return format_html(
        '<pre style="white-space: pre-wrap">{}</pre>',
        json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False),
    )


# --- forms: money in major units, rates in percent ---------------------------------------------


class MoneyAdminForm(forms.ModelForm):  # type: ignore[type-arg]
    """Staff type ``199.00`` and we store ``19900`` (the currency's minor unit).

    ``money_fields`` are shown as decimals in the currency named by ``currency_field``
    (taken from the submitted form, else from the row); ``percent_fields`` are basis-point
    integers shown as percentages (``25`` → 2500 bp). Conversion refuses sub-minor
    precision instead of rounding.
    """

    money_fields: tuple[str, ...] = ()
    percent_fields: tuple[str, ...] = ()
    currency_field = "currency"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        currency = getattr(self.instance, self.currency_field, "") or ""
        for name in self.money_fields:
            if name not in self.fields:
                continue
            original = self.fields[name]
            self.fields[name] = forms.DecimalField(
                label=original.label,
                required=original.required,
                min_value=Decimal(0),
                help_text=_("In the currency's main unit, e.g. 199.00."),
            )
            value = self.initial.get(name)
            if isinstance(value, int) and currency:
                with contextlib.suppress(MoneyError):  # a broken currency shows minor units
                    self.initial[name] = to_decimal(value, currency)
        for name in self.percent_fields:
            if name not in self.fields:
                continue
            original = self.fields[name]
            self.fields[name] = forms.DecimalField(
                label=original.label,
                required=original.required,
                min_value=Decimal(0),
                max_value=Decimal(100),
                decimal_places=2,
                help_text=_("Percent, e.g. 25 or 12.5."),
            )
            value = self.initial.get(name)
            if isinstance(value, int):
                self.initial[name] = Decimal(value) / 100

    def clean(self) -> dict[str, Any]:
        cleaned: dict[str, Any] = super().clean() or {}
        currency = cleaned.get(self.currency_field)
        if currency:
            currency = cleaned[self.currency_field] = str(currency).upper()
        elif self.currency_field not in self.fields:
            currency = getattr(self.instance, self.currency_field, "")
        for name in self.money_fields:
            value = cleaned.get(name)
            if value is None or name not in self.fields:
                continue
            if not currency:
                if value == 0:
                    cleaned[name] = 0
                else:
                    self.add_error(name, _("Choose a valid currency for this amount."))
                continue
            try:
                cleaned[name] = from_decimal(value, currency)
            except MoneyError as exc:
                self.add_error(name, str(exc))
        for name in self.percent_fields:
            value = cleaned.get(name)
            if value is None or name not in self.fields:
                continue
            basis_points = value * 100
            if basis_points != basis_points.to_integral_value():
                self.add_error(name, _("Use at most two decimals."))
                continue
            cleaned[name] = int(basis_points)
        return cleaned


def validate_currency_code(value: str) -> str:
    try:
        return validate_currency(value)
    except MoneyError as exc:
        raise forms.ValidationError(str(exc)) from exc


# --- base admins ----------------------------------------------------------------------------


class DuesModelAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    """Defaults for tables that grow to 100k+ rows.

    No second COUNT(*) of the whole table on filtered pages; list filters only on choices
    and small related tables (never a SELECT DISTINCT over a big table); big tables list
    newest first by primary key, which needs no sort.
    """

    list_per_page = 50
    show_full_result_count = False


class OrgOwnedAdmin(DuesModelAdmin):
    """Editable org-owned reference data: the organization is chosen once, then fixed.

    Moving a row to another organization would strand everything that points at it.
    """

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        fields = list(super().get_readonly_fields(request, obj))
        if obj is not None and "organization" not in fields:
            fields.append("organization")
        return fields


def stamp_new_row(instance: models.Model, *, organization_id: int | None = None) -> None:
    """Fill what a new row needs but a staff member should not type: owner and timestamps."""
    if organization_id is not None and getattr(instance, "organization_id", None) is None:
        instance.organization_id = organization_id  # type: ignore[attr-defined]
    if instance.pk is None:
        now = ADMIN_CLOCK.now()
        for name in ("created_at", "updated_at"):
            if hasattr(instance, name) and getattr(instance, name) is None:
                setattr(instance, name, now)


class InheritOrganizationInlinesMixin:
    """Inline rows take the parent's organization (their forms do not show it)."""

    def save_formset(self, request: HttpRequest, form: Any, formset: Any, change: bool) -> None:
        instances: Iterable[models.Model] = formset.save(commit=False)
        for obj in formset.deleted_objects:
            obj.delete()
        for instance in instances:
            stamp_new_row(instance, organization_id=form.instance.organization_id)
            self.before_inline_save(request, instance)
            instance.save()
        formset.save_m2m()

    def before_inline_save(self, request: HttpRequest, instance: models.Model) -> None:
        """Hook for app admins (e.g. a note's author)."""


class ReadOnlyAdminMixin:
    """View-only: rows written by services (money, audit trails, machinery).

    Staff can list, search, filter and open them; nobody adds, changes or deletes them
    here. A correction is a new business operation (e.g. a credit note), not an edit.
    """

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class LocationListFilter(admin.RelatedFieldListFilter):
    """Filter by location without a query per location (its name shows the organization)."""

    def field_choices(self, field: Any, request: HttpRequest, model_admin: Any) -> list[Any]:
        ordering = self.field_admin_ordering(field, request, model_admin) or ("name",)
        locations = Location.objects.select_related("organization").order_by(*ordering)
        return [(location.pk, str(location)) for location in locations]


class ReadOnlyModelAdmin(ReadOnlyAdminMixin, DuesModelAdmin):
    pass


class ReadOnlyTabularInline(ReadOnlyAdminMixin, admin.TabularInline):  # type: ignore[type-arg]
    extra = 0
    can_delete = False
    show_change_link = True


# --- core models ----------------------------------------------------------------------------


class LocationForm(forms.ModelForm):  # type: ignore[type-arg]
    timezone = forms.ChoiceField(
        label=_("Time zone"),
        choices=[("", "---------")] + [(tz, tz) for tz in sorted(available_timezones())],
        help_text=_("Billing days and opening hours are computed in this zone."),
    )

    class Meta:
        model = Location
        fields = ("organization", "name", "timezone", "currency", "locale", "country", "address")
        labels = {"locale": _("Locale"), "country": _("Country code")}

    def clean_currency(self) -> str:
        return validate_currency_code(self.cleaned_data["currency"])

    def clean_country(self) -> str:
        return str(self.cleaned_data["country"]).upper()


class LocationInline(admin.TabularInline):  # type: ignore[type-arg]
    model = Location
    extra = 0
    fields = ("name", "timezone", "currency", "locale", "country")
    show_change_link = True
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Organization)
class OrganizationAdmin(DuesModelAdmin):
    list_display = (
        "name",
        "slug",
        "legal_name",
        "vat_number",
        "default_currency",
        "prices_include_tax",
        "invoice_prefix",
        "created_at",
    )
    search_fields = ("name", "legal_name", "slug", "vat_number")
    list_filter = ("prices_include_tax", "default_currency")
    prepopulated_fields = {"slug": ("name",)}
    readonly_fields = ("created_at",)
    fieldsets = (
        (None, {"fields": ("name", "slug", "legal_name", "vat_number", "address")}),
        (
            _("Billing"),
            {"fields": ("default_currency", "prices_include_tax", "invoice_prefix", "created_at")},
        ),
    )
    inlines = (LocationInline,)

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        obj.default_currency = str(obj.default_currency).upper()
        stamp_new_row(obj)
        super().save_model(request, obj, form, change)


@admin.register(Location)
class LocationAdmin(OrgOwnedAdmin):
    form = LocationForm
    list_display = ("name", "organization", "timezone", "currency", "locale", "country")
    list_filter = ("organization", "country", "currency")
    search_fields = ("name", "address", "organization__name")
    list_select_related = ("organization",)
    fields = ("organization", "name", "timezone", "currency", "locale", "country", "address")


@admin.register(Sequence)
class SequenceAdmin(ReadOnlyModelAdmin):
    """Gapless invoice and credit-note counters: editing one would skip or repeat numbers."""

    list_display = ("name", "organization", "next_value")
    list_filter = ("organization", "name")
    search_fields = ("name", "organization__name")
    list_select_related = ("organization",)


class OutboxDeliveryInline(ReadOnlyTabularInline):
    model = OutboxDelivery
    fields = ("consumer", "delivered_at")
    show_change_link = False


@admin.register(OutboxEvent)
class OutboxEventAdmin(ReadOnlyModelAdmin):
    list_display = ("id", "topic", "aggregate", "organization", "created_at")
    list_filter = ("topic", "organization")  # topic is indexed
    ordering = ("-id",)
    search_fields = ("topic", "aggregate_type", "aggregate_id__exact")
    list_select_related = ("organization",)
    date_hierarchy = "created_at"
    fields = (
        "organization",
        "topic",
        "aggregate_type",
        "aggregate_id",
        "payload_pretty",
        "created_at",
    )
    inlines = (OutboxDeliveryInline,)

    @admin.display(description=_("Aggregate"), ordering="aggregate_type")
    def aggregate(self, obj: OutboxEvent) -> str:
        return f"{obj.aggregate_type}:{obj.aggregate_id}"

    @admin.display(description=_("Payload"))
    def payload_pretty(self, obj: OutboxEvent) -> str:
        return pretty_json(obj.payload)


@admin.register(OutboxDelivery)
class OutboxDeliveryAdmin(ReadOnlyModelAdmin):
    list_display = ("consumer", "event", "delivered_at")
    search_fields = ("consumer", "event__topic")
    list_select_related = ("event",)
    date_hierarchy = "delivered_at"
