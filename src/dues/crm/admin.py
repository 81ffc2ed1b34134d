"""Staff tasks: opened by the services (a dispute opens one, holding the evidence), listed
by status and due date; staff retitle them, move the due date and mark them done."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from dues.core.admin import ADMIN_CLOCK, DuesModelAdmin, pretty_json
from dues.crm.models import Task
from dues.members.admin import member_search_fields

TASK_FIELDS = (
    "organization",
    "member",
    "kind",
    "title",
    "due_at",
    "status",
    "detail_pretty",
    "source_type",
    "source_id",
    "created_at",
    "done_at",
)


@admin.register(Task)
class TaskAdmin(DuesModelAdmin):
    list_display = ("title", "member", "kind", "status", "due_at", "done_at", "created_at")
    list_filter = ("status", "kind", "organization")
    list_select_related = ("member",)
    search_fields = ("title", *member_search_fields("member"))
    search_help_text = _("Task title or the member.")
    date_hierarchy = "due_at"
    fields = TASK_FIELDS
    readonly_fields = tuple(f for f in TASK_FIELDS if f not in ("title", "due_at"))
    actions = ("mark_done",)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # opened by what asks for them (a dispute, …), with their source

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # a task is closed, not removed

    @admin.action(description=_("Mark done"))
    def mark_done(self, request: HttpRequest, queryset: QuerySet[Task]) -> None:
        done = queryset.filter(status=Task.Status.OPEN).update(
            status=Task.Status.DONE, done_at=ADMIN_CLOCK.now()
        )
        self.message_user(request, f"{done} marked done.", messages.SUCCESS)

    @admin.display(description=_("Detail"))
    def detail_pretty(self, obj: Task) -> str:
        return pretty_json(obj.detail)
