from __future__ import annotations

from typing import Any

from django.db import models

from dues.catalog.models import AddOn, ContractVersion, Coupon, Interval, Plan, RevenueCategory
from dues.core.models import Location, Organization, OrgOwned, OrgScoped
from dues.members.models import Member


class SubscriptionStatus(models.TextChoices):
    PENDING = "pending", "Starts later"
    TRIALING = "trialing", "Trial"
    ACTIVE = "active", "Active"
    FROZEN = "frozen", "Frozen"
    CANCELLED = "cancelled", "Cancelled"


# The one place subscription transitions are allowed; services.subscription_transition enforces.
SUBSCRIPTION_TRANSITIONS: dict[str, set[str]] = {
    SubscriptionStatus.PENDING: {
        SubscriptionStatus.TRIALING,
        SubscriptionStatus.ACTIVE,
        SubscriptionStatus.CANCELLED,
    },
    SubscriptionStatus.TRIALING: {SubscriptionStatus.ACTIVE, SubscriptionStatus.CANCELLED},
    SubscriptionStatus.ACTIVE: {SubscriptionStatus.FROZEN, SubscriptionStatus.CANCELLED},
    SubscriptionStatus.FROZEN: {SubscriptionStatus.ACTIVE, SubscriptionStatus.CANCELLED},
    SubscriptionStatus.CANCELLED: set(),
}


class Subscription(OrgOwned):
    """A member's membership of a plan.

    Periods are counted from ``anchor_date``: period *k* is
    ``[anchor + k·interval, anchor + (k+1)·interval)``, always computed from the anchor
    (never from the previous period) so a 31st anchor gives Jan 31 → Feb 28/29 → Mar 31.
    ``next_period_index``/``next_billing_date`` name the next period to invoice; a first
    period that starts after its nominal start is a prorated stub.
    """

    member = models.ForeignKey(Member, on_delete=models.PROTECT, related_name="subscriptions")
    payer = models.ForeignKey(Member, on_delete=models.PROTECT, related_name="paid_subscriptions")
    plan = models.ForeignKey(Plan, on_delete=models.PROTECT, related_name="subscriptions")
    location = models.ForeignKey(Location, on_delete=models.PROTECT, related_name="subscriptions")
    status = models.CharField(
        max_length=10, choices=SubscriptionStatus.choices, default=SubscriptionStatus.PENDING
    )
    interval = models.CharField(max_length=8, choices=Interval.choices)
    currency = models.CharField(max_length=3)
    price = models.PositiveBigIntegerField(help_text="Price per period, fixed at sign-up.")
    start_date = models.DateField()
    billing_anchor_day = models.PositiveSmallIntegerField(
        help_text="Day of month periods start on (1–31; clamped to short months)."
    )
    trial_end = models.DateField(null=True, blank=True)
    anchor_date = models.DateField()
    next_period_index = models.IntegerField(default=0)
    next_billing_date = models.DateField(null=True, blank=True)
    current_period_start = models.DateField(null=True, blank=True)
    current_period_end = models.DateField(null=True, blank=True)
    minimum_term_end = models.DateField(null=True, blank=True)
    cancel_at = models.DateField(null=True, blank=True, help_text="Ends at this date.")
    cancelled_at = models.DateTimeField(null=True, blank=True)
    cancel_reason = models.CharField(max_length=200, blank=True)
    pending_plan = models.ForeignKey(
        Plan, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    coupon = models.ForeignKey(Coupon, on_delete=models.PROTECT, null=True, blank=True)
    coupon_periods_left = models.PositiveIntegerField(
        null=True, blank=True, help_text="Periods the coupon still applies to; empty = forever."
    )
    joining_fee_pending = models.PositiveBigIntegerField(
        default=0, help_text="Joining fee to put on the first invoice."
    )
    sold_online = models.BooleanField(default=False)
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["status", "next_billing_date"]),
            models.Index(fields=["organization", "member"]),
            # MRR and memberships started and ended (reports.dashboard): an organization's
            # memberships grouped by these columns in index order, without reading a row.
            models.Index(
                fields=[
                    "organization",
                    "currency",
                    "interval",
                    "start_date",
                    "trial_end",
                    "cancel_at",
                    "price",
                ],
                name="subscription_mrr",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.member} · {self.plan.name} ({self.get_status_display()})"


class ContractSignature(OrgOwned):
    """A member's signature on the contract of a membership: what they saw, word for word,
    and how they signed it (typed name, time, IP address, browser). The text is kept with
    its SHA-256 so the copy the member got can be matched to it later; the version names
    the wording they signed, should the gym publish a new one."""

    member = models.ForeignKey(Member, on_delete=models.PROTECT, related_name="signatures")
    subscription = models.OneToOneField(
        Subscription,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="signature",
        help_text="Empty until the membership starts (the member signs before paying).",
    )
    plan = models.ForeignKey(Plan, on_delete=models.PROTECT, related_name="+")
    location = models.ForeignKey(Location, on_delete=models.PROTECT, related_name="+")
    contract_version = models.ForeignKey(
        ContractVersion, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    language = models.CharField(max_length=10)
    title = models.CharField(max_length=200)
    text = models.TextField(help_text="The contract exactly as shown when signing.")
    text_sha256 = models.CharField(max_length=64)
    typed_name = models.CharField(max_length=200)
    signed_at = models.DateTimeField()
    ip_address = models.GenericIPAddressField()
    user_agent = models.CharField(max_length=400, blank=True)

    class Meta:
        ordering = ["-signed_at"]

    def __str__(self) -> str:
        return f"{self.title}: {self.typed_name} ({self.signed_at:%Y-%m-%d})"


class SubscriptionAddOn(OrgOwned):
    subscription = models.ForeignKey(Subscription, on_delete=models.CASCADE, related_name="addons")
    addon = models.ForeignKey(AddOn, on_delete=models.PROTECT)
    quantity = models.PositiveIntegerField(default=1)
    unit_price = models.PositiveBigIntegerField()

    def __str__(self) -> str:
        return f"{self.quantity} × {self.addon}"


class Freeze(OrgOwned):
    class Status(models.TextChoices):
        SCHEDULED = "scheduled", "Scheduled"
        ACTIVE = "active", "Active"
        ENDED = "ended", "Ended"
        CANCELLED = "cancelled", "Cancelled"

    subscription = models.ForeignKey(Subscription, on_delete=models.CASCADE, related_name="freezes")
    start_date = models.DateField()
    end_date = models.DateField(help_text="First day the membership is active again.")
    fee = models.PositiveBigIntegerField(default=0)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.SCHEDULED)
    reason = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["start_date"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(end_date__gt=models.F("start_date")),
                name="freeze_ends_after_start",
            )
        ]

    def __str__(self) -> str:
        return f"Freeze {self.start_date} → {self.end_date}"


class InvoiceStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    OPEN = "open", "Open"
    PAID = "paid", "Paid"
    UNCOLLECTIBLE = "uncollectible", "Uncollectible"
    VOID = "void", "Void"


INVOICE_TRANSITIONS: dict[str, set[str]] = {
    InvoiceStatus.DRAFT: {InvoiceStatus.OPEN, InvoiceStatus.PAID, InvoiceStatus.VOID},
    InvoiceStatus.OPEN: {InvoiceStatus.PAID, InvoiceStatus.UNCOLLECTIBLE, InvoiceStatus.VOID},
    InvoiceStatus.UNCOLLECTIBLE: {InvoiceStatus.PAID, InvoiceStatus.VOID},
    InvoiceStatus.PAID: set(),
    InvoiceStatus.VOID: set(),
}

# Fields that make up a finalised invoice's content; they never change after finalisation.
INVOICE_CONTENT_FIELDS = (
    "number",
    "sequence_number",
    "payer_id",
    "location_id",
    "currency",
    "subtotal",
    "tax",
    "total",
    "credit_applied",
    "issue_date",
    "due_date",
)


class FinalisedInvoiceError(Exception):
    """An attempt to change what a finalised invoice says (issue a credit note instead)."""


class Invoice(OrgOwned):
    """Totals: ``total = subtotal + tax``; ``amount_due = total − credit_applied − amount_paid
    − amount_credited`` (credit notes against it)."""

    number = models.CharField(max_length=40, null=True, blank=True)
    sequence_number = models.PositiveBigIntegerField(null=True, blank=True, editable=False)
    # The composite indexes below lead with organization and payer, so the single-column
    # ones would only cost every write.
    organization = models.ForeignKey(Organization, on_delete=models.PROTECT, db_index=False)
    payer = models.ForeignKey(
        Member, on_delete=models.PROTECT, related_name="invoices", db_index=False
    )
    location = models.ForeignKey(Location, on_delete=models.PROTECT, related_name="invoices")
    status = models.CharField(
        max_length=14, choices=InvoiceStatus.choices, default=InvoiceStatus.DRAFT
    )
    currency = models.CharField(max_length=3)
    subtotal = models.BigIntegerField(default=0)
    tax = models.BigIntegerField(default=0)
    total = models.BigIntegerField(default=0)
    credit_applied = models.BigIntegerField(default=0)
    amount_paid = models.BigIntegerField(default=0)
    amount_credited = models.BigIntegerField(default=0)
    amount_due = models.BigIntegerField(default=0)
    issue_date = models.DateField(null=True, blank=True)
    due_date = models.DateField(null=True, blank=True)
    finalised_at = models.DateTimeField(null=True, blank=True)
    paid_at = models.DateTimeField(null=True, blank=True)
    attempt_count = models.PositiveIntegerField(default=0)
    billing_run_date = models.DateField(null=True, blank=True)
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "number"], name="invoice_number_unique_per_org"
            ),
            models.CheckConstraint(
                condition=models.Q(amount_due__gte=0), name="invoice_amount_due_not_negative"
            ),
            models.CheckConstraint(
                condition=models.Q(total=models.F("subtotal") + models.F("tax")),
                name="invoice_total_is_subtotal_plus_tax",
            ),
        ]
        indexes = [
            models.Index(fields=["organization", "status"]),
            models.Index(fields=["payer", "status"]),
            # Collection claims these in id order: a small index of exactly the candidates,
            # so a claim never walks past the invoices already attempted or paid.
            models.Index(
                fields=["id"],
                condition=models.Q(status="open", attempt_count=0),
                name="invoice_never_attempted",
            ),
            # Arrears (reports.selectors.arrears_aging): the few invoices still owed, so
            # the query never walks the paid ones (SQLite's planner, seeing one status in
            # its statistics, would otherwise scan the table).
            models.Index(
                fields=["organization", "due_date"],
                condition=models.Q(status="open", amount_due__gt=0),
                name="invoice_owed",
            ),
        ]

    def __str__(self) -> str:
        return self.number or f"Draft #{self.pk}"

    @classmethod
    def from_db(cls, db: Any, field_names: Any, values: Any, **kwargs: Any) -> Invoice:
        instance = super().from_db(db, field_names, values, **kwargs)
        instance._loaded_content = {  # type: ignore[attr-defined]
            name: getattr(instance, name)
            for name in INVOICE_CONTENT_FIELDS
            if name in instance.__dict__
        }
        instance._loaded_status = instance.__dict__.get("status")  # type: ignore[attr-defined]
        return instance

    def save(self, *args: Any, **kwargs: Any) -> None:
        loaded_status = getattr(self, "_loaded_status", None)
        if loaded_status not in (None, InvoiceStatus.DRAFT):
            loaded = getattr(self, "_loaded_content", {})
            changed = [n for n, v in loaded.items() if getattr(self, n) != v]
            if changed:
                raise FinalisedInvoiceError(
                    f"invoice {self.number} is finalised; {', '.join(changed)} cannot change "
                    "(issue a credit note)"
                )
        super().save(*args, **kwargs)


class InvoiceLine(OrgScoped):
    class Kind(models.TextChoices):
        PLAN = "plan", "Membership period"
        PRORATION = "proration", "Proration"
        JOINING_FEE = "joining_fee", "Joining fee"
        ADDON = "addon", "Add-on"
        FREEZE_FEE = "freeze_fee", "Freeze fee"
        FEE = "fee", "Fee"
        LATE_FEE = "late_fee", "Late-payment fee"
        CHARGE = "charge", "One-off charge"

    invoice = models.ForeignKey(Invoice, on_delete=models.CASCADE, related_name="lines")
    kind = models.CharField(max_length=12, choices=Kind.choices)
    description = models.CharField(max_length=200)
    subscription = models.ForeignKey(
        Subscription, on_delete=models.PROTECT, null=True, blank=True, related_name="lines"
    )
    period_start = models.DateField(null=True, blank=True)
    period_end = models.DateField(null=True, blank=True)
    quantity = models.PositiveIntegerField(default=1)
    unit_amount = models.BigIntegerField(help_text="Price per unit as listed (minor units).")
    discount_amount = models.BigIntegerField(default=0)
    tax_rate_bp = models.PositiveIntegerField(default=0)
    net_amount = models.BigIntegerField(help_text="Excluding tax, after discount.")
    tax_amount = models.BigIntegerField(default=0)
    revenue_category = models.CharField(max_length=16, choices=RevenueCategory.choices)

    class Meta:
        ordering = ["id"]
        constraints = [
            # DESIGN invariant 1: a subscription period is invoiced at most once.
            models.UniqueConstraint(
                fields=["subscription", "period_start"],
                condition=models.Q(kind="plan"),
                name="invoice_line_period_once",
            ),
        ]

    def __str__(self) -> str:
        return self.description

    @property
    def total_amount(self) -> int:
        return self.net_amount + self.tax_amount


class CreditNote(OrgOwned):
    """A correction to a finalised invoice: reduces what is owed, credits the member's
    balance, or backs a refund (``refund_amount`` + ``credit_amount`` + ``applied_amount``
    = ``total``)."""

    number = models.CharField(max_length=40)
    sequence_number = models.PositiveBigIntegerField(editable=False)
    invoice = models.ForeignKey(Invoice, on_delete=models.PROTECT, related_name="credit_notes")
    payer = models.ForeignKey(Member, on_delete=models.PROTECT, related_name="credit_notes")
    currency = models.CharField(max_length=3)
    subtotal = models.BigIntegerField()
    tax = models.BigIntegerField()
    total = models.BigIntegerField()
    applied_amount = models.BigIntegerField(
        default=0, help_text="Taken off the invoice's amount due."
    )
    credit_amount = models.BigIntegerField(default=0, help_text="Added to the member's credit.")
    refund_amount = models.BigIntegerField(default=0, help_text="Paid back with a refund.")
    reason = models.CharField(max_length=200)
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "number"], name="credit_note_number_unique_per_org"
            ),
            models.CheckConstraint(
                condition=models.Q(
                    total=models.F("applied_amount")
                    + models.F("credit_amount")
                    + models.F("refund_amount")
                ),
                name="credit_note_parts_sum_to_total",
            ),
        ]

    def __str__(self) -> str:
        return self.number


class CreditNoteLine(OrgScoped):
    credit_note = models.ForeignKey(CreditNote, on_delete=models.CASCADE, related_name="lines")
    invoice_line = models.ForeignKey(InvoiceLine, on_delete=models.PROTECT, related_name="+")
    net_amount = models.BigIntegerField()
    tax_amount = models.BigIntegerField()

    def __str__(self) -> str:
        return f"{self.credit_note} − {self.net_amount + self.tax_amount}"


class MemberCreditEntry(OrgScoped):
    """Movements of a payer's account credit; the balance is their sum (positive = we owe)."""

    class Kind(models.TextChoices):
        CREDIT_NOTE = "credit_note", "Credit note"
        APPLIED = "applied", "Applied to invoice"
        OVERPAYMENT = "overpayment", "Overpayment"
        ADJUSTMENT = "adjustment", "Adjustment"

    payer = models.ForeignKey(Member, on_delete=models.PROTECT, related_name="credit_entries")
    currency = models.CharField(max_length=3)
    amount = models.BigIntegerField()
    kind = models.CharField(max_length=12, choices=Kind.choices)
    invoice = models.ForeignKey(Invoice, on_delete=models.PROTECT, null=True, blank=True)
    credit_note = models.ForeignKey(CreditNote, on_delete=models.PROTECT, null=True, blank=True)
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"{self.payer}: {self.amount} {self.currency}"


class RestrictionKind(models.TextChoices):
    BOOKINGS = "bookings", "No new class bookings"
    ACCESS = "access", "No door access"
    CHANGES = "changes", "No membership changes"


class Restriction(OrgOwned):
    """A block on one membership, as data (Kill Bill's blocking states): dunning and staff
    place them, access, classes and billing read them. One in force per membership, kind
    and source; lifting one sets ``ends_at``, so the history stays."""

    subscription = models.ForeignKey(
        Subscription, on_delete=models.CASCADE, related_name="restrictions"
    )
    kind = models.CharField(max_length=10, choices=RestrictionKind.choices)
    source = models.CharField(max_length=20, help_text="Who placed it: dunning, staff.")
    source_id = models.BigIntegerField(
        null=True, blank=True, help_text="The placing record, e.g. the dunning case."
    )
    reason = models.CharField(max_length=200)
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField(null=True, blank=True)
    lifted_reason = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["-starts_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["subscription", "kind", "source", "source_id"],
                condition=models.Q(ends_at__isnull=True),
                name="restriction_one_in_force_per_source",
            ),
            models.CheckConstraint(
                condition=models.Q(ends_at__isnull=True)
                | models.Q(ends_at__gte=models.F("starts_at")),
                name="restriction_ends_after_start",
            ),
        ]
        indexes = [models.Index(fields=["subscription", "ends_at"])]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} ({self.reason})"
