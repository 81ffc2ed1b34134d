from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import validate_ipv46_address
from django.db import transaction

from dues.core.clock import Clock
from dues.core.models import Location, Organization
from dues.core.outbox import event_emit
from dues.members.models import (
    MEMBER_TRANSITIONS,
    ConsentChange,
    ConsentChannel,
    ConsentSource,
    EmergencyContact,
    Member,
    MemberNote,
    MemberStatus,
    MemberStatusChange,
)
from dues.members.selectors import consent_current


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


def consent_set(
    *,
    member: Member,
    granted: Mapping[str, bool],
    source: str,
    wording_version: str,
    clock: Clock,
    ip_address: str | None = None,
    changed_by: str = "",
    language: str = "",
) -> list[ConsentChange]:
    """Record a member's answer to the marketing consent question, per channel
    (``granted={"email": True, "sms": False}``), and return the rows written.

    The history is append-only: a row is added only for a channel whose state changes
    (saving the same answer again writes nothing), and the current state is the latest row
    (``selectors.consent_current``). ``source`` says who answered: the member in the
    portal (``ip_address`` required), the member when joining online (``ip_address`` when
    known), or staff (``changed_by``: their user name, e.g. from a signed paper form).
    ``wording_version`` names the wording of the question that was shown, ``language`` the
    language it was shown in; whoever changes the wording gives it a new version.
    """
    problems: dict[str, str] = {}
    unknown = sorted(set(granted) - set(ConsentChannel.values))
    if unknown:
        problems["channel"] = (
            f"unknown channel {unknown[0]!r}; use {', '.join(ConsentChannel.values)}"
        )
    if any(not isinstance(value, bool) for value in granted.values()):
        problems["granted"] = "say True or False for each channel"
    if source not in ConsentSource.values:
        problems["source"] = f"unknown source {source!r}; use {', '.join(ConsentSource.values)}"
    if not wording_version.strip():
        problems["wording_version"] = "say which wording of the question was shown"
    if source == ConsentSource.PORTAL and not ip_address:
        problems["ip_address"] = "a change made in the portal records the member's IP address"
    if ip_address:
        try:
            validate_ipv46_address(ip_address)
        except ValidationError:
            problems["ip_address"] = f"{ip_address!r} is not an IP address"
    if source == ConsentSource.STAFF and not changed_by.strip():
        problems["changed_by"] = "a change made by staff names the staff member"
    if problems:
        raise ValidationError(problems)
    with transaction.atomic():
        # One change at a time per member, so two saves at once cannot both decide.
        Member.objects.select_for_update().only("pk").get(pk=member.pk)
        current = consent_current(member)
        rows = [
            ConsentChange(
                organization_id=member.organization_id,
                member=member,
                channel=channel,
                granted=value,
                source=source,
                changed_by=changed_by.strip(),
                ip_address=ip_address or None,
                wording_version=wording_version.strip(),
                language=language,
                changed_at=clock.now(),
            )
            for channel, value in granted.items()
            if current[channel] != value
        ]
        for row in rows:
            row.save()
    return rows


def notification_preferences_set(
    *,
    member: Member,
    clock: Clock,
    service_email: bool,
    service_sms: bool,
    service_in_app: bool,
    payment_sms: bool,
) -> Member:
    """Save which channels the member wants for service messages and whether payment
    messages also come by SMS (email and in-app cannot be turned off for those; the rule
    is ``selectors.message_channels``)."""
    wanted = {
        "service_email": service_email,
        "service_sms": service_sms,
        "service_in_app": service_in_app,
        "payment_sms": payment_sms,
    }
    changed = sorted(name for name, value in wanted.items() if getattr(member, name) != value)
    if not changed:
        return member
    with transaction.atomic():
        for name in changed:
            setattr(member, name, wanted[name])
        member.save(update_fields=changed)
        event_emit(
            organization=member.organization_id,
            topic="member.updated",
            aggregate_type="member",
            aggregate_id=member.pk,
            payload={"member_id": member.pk, "fields": changed},
            clock=clock,
        )
    return member
