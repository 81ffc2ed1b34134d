"""Staff forms: they check the input's shape (the services check the business rules and
their errors are shown on the same fields)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from dues.catalog.models import Plan
from dues.core.money import MoneyError, exponent, from_decimal, to_decimal
from dues.payments.models import Payment
from dues.staff.roles import Role


def errors_to_form(form: forms.BaseForm, exc: ValidationError) -> None:
    """A service's refusal shown on the field it names (on the form when it names none or
    a field the form does not have)."""
    if hasattr(exc, "error_dict"):
        for field, errors in exc.message_dict.items():
            form.add_error(field if field in form.fields else None, errors)
    else:
        form.add_error(None, exc.messages)


class LoginForm(forms.Form):
    username = forms.CharField(label=_("User name"), max_length=150)
    password = forms.CharField(label=_("Password"), widget=forms.PasswordInput)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["username"].widget.attrs.update(autocomplete="username", autofocus=True)
        self.fields["password"].widget.attrs.update(autocomplete="current-password")


class CodeForm(forms.Form):
    code = forms.RegexField(
        label=_("6-digit code from your authenticator app"),
        regex=r"^\s*\d{3}\s?\d{3}\s*$",
        error_messages={"invalid": _("Enter the 6 digits your app shows.")},
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["code"].widget.attrs.update(
            autocomplete="one-time-code", inputmode="numeric", autofocus=True
        )

    def clean_code(self) -> str:
        return "".join(self.cleaned_data["code"].split())


class OrganizationForm(forms.Form):
    organization = forms.TypedChoiceField(label=_("Gym"), coerce=int)

    def __init__(self, *args: Any, choices: list[tuple[int, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["organization"].choices = choices  # type: ignore[attr-defined]


class SearchForm(forms.Form):
    q = forms.CharField(
        label=_("Name, email, phone, member number or card"), max_length=200, required=False
    )


class MoneyField(forms.DecimalField):
    """An amount typed in the currency's main unit ("12.50"), cleaned to minor units."""

    def __init__(self, *, currency: str, **kwargs: Any) -> None:
        self.currency = currency
        super().__init__(min_value=Decimal(0), decimal_places=exponent(currency), **kwargs)
        self.widget.attrs.update(inputmode="decimal")

    def clean(self, value: Any) -> Any:
        amount = super().clean(value)
        if amount is None:
            return None
        try:
            minor = from_decimal(amount, self.currency)
        except MoneyError as exc:
            raise forms.ValidationError(str(exc)) from exc
        if minor <= 0:
            raise forms.ValidationError(_("Enter an amount greater than zero."))
        return minor

    def prepare_value(self, value: Any) -> Any:
        # Shown again (the confirmation's hidden copy, a form with errors) as typed.
        if isinstance(value, int):
            return to_decimal(value, self.currency)
        return value


class DeskPaymentForm(forms.Form):
    amount = forms.Field()  # replaced in __init__ (needs the currency)
    method = forms.ChoiceField(
        label=_("Paid by"),
        choices=[
            (Payment.Method.CASH, _("Cash")),
            (Payment.Method.TERMINAL, _("Card terminal")),
        ],
        widget=forms.RadioSelect,
    )
    reference = forms.CharField(
        label=_("Receipt or terminal reference (optional)"), max_length=120, required=False
    )

    def __init__(self, *args: Any, currency: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["amount"] = MoneyField(currency=currency, label=_("Amount (%s)") % currency)
        self.order_fields(["amount", "method", "reference"])


class RefundForm(forms.Form):
    amount = forms.Field()
    reason = forms.CharField(label=_("Reason"), max_length=200)

    def __init__(self, *args: Any, currency: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["amount"] = MoneyField(
            currency=currency, label=_("Amount to pay back (%s)") % currency
        )
        self.order_fields(["amount", "reason"])


class CreditNoteForm(RefundForm):
    def __init__(self, *args: Any, currency: str, **kwargs: Any) -> None:
        super().__init__(*args, currency=currency, **kwargs)
        self.fields["amount"].label = _("Amount to credit (%s)") % currency


class FreezeForm(forms.Form):
    start_date = forms.DateField(
        label=_("First day frozen"), widget=forms.DateInput(attrs={"type": "date"})
    )
    end_date = forms.DateField(
        label=_("First day back"), widget=forms.DateInput(attrs={"type": "date"})
    )
    reason = forms.CharField(label=_("Reason (optional)"), max_length=200, required=False)


class CancelForm(forms.Form):
    WHEN_END = "end"
    WHEN_NOW = "now"
    when = forms.ChoiceField(
        label=_("When"),
        choices=[
            (WHEN_END, _("At the end allowed by the notice period and minimum term")),
            (WHEN_NOW, _("Today")),
        ],
        initial=WHEN_END,
        widget=forms.RadioSelect,
    )
    refund_unused = forms.BooleanField(
        label=_("Credit the unused part of the current period (only when cancelling today)"),
        required=False,
    )
    reason = forms.CharField(label=_("Reason"), max_length=200)


class PlanChangeForm(forms.Form):
    WHEN_DEFAULT = "default"
    WHEN_NOW = "now"
    WHEN_END = "end"
    plan = forms.ModelChoiceField(label=_("New plan"), queryset=Plan.objects.none())
    when = forms.ChoiceField(
        label=_("When"),
        choices=[
            (WHEN_DEFAULT, _("The usual way: upgrades now, cheaper plans at period end")),
            (WHEN_NOW, _("Now, with a prorated invoice for the rest of the period")),
            (WHEN_END, _("At the end of the current period")),
        ],
        initial=WHEN_DEFAULT,
        widget=forms.RadioSelect,
    )

    def __init__(self, *args: Any, plans: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["plan"]
        field.queryset = plans  # type: ignore[attr-defined]

    def at_period_end(self) -> bool | None:
        return {self.WHEN_NOW: False, self.WHEN_END: True}.get(self.cleaned_data["when"])


class NoteForm(forms.Form):
    text = forms.CharField(label=_("Note"), widget=forms.Textarea(attrs={"rows": 3}))


def _role_choices() -> list[tuple[str, str]]:
    return [(str(role.value), str(role.label)) for role in Role]


class TeamInviteForm(forms.Form):
    email = forms.EmailField(label=_("Email"), max_length=150)
    first_name = forms.CharField(label=_("First name"), max_length=150)
    last_name = forms.CharField(label=_("Last name"), max_length=150, required=False)
    role = forms.ChoiceField(label=_("Role"), choices=_role_choices, widget=forms.RadioSelect)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["email"].widget.attrs.update(autocomplete="off")


class TeamRoleForm(forms.Form):
    role = forms.ChoiceField(label=_("Role"), choices=_role_choices, widget=forms.RadioSelect)
