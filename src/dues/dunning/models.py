"""Dunning: what to do when a charge fails, as configuration (policies, reminder steps,
paydays) and the state of each failed invoice (``DunningCase``)."""

from __future__ import annotations

from django.db import models

from dues.billing.models import Invoice
from dues.catalog.models import Plan
from dues.core.models import Location, OrgOwned
from dues.members.models import Member


class RetryMode(models.TextChoices):
    FIXED = "fixed", "Fixed days after the first failure"
    SMART = "smart", "Smart: learned from this gym's own attempts"


class FinalAction(models.TextChoices):
    CANCEL = "cancel", "Cancel the membership"
    UNCOLLECTIBLE = "uncollectible", "Keep the membership, mark the invoice uncollectible"
    COLLECTIONS = "collections", "Hand the account to collections"


class LateFeeKind(models.TextChoices):
    NONE = "none", "No late fee"
    FIXED = "fixed", "Fixed amount"
    PERCENT = "percent", "Percent of the overdue invoice"


class DunningPolicy(OrgOwned):
    """An organization's dunning policy (``plan`` empty), or a plan's override of it.

    Day counts are days since the invoice's first failed charge, in the location's
    calendar. Nothing but reminders happens before ``grace_days``.
    """

    name = models.CharField(max_length=100)
    plan = models.ForeignKey(
        Plan, on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    grace_days = models.PositiveSmallIntegerField(default=3)
    retry_mode = models.CharField(max_length=6, choices=RetryMode.choices, default=RetryMode.SMART)
    retry_days = models.JSONField(
        default=list, blank=True, help_text="Fixed mode: days after the first failure, e.g. [3, 7]."
    )
    max_attempts = models.PositiveSmallIntegerField(
        default=8, help_text="Charges per invoice in all, the first included."
    )
    max_days = models.PositiveSmallIntegerField(
        default=28, help_text="Days after the first failure when the final action happens."
    )
    final_action = models.CharField(
        max_length=14, choices=FinalAction.choices, default=FinalAction.CANCEL
    )
    block_bookings_after_days = models.PositiveSmallIntegerField(null=True, blank=True, default=7)
    block_access_after_days = models.PositiveSmallIntegerField(null=True, blank=True, default=14)
    cancel_after_days = models.PositiveSmallIntegerField(
        null=True,
        blank=True,
        help_text="Cancel the membership before the final action; empty = no.",
    )
    late_fee_kind = models.CharField(
        max_length=8, choices=LateFeeKind.choices, default=LateFeeKind.NONE
    )
    late_fee_amount = models.PositiveBigIntegerField(
        default=0, help_text="Fixed fee, in the minor unit of ``late_fee_currency``."
    )
    late_fee_currency = models.CharField(
        max_length=3, blank=True, help_text="A fixed fee applies to invoices in this currency."
    )
    late_fee_bp = models.PositiveIntegerField(
        default=0, help_text="Percent fee in basis points (500 = 5%)."
    )
    late_fee_after_days = models.PositiveSmallIntegerField(default=10)
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()

    class Meta:
        verbose_name_plural = "dunning policies"
        constraints = [
            models.UniqueConstraint(
                fields=["organization"],
                condition=models.Q(plan__isnull=True),
                name="dunning_one_default_policy_per_org",
            ),
            models.UniqueConstraint(
                fields=["organization", "plan"], name="dunning_one_policy_per_plan"
            ),
            models.CheckConstraint(
                condition=models.Q(max_attempts__gte=1), name="dunning_policy_one_attempt_at_least"
            ),
        ]

    def __str__(self) -> str:
        return self.name


class Tone(models.TextChoices):
    FRIENDLY = "friendly", "Friendly"
    FIRM = "firm", "Firm"
    FINAL = "final", "Final notice"


class Channel(models.TextChoices):
    EMAIL = "email", "Email"
    SMS = "sms", "SMS"
    IN_APP = "in_app", "In-app"
    CALL = "call", "Call task for staff"


class ReminderStep(OrgOwned):
    policy = models.ForeignKey(DunningPolicy, on_delete=models.CASCADE, related_name="steps")
    day_offset = models.PositiveSmallIntegerField(help_text="Days after the first failure.")
    channels = models.JSONField(default=list, help_text='e.g. ["email", "sms"]')
    tone = models.CharField(max_length=8, choices=Tone.choices)

    class Meta:
        ordering = ["policy", "day_offset"]
        constraints = [
            models.UniqueConstraint(
                fields=["policy", "day_offset"], name="reminder_step_once_a_day"
            )
        ]

    def __str__(self) -> str:
        return f"day {self.day_offset}: {self.get_tone_display()} ({', '.join(self.channels)})"


class Payday(OrgOwned):
    """When people at a location are paid (-1 = the month's last day); insufficient-funds
    retries aim just after."""

    location = models.OneToOneField(Location, on_delete=models.CASCADE, related_name="payday")
    days = models.JSONField(default=list)

    def __str__(self) -> str:
        return f"{self.location}: {self.days}"


class CaseStatus(models.TextChoices):
    OPEN = "open", "In dunning"
    RECOVERED = "recovered", "Recovered"
    CLOSED = "closed", "Closed (invoice voided or credited)"
    CANCELLED = "cancelled", "Membership cancelled"
    UNCOLLECTIBLE = "uncollectible", "Written off"
    COLLECTIONS = "collections", "With collections"


class DunningCase(OrgOwned):
    """One invoice whose charge failed, from the first failure until it is settled."""

    invoice = models.OneToOneField(Invoice, on_delete=models.PROTECT, related_name="dunning_case")
    payer = models.ForeignKey(Member, on_delete=models.PROTECT, related_name="dunning_cases")
    policy = models.ForeignKey(DunningPolicy, on_delete=models.PROTECT, related_name="cases")
    status = models.CharField(max_length=14, choices=CaseStatus.choices, default=CaseStatus.OPEN)
    is_fee = models.BooleanField(default=False, help_text="The invoice is itself a late fee.")
    opened_at = models.DateTimeField()
    first_failed_at = models.DateTimeField()
    first_failed_on = models.DateField(help_text="Local date of the first failure.")
    last_attempt_at = models.DateTimeField()
    last_decline_code = models.CharField(max_length=40, blank=True)
    last_advice_code = models.CharField(max_length=4, blank=True)
    last_payment_method_id = models.BigIntegerField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=1)
    next_retry_at = models.DateTimeField(null=True, blank=True)
    waiting_for_card = models.BooleanField(default=False)
    retry_note = models.CharField(max_length=200, blank=True, help_text="Why this retry time.")
    reminders_sent = models.PositiveSmallIntegerField(default=0)
    restriction_level = models.PositiveSmallIntegerField(
        default=0, help_text="0 none, 1 bookings blocked, 2 access blocked, 3 cancelled."
    )
    escalated_on = models.DateField(
        null=True, blank=True, help_text="Local date reminders and restrictions were last checked."
    )
    late_fee_invoice = models.OneToOneField(
        Invoice, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    closed_at = models.DateTimeField(null=True, blank=True)
    variant = models.CharField(max_length=40, blank=True, help_text="Experiment variant.")

    class Meta:
        ordering = ["-opened_at", "-id"]
        indexes = [
            models.Index(
                fields=["next_retry_at"],
                condition=models.Q(status="open"),
                name="dunning_case_retry_due",
            ),
            models.Index(fields=["organization", "status"]),
        ]

    def __str__(self) -> str:
        return f"Dunning {self.invoice} ({self.get_status_display()})"
