"""The dunning policy page's forms: the policy (money typed as "50.00" and percentages as
"12.5", through ``core.admin.MoneyAdminForm``) and its reminder steps. The rules of a
coherent policy are ``dunning.checks``' (the form asks them, the service asks again)."""

from __future__ import annotations

import re
from typing import Any

from django import forms
from django.utils.text import capfirst
from django.utils.translation import gettext_lazy as _

from dues.catalog.models import Plan
from dues.core.admin import MoneyAdminForm
from dues.core.channels import Channel
from dues.dunning.checks import channels_problem, policy_problems
from dues.dunning.models import DunningPolicy, FinalAction, LateFeeKind, RetryMode, Tone
from dues.dunning.services import POLICY_FIELDS
from dues.dunning.timeline import CHANNEL_NAMES, FINAL_ACTION_NAMES, TONE_NAMES


class DaysField(forms.Field):
    """Whole days typed as "3, 7" (or empty), cleaned to ``[3, 7]``."""

    widget = forms.TextInput

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("required", False)
        super().__init__(**kwargs)
        self.widget.attrs.update(inputmode="numeric", autocomplete="off")

    def prepare_value(self, value: Any) -> Any:
        if isinstance(value, list | tuple):
            return ", ".join(str(v) for v in value)
        return value

    def to_python(self, value: Any) -> list[int]:
        parts = [p for p in re.split(r"[\s,;]+", str(value or "").strip()) if p]
        if not all(p.isdigit() for p in parts):
            raise forms.ValidationError(
                _("Give whole days separated by commas, e.g. 3, 7."), code="days"
            )
        return [int(p) for p in parts]


RETRY_MODES = [
    (
        RetryMode.FIXED,
        _("On fixed days after the failure (you choose the days)"),
    ),
    (
        RetryMode.SMART,
        _("Smart: Dues picks the best hours from this gym's own history"),
    ),
]
LATE_FEE_KINDS = [
    (LateFeeKind.NONE, _("No late fee")),
    (LateFeeKind.FIXED, _("A fixed amount")),
    (LateFeeKind.PERCENT, _("A percentage of the overdue invoice")),
]


class PolicyForm(MoneyAdminForm):
    money_fields = ("late_fee_amount",)
    percent_fields = ("late_fee_bp", "risk_notice_bp")
    currency_field = "late_fee_currency"

    retry_days = DaysField(
        label=_("Retry on these days after the failure"),
        help_text=_("Fixed retries only. Whole days separated by commas, e.g. 3, 7."),
    )
    card_expiry_notice_days = DaysField(
        label=_("Tell members their card expires, this many days before"),
        help_text=_("e.g. 30, 7; empty = no notice."),
    )

    class Meta:
        model = DunningPolicy
        fields = POLICY_FIELDS
        labels = {
            "name": _("Name"),
            "grace_days": _("Grace period (days)"),
            "retry_mode": _("When to retry the card"),
            "max_attempts": _("Charges in all, the first included"),
            "max_days": _("Day of the final action"),
            "final_action": _("Final action"),
            "block_bookings_after_days": _("Block class bookings from day"),
            "block_access_after_days": _("Block door access from day"),
            "cancel_after_days": _("Cancel the membership from day"),
            "late_fee_kind": _("Late fee"),
            "late_fee_currency": _("Currency of the fixed fee"),
            "late_fee_amount": _("Fixed fee"),
            "late_fee_bp": _("Percentage of the overdue invoice"),
            "late_fee_after_days": _("Charge the late fee on day"),
            "renewal_notice_days": _("Tell members a yearly renewal is coming, days before"),
            "risk_notice_bp": _("Warn members whose next charge is likely to fail, from (%)"),
            "risk_notice_days": _("Warn them this many days before the charge"),
        }
        help_texts = {
            "name": "",
            "grace_days": _(
                "Days after the failure when only reminders go out: no restriction or late "
                "fee before it ends."
            ),
            "max_attempts": "",
            "max_days": _(
                "Days after the failure; dunning ends then. Every retry comes before it, "
                "every reminder by it."
            ),
            "block_bookings_after_days": _("Days after the failure; empty = never."),
            "block_access_after_days": _(
                "Not before bookings are blocked, and only if they are; empty = never."
            ),
            "cancel_after_days": _("Not before access is blocked, and only if it is; empty = no."),
            "late_fee_after_days": _("Days after the failure (not before the grace ends)."),
            "renewal_notice_days": _("Empty = no notice."),
            "risk_notice_days": "",
        }
        widgets = {
            "retry_mode": forms.RadioSelect,
            "final_action": forms.RadioSelect,
            "late_fee_kind": forms.RadioSelect,
        }

    def __init__(self, *args: Any, currencies: list[str], **kwargs: Any) -> None:
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)
        f = self.fields
        f["retry_mode"].choices = RETRY_MODES  # type: ignore[attr-defined]
        f["late_fee_kind"].choices = LATE_FEE_KINDS  # type: ignore[attr-defined]
        f["final_action"].choices = [  # type: ignore[attr-defined]
            (action.value, FINAL_ACTION_NAMES[action]) for action in FinalAction
        ]
        current = self.initial.get("late_fee_currency") or ""
        options = sorted(set(currencies) | ({current} if current else set()))
        f["late_fee_currency"] = forms.ChoiceField(
            label=_("Currency of the fixed fee"),
            choices=[("", _("Choose…"))] + [(c, c) for c in options],
            required=False,
        )
        # MoneyAdminForm's decimal fields: "50.00" and "12.5", both optional here.
        f["late_fee_amount"].help_text = _("In the currency's main unit, e.g. 50.00.")
        f["late_fee_bp"].help_text = _("e.g. 10 or 12.5.")
        f["late_fee_amount"].required = False
        f["late_fee_bp"].required = False
        f["risk_notice_bp"].help_text = _("Chance of failing, e.g. 30; empty = no warning.")
        for name in ("max_attempts", "max_days"):
            f[name].min_value = 1  # type: ignore[attr-defined]
            f[name].widget.attrs["min"] = 1
        for name, field in f.items():
            if isinstance(field, forms.IntegerField) and name not in ("max_attempts", "max_days"):
                field.widget.attrs.setdefault("min", 0)
            if isinstance(field, forms.IntegerField | forms.DecimalField):
                field.widget.attrs["inputmode"] = (
                    "decimal" if isinstance(field, forms.DecimalField) else "numeric"
                )

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        for name in ("late_fee_amount", "late_fee_bp"):
            if cleaned.get(name) is None and name not in self.errors:
                cleaned[name] = 0  # an empty fee box is no fee
        if cleaned.get("late_fee_currency") is None:
            cleaned["late_fee_currency"] = ""
        if not self.errors:  # the rules compare fields, so each must be readable first
            for name, problem in policy_problems(cleaned).items():
                self.add_error(name if name in self.fields else None, capfirst(problem))
        return cleaned

    def policy_fields(self) -> dict[str, Any]:
        """The cleaned values, as the service takes them."""
        return {name: self.cleaned_data[name] for name in POLICY_FIELDS}


class PlanChoiceForm(forms.Form):
    """Which plan a new policy is for: one without its own policy yet, or every plan (the
    gym's default) while there is no default."""

    plan = forms.ModelChoiceField(
        label=_("For"),
        queryset=Plan.objects.none(),
        required=False,
        help_text=_("A plan's own policy overrides the gym's default for that plan."),
    )

    def __init__(self, *args: Any, plans: Any, default_free: bool, **kwargs: Any) -> None:
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)
        field = self.fields["plan"]
        field.queryset = plans  # type: ignore[attr-defined]
        field.empty_label = (  # type: ignore[attr-defined]
            _("All plans (the gym's default policy)") if default_free else None
        )
        field.required = not default_free


class ChannelsField(forms.MultipleChoiceField):
    """Checkboxes; any value is let through to ``dunning.checks.channels_problem``, whose
    message names the unknown channel and the ones there are."""

    widget = forms.CheckboxSelectMultiple

    def valid_value(self, value: Any) -> bool:
        return True

    def validate(self, value: Any) -> None:
        problem = channels_problem(list(value or []))
        if problem:
            raise forms.ValidationError(capfirst(problem), code="channels")


class StepForm(forms.Form):
    day_offset = forms.IntegerField(
        label=_("Day"),
        min_value=0,
        help_text=_("Days after the failure; 0 = the day it fails."),
        widget=forms.NumberInput(attrs={"min": 0, "inputmode": "numeric"}),
    )
    channels = ChannelsField(
        label=_("Send by"),
        choices=[(c.value, CHANNEL_NAMES[c]) for c in Channel],
        required=False,
    )
    tone = forms.ChoiceField(
        label=_("Tone"),
        choices=[("", _("Choose…"))] + [(t.value, TONE_NAMES[t]) for t in Tone],
    )

    def step(self) -> dict[str, Any]:
        data = self.cleaned_data
        return {
            "day_offset": data["day_offset"],
            "channels": list(data["channels"]),
            "tone": data["tone"],
        }


class BaseStepFormSet(forms.BaseFormSet):  # type: ignore[type-arg]
    def get_form_kwargs(self, index: int | None) -> dict[str, Any]:
        return {"label_suffix": ""}

    def add_fields(self, form: forms.Form, index: int | None) -> None:
        super().add_fields(form, index)
        if "DELETE" in form.fields:
            form.fields["DELETE"].label = _("Remove this reminder")


StepFormSet = forms.formset_factory(
    StepForm,
    formset=BaseStepFormSet,
    extra=2,
    can_delete=True,
    max_num=30,
    validate_max=True,
    absolute_max=30,
)
