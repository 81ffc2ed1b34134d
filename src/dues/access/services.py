"""Writes of the access app: staff issue and revoke credentials, add door devices, grant
visit packs. Each is one transaction and emits its outbox event (``access.events``).
The decision itself is ``access.decide.access_decide``."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from django.db import IntegrityError, transaction

from dues.access.events import access_event
from dues.access.models import AccessDevice, Credential, CredentialKind, VisitPack
from dues.access.qr import qr_new_id, qr_new_secret
from dues.catalog.models import AddOn
from dues.core.clock import Clock
from dues.core.crypto import secret_open, secret_seal
from dues.core.models import Location
from dues.members.models import Member


class AccessServiceError(ValueError):
    """A refused write; ``errors`` maps the field to the message."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = errors


_TAG_VALUE = re.compile(r"^[0-9A-Za-z:_-]{4,64}$")


def credential_issue(
    *,
    member: Member,
    kind: str,
    clock: Clock,
    value: str = "",
    issued_by: Any = None,
) -> Credential:
    """Give ``member`` a credential. A barcode or RFID credential needs the ``value`` read
    from the tag (4–64 letters, digits, ``:``, ``_`` or ``-``); a QR credential gets a
    random public id and secret, and issuing a new one revokes the member's previous QR."""
    if kind not in CredentialKind.values:
        raise AccessServiceError({"kind": f"unknown credential kind {kind!r}"})
    now = clock.now()
    secret = ""
    if kind == CredentialKind.QR:
        value = qr_new_id()
        secret = secret_seal(qr_new_secret().hex())
    else:
        value = value.strip()
        if not _TAG_VALUE.match(value):
            raise AccessServiceError(
                {"value": "4–64 letters, digits, ':', '_' or '-' as read from the tag"}
            )
    try:
        with transaction.atomic():
            if kind == CredentialKind.QR:
                for old in Credential.objects.filter(
                    member=member, kind=CredentialKind.QR, revoked_at__isnull=True
                ):
                    _revoke(old, now=now, by=issued_by, reason="replaced by a new QR code")
            credential = Credential.objects.create(
                organization_id=member.organization_id,
                member=member,
                kind=kind,
                value=value,
                secret=secret,
                issued_at=now,
                issued_by=issued_by,
            )
            access_event(credential, "credential.issued", now)
    except IntegrityError as exc:
        raise AccessServiceError(
            {"value": f"this {kind} is already in use by another member"}
        ) from exc
    return credential


def credential_revoke(
    *, credential: Credential, clock: Clock, revoked_by: Any = None, reason: str = ""
) -> Credential:
    """Stop a credential from opening doors, from now on. Revoking twice is one revocation."""
    with transaction.atomic():
        locked = Credential.objects.select_for_update().get(pk=credential.pk)
        if locked.revoked_at is None:
            _revoke(locked, now=clock.now(), by=revoked_by, reason=reason)
    credential.refresh_from_db()
    return credential


def _revoke(credential: Credential, *, now: datetime, by: Any, reason: str) -> None:
    credential.revoked_at = now
    credential.revoked_by = by
    credential.revoke_reason = reason[:200]
    credential.save(update_fields=["revoked_at", "revoked_by", "revoke_reason"])
    access_event(credential, "credential.revoked", now)


def member_qr_credential(*, member: Member, clock: Clock) -> Credential:
    """The member's QR credential, issued on first use (the portal's QR screen)."""
    found = Credential.objects.filter(
        member=member, kind=CredentialKind.QR, revoked_at__isnull=True
    ).first()
    return found or credential_issue(member=member, kind=CredentialKind.QR, clock=clock)


def qr_secret(credential: Credential) -> bytes:
    if credential.kind != CredentialKind.QR:
        raise AccessServiceError({"kind": "only a QR credential has a secret"})
    return bytes.fromhex(secret_open(credential.secret))


def device_create(*, location: Location, name: str, clock: Clock) -> tuple[AccessDevice, str]:
    """A door device at ``location`` and its key, which is shown this once."""
    name = name.strip()
    if not name:
        raise AccessServiceError({"name": "a device needs a name"})
    if AccessDevice.objects.filter(location=location, name=name).exists():
        raise AccessServiceError({"name": f"{location.name} already has a device {name!r}"})
    prefix, key = AccessDevice.generate()
    device = AccessDevice.objects.create(
        organization_id=location.organization_id,
        location=location,
        name=name,
        prefix=prefix,
        key_hash=AccessDevice.hash_key(key),
        created_at=clock.now(),
    )
    return device, key


def device_deactivate(*, device: AccessDevice) -> AccessDevice:
    AccessDevice.objects.filter(pk=device.pk).update(active=False)
    device.active = False
    return device


def visit_pack_grant(
    *,
    member: Member,
    clock: Clock,
    addon: AddOn | None = None,
    entries: int | None = None,
    location: Location | None = None,
    expires_at: datetime | None = None,
) -> VisitPack:
    """Give ``member`` a pack of entries: the add-on's ``sessions`` (a pack add-on), or
    ``entries`` when there is no add-on (a drop-in, a goodwill visit)."""
    if addon is not None:
        if addon.organization_id != member.organization_id:
            raise AccessServiceError({"addon": "not an add-on of this organization"})
        if addon.kind != AddOn.Kind.PACK:
            raise AccessServiceError({"addon": "only a pack add-on holds visits"})
        entries = addon.sessions if entries is None else entries
    if entries is None or entries < 1:
        raise AccessServiceError({"entries": "a pack holds at least one visit"})
    if location is not None and location.organization_id != member.organization_id:
        raise AccessServiceError({"location": "not a location of this organization"})
    now = clock.now()
    if expires_at is not None and expires_at <= now:
        raise AccessServiceError({"expires_at": "must be in the future"})
    with transaction.atomic():
        pack = VisitPack.objects.create(
            organization_id=member.organization_id,
            member=member,
            addon=addon,
            location=location,
            entries_total=entries,
            valid_from=now,
            expires_at=expires_at,
            created_at=now,
        )
        access_event(pack, "visit_pack.granted", now)
    return pack
