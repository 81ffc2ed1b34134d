"""Messages: the delivery log (read-only), call tasks staff close with an outcome, and each
organization's own wording of message templates (view only: staff pages edit it)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from dues.core.admin import DuesModelAdmin
from dues.core.channels import Channel
from dues.core.clock import SystemClock
from dues.members.admin import member_search_fields
from dues.notify.models import Message, MessageStatus, TemplateOverride
from dues.notify.services import call_task_done

FIELDS = (
    "organization",
    "member",
    "channel",
    "template",
    "language",
    "to",
    "status",
    "subject",
    "body",
    "created_at",
    "sent_at",
    "read_at",
    "tries",
    "next_try_at",
    "error",
    "provider_id",
    "invoice_id",
    "event",
    "done_at",
    "outcome",
)


class CallOutcomeForm(forms.ModelForm):  # type: ignore[type-arg]
    class Meta:
        model = Message
        fields = ("outcome",)

    def clean_outcome(self) -> str:
        outcome = str(self.cleaned_data.get("outcome") or "").strip()
        if not outcome:
            raise forms.ValidationError(_("Say what came of the call."))
        return outcome


@admin.register(Message)
class MessageAdmin(DuesModelAdmin):
    list_display = ("created_at", "member", "channel", "template", "language", "status", "to")
    list_filter = ("channel", "status", "language", "organization")
    list_select_related = ("member",)
    search_fields = ("template", "to", *member_search_fields("member"))
    date_hierarchy = "created_at"
    fields = FIELDS

    def _open_call(self, obj: Message | None) -> bool:
        return obj is not None and obj.channel == Channel.CALL and obj.status == MessageStatus.OPEN

    def get_form(self, request: HttpRequest, obj: Any = None, change: bool = False, **kw: Any):  # type: ignore[no-untyped-def]
        if self._open_call(obj):
            kw["form"] = CallOutcomeForm
        return super().get_form(request, obj, change, **kw)

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> tuple[str, ...]:
        if self._open_call(obj):
            return tuple(f for f in FIELDS if f != "outcome")
        return FIELDS

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # Only an open call task has anything to change: its outcome, which closes it.
        return obj is None or self._open_call(obj)

    def save_model(self, request: HttpRequest, obj: Message, form: Any, change: bool) -> None:
        fresh = Message.objects.get(pk=obj.pk)
        call_task_done(message=fresh, outcome=form.cleaned_data["outcome"], clock=SystemClock())


@admin.register(TemplateOverride)
class TemplateOverrideAdmin(DuesModelAdmin):
    """View only: owners and managers change the wording on the staff "Messages" page,
    which checks the text (``notify.services.template_override_check``) and records who
    changed what (``StaffChange``); a row typed here would skip both."""

    list_display = ("template", "part", "language", "organization", "updated_at", "updated_by")
    list_filter = ("part", "language", "organization")
    search_fields = ("template", "body")
    fields = ("organization", "template", "part", "language", "body", "updated_at", "updated_by")
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
