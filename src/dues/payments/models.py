"""Payment methods hold the gateway's token only (DESIGN invariant 9): brand, last four and
expiry for display, never a card number."""

from __future__ import annotations

from django.db import models

from dues.billing.models import Invoice
from dues.core.models import OrgOwned, OrgScoped
from dues.members.models import Member


class PaymentMethodQuerySet(models.QuerySet["PaymentMethod"]):
    def usable_defaults(self) -> PaymentMethodQuerySet:
        """Each payer's default method that is still attached: the one we charge."""
        return self.filter(is_default=True, status=PaymentMethod.Status.ACTIVE)


class PaymentMethod(OrgOwned):
    class Kind(models.TextChoices):
        CARD = "card", "Card"
        SEPA_DEBIT = "sepa_debit", "SEPA Direct Debit"
        BANK_DEBIT = "bank_debit", "Bank debit"

    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        DETACHED = "detached", "Removed"

    payer = models.ForeignKey(Member, on_delete=models.PROTECT, related_name="payment_methods")
    kind = models.CharField(max_length=12, choices=Kind.choices, default=Kind.CARD)
    gateway = models.CharField(max_length=20, default="sandbox")
    token = models.CharField(max_length=120, help_text="The gateway's reference, not a number.")
    brand = models.CharField(max_length=20, blank=True)
    last4 = models.CharField(max_length=4)
    exp_month = models.PositiveSmallIntegerField(null=True, blank=True)
    exp_year = models.PositiveSmallIntegerField(null=True, blank=True)
    mandate_reference = models.CharField(max_length=80, blank=True)
    customer_reference = models.CharField(
        max_length=80, blank=True, help_text="The gateway's customer the method is saved on."
    )
    is_default = models.BooleanField(default=False)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.ACTIVE)
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()

    objects = PaymentMethodQuerySet.as_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["payer"],
                condition=models.Q(is_default=True, status="active"),
                name="one_default_payment_method_per_payer",
            ),
            # A method saved twice (the page and the gateway's event racing) is one row.
            models.UniqueConstraint(
                fields=["organization", "gateway", "token"], name="payment_method_token_once"
            ),
            models.CheckConstraint(
                condition=models.Q(last4__regex=r"^[0-9]{4}$"), name="payment_method_last4_digits"
            ),
        ]

    @property
    def label(self) -> str:
        """How a member recognises it: "Visa •••• 4242", "SEPA Direct Debit •••• 3000"."""
        name = self.brand.title() if self.kind == self.Kind.CARD and self.brand else None
        return f"{name or self.get_kind_display()} •••• {self.last4}"

    def __str__(self) -> str:
        label = self.brand or self.get_kind_display()
        expiry = (
            f" {self.exp_month:02d}/{self.exp_year}" if self.exp_month and self.exp_year else ""
        )
        return f"{label} •••• {self.last4}{expiry}"


class AttemptStatus(models.TextChoices):
    PENDING = "pending", "Sent, outcome not yet recorded"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"


class PaymentAttempt(OrgScoped):
    """A charge attempt, committed before the gateway is called (DESIGN invariant 2).

    ``idempotency_key`` is ``inv_<invoice id>_<n>``; an attempt left pending by a crash or a
    lost reply is resolved by asking the gateway about that key, never by charging again.
    """

    invoice = models.ForeignKey(Invoice, on_delete=models.PROTECT, related_name="attempts")
    payment_method = models.ForeignKey(PaymentMethod, on_delete=models.PROTECT)
    attempt_number = models.PositiveIntegerField()
    idempotency_key = models.CharField(max_length=80)
    amount = models.BigIntegerField()
    currency = models.CharField(max_length=3)
    status = models.CharField(
        max_length=10, choices=AttemptStatus.choices, default=AttemptStatus.PENDING
    )
    gateway_reference = models.CharField(max_length=120, blank=True)
    decline_code = models.CharField(max_length=40, blank=True)
    advice_code = models.CharField(
        max_length=4, blank=True, help_text="Mastercard merchant advice code, if any."
    )
    failure_message = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField()
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["idempotency_key"], name="attempt_key_unique"),
            models.UniqueConstraint(
                fields=["invoice", "attempt_number"], name="attempt_number_unique_per_invoice"
            ),
            # At most one attempt in flight per invoice: a second is refused, not sent.
            models.UniqueConstraint(
                fields=["invoice"],
                condition=models.Q(status="pending"),
                name="attempt_one_pending_per_invoice",
            ),
            models.CheckConstraint(
                condition=models.Q(amount__gt=0), name="attempt_amount_positive"
            ),
        ]
        indexes = [models.Index(fields=["status", "created_at"])]

    def __str__(self) -> str:
        return f"{self.idempotency_key} ({self.status})"


class Payment(OrgScoped):
    class Method(models.TextChoices):
        CARD = "card", "Card (online)"
        BANK_DEBIT = "bank_debit", "Bank debit"
        CASH = "cash", "Cash at the desk"
        TERMINAL = "terminal", "Card terminal at the desk"

    payer = models.ForeignKey(Member, on_delete=models.PROTECT, related_name="payments")
    invoice = models.ForeignKey(
        Invoice, on_delete=models.PROTECT, null=True, blank=True, related_name="payments"
    )
    attempt = models.OneToOneField(
        PaymentAttempt, on_delete=models.PROTECT, null=True, blank=True, related_name="payment"
    )
    method = models.CharField(max_length=12, choices=Method.choices)
    amount = models.BigIntegerField()
    amount_refunded = models.BigIntegerField(default=0)
    currency = models.CharField(max_length=3)
    gateway_reference = models.CharField(max_length=120, blank=True)
    reference = models.CharField(max_length=120, blank=True, help_text="Receipt or terminal ref.")
    received_at = models.DateTimeField()

    class Meta:
        ordering = ["-received_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(amount__gt=0), name="payment_amount_positive"
            ),
            models.CheckConstraint(
                condition=models.Q(amount_refunded__lte=models.F("amount"), amount_refunded__gte=0),
                name="payment_refunds_within_amount",
            ),
        ]
        indexes = [
            # Money collected per month (reports.dashboard), summed from the index alone.
            models.Index(
                fields=["organization", "received_at", "currency", "amount"],
                name="payment_received_sums",
            )
        ]

    def __str__(self) -> str:
        return f"Payment #{self.pk} {self.amount} {self.currency}"


class Refund(OrgOwned):
    class Status(models.TextChoices):
        PENDING = "pending", "Sent"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"

    payment = models.ForeignKey(Payment, on_delete=models.PROTECT, related_name="refunds")
    credit_note = models.OneToOneField(
        "billing.CreditNote", on_delete=models.PROTECT, null=True, blank=True, related_name="refund"
    )
    amount = models.BigIntegerField()
    currency = models.CharField(max_length=3)
    reason = models.CharField(max_length=200)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    idempotency_key = models.CharField(max_length=80, unique=True)
    gateway_reference = models.CharField(max_length=120, blank=True)
    created_at = models.DateTimeField()
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=models.Q(amount__gt=0), name="refund_amount_positive")
        ]

    def __str__(self) -> str:
        return f"Refund #{self.pk} {self.amount} {self.currency}"


class SandboxCharge(models.Model):
    """The sandbox gateway's own record of charges it has made (the 'remote' side).

    Kept apart from our payment tables: it is what the gateway knows, written by the
    gateway when it charges, and looked up by idempotency key to resolve lost replies.
    """

    idempotency_key = models.CharField(max_length=80, unique=True)
    token = models.CharField(max_length=120, db_index=True)
    amount = models.BigIntegerField()
    currency = models.CharField(max_length=3)
    succeeded = models.BooleanField()
    decline_code = models.CharField(max_length=40, blank=True)
    reference = models.CharField(max_length=60)
    refunded = models.BigIntegerField(default=0)
    created_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.reference} {'ok' if self.succeeded else self.decline_code}"


class GatewayCustomer(OrgOwned):
    """A payer's customer record at a gateway (Stripe's ``cus_``), made once per payer."""

    payer = models.ForeignKey(Member, on_delete=models.PROTECT, related_name="gateway_customers")
    gateway = models.CharField(max_length=20)
    reference = models.CharField(max_length=80)
    created_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["payer", "gateway"], name="gateway_customer_once"),
            models.UniqueConstraint(
                fields=["gateway", "reference"], name="gateway_customer_reference_unique"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.gateway} {self.reference}"


class GatewayAccount(OrgOwned):
    """An organization's own keys at a gateway, encrypted (``dues.core.crypto``).

    Without one, the keys come from the environment (one account for the whole install).
    """

    gateway = models.CharField(max_length=20, default="stripe")
    publishable_key = models.CharField(max_length=200, blank=True)
    secret_key_sealed = models.TextField(blank=True)
    webhook_secret_sealed = models.TextField(blank=True)
    updated_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "gateway"], name="gateway_account_once_per_org"
            )
        ]

    def __str__(self) -> str:
        return f"{self.gateway} account of {self.organization_id}"


class GatewayEvent(models.Model):
    """An event a gateway sent us, kept once per event id: a replay is answered, not redone."""

    gateway = models.CharField(max_length=20)
    event_id = models.CharField(max_length=80)
    # Like SandboxCharge, the gateway's record, kept before anything in it is trusted; so
    # not owned by a gym. It notes which gym's own endpoint received it ("" for the
    # install's account).
    endpoint = models.CharField(max_length=80, blank=True)
    type = models.CharField(max_length=80)
    created = models.DateTimeField(help_text="When the gateway says the event happened.")
    payload = models.JSONField()
    received_at = models.DateTimeField()
    outcome = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["-received_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["gateway", "event_id"], name="gateway_event_once")
        ]

    def __str__(self) -> str:
        return f"{self.event_id} {self.type}"


class Dispute(OrgOwned):
    """A chargeback: the network took a payment back until the gym proves it was owed."""

    class Status(models.TextChoices):
        NEEDS_RESPONSE = "needs_response", "Needs response"
        UNDER_REVIEW = "under_review", "Under review"
        WON = "won", "Won"
        LOST = "lost", "Lost"

    payment = models.ForeignKey(Payment, on_delete=models.PROTECT, related_name="disputes")
    reference = models.CharField(max_length=80, unique=True)
    amount = models.BigIntegerField()
    currency = models.CharField(max_length=3)
    reason = models.CharField(max_length=60)
    status = models.CharField(max_length=16, choices=Status.choices)
    gateway_status = models.CharField(max_length=40)
    evidence_due_by = models.DateTimeField(null=True, blank=True)
    opened_at = models.DateTimeField()
    closed_at = models.DateTimeField(null=True, blank=True)
    # The gateway time of the newest event applied: an older event changes nothing.
    gateway_updated_at = models.DateTimeField()

    class Meta:
        ordering = ["-opened_at", "-id"]
        constraints = [
            models.CheckConstraint(condition=models.Q(amount__gt=0), name="dispute_amount_positive")
        ]

    def __str__(self) -> str:
        return f"Dispute {self.reference} ({self.status})"
