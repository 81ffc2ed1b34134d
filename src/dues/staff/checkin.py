"""Front-desk access operations: each calls the access app's service and writes the staff
audit row (``staff.services.staff_action_record``) in the same transaction."""

from __future__ import annotations

from typing import Any

from django.db import transaction

from dues.access.decide import Decision, access_decide
from dues.access.models import Credential
from dues.access.services import credential_issue, credential_revoke
from dues.core.clock import Clock
from dues.core.models import Location
from dues.members.models import Member
from dues.staff.roles import Action
from dues.staff.services import staff_action_record


def staff_check_in(
    *,
    user: Any,
    location: Location,
    clock: Clock,
    value: str = "",
    member: Member | None = None,
    override_reason: str = "",
) -> Decision:
    """A check-in at the desk: a scanned ``value`` or a ``member`` found by search. With
    ``override_reason`` the member is let in whatever the rules say (audited)."""
    with transaction.atomic():
        decision = access_decide(
            location=location,
            clock=clock,
            value=value,
            member=member,
            override_by=user if override_reason else None,
            override_reason=override_reason,
        )
        if override_reason and decision.member is not None:
            staff_action_record(
                user=user,
                member=decision.member,
                action=Action.ACCESS_OVERRIDE,
                detail={
                    "decision_id": decision.decision_id,
                    "overrode": decision.refusal_code,
                    "reason": override_reason,
                    "location_id": location.pk,
                },
                clock=clock,
            )
    return decision


def staff_credential_issue(
    *, user: Any, member: Member, kind: str, value: str, clock: Clock
) -> Credential:
    with transaction.atomic():
        credential = credential_issue(
            member=member, kind=kind, value=value, clock=clock, issued_by=user
        )
        staff_action_record(
            user=user,
            member=member,
            action=Action.CREDENTIALS_EDIT,
            detail={"issued": credential.pk, "kind": kind, "value": credential.value},
            clock=clock,
        )
    return credential


def staff_credential_revoke(
    *, user: Any, member: Member, credential: Credential, reason: str, clock: Clock
) -> Credential:
    if credential.member_id != member.pk:
        raise ValueError("credential: not this member's")
    with transaction.atomic():
        credential = credential_revoke(
            credential=credential, clock=clock, revoked_by=user, reason=reason
        )
        staff_action_record(
            user=user,
            member=member,
            action=Action.CREDENTIALS_EDIT,
            detail={"revoked": credential.pk, "kind": credential.kind, "reason": reason},
            clock=clock,
        )
    return credential
