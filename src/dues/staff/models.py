"""Staff accounts are Django users; a ``StaffRole`` says what they are in one organization,
and a ``StaffAction`` records what they did to a member."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models

from dues.core.models import OrgOwned
from dues.members.models import Member
from dues.staff.roles import Action, Role


class StaffRole(OrgOwned):
    """A user's role in one organization (a user may work for several, and picks one after
    signing in)."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="staff_roles"
    )
    role = models.CharField(max_length=12, choices=Role.choices)
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["organization", "user"]
        constraints = [
            models.UniqueConstraint(fields=["user", "organization"], name="staff_role_once"),
        ]

    def __str__(self) -> str:
        return f"{self.user} · {self.get_role_display()} ({self.organization})"


class StaffAction(OrgOwned):
    """Who did what to which member, and when (the injected clock's time). Append-only:
    written by ``staff.services`` in the transaction of the change it records."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="staff_actions"
    )
    member = models.ForeignKey(Member, on_delete=models.PROTECT, related_name="staff_actions")
    action = models.CharField(max_length=20, choices=Action.choices)
    detail = models.JSONField(default=dict, blank=True)
    at = models.DateTimeField()

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["organization", "member", "at"])]

    def __str__(self) -> str:
        return f"{self.user} · {self.action} · {self.member}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self.pk is not None:
            raise ValueError("the staff audit log is append-only")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> Any:
        raise ValueError("the staff audit log is append-only")
