"""Pre-dunning: tell members before a charge can fail. Once a day per organization:

- a card that expires soon: notices ``card_expiry_notice_days`` before (30 and 7 by
  default), for members with a membership that will charge it;
- a yearly renewal: a notice ``renewal_notice_days`` before it is charged;
- a risky charge: every payer with a charge in the next ``RISK_HORIZON_DAYS`` gets a fresh
  payment-risk score (``risk.py``), which staff see; those at or above the policy's
  threshold get a heads-up ``risk_notice_days`` before the charge.

Each notice is an outbox event (``dunning.pre_notice``) that the notify app turns into
messages; a ``PreNotice`` row with a unique key makes each go out once.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date, timedelta
from typing import Any

from django.db import IntegrityError, transaction

from dues.billing.models import Subscription, SubscriptionStatus
from dues.catalog.models import Interval
from dues.core.clock import Clock, local_date
from dues.core.outbox import Event, events_emit_bulk
from dues.core.selectors import organizations_today
from dues.dunning.models import (
    DunningPolicy,
    PreDunningDay,
    PreNotice,
    PreNoticeKind,
    RiskScore,
)
from dues.dunning.risk import Charge, RiskModel, card_expiry, risk_history
from dues.dunning.services import policy_for
from dues.members.models import Member
from dues.payments.models import AttemptStatus, PaymentAttempt, PaymentMethod

RISK_HORIZON_DAYS = 14


def pre_dunning_run(*, clock: Clock, organization_id: int | None = None) -> dict[str, int]:
    counts = {"pre_notices": 0, "risk_scores": 0}
    days = organizations_today(clock=clock, organization_id=organization_id)
    for org_id, today in sorted(days.items()):
        # Checked before anything is read: ``bill`` calls this every minute.
        if not _first_run_today(org_id, today, clock):
            continue
        org_subs = list(
            Subscription.objects.filter(
                organization_id=org_id,
                status__in=[SubscriptionStatus.ACTIVE, SubscriptionStatus.TRIALING],
                next_billing_date__isnull=False,
            )
            .select_related("location")
            .order_by("id")
        )
        ctx = _Org(org_id, clock, org_subs)
        for key, n in ctx.run().items():
            counts[key] += n
    return counts


def _charge_on(sub: Subscription) -> date:
    assert sub.next_billing_date is not None
    return sub.next_billing_date


def _first_run_today(org_id: int, today: date, clock: Clock) -> bool:
    if PreDunningDay.objects.filter(organization_id=org_id, ran_on__gte=today).exists():
        return False  # the common case, without a write transaction
    with transaction.atomic():
        row = PreDunningDay.objects.select_for_update().filter(organization_id=org_id).first()
        if row is None:
            try:
                with transaction.atomic():
                    PreDunningDay.objects.create(organization_id=org_id, ran_on=today)
            except IntegrityError:
                return False
            return True
        if row.ran_on >= today:
            return False
        row.ran_on = today
        row.save(update_fields=["ran_on"])
        return True


class _Org:
    def __init__(self, org_id: int, clock: Clock, subs: list[Subscription]) -> None:
        self.org_id = org_id
        self.clock = clock
        self.now = clock.now()
        self.subs = subs
        self.by_payer: dict[int, list[Subscription]] = defaultdict(list)
        for sub in subs:
            self.by_payer[sub.payer_id].append(sub)
        self.cards = {
            payer: (pk, brand, last4, card_expiry(m, y))
            for payer, pk, brand, last4, m, y in PaymentMethod.objects.usable_defaults()
            .filter(organization_id=org_id)
            .values_list("payer_id", "id", "brand", "last4", "exp_month", "exp_year")
            if payer in self.by_payer
        }
        self.policies: dict[int | None, DunningPolicy] = {}
        self.events: list[Event] = []

    def policy(self, plan_id: int | None) -> DunningPolicy:
        if plan_id not in self.policies:
            self.policies[plan_id] = policy_for(
                organization_id=self.org_id, plan_id=plan_id, clock=self.clock
            )
        return self.policies[plan_id]

    def today(self, sub: Subscription) -> date:
        return local_date(self.now, sub.location.timezone)

    def run(self) -> dict[str, int]:
        self.card_notices()
        self.renewal_notices()
        scores = self.risk_scores()
        sent = 0
        for event in self.events:
            with transaction.atomic():
                try:
                    with transaction.atomic():
                        PreNotice.objects.create(
                            organization_id=self.org_id,
                            payer_id=event.payload["payer_id"],
                            kind=event.payload["kind"],
                            key=event.payload["key"],
                            created_at=self.now,
                        )
                except IntegrityError:
                    continue  # already told
                events_emit_bulk([event])
                sent += 1
        return {"pre_notices": sent, "risk_scores": scores}

    def notice(self, kind: str, key: str, sub: Subscription, **extra: Any) -> None:
        payer = sub.payer_id
        card = self.cards.get(payer)
        payload = {
            "kind": kind,
            "key": key,
            "payer_id": payer,
            "subscription_id": sub.pk,
            "location_id": sub.location_id,
            "card_brand": card[1] if card else "",
            "card_last4": card[2] if card else "",
            "card_expires": str(card[3]) if card and card[3] else None,
        } | extra
        self.events.append(
            Event(self.org_id, "dunning.pre_notice", "member", payer, payload, self.now)
        )

    def charge_notice(self, kind: str, key: str, sub: Subscription, **extra: Any) -> None:
        """A notice about the subscription's next charge: when, and how much."""
        assert sub.next_billing_date is not None
        self.notice(
            kind,
            key,
            sub,
            days=(sub.next_billing_date - self.today(sub)).days,
            charge_on=str(sub.next_billing_date),
            amount=sub.price,
            currency=sub.currency,
            **extra,
        )

    def card_notices(self) -> None:
        policy = self.policy(None)
        stages = sorted(policy.card_expiry_notice_days or [])
        for payer, (pm_id, _brand, _last4, expires) in self.cards.items():
            if expires is None:
                continue
            sub = self.by_payer[payer][0]
            today = self.today(sub)
            reached = [n for n in stages if expires - timedelta(days=n) <= today <= expires]
            if not reached:
                continue
            # Only the most urgent stage reached: a card added late gets one notice.
            n = reached[0]
            charge = min(_charge_on(s) for s in self.by_payer[payer])
            self.notice(
                PreNoticeKind.CARD_EXPIRING,
                f"card {pm_id} {expires} {n}d",
                sub,
                days=(expires - today).days,
                charge_on=str(charge),
            )

    def renewal_notices(self) -> None:
        for sub in self.subs:
            days = self.policy(sub.plan_id).renewal_notice_days
            if sub.interval != Interval.YEAR or days is None or sub.cancel_at is not None:
                continue
            assert sub.next_billing_date is not None
            today = self.today(sub)
            if today <= sub.next_billing_date <= today + timedelta(days=days):
                self.charge_notice(
                    PreNoticeKind.RENEWAL, f"renewal {sub.pk} {sub.next_billing_date}", sub
                )

    def risk_scores(self) -> int:
        model = RiskModel.fit(risk_history(self.org_id, since=self.now - timedelta(days=365)))
        upcoming: dict[int, Subscription] = {}
        for sub in self.subs:
            assert sub.next_billing_date is not None
            if sub.next_billing_date <= self.today(sub) + timedelta(days=RISK_HORIZON_DAYS):
                soonest = upcoming.get(sub.payer_id)
                if soonest is None or sub.next_billing_date < _charge_on(soonest):
                    upcoming[sub.payer_id] = sub
        declines = self.declines()
        joined = dict(
            Member.objects.filter(organization_id=self.org_id).values_list("pk", "created_at")
        )
        rows = []
        for payer, sub in upcoming.items():
            assert sub.next_billing_date is not None
            card = self.cards.get(payer)
            charge = Charge(
                declines_before=declines.get(payer, 0),
                tenure_days=(self.now - joined[payer]).days,
                card_expires=card[3] if card else None,
                charge_on=sub.next_billing_date,
            )
            score, reasons = model.score(charge)
            bp = round(score * 10000)
            rows.append((payer, bp, reasons, sub.next_billing_date))
            policy = self.policy(sub.plan_id)
            today = self.today(sub)
            if (
                policy.risk_notice_bp is not None
                and bp >= policy.risk_notice_bp
                and sub.next_billing_date <= today + timedelta(days=policy.risk_notice_days)
            ):
                self.charge_notice(
                    PreNoticeKind.RISKY_CHARGE,
                    f"risk {payer} {sub.next_billing_date}",
                    sub,
                    score_bp=bp,
                )
        with transaction.atomic():
            # Replaced as a whole: a payer with no charge coming has no current score.
            RiskScore.objects.filter(organization_id=self.org_id).delete()
            RiskScore.objects.bulk_create(
                RiskScore(
                    organization_id=self.org_id,
                    payer_id=payer,
                    score_bp=bp,
                    reasons=reasons,
                    charge_on=charge_on,
                    computed_at=self.now,
                )
                for payer, bp, reasons, charge_on in rows
            )
        return len(rows)

    def declines(self) -> dict[int, int]:
        """Declined first charges per payer in the last year."""
        out: dict[int, int] = defaultdict(int)
        for payer in PaymentAttempt.objects.filter(
            organization_id=self.org_id,
            attempt_number=1,
            status=AttemptStatus.FAILED,
            created_at__gt=self.now - timedelta(days=365),
        ).values_list("invoice__payer_id", flat=True):
            out[int(payer or 0)] += 1
        return out
