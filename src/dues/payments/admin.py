"""Payments: all view-only. Money moves through the payment services and the gateway.

Payment methods hold the gateway's token, brand, last four digits and expiry; there is no
card-number field to show, and the admin has no form that could take one (invariant 9).
"""

from __future__ import annotations

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from dues.core.admin import (
    EMPTY,
    ReadOnlyModelAdmin,
    ReadOnlyTabularInline,
    money,
    money_column,
)
from dues.members.admin import member_search_fields
from dues.payments.models import (
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
