"""Outgoing webhooks, as payload → delivery → attempt: an endpoint subscribes to event
types; each outbox event it wants becomes one delivery; each try at sending it is an
attempt with what the receiver answered."""

from __future__ import annotations

from django.db import models

from dues.core.models import OrgOwned, OutboxEvent


class WebhookEndpoint(OrgOwned):
    url = models.URLField(max_length=500)
    description = models.CharField(max_length=200, blank=True)
    secret = models.CharField(max_length=80, help_text="Signs every delivery (HMAC-SHA256).")
    event_types = models.JSONField(default=list, help_text='Event types, or ["*"] for all.')
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()

    def __str__(self) -> str:
        return self.url

    def wants(self, topic: str) -> bool:
        return "*" in self.event_types or topic in self.event_types


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    DELIVERED = "delivered", "Delivered"
    FAILED = "failed", "Failed (gave up after 3 days)"


class WebhookDelivery(OrgOwned):
    endpoint = models.ForeignKey(
        WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries"
    )
    event = models.ForeignKey(OutboxEvent, on_delete=models.PROTECT, related_name="+")
    status = models.CharField(
        max_length=10, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING
    )
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    first_attempt_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    last_error = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["endpoint", "event"], name="webhook_once_per_event")
        ]
        indexes = [
            models.Index(
                fields=["next_attempt_at"],
                name="webhook_due",
                condition=models.Q(status="pending"),
            )
        ]
        verbose_name_plural = "webhook deliveries"

    def __str__(self) -> str:
        return f"{self.event.topic} → {self.endpoint.url}"


# What staff and integrators see of a delivery (admin and API).
DELIVERY_FIELDS = (
    "endpoint",
    "event",
    "status",
    "attempts",
    "first_attempt_at",
    "next_attempt_at",
    "delivered_at",
    "last_error",
    "created_at",
)


class WebhookAttempt(OrgOwned):
    delivery = models.ForeignKey(WebhookDelivery, on_delete=models.CASCADE, related_name="log")
    started_at = models.DateTimeField()
    duration_ms = models.PositiveIntegerField()
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    error = models.CharField(max_length=300, blank=True)
    response_body = models.TextField(blank=True, help_text="The first 500 characters.")

    def __str__(self) -> str:
        return f"{self.status_code or self.error} at {self.started_at}"
