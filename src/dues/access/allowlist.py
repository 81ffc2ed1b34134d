"""The offline allow-list a door keeps so it still opens when the server cannot be reached.

``allowlist_build`` lists, for one location, every credential not revoked whose member a
membership lets in there today (the same ``membership_refusal`` rules as
``decide.access_decide``, hours aside: each entry carries its member's weekly hours for the
door to apply), plus members holding visits in a pack. Credential values are not sent:
each entry is keyed by HMAC-SHA256(salt, ``kind:value``), so a door's copy does not give
away card numbers. A QR entry carries its secret, so the door can check rotating codes.

The list is signed with Ed25519 (``signing.py``) and expires ``TTL`` after the hour it
was made in. Doors poll every ``POLL_SECONDS`` (≤ 10 s) with ``If-None-Match``: an
unchanged list is a bodiless 304. The list is rebuilt when the organization's outbox moves
(restrictions, freezes, cancellations, credentials all write an event), when the local
date or hour changes, and at least every ``REBUILD_SECONDS``, so a suspension or
reinstatement reaches a polling door within 15 s.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db.models import Max, Q

from dues.access.decide import membership_refusal
from dues.access.models import Credential, CredentialKind, VisitPack
from dues.access.qr import CODE_BYTES, SKEW_SECONDS, STEP_SECONDS
from dues.access.reads import memberships_read
from dues.access.signing import sign
from dues.core.clock import Clock
from dues.core.crypto import secret_open
from dues.core.models import Location, OutboxEvent

POLL_SECONDS = 5
TTL = timedelta(hours=24)
REBUILD_SECONDS = 10


@dataclass(frozen=True)
class AllowList:
    etag: str
    payload: str
    signature: str
    entries: int


# location id -> (version, built at, list); one per process, rebuilt on any change.
_built: dict[int, tuple[tuple[object, ...], datetime, AllowList]] = {}


def allowlist_salt(location: Location) -> str:
    return hashlib.sha256(f"{settings.SECRET_KEY}:allowlist:{location.pk}".encode()).hexdigest()[
        :32
    ]


def credential_hash(salt: str, kind: str, value: str) -> str:
    return hmac.new(salt.encode(), f"{kind}:{value}".encode(), hashlib.sha256).hexdigest()[:32]


def allowlist_get(*, location: Location, clock: Clock) -> AllowList:
    """The current list for ``location``, rebuilt only when something may have changed."""
    now = clock.now()
    local = now.astimezone(ZoneInfo(location.timezone))
    last_event = OutboxEvent.objects.filter(organization_id=location.organization_id).aggregate(
        last=Max("id")
    )["last"]
    version = (last_event, local.date(), local.hour, location.anti_passback_minutes)
    cached = _built.get(location.pk)
    if (
        cached is not None
        and cached[0] == version
        and timedelta(0) <= now - cached[1] < timedelta(seconds=REBUILD_SECONDS)
    ):
        return cached[2]
    built = allowlist_build(location=location, clock=clock)
    _built[location.pk] = (version, now, built)
    return built


def allowlist_build(*, location: Location, clock: Clock) -> AllowList:
    now = clock.now()
    local = now.astimezone(ZoneInfo(location.timezone))
    today = local.date()
    org_id = location.organization_id
    credentials = list(
        Credential.objects.filter(organization_id=org_id, revoked_at__isnull=True)
        .order_by("id")
        .values_list("member_id", "kind", "value", "secret")
    )
    members = {member_id for member_id, *_ in credentials}
    hours: dict[int, list[list[int]] | None] = {}
    restricted_members: set[int] = set()
    for m in memberships_read(location=location, today=today, now=now):
        refusal = membership_refusal(m, today=today)
        if refusal == "restricted":
            restricted_members.add(m.member_id)
        if refusal is not None or m.member_id not in members:
            continue
        windows = m.access_hours or None
        if m.member_id in hours:
            known = hours[m.member_id]
            hours[m.member_id] = (
                None if known is None or windows is None else sorted(known + windows)
            )
        else:
            hours[m.member_id] = windows
    visits: dict[int, int] = {}
    for pack in VisitPack.objects.filter(organization_id=org_id, valid_from__lte=now).filter(
        Q(expires_at__isnull=True) | Q(expires_at__gt=now),
        Q(location__isnull=True) | Q(location_id=location.pk),
    ):
        if pack.entries_left > 0 and pack.member_id not in restricted_members:
            visits[pack.member_id] = visits.get(pack.member_id, 0) + pack.entries_left
    salt = allowlist_salt(location)
    entries = []
    for member_id, kind, value, secret in credentials:
        if member_id in restricted_members or (member_id not in hours and member_id not in visits):
            continue
        entry: dict[str, object] = {
            "h": credential_hash(salt, kind, value),
            "k": kind,
            "m": member_id,
            "hours": hours.get(member_id),
        }
        if member_id not in hours:
            entry["visits"] = visits[member_id]
        if kind == CredentialKind.QR:
            entry["s"] = secret_open(secret)
        entries.append(entry)
    entries.sort(key=lambda e: str(e["h"]))
    hour = now.replace(minute=0, second=0, microsecond=0)
    body = {
        "v": 1,
        "organization": org_id,
        "location": location.pk,
        "timezone": location.timezone,
        "anti_passback_minutes": location.anti_passback_minutes,
        "qr": {
            "step_seconds": STEP_SECONDS,
            "skew_seconds": SKEW_SECONDS,
            "code_bytes": CODE_BYTES,
        },
        "salt": salt,
        "expires_at": (hour + TTL).isoformat(),
        "poll_seconds": POLL_SECONDS,
        "entries": entries,
    }
    payload = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    etag = hashlib.sha256(payload.encode()).hexdigest()[:32]
    return AllowList(
        etag=etag, payload=payload, signature=sign(payload.encode()), entries=len(entries)
    )
