"""Payments: all view-only, except an organization's gateway keys. Money moves through
the payment services and the gateway.

Payment methods hold the gateway's token, brand, last four digits and expiry; there is no
card-number field to show, and the admin has no form that could take one (invariant 9).
Gateway keys are typed in once and stored encrypted; the admin never shows them again,
only whether each is set and its last four characters.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from dues.core.admin import (
    ADMIN_CLOCK,
    EMPTY,
    OrgOwnedAdmin,
    ReadOnlyModelAdmin,
    ReadOnlyTabularInline,
    money,
    money_column,
    pretty_json,
)
from dues.core.crypto import SecretError, secret_open, secret_seal
from dues.members.admin import member_search_fields
from dues.payments.models import (
    Dispute,
    GatewayAccount,
    GatewayCustomer,
    GatewayEvent,
    Payment,
    PaymentAttempt,
    PaymentMethod,
    Refund,
    SandboxCharge,
)


@admin.register(PaymentMethod)
class PaymentMethodAdmin(ReadOnlyModelAdmin):
    """Cards and mandates are added and removed at the gateway, never typed in here."""

    list_display = (
        "card",
        "payer",
        "kind",
        "expiry",
        "is_default",
        "status",
        "gateway",
        "created_at",
    )
    list_display_links = ("card",)
    list_select_related = ("payer",)
    search_fields = (
        *member_search_fields("payer"),
        "=last4",
        "=brand",
        "=token",
        "mandate_reference",
    )
    search_help_text = _("Payer, last four digits, gateway token or mandate reference.")
    list_filter = ("kind", "status", "is_default", "organization")
    fields = (
        "organization",
        "payer",
        "kind",
        "card",
        "expiry",
        "mandate_reference",
        "is_default",
        "status",
        "gateway",
        "token",
        "created_at",
        "updated_at",
    )

    @admin.display(description=_("Card or account"), ordering="brand")
    def card(self, obj: PaymentMethod) -> str:
        label = obj.brand or obj.get_kind_display()
        return f"{label} •••• {obj.last4}"

    @admin.display(description=_("Expires"), ordering="exp_year")
    def expiry(self, obj: PaymentMethod) -> str:
        if obj.exp_month and obj.exp_year:
            return f"{obj.exp_month:02d}/{obj.exp_year}"
        return EMPTY


@admin.register(PaymentAttempt)
class PaymentAttemptAdmin(ReadOnlyModelAdmin):
    list_display = (
        "idempotency_key",
        "invoice",
        "attempt_number",
        "amount_display",
        "status",
        "decline_code",
        "created_at",
        "completed_at",
    )
    list_select_related = ("invoice",)
    ordering = ("-id",)
    search_fields = (
        "idempotency_key",
        "gateway_reference",
        "invoice__number",
        "decline_code",
        *member_search_fields("invoice__payer"),
    )
    list_filter = ("status", "organization")
    date_hierarchy = "created_at"
    fields = (
        "organization",
        "invoice",
        "payment_method",
        "attempt_number",
        "idempotency_key",
        "amount_display",
        "status",
        "gateway_reference",
        "decline_code",
        "failure_message",
        "created_at",
        "completed_at",
    )

    amount_display = money_column("amount", _("Amount"))


class RefundInline(ReadOnlyTabularInline):
    model = Refund
    fields = ("amount_display", "status", "reason", "credit_note", "created_at")
    readonly_fields = ("amount_display",)

    def get_queryset(self, request: HttpRequest) -> QuerySet[Refund]:
        return super().get_queryset(request).select_related("credit_note")

    @admin.display(description=_("Amount"))
    def amount_display(self, obj: Refund) -> str:
        return money(obj.amount, obj.currency)


@admin.register(Payment)
class PaymentAdmin(ReadOnlyModelAdmin):
    list_display = (
        "id",
        "payer",
        "invoice",
        "method",
        "amount_display",
        "refunded_display",
        "reference",
        "gateway_reference",
        "received_at",
    )
    list_select_related = ("payer", "invoice")
    ordering = ("-id",)
    search_fields = (
        "reference",
        "gateway_reference",
        "invoice__number",
        "attempt__idempotency_key",
        *member_search_fields("payer"),
    )
    search_help_text = _("Receipt or gateway reference, invoice number, or the payer.")
    list_filter = ("method", "organization")
    date_hierarchy = "received_at"
    fields = (
        "organization",
        "payer",
        "invoice",
        "attempt",
        "method",
        "amount_display",
        "refunded_display",
        "reference",
        "gateway_reference",
        "received_at",
    )
    inlines = (RefundInline,)

    amount_display = money_column("amount", _("Amount"))

    @admin.display(description=_("Refunded"), ordering="amount_refunded")
    def refunded_display(self, obj: Payment) -> str:
        return money(obj.amount_refunded, obj.currency) if obj.amount_refunded else EMPTY


@admin.register(Refund)
class RefundAdmin(ReadOnlyModelAdmin):
    list_display = (
        "id",
        "payment",
        "amount_display",
        "status",
        "reason",
        "credit_note",
        "created_at",
        "completed_at",
    )
    list_select_related = ("payment", "credit_note")
    ordering = ("-id",)
    search_fields = (
        "idempotency_key",
        "gateway_reference",
        "reason",
        "payment__reference",
        "payment__gateway_reference",
        "credit_note__number",
    )
    list_filter = ("status", "organization")
    date_hierarchy = "created_at"
    fields = (
        "organization",
        "payment",
        "credit_note",
        "amount_display",
        "reason",
        "status",
        "idempotency_key",
        "gateway_reference",
        "created_at",
        "completed_at",
    )

    amount_display = money_column("amount", _("Amount"))


@admin.register(SandboxCharge)
class SandboxChargeAdmin(ReadOnlyModelAdmin):
    """What the sandbox gateway itself recorded: the 'remote' side of test payments."""

    list_display = (
        "reference",
        "idempotency_key",
        "amount_display",
        "succeeded",
        "decline_code",
        "refunded_display",
        "created_at",
    )
    ordering = ("-id",)
    search_fields = ("reference", "idempotency_key", "=token")
    list_filter = ("succeeded", "decline_code", "currency")
    date_hierarchy = "created_at"

    amount_display = money_column("amount", _("Amount"))

    @admin.display(description=_("Refunded"), ordering="refunded")
    def refunded_display(self, obj: SandboxCharge) -> str:
        return money(obj.refunded, obj.currency) if obj.refunded else EMPTY


@admin.register(GatewayCustomer)
class GatewayCustomerAdmin(ReadOnlyModelAdmin):
    """Made by the payment services, once per payer and gateway."""

    list_display = ("reference", "payer", "gateway", "created_at")
    list_select_related = ("payer",)
    ordering = ("-id",)
    search_fields = ("=reference", *member_search_fields("payer"))
    search_help_text = _("Gateway customer reference (cus_…) or the payer.")
    list_filter = ("organization",)
    fields = ("organization", "payer", "gateway", "reference", "created_at")


# --- an organization's own gateway keys ---------------------------------------------------------

# Gateways whose keys an organization may store (the others need none).
ACCOUNT_GATEWAYS = [("stripe", "Stripe")]
# What each key starts with at Stripe: a secret or restricted key, a webhook signing secret.
SECRET_KEY_PREFIXES = ("sk_", "rk_")
WEBHOOK_SECRET_PREFIX = "whsec_"
PUBLISHABLE_KEY_PREFIX = "pk_"


def secret_status(sealed: str) -> str:
    """Whether a sealed secret is set, with its last four characters; never the secret."""
    if not sealed:
        return str(_("not set"))
    try:
        plain = secret_open(sealed)
    except SecretError:
        return str(_("set (cannot be decrypted with DUES_ENCRYPTION_KEYS)"))
    return f"{_('set')} (…{plain[-4:]})"


class GatewayAccountForm(forms.ModelForm):  # type: ignore[type-arg]
    """Keys go in as password inputs, are sealed before they are stored, and never come back
    out: the inputs are always empty, and leaving one empty on a change keeps the stored key.
    """

    gateway = forms.ChoiceField(choices=ACCOUNT_GATEWAYS, initial="stripe")
    secret_key = forms.CharField(
        label=_("Secret key"),
        required=False,
        strip=True,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
        help_text=_("sk_… or rk_…. Stored encrypted; leave empty to keep the stored key."),
    )
    webhook_secret = forms.CharField(
        label=_("Webhook signing secret"),
        required=False,
        strip=True,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
        help_text=_("whsec_…. Stored encrypted; leave empty to keep the stored secret."),
    )

    class Meta:
        model = GatewayAccount
        fields = ("organization", "gateway", "publishable_key")

    def clean_publishable_key(self) -> str:
        key = str(self.cleaned_data.get("publishable_key") or "").strip()
        if key and not key.startswith(PUBLISHABLE_KEY_PREFIX):
            raise forms.ValidationError(_("A publishable key starts with pk_."))
        return key

    def clean_secret_key(self) -> str:
        key = str(self.cleaned_data.get("secret_key") or "")
        if key and not key.startswith(SECRET_KEY_PREFIXES):
            raise forms.ValidationError(
                _("A secret key starts with sk_ (or rk_ for a restricted key).")
            )
        if not key and not self.instance.secret_key_sealed:
            raise forms.ValidationError(_("Type the secret key: without it the keys are unused."))
        return key

    def clean_webhook_secret(self) -> str:
        secret = str(self.cleaned_data.get("webhook_secret") or "")
        if secret and not secret.startswith(WEBHOOK_SECRET_PREFIX):
            raise forms.ValidationError(_("A webhook signing secret starts with whsec_."))
        return secret

    def save(self, commit: bool = True) -> Any:
        account: GatewayAccount = super().save(commit=False)
        if self.cleaned_data.get("secret_key"):
            account.secret_key_sealed = secret_seal(self.cleaned_data["secret_key"])
        if self.cleaned_data.get("webhook_secret"):
            account.webhook_secret_sealed = secret_seal(self.cleaned_data["webhook_secret"])
        if commit:
            account.save()
        return account


@admin.register(GatewayAccount)
class GatewayAccountAdmin(OrgOwnedAdmin):
    """An organization's own keys at a gateway; without a row, the environment's are used."""

    form = GatewayAccountForm
    list_display = (
        "organization",
        "gateway",
        "publishable_key",
        "secret_key_status",
        "webhook_secret_status",
        "updated_at",
    )
    list_select_related = ("organization",)
    search_fields = ("organization__name", "publishable_key")
    list_filter = ("gateway",)
    fields = (
        "organization",
        "gateway",
        "publishable_key",
        "secret_key",
        "secret_key_status",
        "webhook_secret",
        "webhook_secret_status",
        "updated_at",
    )
    readonly_fields = ("secret_key_status", "webhook_secret_status", "updated_at")

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        fields = super().get_readonly_fields(request, obj)
        if obj is not None and "gateway" not in fields:
            fields.append("gateway")  # like the organization: the row is this gateway's
        return fields

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # Customers and cards were made under these keys: replace a key, never drop it.
        return False

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        obj.updated_at = ADMIN_CLOCK.now()
        super().save_model(request, obj, form, change)

    @admin.display(description=_("Secret key"))
    def secret_key_status(self, obj: GatewayAccount) -> str:
        return secret_status(obj.secret_key_sealed)

    @admin.display(description=_("Webhook signing secret"))
    def webhook_secret_status(self, obj: GatewayAccount) -> str:
        return secret_status(obj.webhook_secret_sealed)


# --- what gateways tell us ----------------------------------------------------------------------


@admin.register(GatewayEvent)
class GatewayEventAdmin(ReadOnlyModelAdmin):
    """Each event a gateway sent, once, with what we did with it."""

    list_display = (
        "event_id",
        "type",
        "gateway",
        "endpoint",
        "outcome",
        "received_at",
    )
    search_fields = ("=event_id", "type")
    search_help_text = _("Event id (evt_…) or type, e.g. charge.dispute.created.")
    list_filter = ("gateway", "endpoint")
    date_hierarchy = "received_at"
    fields = (
        "gateway",
        "event_id",
        "endpoint",
        "type",
        "created",
        "received_at",
        "outcome",
        "payload_pretty",
    )

    @admin.display(description=_("Payload"))
    def payload_pretty(self, obj: GatewayEvent) -> str:
        return pretty_json(obj.payload)


@admin.register(Dispute)
class DisputeAdmin(ReadOnlyModelAdmin):
    """Chargebacks: written from the gateway's events; staff answer them through their task."""

    list_display = (
        "reference",
        "payment",
        "payer",
        "amount_display",
        "reason",
        "status",
        "evidence_due_by",
        "opened_at",
        "closed_at",
    )
    list_select_related = ("payment__payer",)
    search_fields = (
        "=reference",
        "payment__reference",
        "payment__gateway_reference",
        "reason",
        *member_search_fields("payment__payer"),
    )
    search_help_text = _("Dispute (dp_…) or payment reference, reason, or the payer.")
    list_filter = ("status", "organization")
    date_hierarchy = "opened_at"
    fields = (
        "organization",
        "payment",
        "payer",
        "reference",
        "amount_display",
        "reason",
        "status",
        "gateway_status",
        "evidence_due_by",
        "opened_at",
        "closed_at",
        "gateway_updated_at",
    )

    amount_display = money_column("amount", _("Amount"))

    @admin.display(description=_("Payer"), ordering="payment__payer__last_name")
    def payer(self, obj: Dispute) -> str:
        return obj.payment.payer.full_name
