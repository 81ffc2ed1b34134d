"""Work for staff: a task names the member, what to do, by when, and what it is about."""

from __future__ import annotations

from django.db import models

from dues.core.models import OrgOwned
from dues.members.models import Member


class Task(OrgOwned):
    class Kind(models.TextChoices):
        DISPUTE_RESPONSE = "dispute_response", "Answer a payment dispute"
        FOLLOW_UP = "follow_up", "Follow up"

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        DONE = "done", "Done"

    member = models.ForeignKey(Member, on_delete=models.PROTECT, related_name="tasks")
    kind = models.CharField(max_length=20, choices=Kind.choices)
    title = models.CharField(max_length=200)
    # What staff need to act: for a dispute, the evidence the gym holds.
    detail = models.JSONField(default=dict, blank=True)
    due_at = models.DateTimeField(null=True, blank=True)
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.OPEN)
    source_type = models.CharField(max_length=40, blank=True)
    source_id = models.BigIntegerField(null=True, blank=True)
    created_at = models.DateTimeField()
    done_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["status", "due_at", "id"]
        constraints = [
            # One task per thing that asks for it: a repeated event does not add another.
            models.UniqueConstraint(
                fields=["kind", "source_type", "source_id"],
                condition=models.Q(source_id__isnull=False),
                name="task_once_per_source",
            )
        ]
        indexes = [models.Index(fields=["organization", "status", "due_at"])]

    def __str__(self) -> str:
        return self.title
