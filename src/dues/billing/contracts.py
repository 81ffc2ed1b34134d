"""Signing the contract of a membership. The caller renders the contract in the member's
language; this module checks the signature and keeps the text, word for word."""

from __future__ import annotations

import hashlib

from django.core.exceptions import ValidationError
from django.db import transaction

from dues.billing.models import ContractSignature, Subscription
from dues.catalog.models import ContractVersion, Plan
from dues.core.clock import Clock
from dues.core.models import Location
from dues.core.outbox import event_emit
from dues.members.models import Member

USER_AGENT_MAX = ContractSignature._meta.get_field("user_agent").max_length or 400


def _plain(name: str) -> str:
    return " ".join(name.split()).casefold()


def contract_sign(
    *,
    member: Member,
    plan: Plan,
    location: Location,
    version: ContractVersion | None,
    language: str,
    title: str,
    text: str,
    typed_name: str,
    ip_address: str,
    user_agent: str,
    clock: Clock,
) -> ContractSignature:
    """Record that ``member`` signed ``text`` by typing their name. The typed name must be
    the member's own (case and spacing aside): a signature in someone else's name, or an
    empty one, is refused."""
    org_id = member.organization_id
    for field, obj in (("plan", plan), ("location", location), ("version", version)):
        if obj is not None and obj.organization_id != org_id:
            raise ValidationError({field: "belongs to another organization"})
    if version is not None and plan.contract_id != version.contract_id:
        raise ValidationError({"version": "is not a version of this plan's contract"})
    if not text.strip():
        raise ValidationError({"text": "the contract text is empty"})
    if _plain(typed_name) != _plain(member.full_name):
        raise ValidationError({"typed_name": f"type your full name as given: {member.full_name}"})
    with transaction.atomic():
        signature = ContractSignature.objects.create(
            organization_id=org_id,
            member=member,
            plan=plan,
            location=location,
            contract_version=version,
            language=language,
            title=title,
            text=text,
            text_sha256=hashlib.sha256(text.encode()).hexdigest(),
            typed_name=" ".join(typed_name.split()),
            signed_at=clock.now(),
            ip_address=ip_address,
            user_agent=user_agent[:USER_AGENT_MAX],
        )
        event_emit(
            organization=org_id,
            topic="contract.signed",
            aggregate_type="member",
            aggregate_id=member.pk,
            payload={"member_id": member.pk, "signature_id": signature.pk},
            clock=clock,
        )
    return signature


def contract_attach(*, signature: ContractSignature, subscription: Subscription) -> None:
    """Bind a signature to the membership it was signed for, once."""
    if subscription.member_id != signature.member_id or subscription.plan_id != signature.plan_id:
        raise ValidationError({"subscription": "is not the membership this contract was for"})
    updated = ContractSignature.objects.filter(pk=signature.pk, subscription__isnull=True).update(
        subscription=subscription
    )
    if not updated:
        raise ValidationError({"subscription": "this contract is already bound to a membership"})
    signature.subscription = subscription
