from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings
from django.utils.translation import gettext_lazy as _


class CardForm(forms.Form):
    """Card details for the sandbox's stand-in of hosted card fields."""

    number = forms.CharField(
        label=_("Card number"),
        max_length=23,
        widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "cc-number"}),
    )
    exp_month = forms.IntegerField(
        label=_("Expiry month"),
        min_value=1,
        max_value=12,
        widget=forms.NumberInput(attrs={"autocomplete": "cc-exp-month"}),
    )
    exp_year = forms.IntegerField(
        label=_("Expiry year"),
        min_value=2000,
        max_value=2100,
        widget=forms.NumberInput(attrs={"autocomplete": "cc-exp-year"}),
    )

    def clean_number(self) -> str:
        digits = "".join(ch for ch in self.cleaned_data["number"] if ch.isdigit())
        if not 12 <= len(digits) <= 19:
            raise forms.ValidationError(_("Enter the card number as printed on the card."))
        return digits

    def clean(self) -> dict[str, Any]:
        return super().clean() or {}


class SigninForm(forms.Form):
    email = forms.EmailField(
        label=_("Email address"),
        widget=forms.EmailInput(attrs={"autocomplete": "email", "autofocus": True}),
    )


class FreezeForm(forms.Form):
    start_date = forms.DateField(
        label=_("First day of the freeze"), widget=forms.DateInput(attrs={"type": "date"})
    )
    end_date = forms.DateField(
        label=_("First day back"), widget=forms.DateInput(attrs={"type": "date"})
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        start, end = data.get("start_date"), data.get("end_date")
        if start and end and end <= start:
            self.add_error("end_date", _("The first day back must be after the first day."))
        return data


class LanguageForm(forms.Form):
    language = forms.ChoiceField(label=_("Language"), choices=settings.LANGUAGES)


# The marketing consent question exactly as the settings page asks it (the two labels
# below and the paragraph above them in ``settings.html``). Each answer records this
# version (``members.ConsentChange.wording_version``), so what the member agreed to can
# be shown later: change the wording, in English or in a translation, and give it a new
# version here.
CONSENT_WORDING_VERSION = "portal-settings-2026-11"


class ConsentForm(forms.Form):
    """Marketing consent per channel: unticked unless the member ticked it."""

    marketing_email = forms.BooleanField(label=_("Yes, email me news and offers"), required=False)
    marketing_sms = forms.BooleanField(
        label=_("Yes, text me news and offers (SMS)"), required=False
    )

    def granted(self) -> dict[str, bool]:
        """The answer per channel, as ``members.services.consent_set`` takes it."""
        return {
            "email": self.cleaned_data["marketing_email"],
            "sms": self.cleaned_data["marketing_sms"],
        }


class NotificationsForm(forms.Form):
    """Which channels the member wants for service messages, and whether payment messages
    also come by SMS (email and in-app are always on for those; the rule is
    ``members.selectors.message_channels``)."""

    service_email = forms.BooleanField(label=_("By email"), required=False)
    service_sms = forms.BooleanField(label=_("By text message (SMS)"), required=False)
    service_in_app = forms.BooleanField(label=_("In the app, under Messages"), required=False)
    payment_sms = forms.BooleanField(label=_("Also by text message (SMS)"), required=False)
