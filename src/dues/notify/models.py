"""Messages to members: every email, SMS, in-app message and staff call task, with what
was sent, in which language, and what became of it (the delivery log)."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from dues.core.channels import Channel
from dues.core.models import OrgOwned, OutboxEvent
from dues.members.models import Member


class MessageStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    SENDING = "sending", "Sending"
    SENT = "sent", "Sent"
    FAILED = "failed", "Failed"
    SKIPPED = "skipped", "Not sent"
    DELIVERED = "delivered", "In the member's inbox"
    READ = "read", "Read"
    OPEN = "open", "To do"
    DONE = "done", "Done"


# Allowed status changes, the one place they are decided. Email and SMS: queued → sending
# → sent, or back to queued for another try, or failed after the last; in-app messages are
# delivered when written and read later; call tasks are open until staff close them.
TRANSITIONS: dict[str, set[str]] = {
    MessageStatus.QUEUED: {MessageStatus.SENDING, MessageStatus.SKIPPED},
    MessageStatus.SENDING: {MessageStatus.SENT, MessageStatus.QUEUED, MessageStatus.FAILED},
    MessageStatus.SENT: set(),
    MessageStatus.FAILED: set(),
    MessageStatus.SKIPPED: set(),
    MessageStatus.DELIVERED: {MessageStatus.READ},
    MessageStatus.READ: set(),
    MessageStatus.OPEN: {MessageStatus.DONE},
    MessageStatus.DONE: set(),
}


class Message(OrgOwned):
    member = models.ForeignKey(Member, on_delete=models.PROTECT, related_name="messages")
    channel = models.CharField(max_length=8, choices=Channel.choices)
    template = models.CharField(max_length=80, help_text="e.g. dunning/reminder_firm")
    language = models.CharField(max_length=10)
    to = models.CharField(max_length=254, blank=True, help_text="Email address or phone")
    subject = models.CharField(max_length=200, blank=True)
    body = models.TextField()
    html = models.TextField(blank=True)
    status = models.CharField(max_length=10, choices=MessageStatus.choices)
    tries = models.PositiveSmallIntegerField(default=0)
    next_try_at = models.DateTimeField(null=True, blank=True)
    error = models.TextField(blank=True)
    provider_id = models.CharField(max_length=120, blank=True)
    event = models.ForeignKey(
        OutboxEvent, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    invoice_id = models.BigIntegerField(null=True, blank=True)
    created_at = models.DateTimeField()
    sent_at = models.DateTimeField(null=True, blank=True)
    read_at = models.DateTimeField(null=True, blank=True)
    done_at = models.DateTimeField(null=True, blank=True)
    outcome = models.TextField(blank=True, help_text="Call tasks: what the member said")

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            # one message per channel per event: a re-delivered event writes nothing twice
            models.UniqueConstraint(fields=["event", "channel"], name="message_once_per_event")
        ]
        indexes = [
            models.Index(fields=["member", "created_at"]),
            models.Index(
                fields=["next_try_at"],
                name="message_queued_idx",
                condition=models.Q(status="queued"),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.channel} {self.template} → {self.member_id} ({self.status})"


class TemplatePart(models.TextChoices):
    """The parts of a message template, one file each (``render`` says which is used
    where): the subject also titles in-app messages and call tasks."""

    SUBJECT = "subject", "Subject"
    EMAIL_TEXT = "email_text", "Email (plain text)"
    EMAIL_HTML = "email_html", "Email (HTML)"
    SMS = "sms", "SMS"
    IN_APP = "in_app", "In-app message"
    CALL = "call", "Call task for staff"


class TemplateOverride(OrgOwned):
    """An organization's own wording for one part of one message template in one language,
    used instead of the file (``notify/templates/notify/<template>/``). Written only through
    ``notify.services.template_override_save``, which refuses text the restricted engine
    (``notify.overrides``) would not render safely; deleting the row restores the file."""

    template = models.CharField(max_length=80, help_text="e.g. dunning/reminder")
    part = models.CharField(max_length=12, choices=TemplatePart.choices)
    language = models.CharField(max_length=10, choices=settings.LANGUAGES)
    body = models.TextField()
    updated_at = models.DateTimeField()
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )

    class Meta:
        ordering = ["organization", "template", "part", "language"]
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "template", "part", "language"],
                name="template_override_once",
            )
        ]

    def __str__(self) -> str:
        return f"{self.template} · {self.part} · {self.language}"
