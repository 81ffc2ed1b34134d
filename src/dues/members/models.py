from __future__ import annotations

from typing import Any

from django.db import models

from dues.core.models import AppendOnly, Location, OrgOwned
from dues.members.search import SEARCH_KEY_FIELDS, SEARCH_SOURCE_FIELDS, search_keys


class MemberStatus(models.TextChoices):
    PROSPECT = "prospect", "Prospect"
    ACTIVE = "active", "Active"
    FROZEN = "frozen", "Frozen"
    INACTIVE = "inactive", "Inactive"
    CANCELLED = "cancelled", "Cancelled"


# The one place member status transitions are allowed (services.member_set_status enforces).
MEMBER_TRANSITIONS: dict[str, set[str]] = {
    MemberStatus.PROSPECT: {MemberStatus.ACTIVE, MemberStatus.CANCELLED, MemberStatus.INACTIVE},
    MemberStatus.ACTIVE: {MemberStatus.FROZEN, MemberStatus.INACTIVE, MemberStatus.CANCELLED},
    MemberStatus.FROZEN: {MemberStatus.ACTIVE, MemberStatus.CANCELLED, MemberStatus.INACTIVE},
    MemberStatus.INACTIVE: {MemberStatus.ACTIVE, MemberStatus.CANCELLED},
    MemberStatus.CANCELLED: {MemberStatus.ACTIVE},
}


class Member(OrgOwned):
    first_name = models.CharField(max_length=100)
    last_name = models.CharField(max_length=100)
    email = models.EmailField(blank=True)
    phone = models.CharField(max_length=32, blank=True)
    date_of_birth = models.DateField(null=True, blank=True)
    address = models.TextField(blank=True)
    language = models.CharField(max_length=10, default="en")
    home_location = models.ForeignKey(
        Location, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    status = models.CharField(
        max_length=16, choices=MemberStatus.choices, default=MemberStatus.PROSPECT
    )
    payer = models.ForeignKey(
        "self",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="dependants",
        help_text="Who pays for this member; empty when they pay for themselves.",
    )
    member_number = models.CharField(max_length=20, blank=True)
    photo = models.ImageField(
        upload_to="members/photos/",
        blank=True,
        help_text="Shown at the front desk on check-in; served to signed-in staff only.",
    )
    portal_signed_in_at = models.DateTimeField(
        null=True, blank=True, help_text="Last sign-in to the member portal."
    )
    # Notification preferences: which channels the member wants, by purpose of the message
    # (``selectors.message_channels`` applies them). Payment messages always go by email
    # and in-app, so only their SMS can be turned off.
    service_email = models.BooleanField(
        default=True, help_text="Class reminders and similar service messages by email."
    )
    service_sms = models.BooleanField(default=True, help_text="Service messages by SMS.")
    service_in_app = models.BooleanField(default=True, help_text="Service messages in the app.")
    payment_sms = models.BooleanField(
        default=True,
        help_text="Payment messages also by SMS (email and in-app cannot be turned off).",
    )
    created_at = models.DateTimeField()
    # Staff search keys (``members.search``), kept by ``save``; each index serves a prefix
    # match (PostgreSQL: LIKE 'x%' on the pattern_ops column; SQLite: a range).
    search_name = models.CharField(max_length=201, blank=True, editable=False)
    search_name_reversed = models.CharField(max_length=201, blank=True, editable=False)
    search_email = models.CharField(max_length=254, blank=True, editable=False)
    search_phone = models.CharField(max_length=32, blank=True, editable=False)

    class Meta:
        ordering = ["last_name", "first_name"]
        indexes = [
            models.Index(fields=["organization", "last_name"]),
            models.Index(fields=["organization", "email"]),
            models.Index(fields=["organization", "member_number"], name="member_number_idx"),
            *(
                models.Index(
                    fields=["organization", key],
                    opclasses=["int8_ops", "varchar_pattern_ops"],  # PostgreSQL only
                    name=name,
                )
                for key, name in (
                    ("search_name", "member_search_name_idx"),
                    ("search_name_reversed", "member_search_name_rev_idx"),
                    ("search_email", "member_search_email_idx"),
                    ("search_phone", "member_search_phone_idx"),
                )
            ),
        ]

    def __str__(self) -> str:
        return f"{self.first_name} {self.last_name}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        # The search keys follow the fields they are made from, whoever saves the row.
        update_fields = kwargs.get("update_fields")
        if update_fields is None or SEARCH_SOURCE_FIELDS.intersection(update_fields):
            keys = search_keys(
                first_name=self.first_name,
                last_name=self.last_name,
                email=self.email,
                phone=self.phone,
            )
            for name, value in keys.items():
                setattr(self, name, value)
            if update_fields is not None:
                kwargs["update_fields"] = {*update_fields, *SEARCH_KEY_FIELDS}
        super().save(*args, **kwargs)

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}"

    @property
    def payer_id_effective(self) -> int:
        return self.payer_id or self.pk


class EmergencyContact(OrgOwned):
    member = models.ForeignKey(Member, on_delete=models.CASCADE, related_name="emergency_contacts")
    name = models.CharField(max_length=200)
    relationship = models.CharField(max_length=60, blank=True)
    phone = models.CharField(max_length=32)

    def __str__(self) -> str:
        return f"{self.name} ({self.relationship})"


class MemberStatusChange(OrgOwned):
    member = models.ForeignKey(Member, on_delete=models.CASCADE, related_name="status_history")
    from_status = models.CharField(max_length=16, choices=MemberStatus.choices)
    to_status = models.CharField(max_length=16, choices=MemberStatus.choices)
    reason = models.CharField(max_length=200, blank=True)
    changed_at = models.DateTimeField()

    class Meta:
        ordering = ["changed_at", "id"]

    def __str__(self) -> str:
        return f"{self.member}: {self.from_status} → {self.to_status}"


class MemberNote(OrgOwned):
    member = models.ForeignKey(Member, on_delete=models.CASCADE, related_name="notes")
    author = models.CharField(max_length=150, blank=True)
    text = models.TextField()
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.text[:60]


class MessagePurpose(models.TextChoices):
    """Why a message is sent, which decides how far the member's preferences reach."""

    SERVICE = "service", "Service (class reminders and similar)"
    PAYMENT = "payment", "Payment (reminders of money owed, receipts, charge notices)"


class ConsentChannel(models.TextChoices):
    """Channels that carry marketing; the values are ``core.channels.Channel``'s."""

    EMAIL = "email", "Email"
    SMS = "sms", "SMS"


class ConsentSource(models.TextChoices):
    PORTAL = "portal", "Member, in the portal"
    JOIN = "join", "Member, when joining online"
    STAFF = "staff", "Staff"


class ConsentChange(AppendOnly, OrgOwned):
    """One change of a member's marketing consent on one channel. Append-only: rows are
    written by ``services.consent_set`` and never changed or deleted; the current state is
    the latest row per channel (``selectors.consent_current``), and no row means no
    consent."""

    member = models.ForeignKey(Member, on_delete=models.CASCADE, related_name="consent_history")
    channel = models.CharField(max_length=8, choices=ConsentChannel.choices)
    granted = models.BooleanField()
    source = models.CharField(max_length=8, choices=ConsentSource.choices)
    changed_by = models.CharField(
        max_length=150, blank=True, help_text="The staff member; empty when the member chose."
    )
    ip_address = models.GenericIPAddressField(
        null=True, blank=True, help_text="Where the member was, for changes they made online."
    )
    wording_version = models.CharField(
        max_length=40, help_text="Which wording of the consent question was shown."
    )
    language = models.CharField(max_length=10, blank=True, help_text="The wording's language.")
    changed_at = models.DateTimeField()

    class Meta:
        ordering = ["changed_at", "id"]
        indexes = [models.Index(fields=["member", "channel", "changed_at"])]
        constraints = [
            models.CheckConstraint(
                condition=~models.Q(source="portal") | models.Q(ip_address__isnull=False),
                name="consent_portal_has_ip",
            ),
            models.CheckConstraint(
                condition=~models.Q(source="staff") | ~models.Q(changed_by=""),
                name="consent_staff_is_named",
            ),
        ]

    append_only_name = "consent history"

    def __str__(self) -> str:
        state = "granted" if self.granted else "withdrawn"
        return f"{self.member}: {self.channel} marketing {state}"
