"""Whether a member may enter (DESIGN invariant 7): the one function of (credential,
location, time) that every door, turnstile and the front desk asks.

``access_decide`` sees the credential (unknown, revoked, a stale or replayed QR code), the
member's memberships at the location's local date and time (started, not ended, not frozen
by status or by a freeze the date has reached, not restricted by dunning or staff through
``billing.restrictions``, the plan's locations and weekly hours), visit packs (one visit is
used per entry a membership does not cover, by a conditional UPDATE), anti-passback (the
same credential cannot enter the same location twice within the location's
``anti_passback_minutes``) and a staff override with its reason. It returns the verdict
with a reason code and the sentence for the member, and logs every decision. What it
reads, it reads through ``reads.py``.
"""

from __future__ import annotations

from contextlib import nullcontext
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from functools import cached_property
from typing import Any
from zoneinfo import ZoneInfo

from django.db import transaction
from django.db.models import F, Q
from django.utils import translation

from dues.access import reads
from dues.access.models import AccessDecision, AccessDevice, Credential, CredentialKind, VisitPack
from dues.access.qr import qr_parse, qr_verify
from dues.access.reads import MembershipFacts
from dues.access.reasons import ALLOWING, MEMBERSHIP_CHECKS, Reason
from dues.billing.models import Subscription, SubscriptionStatus
from dues.core.clock import Clock
from dues.core.crypto import secret_open
from dues.core.models import Location
from dues.members.models import Member


class AccessError(ValueError):
    """Bad input to a decision (not a refusal): ``errors`` maps the field to the message."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = errors


@dataclass(frozen=True)
class Decision:
    allowed: bool
    code: str
    reason: str
    at: datetime
    member_id: int | None = None
    first_name: str = ""  # the member's, for the door's greeting
    subscription_id: int | None = None
    credential: Credential | None = None
    visit_pack: VisitPack | None = None
    refusal_code: str = ""
    decision_id: int | None = None
    entries_left: int | None = None

    known_member: Member | None = field(default=None, repr=False, compare=False)

    @cached_property
    def member(self) -> Member | None:
        """The member, loaded when a screen asks for more than the door needs."""
        if self.known_member is not None or self.member_id is None:
            return self.known_member
        return Member.objects.get(pk=self.member_id)

    @cached_property
    def subscription(self) -> Subscription | None:
        """The membership the decision was about, loaded when a screen asks for it."""
        if self.subscription_id is None:
            return None
        return Subscription.objects.select_related("plan").get(pk=self.subscription_id)


def reason_text(code: str, language: str) -> str:
    """The member-facing sentence for ``code`` in ``language``."""
    with translation.override(language):
        return str(Reason(code).label)


@dataclass
class _Verdict:
    code: str
    member: Member | None = None  # when the desk chose the member
    member_id: int | None = None
    first_name: str = ""
    membership: MembershipFacts | None = None
    credential: Credential | None = None
    qr_step: int | None = None
    packs: list[VisitPack] | None = None


def access_decide(
    *,
    location: Location,
    clock: Clock,
    value: str = "",
    kind: str = "",
    member: Member | None = None,
    device: AccessDevice | None = None,
    override_by: Any = None,
    override_reason: str = "",
    record: bool = True,
) -> Decision:
    """Decide and (unless ``record`` is False: the desk's preview) log one entry.

    Pass the scanned ``value`` (and its ``kind`` when the reader knows it: ``qr``,
    ``barcode``, ``rfid``), or ``member`` for a front-desk check-in found by search. An
    override (``override_by`` a staff user, with ``override_reason``) lets the member in
    whatever the rules say and logs what it overrode.
    """
    value = value.strip()
    if kind and kind not in CredentialKind.values:
        raise AccessError({"kind": f"unknown credential kind {kind!r}; use qr, barcode or rfid"})
    if not value and member is None:
        raise AccessError({"value": "scan a credential or choose a member"})
    if member is not None and member.organization_id != location.organization_id:
        raise AccessError({"member": "not a member of this location's organization"})
    if override_by is not None and not override_reason.strip():
        raise AccessError({"override_reason": "an override needs a reason"})
    if device is not None and device.location_id != location.pk:
        raise AccessError({"device": "the device is not at this location"})
    now = clock.now()
    verdict = _evaluate(location=location, now=now, value=value, kind=kind, member=member)
    refusal = "" if verdict.code in ALLOWING else verdict.code
    if override_by is not None:
        verdict.code = Reason.OVERRIDE
        verdict.packs = None
    if not record:
        return _decision(verdict, location, now, refusal, None, None, None)
    pack = None
    left = None
    spends_a_visit = verdict.code == Reason.VISIT_PACK
    # The visit and its log row together or neither; any other decision is one INSERT.
    with transaction.atomic() if spends_a_visit else nullcontext():
        if spends_a_visit:
            pack, left = _use_a_visit(verdict.packs or [], now)
            if pack is None:
                verdict.code = refusal = Reason.PACK_EXHAUSTED
        allowed = verdict.code in ALLOWING
        membership = verdict.membership
        row = AccessDecision.objects.create(
            organization_id=location.organization_id,
            location=location,
            device=device,
            at=now,
            kind=verdict.credential.kind if verdict.credential else kind,
            value=value[:80],
            credential=verdict.credential,
            member_id=verdict.member_id,
            subscription_id=membership.id if membership is not None else None,
            plan_id_at_entry=membership.plan_id if membership is not None else None,
            visit_pack=pack,
            allowed=allowed,
            reason_code=verdict.code,
            reason=reason_text(verdict.code, "en"),
            refusal_code=refusal if verdict.code == Reason.OVERRIDE else "",
            override_by=override_by,
            override_reason=override_reason.strip()[:200],
            qr_step=verdict.qr_step if allowed else None,
        )
    return _decision(verdict, location, now, refusal, row.pk, pack, left)


def _decision(
    verdict: _Verdict,
    location: Location,
    now: datetime,
    refusal: str,
    decision_id: int | None,
    pack: VisitPack | None,
    left: int | None,
) -> Decision:
    if left is None and verdict.code == Reason.VISIT_PACK and verdict.packs:
        left = sum(p.entries_left for p in verdict.packs)
    return Decision(
        allowed=verdict.code in ALLOWING,
        code=verdict.code,
        reason=reason_text(verdict.code, location.locale),
        at=now,
        member_id=verdict.member_id,
        first_name=verdict.first_name,
        known_member=verdict.member,
        subscription_id=verdict.membership.id if verdict.membership else None,
        credential=verdict.credential,
        visit_pack=pack,
        refusal_code=refusal if verdict.code == Reason.OVERRIDE else "",
        decision_id=decision_id,
        entries_left=left,
    )


def _use_a_visit(packs: list[VisitPack], now: datetime) -> tuple[VisitPack | None, int | None]:
    """Spend one visit from the first pack that still has one: a conditional UPDATE, so
    two doors racing for the last visit cannot both have it."""
    for pack in packs:
        used = VisitPack.objects.filter(
            pk=pack.pk, entries_used__lt=F("entries_total"), valid_from__lte=now
        ).update(entries_used=F("entries_used") + 1)
        if used:
            pack.refresh_from_db(fields=["entries_used"])
            others = sum(p.entries_left for p in packs if p.pk != pack.pk)
            return pack, pack.entries_left + others
    return None, None


def _evaluate(
    *, location: Location, now: datetime, value: str, kind: str, member: Member | None
) -> _Verdict:
    local = now.astimezone(ZoneInfo(location.timezone))
    since = now - timedelta(minutes=location.anti_passback_minutes)
    if value:
        verdict, scan = _credential_check(
            location=location, value=value, kind=kind, now=now, today=local.date(), since=since
        )
        if scan is None or verdict.code != Reason.MEMBERSHIP:
            return verdict
        memberships, entered = scan.memberships, scan.entered_recently
    else:
        assert member is not None
        verdict = _Verdict(Reason.MEMBERSHIP, member, member.pk, member.first_name)
        memberships = reads.memberships_read(
            location=location, today=local.date(), now=now, member_id=member.pk
        )
        entered = bool(location.anti_passback_minutes) and reads.entered_recently(
            location_id=location.pk, member_id=member.pk, since=since, until=now
        )
    assert verdict.member_id is not None
    best: tuple[int, str, MembershipFacts | None] = (-1, Reason.NO_MEMBERSHIP, None)
    if memberships:
        outcome = _memberships_check(memberships, local=local)
        if isinstance(outcome, MembershipFacts):
            verdict.membership = outcome
            verdict.code = Reason.ANTI_PASSBACK if entered else Reason.MEMBERSHIP
            return verdict
        best = outcome
    _, code, membership = best
    verdict.membership = membership
    if code == Reason.RESTRICTED:
        verdict.code = code
        return verdict
    packs = list(
        VisitPack.objects.filter(
            member_id=verdict.member_id,
            organization_id=location.organization_id,
            valid_from__lte=now,
        )
        .filter(Q(expires_at__isnull=True) | Q(expires_at__gt=now))
        .filter(Q(location__isnull=True) | Q(location_id=location.pk))
        .order_by(F("expires_at").asc(nulls_last=True), "id")
    )
    if packs:
        usable = [p for p in packs if p.entries_left > 0]
        if not usable:
            verdict.code = Reason.PACK_EXHAUSTED
        elif entered:
            verdict.code = Reason.ANTI_PASSBACK
        else:
            verdict.code = Reason.VISIT_PACK
            verdict.packs = usable
            verdict.membership = None
        return verdict
    verdict.code = code
    return verdict


def _credential_check(
    *, location: Location, value: str, kind: str, now: datetime, today: date, since: datetime
) -> tuple[_Verdict, reads.Scan | None]:
    parsed = qr_parse(value) if kind in ("", CredentialKind.QR) else None
    if kind == CredentialKind.QR and parsed is None:
        return _Verdict(Reason.QR_INVALID), None
    if parsed is not None:
        kinds: list[str] = [CredentialKind.QR]
        value = parsed[0]
    else:
        kinds = [kind] if kind else [CredentialKind.BARCODE, CredentialKind.RFID]
    scan = reads.scan_read(
        location=location,
        kinds=kinds,
        value=value,
        today=today,
        now=now,
        entered_since=since,
    )
    if scan is None:
        return _Verdict(Reason.UNKNOWN_CREDENTIAL), None
    credential = scan.credential
    verdict = _Verdict(
        Reason.MEMBERSHIP,
        member_id=credential.member_id,
        first_name=scan.first_name,
        credential=credential,
    )
    if credential.revoked_at is not None and credential.revoked_at <= now:
        verdict.code = Reason.REVOKED
    elif parsed is not None:
        step = qr_verify(bytes.fromhex(secret_open(credential.secret)), parsed[1], now)
        if step is None:
            verdict.code = Reason.QR_EXPIRED
        elif scan.last_qr_step is not None and step <= scan.last_qr_step:
            verdict.code = Reason.QR_REUSED
        else:
            verdict.qr_step = step
    return verdict, scan


def membership_refusal(
    m: MembershipFacts,
    *,
    today: date,
    weekday: int | None = None,
    minute: int | None = None,
) -> str | None:
    """Why membership ``m`` does not let its member in where ``reads.memberships_read``
    looked, today (and, when given, at local ``weekday`` and ``minute``), or None when it
    does."""
    if m.status == SubscriptionStatus.CANCELLED or (
        m.cancel_at is not None and m.cancel_at <= today
    ):
        return Reason.CANCELLED
    if m.start_date > today:
        # A pending membership whose start date has come lets in before the job that
        # flips its status runs: the date decides, as for freezes.
        return Reason.NOT_STARTED
    if m.frozen_today or (m.status == SubscriptionStatus.FROZEN and not m.freeze_over):
        return Reason.FROZEN
    if m.restricted:
        return Reason.RESTRICTED
    if m.wrong_location:
        return Reason.WRONG_LOCATION
    if (
        weekday is not None
        and minute is not None
        and not hours_allow(m.access_hours, weekday, minute)
    ):
        return Reason.OUTSIDE_HOURS
    return None


def _memberships_check(
    memberships: list[MembershipFacts], *, local: datetime
) -> MembershipFacts | tuple[int, str, MembershipFacts | None]:
    """The first membership that lets the member in, or the furthest refusal."""
    minute = local.hour * 60 + local.minute
    weekday = local.weekday()
    best: tuple[int, str, MembershipFacts | None] = (-1, Reason.NO_MEMBERSHIP, None)
    for m in memberships:
        failed = membership_refusal(m, today=local.date(), weekday=weekday, minute=minute)
        if failed is None:
            return m
        rank = MEMBERSHIP_CHECKS.index(Reason(failed))
        if rank > best[0]:
            best = (rank, failed, m)
    return best


def hours_allow(windows: list[list[int]], weekday: int, minute: int) -> bool:
    """Whether the weekly ``windows`` (``catalog.models.validate_access_hours``) include
    local ``weekday`` and ``minute`` after midnight; no windows means any time."""
    if not windows:
        return True
    return any(day == weekday and start <= minute < end for day, start, end in windows)
