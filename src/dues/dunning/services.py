"""Dunning policies: the organization's default (created on first need) and plan overrides,
and changing them (admin and API)."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from dues.catalog.models import Plan
from dues.core.channels import Channel
from dues.core.clock import Clock
from dues.dunning.checks import policy_problems, steps_problems
from dues.dunning.models import DunningPolicy, ReminderStep, Tone

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


POLICY_FIELDS = (
    "name",
    "grace_days",
    "retry_mode",
    "retry_days",
    "max_attempts",
    "max_days",
    "final_action",
    "block_bookings_after_days",
    "block_access_after_days",
    "cancel_after_days",
    "late_fee_kind",
    "late_fee_amount",
    "late_fee_currency",
    "late_fee_bp",
    "late_fee_after_days",
    "card_expiry_notice_days",
    "renewal_notice_days",
    "risk_notice_bp",
    "risk_notice_days",
)


def policy_save(
    *,
    organization_id: int,
    clock: Clock,
    policy: DunningPolicy | None = None,
    plan: Plan | None = None,
    fields: dict[str, Any],
    steps: list[dict[str, Any]] | None = None,
) -> DunningPolicy:
    """Create a policy (the organization's default when ``plan`` is None, else the plan's
    override) or change one; ``steps``, when given, replace its reminder steps. Checked as a
    whole (``checks.policy_problems``) before anything is written."""
    unknown = set(fields) - set(POLICY_FIELDS)
    if unknown:
        raise ValidationError({name: "not a policy field" for name in sorted(unknown)})
    if plan is not None and plan.organization_id != organization_id:
        raise ValidationError({"plan": "plan belongs to another organization"})
    now = clock.now()
    if policy is None:
        policy = DunningPolicy(
            organization_id=organization_id, plan=plan, created_at=now, updated_at=now
        )
        if DunningPolicy.objects.filter(organization_id=organization_id, plan=plan).exists():
            which = f"plan {plan.name}" if plan else "the organization"
            raise ValidationError({"plan": f"{which} already has a dunning policy"})
    for name, value in fields.items():
        setattr(policy, name, value)
    problems = policy_problems({name: getattr(policy, name) for name in POLICY_FIELDS})
    if steps is not None:
        problems |= steps_problems(steps, max_days=policy.max_days or 0)
    if problems:
        raise ValidationError(problems)
    policy.updated_at = now
    with transaction.atomic():
        policy.full_clean(exclude=["organization", "plan"])
        policy.save()
        if steps is not None:
            policy.steps.all().delete()
            ReminderStep.objects.bulk_create(
                ReminderStep(
                    organization_id=organization_id,
                    policy=policy,
                    day_offset=step["day_offset"],
                    channels=list(step["channels"]),
                    tone=step["tone"],
                )
                for step in sorted(steps, key=lambda s: s["day_offset"])
            )
    return policy


def policy_create(
    *,
    organization_id: int,
    plan: Plan | None,
    fields: dict[str, Any],
    steps: list[dict[str, Any]],
    clock: Clock,
) -> DunningPolicy:
    """A new policy (the organization's default when ``plan`` is None, else the plan's
    override) with exactly these reminder steps; nothing is written unless all is valid."""
    return policy_save(
        organization_id=organization_id, clock=clock, plan=plan, fields=fields, steps=steps
    )


def policy_update(
    *, policy: DunningPolicy, fields: dict[str, Any], steps: list[dict[str, Any]], clock: Clock
) -> DunningPolicy:
    """Change a policy and replace its reminder steps as a set, in one transaction, or
    write nothing. Open cases read the policy at each step, so they follow the change from
    their next step on (the retry already planned keeps its time). Reminders go by day
    (``DunningCase.reminded_through_day``): a case gets the new steps after the last day
    it was reminded on, and a step added on a day it has passed is not sent late."""
    return policy_save(
        organization_id=policy.organization_id,
        clock=clock,
        policy=policy,
        fields=fields,
        steps=steps,
    )


def policy_values(policy: DunningPolicy) -> dict[str, Any]:
    """The policy's fields, plan and reminder steps as JSON values (for the audit log)."""
    return {
        "plan": policy.plan_id,
        **{name: getattr(policy, name) for name in POLICY_FIELDS},
        "steps": [
            {"day_offset": s.day_offset, "channels": list(s.channels), "tone": s.tone}
            for s in policy.steps.order_by("day_offset")
        ]
        if policy.pk
        else [],
    }


def policy_delete(*, policy: DunningPolicy) -> None:
    """Remove a plan's override, which only an unused one can be: cases record the policy
    they were handled under."""
    if policy.plan_id is None:
        raise ValidationError({"plan": "the organization's default policy cannot be deleted"})
    used = policy.cases.count()
    if used:
        raise ValidationError(
            {"plan": f"{used} dunning case(s) were handled under this policy; change it instead"}
        )
    policy.delete()
