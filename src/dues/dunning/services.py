"""Dunning policies: the organization's default (created on first need) and plan overrides."""

from __future__ import annotations

from django.db import IntegrityError, transaction

from dues.core.clock import Clock
from dues.dunning.models import Channel, DunningPolicy, ReminderStep, Tone

DEFAULT_STEPS = [
    (0, [Channel.EMAIL, Channel.IN_APP], Tone.FRIENDLY),
    (3, [Channel.EMAIL, Channel.SMS], Tone.FRIENDLY),
    (7, [Channel.EMAIL, Channel.SMS, Channel.IN_APP], Tone.FIRM),
    (14, [Channel.EMAIL, Channel.SMS, Channel.CALL], Tone.FIRM),
    (21, [Channel.EMAIL, Channel.SMS], Tone.FINAL),
]


def policy_default(*, organization_id: int, clock: Clock) -> DunningPolicy:
    """The organization's policy, created with the default reminder steps if it has none."""
    found = DunningPolicy.objects.filter(organization_id=organization_id, plan=None).first()
    if found:
        return found
    now = clock.now()
    try:
        with transaction.atomic():
            policy = DunningPolicy.objects.create(
                organization_id=organization_id,
                name="Default dunning policy",
                created_at=now,
                updated_at=now,
            )
            ReminderStep.objects.bulk_create(
                ReminderStep(
                    organization_id=organization_id,
                    policy=policy,
                    day_offset=day,
                    channels=list(channels),
                    tone=tone,
                )
                for day, channels, tone in DEFAULT_STEPS
            )
    except IntegrityError:  # created concurrently
        return DunningPolicy.objects.get(organization_id=organization_id, plan=None)
    return policy


def policy_for(*, organization_id: int, plan_id: int | None, clock: Clock) -> DunningPolicy:
    if plan_id is not None:
        override = DunningPolicy.objects.filter(
            organization_id=organization_id, plan_id=plan_id
        ).first()
        if override:
            return override
    return policy_default(organization_id=organization_id, clock=clock)
