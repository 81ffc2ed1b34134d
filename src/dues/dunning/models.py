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


def list_30_7() -> list[int]:
    return [30, 7]


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
    card_expiry_notice_days = models.JSONField(
        default=list_30_7, blank=True, help_text="Days before a card expires to tell the member."
    )
    renewal_notice_days = models.PositiveSmallIntegerField(
        null=True, blank=True, default=30, help_text="Days before a yearly renewal; empty = no."
    )
    risk_notice_bp = models.PositiveIntegerField(
        null=True,
        blank=True,
        default=3000,
        help_text="Members whose next charge fails with at least this chance (3000 = 30%) "
        "get a heads-up before it; empty = no.",
    )
    risk_notice_days = models.PositiveSmallIntegerField(default=3)
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
    ON_PLAN = "on_plan", "On a payment plan"


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
    # The day offset of the last reminder step passed: steps are matched by day, so a
    # policy edited mid-case neither skips its new later steps nor repeats earlier ones.
    reminded_through_day = models.PositiveSmallIntegerField(null=True, blank=True)
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
    collections_exported_at = models.DateTimeField(
        null=True, blank=True, help_text="When the account was first sent to the agency."
    )
    experiment = models.ForeignKey(
        "Experiment", on_delete=models.PROTECT, null=True, blank=True, related_name="cases"
    )
    variant = models.CharField(max_length=40, blank=True, help_text="Experiment variant.")
    payment_plan = models.ForeignKey(
        "PaymentPlan", on_delete=models.PROTECT, null=True, blank=True, related_name="cases"
    )

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


class PlanStatus(models.TextChoices):
    ACTIVE = "active", "Active"
    COMPLETED = "completed", "Completed"
    BROKEN = "broken", "Broken (an instalment failed)"
    CANCELLED = "cancelled", "Cancelled by staff"


class PaymentPlan(OrgOwned):
    """An overdue balance split into instalments. While it is active its cases are not
    retried, reminded or restricted; each instalment is charged on its own date against the
    oldest of the plan's invoices first."""

    payer = models.ForeignKey(Member, on_delete=models.PROTECT, related_name="payment_plans")
    currency = models.CharField(max_length=3)
    total = models.BigIntegerField()
    status = models.CharField(max_length=10, choices=PlanStatus.choices, default=PlanStatus.ACTIVE)
    note = models.TextField(blank=True)
    created_at = models.DateTimeField()
    closed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"Payment plan {self.pk} ({self.status})"


class InstalmentStatus(models.TextChoices):
    SCHEDULED = "scheduled", "Scheduled"
    PAID = "paid", "Paid"
    FAILED = "failed", "Failed"


class Instalment(OrgOwned):
    plan = models.ForeignKey(PaymentPlan, on_delete=models.CASCADE, related_name="instalments")
    number = models.PositiveSmallIntegerField()
    due_on = models.DateField(help_text="Charged on this day, in the location's calendar.")
    amount = models.BigIntegerField()
    amount_paid = models.BigIntegerField(default=0)
    status = models.CharField(
        max_length=10, choices=InstalmentStatus.choices, default=InstalmentStatus.SCHEDULED
    )
    tries = models.PositiveSmallIntegerField(default=0)
    next_try_on = models.DateField(null=True, blank=True)
    paid_at = models.DateTimeField(null=True, blank=True)
    last_decline_code = models.CharField(max_length=40, blank=True)

    class Meta:
        ordering = ["plan", "number"]
        constraints = [
            models.UniqueConstraint(fields=["plan", "number"], name="instalment_number_once"),
            models.CheckConstraint(condition=models.Q(amount__gt=0), name="instalment_positive"),
        ]

    def __str__(self) -> str:
        return f"Instalment {self.number} of plan {self.plan_id}"


class PreNoticeKind(models.TextChoices):
    CARD_EXPIRING = "card_expiring", "Card expiring"
    RENEWAL = "renewal", "Yearly renewal coming"
    RISKY_CHARGE = "risky_charge", "Charge coming, likely to fail"


class PreNotice(OrgOwned):
    """A notice sent before anything failed; the unique key makes each one go out once."""

    payer = models.ForeignKey(Member, on_delete=models.PROTECT, related_name="+")
    kind = models.CharField(max_length=14, choices=PreNoticeKind.choices)
    key = models.CharField(max_length=80, help_text="What it was about, e.g. card 12, 30 days.")
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["organization", "kind", "key"], name="pre_notice_once")
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.key}"


class RiskScore(OrgOwned):
    """A payer's chance that the next charge fails, refreshed before each charge."""

    payer = models.OneToOneField(Member, on_delete=models.CASCADE, related_name="risk_score")
    score_bp = models.PositiveIntegerField(help_text="Chance of failure, in basis points.")
    reasons = models.JSONField(default=list, blank=True)
    charge_on = models.DateField(help_text="The charge the score is for.")
    computed_at = models.DateTimeField()

    class Meta:
        ordering = ["-score_bp"]
        indexes = [models.Index(fields=["organization", "score_bp"])]

    def __str__(self) -> str:
        return f"{self.payer_id}: {self.score_bp / 100:.1f}%"


class PreDunningDay(OrgOwned):
    """The last local day pre-dunning ran for an organization: it runs once a day."""

    ran_on = models.DateField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["organization"], name="pre_dunning_day_per_org")
        ]

    def __str__(self) -> str:
        return f"{self.organization_id}: {self.ran_on}"


class ReminderStyle(models.TextChoices):
    STANDARD = "standard", "Standard: explains what happened and what comes next"
    DIRECT = "direct", "Direct: short, one call to action"


class Experiment(OrgOwned):
    """A test of a policy: each payer whose invoice enters dunning under the policy while
    the experiment runs is assigned a variant (stably, by a hash of the payer), and the
    variant's schedule or reminder text replaces the policy's for that case."""

    policy = models.ForeignKey(DunningPolicy, on_delete=models.PROTECT, related_name="experiments")
    name = models.CharField(max_length=100)
    hypothesis = models.TextField(blank=True)
    started_at = models.DateTimeField()
    stopped_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-started_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["policy"],
                condition=models.Q(stopped_at__isnull=True),
                name="experiment_one_running_per_policy",
            )
        ]

    def __str__(self) -> str:
        return self.name


class ExperimentVariant(OrgOwned):
    experiment = models.ForeignKey(Experiment, on_delete=models.CASCADE, related_name="variants")
    key = models.SlugField(max_length=40, help_text="e.g. control, smart, direct-text")
    weight = models.PositiveSmallIntegerField(default=1, help_text="Share of payers, relative.")
    retry_mode = models.CharField(
        max_length=6, choices=RetryMode.choices, blank=True, help_text="Empty: the policy's."
    )
    retry_days = models.JSONField(null=True, blank=True, help_text="Empty: the policy's.")
    max_attempts = models.PositiveSmallIntegerField(null=True, blank=True)
    reminder_style = models.CharField(
        max_length=8, choices=ReminderStyle.choices, default=ReminderStyle.STANDARD
    )

    class Meta:
        ordering = ["experiment", "key"]
        constraints = [
            models.UniqueConstraint(fields=["experiment", "key"], name="variant_key_once"),
            models.CheckConstraint(condition=models.Q(weight__gte=1), name="variant_weight_1"),
        ]

    def __str__(self) -> str:
        return f"{self.experiment_id}/{self.key}"
