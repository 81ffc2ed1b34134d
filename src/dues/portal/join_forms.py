"""The forms of the online sign-up, one per step."""

from __future__ import annotations

from datetime import date
from typing import Any

from django import forms
from django.conf import settings
from django.utils.translation import gettext_lazy as _

from dues.catalog.models import Plan
from dues.portal.forms import ConsentForm


class PlanForm(forms.Form):
    plan = forms.ModelChoiceField(
        label=_("Membership"),
        queryset=Plan.objects.none(),
        widget=forms.RadioSelect,
        empty_label=None,
        error_messages={
            "required": _("Choose a membership."),
            "invalid_choice": _("Choose a membership."),
        },
    )

    def __init__(self, *args: Any, plans: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["plan"].queryset = plans  # type: ignore[attr-defined]


class DetailsForm(ConsentForm):
    """Who is joining, and their answer to the marketing question (unticked by default)."""

    first_name = forms.CharField(
        label=_("First name"),
        max_length=100,
        widget=forms.TextInput(attrs={"autocomplete": "given-name"}),
    )
    last_name = forms.CharField(
        label=_("Last name"),
        max_length=100,
        widget=forms.TextInput(attrs={"autocomplete": "family-name"}),
    )
    email = forms.EmailField(
        label=_("Email address"), widget=forms.EmailInput(attrs={"autocomplete": "email"})
    )
    phone = forms.CharField(
        label=_("Mobile phone"),
        max_length=32,
        required=False,
        widget=forms.TextInput(attrs={"autocomplete": "tel", "inputmode": "tel"}),
    )
    date_of_birth = forms.DateField(
        label=_("Date of birth"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date", "autocomplete": "bday"}),
    )
    address = forms.CharField(
        label=_("Address"),
        required=False,
        max_length=500,
        widget=forms.Textarea(attrs={"rows": 3, "autocomplete": "street-address"}),
    )
    language = forms.ChoiceField(label=_("Language"), choices=settings.LANGUAGES)
    field_order = [
        "first_name",
        "last_name",
        "email",
        "phone",
        "date_of_birth",
        "address",
        "language",
        "marketing_email",
        "marketing_sms",
    ]

    def __init__(self, *args: Any, today: date, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.today = today

    def clean_first_name(self) -> str:
        return " ".join(self.cleaned_data["first_name"].split())

    def clean_last_name(self) -> str:
        return " ".join(self.cleaned_data["last_name"].split())

    def clean_email(self) -> str:
        return str(self.cleaned_data["email"]).strip().lower()

    def clean_phone(self) -> str:
        phone = str(self.cleaned_data["phone"]).strip()
        if phone and not all(ch.isdigit() or ch in "+ -()" for ch in phone):
            raise forms.ValidationError(
                _("Enter a phone number with digits only, e.g. +46 70 123 45 67.")
            )
        return phone

    def clean_date_of_birth(self) -> date | None:
        born: date | None = self.cleaned_data["date_of_birth"]
        if born is not None and born >= self.today:
            raise forms.ValidationError(_("The date of birth must be in the past."))
        return born


class SignForm(forms.Form):
    typed_name = forms.CharField(
        label=_("Type your full name to sign"),
        max_length=200,
        widget=forms.TextInput(attrs={"autocomplete": "name"}),
    )
    accept = forms.BooleanField(
        label=_("I have read the contract and agree to it"),
        error_messages={"required": _("Tick the box to agree to the contract.")},
    )
    # The fingerprint of the text on the page: what is signed is what was read.
    text_sha256 = forms.CharField(widget=forms.HiddenInput, max_length=64)
