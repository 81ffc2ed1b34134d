"""Whether a member may enter (DESIGN invariant 7): the one function of (credential,
location, time) that every door, turnstile and the front desk asks.

``access_decide`` sees the credential (unknown, revoked, a stale or replayed QR code), the
member's memberships at the location's local date and time (started, not ended, not frozen
by status or by a freeze the date has reached, not restricted by dunning or staff through
``billing.restrictions``, the plan's locations and weekly hours), visit packs (one visit is
used per entry a membership does not cover, by a conditional UPDATE), anti-passback (the
same credential cannot enter the same location twice within the location's
``anti_passback_minutes``) and a staff override with its reason. It returns the verdict
with a reason code and the sentence for the member, and logs every decision.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django.db import transaction
from django.db.models import F, Q
from django.utils import translation

from dues.access.models import AccessDecision, AccessDevice, Credential, CredentialKind, VisitPack
from dues.access.qr import qr_parse, qr_verify
from dues.access.reasons import ALLOWING, MEMBERSHIP_CHECKS, Reason
from dues.billing.models import Freeze, RestrictionKind, Subscription, SubscriptionStatus
from dues.billing.restrictions import restrictions_in_force
from dues.catalog.models import Plan
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
    member: Member | None = None
    subscription: Subscription | None = None
    credential: Credential | None = None
    visit_pack: VisitPack | None = None
    refusal_code: str = ""
    decision_id: int | None = None
    entries_left: int | None = None


def reason_text(code: str, language: str) -> str:
    """The member-facing sentence for ``code`` in ``language``."""
    with translation.override(language):
        return str(Reason(code).label)


@dataclass
class _Verdict:
    code: str
    member: Member | None = None
    subscription: Subscription | None = None
    credential: Credential | None = None
    qr_step: int | None = None
    packs: list[VisitPack] | None = None


_LIVE = (
    SubscriptionStatus.PENDING,
    SubscriptionStatus.TRIALING,
    SubscriptionStatus.ACTIVE,
    SubscriptionStatus.FROZEN,
)


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
    with transaction.atomic():
        pack = None
        left = None
        if verdict.code == Reason.VISIT_PACK:
            pack, left = _use_a_visit(verdict.packs or [], now)
            if pack is None:
                verdict.code = refusal = Reason.PACK_EXHAUSTED
        allowed = verdict.code in ALLOWING
        sub = verdict.subscription
        row = AccessDecision.objects.create(
            organization_id=location.organization_id,
            location=location,
            device=device,
            at=now,
            kind=verdict.credential.kind if verdict.credential else kind,
            value=value[:80],
            credential=verdict.credential,
            member=verdict.member,
            subscription=sub,
            plan_id_at_entry=sub.plan_id if sub is not None else None,
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
        member=verdict.member,
        subscription=verdict.subscription,
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
    org_id = location.organization_id
    verdict = _Verdict(Reason.UNKNOWN_CREDENTIAL, member=member)
    if value:
        found = _credential_check(org_id=org_id, value=value, kind=kind, now=now)
        verdict = found
        if found.credential is None or found.code != Reason.MEMBERSHIP:
            return found
        verdict.member = found.credential.member
    assert verdict.member is not None
    person = verdict.member

    local = now.astimezone(ZoneInfo(location.timezone))
    today = local.date()
    subs = list(
        Subscription.objects.filter(member_id=person.pk, organization_id=org_id)
        .filter(
            Q(status__in=_LIVE)
            | Q(status=SubscriptionStatus.CANCELLED, cancelled_at__gt=now - timedelta(days=365))
        )
        .select_related("plan")
        .order_by("-created_at", "-id")
    )
    best: tuple[int, str, Subscription | None] = (-1, Reason.NO_MEMBERSHIP, None)
    if subs:
        outcome = _memberships_check(subs, location=location, now=now, local=local, today=today)
        if isinstance(outcome, Subscription):
            verdict.subscription = outcome
            verdict.code = Reason.MEMBERSHIP
            return _passback_check(verdict, location, now)
        best = outcome
    _, code, sub = best
    verdict.subscription = sub
    if code == Reason.RESTRICTED:
        verdict.code = code
        return verdict
    packs = list(
        VisitPack.objects.filter(member_id=person.pk, organization_id=org_id, valid_from__lte=now)
        .filter(Q(expires_at__isnull=True) | Q(expires_at__gt=now))
        .filter(Q(location__isnull=True) | Q(location_id=location.pk))
        .order_by(F("expires_at").asc(nulls_last=True), "id")
    )
    if packs:
        usable = [p for p in packs if p.entries_left > 0]
        if not usable:
            verdict.code = Reason.PACK_EXHAUSTED
            return verdict
        verdict.code = Reason.VISIT_PACK
        verdict.packs = usable
        verdict.subscription = None
        return _passback_check(verdict, location, now)
    verdict.code = code
    return verdict


def _credential_check(*, org_id: int, value: str, kind: str, now: datetime) -> _Verdict:
    parsed = qr_parse(value) if kind in ("", CredentialKind.QR) else None
    if kind == CredentialKind.QR and parsed is None:
        return _Verdict(Reason.QR_INVALID)
    if parsed is not None:
        public_id = parsed[0]
        candidates = Credential.objects.filter(
            organization_id=org_id, kind=CredentialKind.QR, value=public_id
        )
    else:
        kinds = [kind] if kind else [CredentialKind.BARCODE, CredentialKind.RFID]
        candidates = Credential.objects.filter(organization_id=org_id, kind__in=kinds, value=value)
    credential = (
        candidates.select_related("member")
        .order_by(F("revoked_at").desc(nulls_first=True), "-id")
        .first()
    )
    if credential is None:
        return _Verdict(Reason.UNKNOWN_CREDENTIAL)
    if credential.revoked_at is not None and credential.revoked_at <= now:
        return _Verdict(Reason.REVOKED, member=credential.member, credential=credential)
    verdict = _Verdict(Reason.MEMBERSHIP, credential=credential)
    if parsed is not None:
        step = qr_verify(bytes.fromhex(secret_open(credential.secret)), parsed[1], now)
        if step is None:
            return _Verdict(Reason.QR_EXPIRED, member=credential.member, credential=credential)
        reused = AccessDecision.objects.filter(
            credential_id=credential.pk, allowed=True, qr_step__gte=step
        ).exists()
        if reused:
            return _Verdict(Reason.QR_REUSED, member=credential.member, credential=credential)
        verdict.qr_step = step
    return verdict


@dataclass
class MembershipFacts:
    """What the rules need to know about a set of memberships at one instant, read in
    four queries whatever the number of memberships (the allow-list reads thousands)."""

    plan_locations: dict[int, set[int]]
    frozen_today: set[int]
    freeze_over: set[int]
    restricted: set[int]


def membership_facts(subs: list[Subscription], *, today: date, now: datetime) -> MembershipFacts:
    ids = [s.pk for s in subs]
    plan_locations: dict[int, set[int]] = {}
    for plan_id, location_id in Plan.locations.through.objects.filter(
        plan_id__in={s.plan_id for s in subs}
    ).values_list("plan_id", "location_id"):
        plan_locations.setdefault(plan_id, set()).add(location_id)
    covering: set[int] = set()
    thawed: set[int] = set()
    for sub_id, end in Freeze.objects.filter(
        subscription_id__in=ids,
        status__in=[Freeze.Status.SCHEDULED, Freeze.Status.ACTIVE],
        start_date__lte=today,
    ).values_list("subscription_id", "end_date"):
        (covering if end > today else thawed).add(sub_id)
    restricted = {
        sub_id
        for sub_id, kinds in restrictions_in_force(ids, now).items()
        if RestrictionKind.ACCESS in kinds
    }
    return MembershipFacts(plan_locations, covering, thawed - covering, restricted)


def membership_refusal(
    sub: Subscription,
    facts: MembershipFacts,
    *,
    location_id: int,
    today: date,
    weekday: int | None = None,
    minute: int | None = None,
) -> str | None:
    """Why ``sub`` does not let its member in at ``location_id`` today (and, when given,
    at local ``weekday`` and ``minute``), or None when it does."""
    if sub.status == SubscriptionStatus.CANCELLED or (
        sub.cancel_at is not None and sub.cancel_at <= today
    ):
        return Reason.CANCELLED
    if sub.start_date > today:
        # A pending membership whose start date has come lets in before the job that
        # flips its status runs: the date decides, as for freezes.
        return Reason.NOT_STARTED
    if sub.pk in facts.frozen_today or (
        sub.status == SubscriptionStatus.FROZEN and sub.pk not in facts.freeze_over
    ):
        return Reason.FROZEN
    if sub.pk in facts.restricted:
        return Reason.RESTRICTED
    allowed_at = facts.plan_locations.get(sub.plan_id)
    if allowed_at is not None and location_id not in allowed_at:
        return Reason.WRONG_LOCATION
    hours = sub.plan.access_hours
    if weekday is not None and minute is not None and not hours_allow(hours, weekday, minute):
        return Reason.OUTSIDE_HOURS
    return None


def _memberships_check(
    subs: list[Subscription],
    *,
    location: Location,
    now: datetime,
    local: datetime,
    today: date,
) -> Subscription | tuple[int, str, Subscription | None]:
    """The first membership that lets the member in, or the furthest refusal."""
    facts = membership_facts(subs, today=today, now=now)
    minute = local.hour * 60 + local.minute
    weekday = local.weekday()
    best: tuple[int, str, Subscription | None] = (-1, Reason.NO_MEMBERSHIP, None)
    for sub in subs:
        failed = membership_refusal(
            sub, facts, location_id=location.pk, today=today, weekday=weekday, minute=minute
        )
        if failed is None:
            return sub
        rank = MEMBERSHIP_CHECKS.index(Reason(failed))
        if rank > best[0]:
            best = (rank, failed, sub)
    return best


def hours_allow(windows: list[list[int]], weekday: int, minute: int) -> bool:
    """Whether the weekly ``windows`` (``catalog.models.validate_access_hours``) include
    local ``weekday`` and ``minute`` after midnight; no windows means any time."""
    if not windows:
        return True
    return any(day == weekday and start <= minute < end for day, start, end in windows)


def _passback_check(verdict: _Verdict, location: Location, now: datetime) -> _Verdict:
    minutes = location.anti_passback_minutes
    if not minutes:
        return verdict
    recent = AccessDecision.objects.filter(
        location_id=location.pk, allowed=True, at__gt=now - timedelta(minutes=minutes)
    )
    if verdict.credential is not None:
        recent = recent.filter(credential_id=verdict.credential.pk)
    else:
        assert verdict.member is not None
        recent = recent.filter(member_id=verdict.member.pk)
    if recent.filter(at__lte=now).exists():
        verdict.code = Reason.ANTI_PASSBACK
        verdict.packs = None
    return verdict
