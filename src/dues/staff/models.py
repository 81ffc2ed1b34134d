"""Staff accounts are Django users; a ``StaffRole`` says what they are in one organization,
a ``StaffAction`` records what they did to a member and a ``StaffChange`` what they changed
in the organization's set-up (plans, prices, dunning policy, templates, staff)."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from dues.core.models import AppendOnly, OrgOwned
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


class StaffAction(AppendOnly, OrgOwned):
    """Who did what to which member, and when (the injected clock's time). Append-only:
    written by ``staff.services`` in the transaction of the change it records."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="staff_actions"
    )
    member = models.ForeignKey(Member, on_delete=models.PROTECT, related_name="staff_actions")
    action = models.CharField(max_length=20, choices=Action.choices)
    detail = models.JSONField(default=dict, blank=True)
    at = models.DateTimeField()

    append_only_name = "the staff audit log"

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["organization", "member", "at"])]

    def __str__(self) -> str:
        return f"{self.user} · {self.action} · {self.member}"


class StaffChange(AppendOnly, OrgOwned):
    """One change to the organization's set-up, with the values before and after (empty
    before for something new). Append-only: written by ``staff.services.staff_change_record``
    in the transaction of the change."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="staff_changes"
    )
    action = models.CharField(max_length=20, choices=Action.choices)
    target = models.CharField(max_length=80, help_text="What was changed, e.g. catalog.plan:12")
    summary = models.CharField(max_length=200)
    before = models.JSONField(default=dict, blank=True)
    after = models.JSONField(default=dict, blank=True)
    at = models.DateTimeField()

    append_only_name = "the staff audit log"

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["organization", "target", "at"])]

    def __str__(self) -> str:
        return f"{self.user} · {self.action} · {self.summary}"
