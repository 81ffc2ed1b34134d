"""Forms for plans and add-ons on the staff pages. Money is typed in the currency's main
unit ("549.00") and cleaned to minor units by ``core.admin.MoneyAdminForm``; the business
rules are ``catalog.services``' (their errors are shown on the fields they name)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from dues.catalog.models import AddOn, Contract, Plan
from dues.catalog.services import ADDON_FIELDS, PLAN_FIELDS
from dues.core.admin import MoneyAdminForm
from dues.core.models import Location, Organization


def currency_choices(organization: Organization, current: str = "") -> list[tuple[str, str]]:
    """The currencies the organization's locations bill in (and the row's own)."""
    codes = set(
        Location.objects.filter(organization=organization).values_list("currency", flat=True)
    )
    codes |= {code for code in (current, organization.default_currency) if code}
    return [(code, code) for code in sorted(codes)]


class _CatalogForm(MoneyAdminForm):
    fields_for_service: tuple[str, ...] = ()

    def __init__(self, *args: Any, organization: Organization, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.organization = organization
        current = getattr(self.instance, "currency", "") or ""
        self.fields["currency"] = forms.ChoiceField(
            label=_("Currency"),
            choices=currency_choices(organization, current),
            help_text=_("The currency of the locations where it is sold."),
        )
        if not current:
            self.initial.setdefault("currency", organization.default_currency)
        for name in self.money_fields:
            field = self.fields[name]
            field.widget.attrs.update(inputmode="decimal")
            field.error_messages["min_value"] = _("The amount must not be negative.")
            own = self._meta.help_texts.get(name) if self._meta.help_texts else None
            if own:
                field.help_text = own

    def values(self) -> dict[str, Any]:
        """The cleaned values, as ``catalog.services`` takes them."""
        return {
            name: self.cleaned_data[name]
            for name in self.fields_for_service
            if name in self.fields and name in self.cleaned_data
        }


class PlanForm(_CatalogForm):
    money_fields = ("price", "joining_fee", "freeze_fee")
    fields_for_service = (*PLAN_FIELDS, "locations")

    preview_location = forms.ModelChoiceField(
        label=_("Joining at"),
        queryset=Location.objects.none(),
        required=False,
        empty_label=None,
        help_text=_("Which location the preview prices a sign-up at."),
    )

    class Meta:
        model = Plan
        fields = (
            "name",
            "code",
            "description",
            "interval",
            "currency",
            "price",
            "joining_fee",
            "freeze_fee",
            "minimum_term_periods",
            "notice_days",
            "trial_days",
            "tax_category",
            "locations",
            "contract",
            "sold_online",
            "active",
        )
        labels = {
            "name": _("Name"),
            "code": _("Code"),
            "description": _("Description (optional)"),
            "interval": _("Billed"),
            "price": _("Price per period"),
            "joining_fee": _("Joining fee"),
            "freeze_fee": _("Freeze fee"),
            "minimum_term_periods": _("Minimum term (billing periods)"),
            "notice_days": _("Notice to cancel (days)"),
            "trial_days": _("Free trial (days)"),
            "tax_category": _("Tax category"),
            "locations": _("Sold at"),
            "contract": _("Contract members sign"),
            "sold_online": _("Sold online (on the join page)"),
            "active": _("Active (open for new sign-ups)"),
        }
        help_texts = {
            "code": _("Letters, digits and hyphens, unique in your gym, e.g. monthly."),
            "minimum_term_periods": _("0 for none."),
            "notice_days": _("0 for none."),
            "trial_days": _("0 for none. The first charge comes when the trial ends."),
            "price": _("In the currency's main unit, e.g. 549.00."),
            "joining_fee": _("Charged once, on the first invoice; 0 for none. E.g. 199.00."),
            "freeze_fee": _("Charged once per freeze; 0 for none."),
            "locations": _("None ticked: sold at every location that bills in its currency."),
            "active": _(
                "Switching it off stops new sign-ups; members on it keep their membership."
            ),
        }
        widgets = {
            "description": forms.Textarea(attrs={"rows": 3}),
            "locations": forms.CheckboxSelectMultiple,
        }

    def __init__(self, *args: Any, organization: Organization, **kwargs: Any) -> None:
        super().__init__(*args, organization=organization, **kwargs)
        locations = Location.objects.filter(organization=organization).order_by("name")
        self.fields["locations"].queryset = locations  # type: ignore[attr-defined]
        self.fields["locations"].required = False
        self.fields["preview_location"].queryset = locations  # type: ignore[attr-defined]
        contract = self.fields["contract"]
        contract.queryset = Contract.objects.filter(  # type: ignore[attr-defined]
            organization=organization
        ).order_by("name")
        contract.empty_label = _("Standard terms only")  # type: ignore[attr-defined]
        self.order_fields([*self.Meta.fields, "preview_location"])


class AddOnForm(_CatalogForm):
    money_fields = ("price",)
    fields_for_service = ADDON_FIELDS

    class Meta:
        model = AddOn
        fields = ("name", "code", "kind", "currency", "price", "sessions", "tax_category", "active")
        labels = {
            "name": _("Name"),
            "code": _("Code"),
            "kind": _("Kind"),
            "price": _("Price"),
            "sessions": _("Sessions in a pack"),
            "tax_category": _("Tax category"),
            "active": _("Active (can be sold)"),
        }
        help_texts = {
            "code": _("Letters, digits and hyphens, unique among your add-ons, e.g. towel."),
            "price": _("Per billing period for a recurring add-on; once for a pack."),
            "sessions": _("0 for a recurring add-on."),
        }
