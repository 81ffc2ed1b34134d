from __future__ import annotations

from datetime import date
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction

from dues.core.clock import Clock
from dues.core.models import Location, Organization
from dues.core.outbox import event_emit
from dues.members.models import (
    MEMBER_TRANSITIONS,
    EmergencyContact,
    Member,
    MemberNote,
    MemberStatus,
    MemberStatusChange,
)


class IllegalTransition(ValidationError):
    pass


def member_create(
    *,
    organization: Organization,
    first_name: str,
    last_name: str,
    clock: Clock,
    email: str = "",
    phone: str = "",
    date_of_birth: date | None = None,
    language: str = "en",
    home_location: Location | None = None,
    payer: Member | None = None,
    address: str = "",
) -> Member:
    if home_location is not None and home_location.organization_id != organization.pk:
        raise ValidationError({"home_location": "location belongs to another organization"})
    if payer is not None:
        if payer.organization_id != organization.pk:
            raise ValidationError({"payer": "payer belongs to another organization"})
        if payer.payer_id is not None:
            raise ValidationError({"payer": "a payer must pay for themselves"})
    if date_of_birth is not None and date_of_birth > clock.now().date():
        raise ValidationError({"date_of_birth": "date of birth is in the future"})
    member = Member(
        organization=organization,
        first_name=first_name.strip(),
        last_name=last_name.strip(),
        email=email.strip().lower(),
        phone=phone.strip(),
        date_of_birth=date_of_birth,
        language=language,
        home_location=home_location,
        payer=payer,
        address=address,
        created_at=clock.now(),
    )
    member.full_clean(exclude=["organization", "home_location", "payer"])
    with transaction.atomic():
        member.save()
        member.member_number = f"M{member.pk:06d}"
        member.save(update_fields=["member_number"])
        event_emit(
            organization=organization,
            topic="member.created",
            aggregate_type="member",
            aggregate_id=member.pk,
            payload={"member_id": member.pk},
            clock=clock,
        )
    return member


def member_set_status(*, member: Member, status: str, clock: Clock, reason: str = "") -> Member:
    """Move a member along the status machine; an illegal move raises ``IllegalTransition``."""
    if member.status == status:
        return member
    if status not in MEMBER_TRANSITIONS.get(member.status, set()):
        raise IllegalTransition(f"member status cannot go from {member.status} to {status}")
    with transaction.atomic():
        MemberStatusChange.objects.create(
            organization_id=member.organization_id,
            member=member,
            from_status=member.status,
            to_status=status,
            reason=reason,
            changed_at=clock.now(),
        )
        member.status = status
        member.save(update_fields=["status"])
        event_emit(
            organization=member.organization_id,
            topic="member.status_changed",
            aggregate_type="member",
            aggregate_id=member.pk,
            payload={"member_id": member.pk, "status": status, "reason": reason},
            clock=clock,
        )
    return member


def member_activate_if_prospect(*, member: Member, clock: Clock) -> None:
    if member.status in (MemberStatus.PROSPECT, MemberStatus.INACTIVE, MemberStatus.CANCELLED):
        member_set_status(member=member, status=MemberStatus.ACTIVE, clock=clock, reason="joined")


def member_update(*, member: Member, clock: Clock, **fields: Any) -> Member:
    allowed = {"first_name", "last_name", "email", "phone", "date_of_birth", "address", "language"}
    unknown = set(fields) - allowed
    if unknown:
        raise ValidationError({name: "field cannot be changed here" for name in unknown})
    for name, value in fields.items():
        setattr(member, name, value)
    member.full_clean(exclude=["organization", "home_location", "payer"])
    with transaction.atomic():
        member.save(update_fields=list(fields))
        event_emit(
            organization=member.organization_id,
            topic="member.updated",
            aggregate_type="member",
            aggregate_id=member.pk,
            payload={"member_id": member.pk, "fields": sorted(fields)},
            clock=clock,
        )
    return member


def member_note_add(*, member: Member, text: str, author: str, clock: Clock) -> MemberNote:
    if not text.strip():
        raise ValidationError({"text": "a note cannot be empty"})
    return MemberNote.objects.create(
        organization_id=member.organization_id,
        member=member,
        text=text.strip(),
        author=author,
        created_at=clock.now(),
    )


def emergency_contact_add(
    *, member: Member, name: str, phone: str, relationship: str = ""
) -> EmergencyContact:
    contact = EmergencyContact(
        organization_id=member.organization_id,
        member=member,
        name=name,
        phone=phone,
        relationship=relationship,
    )
    contact.full_clean(exclude=["organization", "member"])
    contact.save()
    return contact
