"""Door access: the credentials members enter with, the devices that read them, the visit
packs some members enter on, and the log of every decision (``access.decide``)."""

from __future__ import annotations

import hashlib
import secrets

from django.conf import settings
from django.db import models

from dues.billing.models import Subscription
from dues.catalog.models import AddOn
from dues.core.models import AppendOnly, Location, OrgOwned, OrgScoped
from dues.members.models import Member


class CredentialKind(models.TextChoices):
    QR = "qr", "Rotating QR code"
    BARCODE = "barcode", "Barcode key tag"
    RFID = "rfid", "RFID card"


class Credential(OrgOwned):
    """Something a member opens the door with. A barcode or RFID credential's ``value`` is
    the number printed on or read from the tag; a QR credential's ``value`` is a random
    public id and its ``secret`` (sealed with ``core.crypto``) keys the rotating code.
    A value is unique per organization and kind among credentials not revoked."""

    member = models.ForeignKey(Member, on_delete=models.PROTECT, related_name="credentials")
    kind = models.CharField(max_length=8, choices=CredentialKind.choices)
    value = models.CharField(max_length=64)
    secret = models.CharField(max_length=255, blank=True, help_text="Sealed; QR only.")
    issued_at = models.DateTimeField()
    issued_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    revoke_reason = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["-issued_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "kind", "value"],
                condition=models.Q(revoked_at__isnull=True),
                name="credential_unique_value_in_use",
            )
        ]
        indexes = [
            models.Index(fields=["organization", "kind", "value"], name="credential_lookup"),
            models.Index(fields=["member", "revoked_at"], name="credential_member"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.value}"


class AccessDevice(OrgOwned):
    """A door controller or turnstile at one location. It authenticates with
    ``Authorization: Device <key>``; only a SHA-256 of the key is stored and the key is
    shown once, when the device is added."""

    location = models.ForeignKey(Location, on_delete=models.PROTECT, related_name="devices")
    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=16, unique=True)
    key_hash = models.CharField(max_length=64)
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField()
    last_seen_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["location", "name"]
        constraints = [
            models.UniqueConstraint(fields=["location", "name"], name="device_unique_name")
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.location.name})"

    @staticmethod
    def hash_key(key: str) -> str:
        return hashlib.sha256(key.encode()).hexdigest()

    @staticmethod
    def generate() -> tuple[str, str]:
        prefix = "ad_" + secrets.token_hex(5)
        return prefix, f"{prefix}.{secrets.token_urlsafe(32)}"


class VisitPack(OrgOwned):
    """N entries a member holds (a ten-visit card, a drop-in): one is used per entry the
    membership does not already cover. ``entries_used`` only moves by a conditional UPDATE
    (``services.visit_pack_use``), so two doors cannot spend the last visit twice."""

    member = models.ForeignKey(Member, on_delete=models.PROTECT, related_name="visit_packs")
    addon = models.ForeignKey(
        AddOn, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    location = models.ForeignKey(
        Location,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        help_text="Empty = valid at every location.",
    )
    entries_total = models.PositiveIntegerField()
    entries_used = models.PositiveIntegerField(default=0)
    valid_from = models.DateTimeField()
    expires_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["valid_from", "id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(entries_used__lte=models.F("entries_total")),
                name="visitpack_used_within_total",
            ),
            models.CheckConstraint(
                condition=models.Q(entries_total__gt=0), name="visitpack_has_entries"
            ),
        ]
        indexes = [models.Index(fields=["member", "expires_at"], name="visitpack_member")]

    def __str__(self) -> str:
        return f"{self.entries_used}/{self.entries_total} visits"

    @property
    def entries_left(self) -> int:
        return self.entries_total - self.entries_used


class AccessDecision(AppendOnly, OrgScoped):
    """One answer of ``decide.access_decide``, allowed or not, with its reason. Written for
    every scan and every front-desk check-in; attendance and anti-passback read it."""

    append_only_name = "the access log"

    location = models.ForeignKey(
        Location, on_delete=models.PROTECT, related_name="+", db_constraint=False
    )
    device = models.ForeignKey(
        AccessDevice,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        db_constraint=False,
    )
    at = models.DateTimeField()
    kind = models.CharField(max_length=8, blank=True)
    value = models.CharField(max_length=80, blank=True, help_text="What was scanned.")
    credential = models.ForeignKey(
        Credential,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        db_constraint=False,
    )
    member = models.ForeignKey(
        Member,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        db_constraint=False,
    )
    subscription = models.ForeignKey(
        Subscription,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        db_constraint=False,
    )
    plan_id_at_entry = models.BigIntegerField(null=True, blank=True)
    visit_pack = models.ForeignKey(
        VisitPack,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        db_constraint=False,
    )
    allowed = models.BooleanField()
    reason_code = models.CharField(max_length=24)
    reason = models.CharField(max_length=200)
    refusal_code = models.CharField(
        max_length=24, blank=True, help_text="Under an override: what it overrode."
    )
    override_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        db_constraint=False,
    )
    override_reason = models.CharField(max_length=200, blank=True)
    qr_step = models.BigIntegerField(null=True, blank=True)

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [
            models.Index(fields=["credential", "at"], name="decision_credential_at"),
            models.Index(fields=["organization", "location", "at"], name="decision_location_at"),
            models.Index(fields=["member", "at"], name="decision_member_at"),
        ]

    def __str__(self) -> str:
        verdict = "allowed" if self.allowed else "refused"
        return f"{self.at:%Y-%m-%d %H:%M} {verdict}: {self.reason_code}"
