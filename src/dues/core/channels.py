"""The ways Dues reaches a member: shared by what decides a message (dunning, marketing)
and what delivers it (notify)."""

from django.db import models


class Channel(models.TextChoices):
    EMAIL = "email", "Email"
    SMS = "sms", "SMS"
    IN_APP = "in_app", "In-app"
    CALL = "call", "Call task for staff"
