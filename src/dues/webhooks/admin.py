"""Webhook endpoints (created through the services, secret shown read-only), and the
delivery log with each attempt; staff replay deliveries from the list."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest

from dues.core.admin import (
    DuesModelAdmin,
    OrgOwnedAdmin,
    ReadOnlyModelAdmin,
    ReadOnlyTabularInline,
)
from dues.core.clock import SystemClock
from dues.webhooks.events import EVENT_TYPES
from dues.webhooks.models import (
    DELIVERY_FIELDS,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
)
from dues.webhooks.services import delivery_replay, endpoint_check, endpoint_create, endpoint_update


class EndpointForm(forms.ModelForm):  # type: ignore[type-arg]
    url = forms.URLField(max_length=500, assume_scheme="https")
    event_types = forms.MultipleChoiceField(
        choices=[("*", "All event types")] + [(k, k) for k in EVENT_TYPES],
        widget=forms.CheckboxSelectMultiple,
    )

    class Meta:
        model = WebhookEndpoint
        fields = ("organization", "url", "description", "event_types", "active")

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("url") and data.get("event_types"):
            try:
                data["event_types"] = endpoint_check(data["url"], data["event_types"])
            except ValidationError as exc:
                raise forms.ValidationError(exc.message_dict) from exc
        return data


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(OrgOwnedAdmin):
    form = EndpointForm
    list_display = ("url", "organization", "active", "created_at")
    list_filter = ("active", "organization")
    readonly_fields = ("secret", "created_at", "updated_at")

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        data = form.cleaned_data
        clock = SystemClock()
        if change:
            endpoint_update(
                endpoint=obj,
                clock=clock,
                url=data["url"],
                event_types=data["event_types"],
                description=data["description"],
                active=data["active"],
            )
        else:
            created = endpoint_create(
                organization_id=data["organization"].pk,
                url=data["url"],
                event_types=data["event_types"],
                description=data["description"],
                clock=clock,
            )
            obj.pk = created.pk
            obj.secret = created.secret


ATTEMPT_FIELDS = ("started_at", "status_code", "duration_ms", "error", "response_body")


class AttemptInline(ReadOnlyTabularInline):
    model = WebhookAttempt
    fields = ATTEMPT_FIELDS


@admin.register(WebhookAttempt)
class WebhookAttemptAdmin(ReadOnlyModelAdmin):
    list_display = ("started_at", "delivery", "status_code", "duration_ms", "error")
    list_filter = ("organization",)
    list_select_related = ("delivery__event", "delivery__endpoint")
    fields = ("organization", "delivery", *ATTEMPT_FIELDS)


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(DuesModelAdmin):
    list_display = ("id", "event", "endpoint", "status", "attempts", "next_attempt_at")
    list_filter = ("status", "organization")
    list_select_related = ("event", "endpoint")
    fields = ("organization", *DELIVERY_FIELDS)
    readonly_fields = fields
    inlines = (AttemptInline,)
    actions = ("replay",)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.action(description="Send the selected deliveries again")
    def replay(self, request: HttpRequest, queryset: QuerySet[WebhookDelivery]) -> None:
        clock = SystemClock()
        for delivery in queryset:
            delivery_replay(delivery=delivery, clock=clock)
        self.message_user(request, f"{queryset.count()} queued to send again.", messages.SUCCESS)
