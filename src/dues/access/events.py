"""Outbox events of the access app (written in the transaction of the change):

- ``credential.issued`` / ``credential.revoked``: ``credential_id``, ``member_id``, ``kind``
- ``visit_pack.granted``: ``visit_pack_id``, ``member_id``, ``entries``

Decisions are not events (a busy door writes thousands a day); they are the
``AccessDecision`` log, read by attendance.
"""

from __future__ import annotations

from datetime import datetime

from dues.access.models import Credential, VisitPack
from dues.core.outbox import Event, events_emit_bulk


def access_event(row: Credential | VisitPack, topic: str, now: datetime) -> None:
    if isinstance(row, Credential):
        payload = {"credential_id": row.pk, "member_id": row.member_id, "kind": row.kind}
        aggregate = "credential"
    else:
        payload = {
            "visit_pack_id": row.pk,
            "member_id": row.member_id,
            "entries": row.entries_total,
        }
        aggregate = "visit_pack"
    events_emit_bulk([Event(row.organization_id, topic, aggregate, row.pk, payload, now)])
