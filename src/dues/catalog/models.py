from __future__ import annotations

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models

from dues.core.models import Location, OrgOwned, validate_currency_field
from dues.core.money import MAX_MINOR_AMOUNT

amount_validators = [MinValueValidator(0), MaxValueValidator(MAX_MINOR_AMOUNT)]


class RevenueCategory(models.TextChoices):
    """Where revenue posts in the ledger (one income account each)."""

    MEMBERSHIP = "membership", "Memberships"
    JOINING_FEE = "joining_fee", "Joining fees"
    ADDON = "addon", "Add-ons and services"
    FREEZE_FEE = "freeze_fee", "Freeze fees"
    LATE_FEE = "late_fee", "Late fees"
    PRODUCT = "product", "Products"
    OTHER = "other", "Other"


class TaxCategory(models.TextChoices):
    TRAINING = "training", "Training and memberships"
    SERVICE = "service", "Services"
    GOODS = "goods", "Goods"
    EXEMPT = "exempt", "Exempt"


class TaxRate(OrgOwned):
    """The rate charged for one tax category at one location (e.g. 6% training in Sweden)."""

    location = models.ForeignKey(Location, on_delete=models.PROTECT, related_name="tax_rates")
    category = models.CharField(max_length=16, choices=TaxCategory.choices)
    name = models.CharField(max_length=60)
    rate_bp = models.PositiveIntegerField(
        validators=[MaxValueValidator(10000)], help_text="Basis points: 2500 = 25%."
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["location", "category"], name="taxrate_one_per_location_category"
            )
        ]

    def __str__(self) -> str:
        return f"{self.name} {self.rate_bp / 100:g}% ({self.location.name})"


class Interval(models.TextChoices):
    WEEK = "week", "Weekly"
    MONTH = "month", "Monthly"
    QUARTER = "quarter", "Quarterly"
    YEAR = "year", "Yearly"


class Contract(OrgOwned):
    """A contract members sign when they join (e.g. "Membership agreement"). Its wording
    lives in versions; a plan names the contract its members sign."""

    name = models.CharField(max_length=120)
    code = models.SlugField(max_length=60)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["organization", "code"], name="contract_unique_code")
        ]

    def __str__(self) -> str:
        return self.name


class ContractVersion(OrgOwned):
    """One wording of a contract in one language. A new wording is a new version: members
    who signed an earlier one are bound by that one, which their signature keeps. The same
    version number in several languages is one set of terms, translated."""

    contract = models.ForeignKey(Contract, on_delete=models.PROTECT, related_name="versions")
    version = models.PositiveIntegerField()
    language = models.CharField(max_length=10, help_text="e.g. en, sv, fr, th, zh-hans")
    title = models.CharField(max_length=200)
    body = models.TextField(help_text="The terms, as plain text; blank lines part paragraphs.")
    published_at = models.DateTimeField(help_text="Shown to members joining from this time.")

    class Meta:
        ordering = ["contract", "-version", "language"]
        constraints = [
            models.UniqueConstraint(
                fields=["contract", "version", "language"], name="contract_version_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.contract.name} v{self.version} ({self.language})"


def validate_access_hours(value: object) -> None:
    """Weekly access windows: a list of ``[weekday, start_minute, end_minute]`` with
    Monday = 0 and minutes after local midnight at the location (0–1440, start < end);
    an empty list means any time. A window past midnight is written as two."""
    if not isinstance(value, list):
        raise ValidationError("access hours must be a list of [weekday, start, end]")
    for i, window in enumerate(value):
        if (
            not isinstance(window, list)
            or len(window) != 3
            or not all(isinstance(n, int) and not isinstance(n, bool) for n in window)
        ):
            raise ValidationError(f"access hours window {i + 1} must be [weekday, start, end]")
        day, start, end = window
        if not 0 <= day <= 6:
            raise ValidationError(f"access hours window {i + 1}: weekday must be 0 (Mon)–6 (Sun)")
        if not 0 <= start < end <= 1440:
            raise ValidationError(
                f"access hours window {i + 1}: minutes must satisfy 0 ≤ start < end ≤ 1440"
            )


class Plan(OrgOwned):
    name = models.CharField(max_length=120)
    code = models.SlugField(max_length=60)
    description = models.TextField(blank=True)
    interval = models.CharField(max_length=8, choices=Interval.choices, default=Interval.MONTH)
    currency = models.CharField(max_length=3, validators=[validate_currency_field])
    price = models.PositiveBigIntegerField(validators=amount_validators, help_text="Minor units.")
    joining_fee = models.PositiveBigIntegerField(default=0, validators=amount_validators)
    minimum_term_periods = models.PositiveIntegerField(
        default=0, help_text="Billing periods the member commits to (0 = none)."
    )
    notice_days = models.PositiveIntegerField(default=0, help_text="Notice needed to cancel.")
    trial_days = models.PositiveIntegerField(default=0)
    freeze_fee = models.PositiveBigIntegerField(
        default=0, validators=amount_validators, help_text="Charged once per freeze."
    )
    tax_category = models.CharField(
        max_length=16, choices=TaxCategory.choices, default=TaxCategory.TRAINING
    )
    locations = models.ManyToManyField(Location, blank=True, related_name="plans")
    access_hours = models.JSONField(
        default=list,
        blank=True,
        validators=[validate_access_hours],
        help_text="When members may enter, in the location's time zone: "
        "[[weekday 0=Mon…6=Sun, start minute, end minute], …]; empty = any time.",
    )
    sold_online = models.BooleanField(default=True)
    contract = models.ForeignKey(
        Contract,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="plans",
        help_text="What members sign when they join online; empty = the standard terms only.",
    )
    active = models.BooleanField(default=True)

    class Meta:
        ordering = ["organization", "price"]
        constraints = [
            models.UniqueConstraint(fields=["organization", "code"], name="plan_unique_code")
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.get_interval_display()})"


class AddOn(OrgOwned):
    class Kind(models.TextChoices):
        RECURRING = "recurring", "Recurring with the membership"
        PACK = "pack", "One-off pack"

    name = models.CharField(max_length=120)
    code = models.SlugField(max_length=60)
    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.RECURRING)
    currency = models.CharField(max_length=3, validators=[validate_currency_field])
    price = models.PositiveBigIntegerField(validators=amount_validators)
    sessions = models.PositiveIntegerField(
        default=0, help_text="Sessions in a pack (personal training)."
    )
    tax_category = models.CharField(
        max_length=16, choices=TaxCategory.choices, default=TaxCategory.SERVICE
    )
    active = models.BooleanField(default=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["organization", "code"], name="addon_unique_code")
        ]

    def __str__(self) -> str:
        return self.name


class Coupon(OrgOwned):
    class Kind(models.TextChoices):
        PERCENT = "percent", "Percent off"
        FIXED = "fixed", "Fixed amount off"

    code = models.CharField(max_length=40)
    name = models.CharField(max_length=120)
    kind = models.CharField(max_length=8, choices=Kind.choices)
    percent_bp = models.PositiveIntegerField(
        default=0, validators=[MaxValueValidator(10000)], help_text="Basis points: 1000 = 10%."
    )
    amount_off = models.PositiveBigIntegerField(default=0, validators=amount_validators)
    currency = models.CharField(max_length=3, blank=True)
    duration_periods = models.PositiveIntegerField(
        null=True,
        blank=True,
        validators=[MinValueValidator(1)],
        help_text="Billing periods it applies to; empty = forever.",
    )
    max_redemptions = models.PositiveIntegerField(null=True, blank=True)
    active = models.BooleanField(default=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["organization", "code"], name="coupon_unique_code"),
            models.CheckConstraint(
                condition=(models.Q(kind="percent", percent_bp__gt=0, amount_off=0))
                | (models.Q(kind="fixed", amount_off__gt=0, percent_bp=0)),
                name="coupon_kind_matches_value",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.code}: {self.name}"
