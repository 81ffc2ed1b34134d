from __future__ import annotations

from django.db import models

from dues.core.models import Location, OrgOwned


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
    portal_signed_in_at = models.DateTimeField(
        null=True, blank=True, help_text="Last sign-in to the member portal."
    )
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["last_name", "first_name"]
        indexes = [
            models.Index(fields=["organization", "last_name"]),
            models.Index(fields=["organization", "email"]),
        ]

    def __str__(self) -> str:
        return f"{self.first_name} {self.last_name}"

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
