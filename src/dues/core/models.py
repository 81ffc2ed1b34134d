from __future__ import annotations

from typing import Any
from zoneinfo import available_timezones

from django.core.exceptions import ValidationError
from django.db import models

from dues.core.money import MoneyError, validate_currency


def validate_timezone(value: str) -> None:
    if value not in available_timezones():
        raise ValidationError(
            f"unknown time zone {value!r}; use an IANA name like Europe/Stockholm"
        )


def validate_currency_field(value: str) -> None:
    try:
        validate_currency(value)
    except MoneyError as exc:
        raise ValidationError(str(exc)) from exc


class Organization(models.Model):
    """The business: one gym or a chain. Every other row belongs to exactly one."""

    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=80, unique=True)
    prices_include_tax = models.BooleanField(
        default=True, help_text="Plan and product prices are tax-inclusive (usual in the EU)."
    )
    legal_name = models.CharField(max_length=200, blank=True)
    vat_number = models.CharField(max_length=40, blank=True)
    address = models.TextField(blank=True)
    invoice_prefix = models.CharField(max_length=12, default="INV")
    default_currency = models.CharField(
        max_length=3, default="SEK", validators=[validate_currency_field]
    )
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class OrgOwned(models.Model):
    organization = models.ForeignKey(Organization, on_delete=models.PROTECT, db_index=True)

    class Meta:
        abstract = True


class AppendOnly(models.Model):
    """A history row: written once, never changed or deleted (a correction is a new row).
    ``append_only_name`` names the history in the error."""

    append_only_name = "this history"

    class Meta:
        abstract = True

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:
            raise ValueError(f"{self.append_only_name} is append-only: record a new row instead")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> Any:
        raise ValueError(f"{self.append_only_name} is append-only")


class OrgScoped(models.Model):
    """A high-volume row under a parent that is already tied to its organization (invoice
    and journal lines, attempts, payments, events). ``organization_id`` is the parent's,
    copied for filtering and for distributing by organization; it carries no database
    constraint because the parent's already holds, and checking it again on every row
    costs about a third of a billing run's time on PostgreSQL. Deleting an organization
    is still refused (PROTECT, and the parents' constraints)."""

    organization = models.ForeignKey(
        Organization, on_delete=models.PROTECT, db_index=True, db_constraint=False
    )

    class Meta:
        abstract = True


class Location(OrgOwned):
    name = models.CharField(max_length=200)
    timezone = models.CharField(max_length=64, validators=[validate_timezone])
    currency = models.CharField(max_length=3, validators=[validate_currency_field])
    locale = models.CharField(max_length=10, default="en", help_text="e.g. sv, fr, th, zh-hans")
    country = models.CharField(max_length=2, help_text="ISO 3166 code, e.g. SE")
    address = models.TextField(blank=True)
    anti_passback_minutes = models.PositiveSmallIntegerField(
        default=5,
        help_text="The same credential cannot enter here again within this many minutes (0 = off).",
    )

    class Meta:
        ordering = ["organization", "name"]
        constraints = [
            models.UniqueConstraint(fields=["organization", "name"], name="location_unique_name")
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.organization})"


class Sequence(OrgOwned):
    """A gapless counter per organization (invoice and credit-note numbers).

    Incremented under a row lock in the same transaction that uses the number, so a
    rolled-back finalisation also rolls back its number: no gaps, no duplicates.
    """

    name = models.CharField(max_length=40)
    next_value = models.PositiveBigIntegerField(default=1)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["organization", "name"], name="sequence_unique_name")
        ]

    def __str__(self) -> str:
        return f"{self.name} → {self.next_value}"


class OutboxEvent(OrgScoped):
    """A state change others care about, written in the transaction that made it."""

    topic = models.CharField(max_length=80)
    aggregate_type = models.CharField(max_length=40)
    aggregate_id = models.BigIntegerField()
    payload = models.JSONField()
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["id"]
        indexes = [
            models.Index(fields=["aggregate_type", "aggregate_id"]),
            # consumers read the topics they want in id order
            models.Index(fields=["topic", "id"]),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.topic} {self.aggregate_type}:{self.aggregate_id}"


class OutboxDelivery(models.Model):
    """One consumer's receipt for one event; the unique pair makes consumption idempotent."""

    event = models.ForeignKey(OutboxEvent, on_delete=models.CASCADE, related_name="deliveries")
    consumer = models.CharField(max_length=80)
    delivered_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["event", "consumer"], name="outbox_delivery_once")
        ]

    def __str__(self) -> str:
        return f"{self.consumer} ← {self.event_id}"
