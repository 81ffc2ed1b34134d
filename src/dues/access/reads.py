"""The reads a door decision makes, in SQL.

A door asks 200 times a second (``bench.access``). Built with the ORM, the memberships
query with its five ``EXISTS`` took 4 ms to compile and 0.1 ms to run; these statements
are written once, take their table names from the models and their codes from the models'
choices, and go through ``Manager.raw`` where a model instance comes back, so field
converters still apply. What they read is what the ORM would: ``tests/access/
test_reads.py`` compares them with ``billing.restrictions.restrictions_in_force`` and the
freeze rules on cases built to tell them apart.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from django.db import connection

from dues.access.models import AccessDecision, AccessDevice, Credential
from dues.billing.models import Freeze, Restriction, RestrictionKind, Subscription
from dues.billing.models import SubscriptionStatus as Status
from dues.catalog.models import Plan
from dues.core.models import Location
from dues.members.models import Member

LIVE = (Status.PENDING, Status.TRIALING, Status.ACTIVE, Status.FROZEN)
# A membership cancelled within this long still answers "ended" rather than "no membership".
ENDED_SHOWN_FOR = timedelta(days=365)

_SUB = Subscription._meta.db_table
_PLAN = Plan._meta.db_table
_PLAN_LOCATIONS = Plan.locations.through._meta.db_table
_FREEZE = Freeze._meta.db_table
_RESTRICTION = Restriction._meta.db_table
_DECISION = AccessDecision._meta.db_table


@dataclass(frozen=True)
class MembershipFacts:
    """One membership and what the rules need to know about it at one instant and place."""

    id: int
    member_id: int
    plan_id: int
    status: str
    start_date: date
    cancel_at: date | None
    access_hours: list[list[int]]
    frozen_today: bool  # a scheduled or active freeze covers today
    freeze_over: bool  # a freeze has ended by today and none covers it
    restricted: bool  # an access restriction is in force
    wrong_location: bool  # the plan names locations and not this one


def _in(values: Sequence[str]) -> str:
    return ", ".join(["%s"] * len(values))


_FREEZES = (Freeze.Status.SCHEDULED, Freeze.Status.ACTIVE)
_MEMBERSHIPS_SQL = f"""
SELECT s.id, s.member_id, s.plan_id, s.status, s.start_date, s.cancel_at, p.access_hours,
  EXISTS (SELECT 1 FROM {_FREEZE} f WHERE f.subscription_id = s.id
          AND f.status IN ({_in(_FREEZES)}) AND f.start_date <= %s AND f.end_date > %s),
  EXISTS (SELECT 1 FROM {_FREEZE} f WHERE f.subscription_id = s.id
          AND f.status IN ({_in(_FREEZES)}) AND f.start_date <= %s AND f.end_date <= %s),
  EXISTS (SELECT 1 FROM {_RESTRICTION} r WHERE r.subscription_id = s.id AND r.kind = %s
          AND r.starts_at <= %s AND (r.ends_at IS NULL OR r.ends_at > %s)),
  EXISTS (SELECT 1 FROM {_PLAN_LOCATIONS} l WHERE l.plan_id = s.plan_id)
  AND NOT EXISTS (SELECT 1 FROM {_PLAN_LOCATIONS} l
                  WHERE l.plan_id = s.plan_id AND l.location_id = %s)
FROM {_SUB} s JOIN {_PLAN} p ON p.id = s.plan_id
WHERE s.organization_id = %s AND """
_ONE_MEMBER = f"""s.member_id = %s AND (s.status IN ({_in(LIVE)})
  OR (s.status = %s AND s.cancelled_at > %s))
ORDER BY s.created_at DESC, s.id DESC"""
_WHOLE_ORGANIZATION = f"s.status IN ({_in(LIVE)}) AND s.start_date <= %s"


def memberships_read(
    *, location: Location, today: date, now: datetime, member_id: int | None = None
) -> list[MembershipFacts]:
    """A member's memberships (live, or cancelled within ``ENDED_SHOWN_FOR``), newest
    first; or, without ``member_id``, every live membership of the location's organization
    that has started (the allow-list's)."""
    ops = connection.ops
    day = ops.adapt_datefield_value(today)
    at = ops.adapt_datetimefield_value(now)
    params: list[Any] = [
        *_FREEZES,
        day,
        day,
        *_FREEZES,
        day,
        day,
        RestrictionKind.ACCESS,
        at,
        at,
        location.pk,
        location.organization_id,
    ]
    if member_id is not None:
        sql = _MEMBERSHIPS_SQL + _ONE_MEMBER
        ended_after = ops.adapt_datetimefield_value(now - ENDED_SHOWN_FOR)
        params += [member_id, *LIVE, Status.CANCELLED, ended_after]
    else:
        sql = _MEMBERSHIPS_SQL + _WHOLE_ORGANIZATION
        params += [*LIVE, day]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    return [_facts(row) for row in rows]


def _facts(row: tuple[object, ...]) -> MembershipFacts:
    pk, member_id, plan_id, status, start, cancel_at, hours, frozen, thawed, restricted, away = row
    if isinstance(hours, str):  # SQLite and PostgreSQL's jsonb both come back as text here
        hours = json.loads(hours)
    return MembershipFacts(
        id=int(pk),  # type: ignore[call-overload]
        member_id=int(member_id),  # type: ignore[call-overload]
        plan_id=int(plan_id),  # type: ignore[call-overload]
        status=str(status),
        start_date=_date(start),
        cancel_at=_date(cancel_at) if cancel_at is not None else None,
        access_hours=list(hours or []),  # type: ignore[call-overload]
        frozen_today=bool(frozen),
        freeze_over=bool(thawed) and not frozen,
        restricted=bool(restricted),
        wrong_location=bool(away),
    )


def _date(value: object) -> date:
    # SQLite returns dates as ISO text through a plain cursor.
    return value if isinstance(value, date) else date.fromisoformat(str(value))


_CREDENTIAL_SQL = f"""SELECT c.*, m.first_name AS member_first_name
FROM {Credential._meta.db_table} c JOIN {Member._meta.db_table} m ON m.id = c.member_id
WHERE c.organization_id = %s AND c.kind IN ({{kinds}}) AND c.value = %s
ORDER BY CASE WHEN c.revoked_at IS NULL THEN 0 ELSE 1 END, c.revoked_at DESC, c.id DESC"""


def credential_find(
    *, organization_id: int, kinds: Sequence[str], value: str
) -> tuple[Credential, str] | None:
    """The credential in use with this value, else the one revoked last, with its holder's
    first name (for the door's greeting)."""
    sql = _CREDENTIAL_SQL.format(kinds=_in(kinds)) + " LIMIT 1"
    for credential in Credential.objects.raw(sql, [organization_id, *kinds, value]):
        return credential, str(credential.member_first_name)  # type: ignore[attr-defined]
    return None


def qr_step_used(credential_id: int, step: int) -> bool:
    """Whether this QR code's step (or a later one) already let someone in."""
    return _exists(
        f"SELECT 1 FROM {_DECISION} WHERE credential_id = %s AND allowed = %s AND qr_step >= %s",
        [credential_id, True, step],
    )


def entered_recently(
    *, location_id: int, since: datetime, until: datetime, credential_id: int | None, member_id: int
) -> bool:
    """Whether the credential (or, at the desk, the member) entered here in (since, until]."""
    ops = connection.ops
    who, pk = (
        ("credential_id", credential_id) if credential_id is not None else ("member_id", member_id)
    )
    return _exists(
        f"SELECT 1 FROM {_DECISION} WHERE {who} = %s AND location_id = %s AND allowed = %s "
        "AND at > %s AND at <= %s",
        [
            pk,
            location_id,
            True,
            ops.adapt_datetimefield_value(since),
            ops.adapt_datetimefield_value(until),
        ],
    )


def device_find(prefix: str) -> AccessDevice | None:
    """The active device with this key prefix, its location loaded."""
    found = list(
        AccessDevice.objects.raw(
            f"SELECT * FROM {AccessDevice._meta.db_table} WHERE prefix = %s AND active = %s",
            [prefix, True],
        )
    )
    if not found:
        return None
    device = found[0]
    locations = list(
        Location.objects.raw(
            f"SELECT * FROM {Location._meta.db_table} WHERE id = %s", [device.location_id]
        )
    )
    device.location = locations[0]
    return device


def _exists(sql: str, params: list[Any]) -> bool:
    with connection.cursor() as cursor:
        cursor.execute(sql + " LIMIT 1", params)
        return cursor.fetchone() is not None
