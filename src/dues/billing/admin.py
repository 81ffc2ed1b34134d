"""Billing: browse subscriptions, invoices and credit notes.

Everything here is written by the billing services. A draft invoice may have its due date
moved; a finalised invoice never changes (DESIGN invariant 4: correct it with a credit
note), and no money row can be deleted.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from dues.billing.models import (
    ContractSignature,
    CreditNote,
    CreditNoteLine,
    Freeze,
    Invoice,
    InvoiceLine,
    InvoiceStatus,
    MemberCreditEntry,
    Restriction,
    Subscription,
    SubscriptionAddOn,
)
from dues.core.admin import (
    EMPTY,
    DuesModelAdmin,
    LocationListFilter,
    ReadOnlyModelAdmin,
    ReadOnlyTabularInline,
    money,
    money_column,
    percent,
)
from dues.members.admin import member_search_fields

# --- subscriptions ------------------------------------------------------------------------------


class SubscriptionAddOnInline(ReadOnlyTabularInline):
    model = SubscriptionAddOn
    fields = ("addon", "quantity", "unit_price_display")
    readonly_fields = ("unit_price_display",)

    def get_queryset(self, request: HttpRequest) -> QuerySet[SubscriptionAddOn]:
        return super().get_queryset(request).select_related("addon", "subscription")

    @admin.display(description=_("Unit price"))
    def unit_price_display(self, obj: SubscriptionAddOn) -> str:
        return money(obj.unit_price, obj.subscription.currency)


class FreezeInline(ReadOnlyTabularInline):
    model = Freeze
    fields = ("start_date", "end_date", "status", "fee_display", "reason", "created_at")
    readonly_fields = ("fee_display",)

    def get_queryset(self, request: HttpRequest) -> QuerySet[Freeze]:
        return super().get_queryset(request).select_related("subscription")

    @admin.display(description=_("Fee"))
    def fee_display(self, obj: Freeze) -> str:
        return money(obj.fee, obj.subscription.currency) if obj.fee else EMPTY


@admin.register(Subscription)
class SubscriptionAdmin(ReadOnlyModelAdmin):
    """View-only: status, periods and prices move only through the billing services."""

    list_display = (
        "id",
        "member",
        "plan_name",
        "status",
        "price_display",
        "interval",
        "next_billing_date",
        "location",
        "organization",
    )
    list_display_links = ("id", "member")
    list_select_related = ("member", "plan", "location__organization", "organization")
    ordering = ("-id",)
    search_fields = (
        *member_search_fields("member"),
        *member_search_fields("payer"),
        "plan__name",
        "plan__code",
    )
    search_help_text = _("Member or payer name, email, phone or number; plan name or code.")
    list_filter = (
        "status",
        "organization",
        ("location", LocationListFilter),
        "plan",
        "interval",
        "sold_online",
    )
    date_hierarchy = "start_date"
    fieldsets = (
        (None, {"fields": ("organization", "member", "payer", "plan", "location", "status")}),
        (_("Price"), {"fields": ("interval", "price_display", "coupon", "coupon_periods_left")}),
        (
            _("Periods"),
            {
                "fields": (
                    "start_date",
                    "billing_anchor_day",
                    "anchor_date",
                    "trial_end",
                    "current_period_start",
                    "current_period_end",
                    "next_period_index",
                    "next_billing_date",
                    "minimum_term_end",
                )
            },
        ),
        (
            _("Changes and cancellation"),
            {"fields": ("pending_plan", "cancel_at", "cancelled_at", "cancel_reason")},
        ),
        (None, {"fields": ("sold_online", "created_at")}),
    )
    inlines = (SubscriptionAddOnInline, FreezeInline)

    @admin.display(description=_("Plan"), ordering="plan__name")
    def plan_name(self, obj: Subscription) -> str:
        return obj.plan.name

    price_display = money_column("price", _("Price per period"))


@admin.register(SubscriptionAddOn)
class SubscriptionAddOnAdmin(ReadOnlyModelAdmin):
    list_display = ("addon", "quantity", "unit_price_display", "subscription_member")
    list_select_related = ("addon", "subscription__member")
    search_fields = ("addon__name", "addon__code", *member_search_fields("subscription__member"))
    list_filter = ("organization", "addon")

    @admin.display(description=_("Unit price"), ordering="unit_price")
    def unit_price_display(self, obj: SubscriptionAddOn) -> str:
        return money(obj.unit_price, obj.subscription.currency)

    @admin.display(description=_("Member"), ordering="subscription__member__last_name")
    def subscription_member(self, obj: SubscriptionAddOn) -> str:
        return obj.subscription.member.full_name


@admin.register(Freeze)
class FreezeAdmin(ReadOnlyModelAdmin):
    list_display = ("subscription_member", "start_date", "end_date", "status", "fee_display")
    list_select_related = ("subscription__member",)
    search_fields = ("reason", *member_search_fields("subscription__member"))
    list_filter = ("status", "organization")
    date_hierarchy = "start_date"

    @admin.display(description=_("Member"), ordering="subscription__member__last_name")
    def subscription_member(self, obj: Freeze) -> str:
        return obj.subscription.member.full_name

    @admin.display(description=_("Fee"), ordering="fee")
    def fee_display(self, obj: Freeze) -> str:
        return money(obj.fee, obj.subscription.currency) if obj.fee else EMPTY


# --- invoices -----------------------------------------------------------------------------------


class InvoiceLineInline(ReadOnlyTabularInline):
    model = InvoiceLine
    fields = (
        "kind",
        "description",
        "period_start",
        "period_end",
        "quantity",
        "unit_display",
        "discount_display",
        "tax_rate",
        "net_display",
        "tax_display",
        "total_display",
    )
    readonly_fields = fields
    show_change_link = False

    def get_queryset(self, request: HttpRequest) -> QuerySet[InvoiceLine]:
        return super().get_queryset(request).select_related("invoice")

    @admin.display(description=_("Unit price"))
    def unit_display(self, obj: InvoiceLine) -> str:
        return money(obj.unit_amount, obj.invoice.currency)

    @admin.display(description=_("Discount"))
    def discount_display(self, obj: InvoiceLine) -> str:
        return money(obj.discount_amount, obj.invoice.currency) if obj.discount_amount else EMPTY

    @admin.display(description=_("Tax rate"))
    def tax_rate(self, obj: InvoiceLine) -> str:
        return percent(obj.tax_rate_bp)

    @admin.display(description=_("Net"))
    def net_display(self, obj: InvoiceLine) -> str:
        return money(obj.net_amount, obj.invoice.currency)

    @admin.display(description=_("Tax"))
    def tax_display(self, obj: InvoiceLine) -> str:
        return money(obj.tax_amount, obj.invoice.currency)

    @admin.display(description=_("Total"))
    def total_display(self, obj: InvoiceLine) -> str:
        return money(obj.total_amount, obj.invoice.currency)


class CreditNoteInline(ReadOnlyTabularInline):
    model = CreditNote
    fields = ("number", "total_display", "reason", "created_at")
    readonly_fields = ("total_display",)
    fk_name = "invoice"

    @admin.display(description=_("Total"))
    def total_display(self, obj: CreditNote) -> str:
        return money(obj.total, obj.currency)


class InvoiceMoneyDisplays:
    subtotal_display = money_column("subtotal", _("Subtotal"))

    tax_display = money_column("tax", _("Tax"))

    total_display = money_column("total", _("Total"))

    credit_applied_display = money_column("credit_applied", _("Credit applied"))

    amount_paid_display = money_column("amount_paid", _("Paid"))

    amount_credited_display = money_column("amount_credited", _("Credited"))

    amount_due_display = money_column("amount_due", _("Amount due"))


@admin.register(Invoice)
class InvoiceAdmin(InvoiceMoneyDisplays, DuesModelAdmin):
    """Invoices come from the billing run. Only a draft's due date can be edited here."""

    list_display = (
        "invoice_number",
        "payer",
        "status",
        "total_display",
        "amount_due_display",
        "issue_date",
        "due_date",
        "location",
        "organization",
    )
    list_display_links = ("invoice_number",)
    list_select_related = ("payer", "location__organization", "organization")
    ordering = ("-id",)
    search_fields = ("number", "id__exact", *member_search_fields("payer"))
    search_help_text = _("Invoice number, or the payer's name, email, phone or member number.")
    list_filter = ("status", "organization", ("location", LocationListFilter))
    date_hierarchy = "issue_date"
    fieldsets = (
        (
            None,
            {"fields": ("organization", "number", "status", "payer", "location", "currency")},
        ),
        (
            _("Amounts"),
            {
                "fields": (
                    "subtotal_display",
                    "tax_display",
                    "total_display",
                    "credit_applied_display",
                    "amount_paid_display",
                    "amount_credited_display",
                    "amount_due_display",
                )
            },
        ),
        (
            _("Dates"),
            {
                "fields": (
                    "issue_date",
                    "due_date",
                    "finalised_at",
                    "paid_at",
                    "billing_run_date",
                    "attempt_count",
                    "created_at",
                )
            },
        ),
    )
    # Everything but the due date of a draft; totals are computed from the lines.
    readonly_fields = (
        "organization",
        "number",
        "status",
        "payer",
        "location",
        "currency",
        "subtotal_display",
        "tax_display",
        "total_display",
        "credit_applied_display",
        "amount_paid_display",
        "amount_credited_display",
        "amount_due_display",
        "issue_date",
        "finalised_at",
        "paid_at",
        "billing_run_date",
        "attempt_count",
        "created_at",
    )
    inlines = (InvoiceLineInline, CreditNoteInline)

    @admin.display(description=_("Number"), ordering="sequence_number")
    def invoice_number(self, obj: Invoice) -> str:
        return str(obj)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        if obj is not None and obj.status != InvoiceStatus.DRAFT:
            return False  # finalised: never changes (issue a credit note)
        return super().has_change_permission(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(InvoiceLine)
class InvoiceLineAdmin(ReadOnlyModelAdmin):
    list_display = ("description", "invoice", "kind", "period_start", "quantity", "total_display")
    list_select_related = ("invoice",)
    search_fields = ("description", "invoice__number")
    list_filter = ("kind", "revenue_category", "organization")

    @admin.display(description=_("Total"))
    def total_display(self, obj: InvoiceLine) -> str:
        return money(obj.total_amount, obj.invoice.currency)


# --- credit notes and member credit --------------------------------------------------------------


class CreditNoteLineInline(ReadOnlyTabularInline):
    model = CreditNoteLine
    fields = ("invoice_line", "net_display", "tax_display")
    readonly_fields = fields
    show_change_link = False

    def get_queryset(self, request: HttpRequest) -> QuerySet[CreditNoteLine]:
        return super().get_queryset(request).select_related("credit_note", "invoice_line")

    @admin.display(description=_("Net"))
    def net_display(self, obj: CreditNoteLine) -> str:
        return money(obj.net_amount, obj.credit_note.currency)

    @admin.display(description=_("Tax"))
    def tax_display(self, obj: CreditNoteLine) -> str:
        return money(obj.tax_amount, obj.credit_note.currency)


@admin.register(CreditNote)
class CreditNoteAdmin(ReadOnlyModelAdmin):
    list_display = (
        "number",
        "invoice",
        "payer",
        "total_display",
        "applied_display",
        "credit_display",
        "refund_display",
        "reason",
        "created_at",
    )
    list_select_related = ("invoice", "payer")
    ordering = ("-id",)
    search_fields = ("number", "invoice__number", "reason", *member_search_fields("payer"))
    list_filter = ("organization",)
    date_hierarchy = "created_at"
    fields = (
        "organization",
        "number",
        "invoice",
        "payer",
        "currency",
        "subtotal_display",
        "tax_display",
        "total_display",
        "applied_display",
        "credit_display",
        "refund_display",
        "reason",
        "created_at",
    )
    inlines = (CreditNoteLineInline,)

    @admin.display(description=_("Subtotal"))
    def subtotal_display(self, obj: CreditNote) -> str:
        return money(obj.subtotal, obj.currency)

    @admin.display(description=_("Tax"))
    def tax_display(self, obj: CreditNote) -> str:
        return money(obj.tax, obj.currency)

    total_display = money_column("total", _("Total"))

    @admin.display(description=_("Taken off the invoice"))
    def applied_display(self, obj: CreditNote) -> str:
        return money(obj.applied_amount, obj.currency)

    @admin.display(description=_("To member credit"))
    def credit_display(self, obj: CreditNote) -> str:
        return money(obj.credit_amount, obj.currency)

    @admin.display(description=_("Refunded"))
    def refund_display(self, obj: CreditNote) -> str:
        return money(obj.refund_amount, obj.currency)


@admin.register(CreditNoteLine)
class CreditNoteLineAdmin(ReadOnlyModelAdmin):
    list_display = ("credit_note", "invoice_line", "total_display")
    list_select_related = ("credit_note", "invoice_line")
    search_fields = ("credit_note__number", "invoice_line__description")
    list_filter = ("organization",)

    @admin.display(description=_("Total"))
    def total_display(self, obj: CreditNoteLine) -> str:
        return money(obj.net_amount + obj.tax_amount, obj.credit_note.currency)


@admin.register(MemberCreditEntry)
class MemberCreditEntryAdmin(ReadOnlyModelAdmin):
    """A payer's account credit movements; positive means the gym owes the member."""

    list_display = ("payer", "kind", "amount_display", "invoice", "credit_note", "created_at")
    list_select_related = ("payer", "invoice", "credit_note")
    ordering = ("-id",)
    search_fields = (
        *member_search_fields("payer"),
        "invoice__number",
        "credit_note__number",
    )
    list_filter = ("kind", "organization")
    date_hierarchy = "created_at"

    amount_display = money_column("amount", _("Amount"))


# --- restrictions -------------------------------------------------------------------------------


@admin.register(Restriction)
class RestrictionAdmin(DuesModelAdmin):
    """Staff may place a restriction by hand (source "staff") or end one; dunning's own are
    lifted by dunning when the invoice is paid."""

    list_display = ("subscription", "kind", "source", "reason", "starts_at", "ends_at")
    list_filter = ("kind", "source", "organization")
    list_select_related = ("subscription__member", "subscription__plan")
    search_fields = ("reason", *member_search_fields("subscription__member"))
    raw_id_fields = ("subscription",)
    fields = ("subscription", "kind", "reason", "starts_at", "ends_at", "source", "lifted_reason")

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        fixed = ["source", "lifted_reason"]
        return fixed + (["subscription", "kind", "starts_at"] if obj is not None else [])

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # end it instead: the history stays

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        if not change:
            obj.source = "staff"
            obj.organization_id = obj.subscription.organization_id
        super().save_model(request, obj, form, change)


# --- contract signatures ------------------------------------------------------------------------


@admin.register(ContractSignature)
class ContractSignatureAdmin(ReadOnlyModelAdmin):
    """Evidence of what a member signed: never edited."""

    list_display = ("member", "title", "plan", "signed_at", "typed_name", "ip_address")
    list_select_related = ("member", "plan")
    search_fields = ("typed_name", "title", *member_search_fields("member"))
    list_filter = ("organization",)
    date_hierarchy = "signed_at"
