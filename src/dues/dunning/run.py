"""The dunning run: open a case for every failed invoice, retry when the planner says,
remind, restrict, charge a late fee and take the final action, day by day; close cases
whose invoice got paid and lift their restrictions.

Every step is idempotent (a case remembers how far it got), so the run is safe to call
every minute, which ``bill`` does after collection. Retries go through the payments app's
collection, so they keep its guarantees (key committed before the gateway call).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django.db import connection, transaction
from django.db.models import Exists, Max, OuterRef, Q

from dues.billing.invoices import invoice_write_off
from dues.billing.models import (
    Invoice,
    InvoiceLine,
    InvoiceStatus,
    RestrictionKind,
    Subscription,
    SubscriptionStatus,
)
from dues.billing.restrictions import restriction_place, restrictions_lift
from dues.billing.services import invoice_issue_one_off, subscription_cancel
from dues.catalog.models import RevenueCategory
from dues.core.clock import Clock, local_date
from dues.core.models import Location
from dues.core.money import percent_of
from dues.core.outbox import Event, events_emit_bulk
from dues.dunning.declines import decline_classify
from dues.dunning.experiments import (
    policy_view,
    reminder_style,
    running_experiment,
    variant_assign,
)
from dues.dunning.models import (
    CaseStatus,
    DunningCase,
    DunningPolicy,
    FinalAction,
    LateFeeKind,
    Payday,
)
from dues.dunning.paydays import paydays_for_country
from dues.dunning.planner import RetryInputs, retry_plan
from dues.dunning.plans import instalments_charge
from dues.dunning.services import policy_for
from dues.dunning.smart import Outcome, RecoveryModel
from dues.payments.collect import invoices_retry
from dues.payments.gateways.base import Gateway
from dues.payments.models import AttemptStatus, PaymentAttempt, PaymentMethod

SOURCE = "dunning"
CHUNK = 200
NO_METHOD = "no_payment_method"


def dunning_run(
    *, clock: Clock, gateway: Gateway, organization_id: int | None = None
) -> dict[str, int]:
    ctx = _Context(clock)
    counts = {
        "cases_opened": cases_open(ctx, organization_id),
        "cards_updated": cases_card_updated(ctx, organization_id),
    }
    retried = retries_send(ctx, gateway, organization_id)
    plans, reopened = instalments_charge(
        clock=ctx.clock, gateway=gateway, organization_id=organization_id
    )
    cases_after_attempts(ctx, reopened)  # a broken plan's cases resume with fresh retries
    counts |= plans
    counts["cases_settled"] = cases_settle(ctx, organization_id)
    counts |= {f"retries_{k}": v for k, v in retried.items()}
    counts |= cases_escalate(ctx, organization_id)
    return counts


class _Context:
    """What one run reads once: locations' zones and paydays, each organization's model."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.now = clock.now()
        self._locations: dict[int, tuple[str, tuple[int, ...]]] = {}
        self._models: dict[int, RecoveryModel] = {}

    def location(self, location_id: int) -> tuple[str, tuple[int, ...]]:
        if location_id not in self._locations:
            tz, country = Location.objects.values_list("timezone", "country").get(pk=location_id)
            custom = Payday.objects.filter(location_id=location_id).values_list("days", flat=True)
            days = tuple(custom[0]) if custom else paydays_for_country(country)
            self._locations[location_id] = (tz, days)
        return self._locations[location_id]

    def model(self, organization_id: int) -> RecoveryModel:
        if organization_id not in self._models:
            self._models[organization_id] = RecoveryModel.fit(
                retry_history(organization_id, since=self.now - timedelta(days=365), ctx=self)
            )
        return self._models[organization_id]


def retry_history(organization_id: int, *, since: datetime, ctx: _Context) -> list[Outcome]:
    """This organization's retries on the same card as the failure they retried."""
    retries = list(
        PaymentAttempt.objects.filter(
            organization_id=organization_id,
            attempt_number__gte=2,
            status__in=[AttemptStatus.SUCCEEDED, AttemptStatus.FAILED],
            created_at__gte=since,
        )
        .order_by("-id")
        .values_list(
            "invoice_id",
            "attempt_number",
            "payment_method_id",
            "created_at",
            "status",
            "invoice__location_id",
        )[:20000]
    )
    previous = {
        (inv, n): (pm, code, advice)
        for inv, n, pm, code, advice in PaymentAttempt.objects.filter(
            invoice_id__in={r[0] for r in retries}
        ).values_list(
            "invoice_id", "attempt_number", "payment_method_id", "decline_code", "advice_code"
        )
    }
    out = []
    for inv, n, pm, at, status, loc in retries:
        prev = previous.get((inv, n - 1))
        if prev is None or prev[0] != pm:
            continue
        decline = decline_classify(prev[1], prev[2])
        if not decline.retryable:
            continue
        tz, paydays = ctx.location(loc)
        out.append(
            Outcome(
                decline.category,
                at.astimezone(ZoneInfo(tz)),
                paydays,
                n - 1,
                status == AttemptStatus.SUCCEEDED,
            )
        )
    return out


# --- opening cases ---------------------------------------------------------------------


def cases_open(ctx: _Context, organization_id: int | None) -> int:
    """A case for every open invoice whose last charge failed, or that fell due with no
    payment method to charge."""
    has_case = DunningCase.objects.filter(invoice_id=OuterRef("pk"))
    has_method = PaymentMethod.objects.usable_defaults().filter(payer_id=OuterRef("payer_id"))
    qs = (
        Invoice.objects.filter(status=InvoiceStatus.OPEN, amount_due__gt=0)
        .filter(Q(attempt_count__gt=0) | ~Exists(has_method))
        .exclude(Exists(has_case))
    )
    if organization_id is not None:
        qs = qs.filter(organization_id=organization_id)
    rows = list(
        qs.values_list(
            "id", "organization_id", "payer_id", "location_id", "due_date", "attempt_count"
        )
    )
    opened = 0
    for lo in range(0, len(rows), CHUNK):
        opened += _open_chunk(ctx, rows[lo : lo + CHUNK])
    return opened


def _experiment_fields(policy: DunningPolicy, payer_id: int) -> dict[str, Any]:
    experiment = running_experiment(policy)
    if experiment is None:
        return {}
    return {"experiment": experiment, "variant": variant_assign(experiment, payer_id).key}


def _open_chunk(ctx: _Context, rows: Sequence[tuple[Any, ...]]) -> int:
    ids = [r[0] for r in rows]
    attempts: dict[int, list[tuple[Any, ...]]] = defaultdict(list)
    for row in (
        PaymentAttempt.objects.filter(invoice_id__in=ids)
        .order_by("attempt_number")
        .values_list(
            "invoice_id", "status", "created_at", "decline_code", "advice_code", "payment_method_id"
        )
    ):
        attempts[row[0]].append(row)
    plans: dict[int, int] = {}
    fees: set[int] = set()
    for inv, kind, plan_id in InvoiceLine.objects.filter(invoice_id__in=ids).values_list(
        "invoice_id", "kind", "subscription__plan_id"
    ):
        if kind == InvoiceLine.Kind.PLAN and plan_id:
            plans.setdefault(inv, plan_id)
        if kind == InvoiceLine.Kind.LATE_FEE:
            fees.add(inv)
    opened = 0
    for inv_id, org_id, payer_id, location_id, due_date, attempt_count in rows:
        tried = attempts.get(inv_id, [])
        if attempt_count and (not tried or tried[-1][1] != AttemptStatus.FAILED):
            continue  # in flight or not yet recorded: the next run sees it
        tz, _ = ctx.location(location_id)
        if not tried and (due_date is None or due_date >= local_date(ctx.now, tz)):
            continue  # no card, but not yet overdue
        policy = policy_for(organization_id=org_id, plan_id=plans.get(inv_id), clock=ctx.clock)
        first_at = tried[0][2] if tried else ctx.now
        last = tried[-1] if tried else None
        with transaction.atomic():
            case, created = DunningCase.objects.get_or_create(
                invoice_id=inv_id,
                defaults={
                    "organization_id": org_id,
                    "payer_id": payer_id,
                    "policy": policy,
                    "is_fee": inv_id in fees,
                    "opened_at": ctx.now,
                    "first_failed_at": first_at,
                    "first_failed_on": local_date(first_at, tz),
                    "last_attempt_at": last[2] if last else ctx.now,
                    "last_decline_code": last[3] if last else NO_METHOD,
                    "last_advice_code": last[4] if last else "",
                    "last_payment_method_id": last[5] if last else None,
                    "attempts": len(tried),
                    **_experiment_fields(policy, payer_id),
                },
            )
            if not created:
                continue
            _replan(ctx, case)
            case.save()
            events_emit_bulk([_event(case, "dunning.case_opened", ctx.now)])
        opened += 1
    return opened


# --- planning retries ------------------------------------------------------------------


def _replan(ctx: _Context, case: DunningCase) -> None:
    """Set the case's next retry from its last failure (the case row is saved by the caller)."""
    method = (
        PaymentMethod.objects.usable_defaults()
        .filter(payer_id=case.payer_id)
        .values_list("id", "brand", "updated_at")
        .first()
    )
    if method is None:
        case.next_retry_at = None
        case.waiting_for_card = True
        case.retry_note = "no payment method on file; waiting for one"
        return
    tz, paydays = ctx.location(case.invoice.location_id)
    card_attempts = list(
        PaymentAttempt.objects.filter(
            payment_method_id=method[0], created_at__gt=ctx.now - timedelta(days=31)
        ).values_list("created_at", flat=True)
    )
    # A renewed card (account updater, same method) counts as a different card.
    same_card = method[0] == case.last_payment_method_id and method[2] <= case.last_attempt_at
    decline = decline_classify(case.last_decline_code, case.last_advice_code)
    plan = retry_plan(
        RetryInputs(
            first_failed_at=case.first_failed_at,
            last_attempt_at=case.last_attempt_at,
            attempts=case.attempts,
            decline=decline,
            network=method[1] or "other",
            card_attempts=card_attempts,
            same_card_as_last=same_card,
            tz=tz,
            paydays=paydays,
            # From the organization's own numbering, so its history replays the same.
            seed=(case.invoice.sequence_number or case.invoice_id) * 100 + case.attempts,
        ),
        policy_view(case),
        now=ctx.now,
        model=ctx.model(case.organization_id),
    )
    case.next_retry_at = plan.at
    case.waiting_for_card = plan.at is None and same_card and not decline.retryable
    case.retry_note = plan.note[:200]


def cases_card_updated(ctx: _Context, organization_id: int | None) -> int:
    """A new default card, or one the account updater renewed since the last attempt,
    retries the open invoices at once."""
    changed = (
        PaymentMethod.objects.usable_defaults()
        .filter(payer_id=OuterRef("payer_id"))
        .filter(
            ~Q(pk=OuterRef("last_payment_method_id"))
            | Q(updated_at__gt=OuterRef("last_attempt_at"))
        )
    )
    qs = DunningCase.objects.filter(status=CaseStatus.OPEN).filter(Exists(changed))
    qs = qs.filter(Q(next_retry_at__isnull=True) | Q(next_retry_at__gt=ctx.now))
    if organization_id is not None:
        qs = qs.filter(organization_id=organization_id)
    updated = 0
    for case in qs.select_related("invoice", "policy"):
        with transaction.atomic():
            before = case.next_retry_at
            _replan(ctx, case)
            if case.next_retry_at != before:
                case.save(update_fields=["next_retry_at", "waiting_for_card", "retry_note"])
                updated += 1
    return updated


# --- retries ---------------------------------------------------------------------------


# A claimed case is not due again for this long: if the run dies between claiming and
# recording, the retry comes back later instead of being lost.
LEASE = timedelta(hours=1)


def retries_send(ctx: _Context, gateway: Gateway, organization_id: int | None) -> dict[str, int]:
    totals = {"succeeded": 0, "failed": 0, "unknown": 0}
    while True:
        claimed = _retries_claim(ctx, organization_id)
        if claimed is None:
            return totals
        if claimed:
            result = invoices_retry([inv for _, inv in claimed], clock=ctx.clock, gateway=gateway)
            for k, v in result.items():
                totals[k] += v
            cases_after_attempts(ctx, [pk for pk, _ in claimed])


def _retries_claim(ctx: _Context, organization_id: int | None) -> list[tuple[int, int]] | None:
    """Claim a batch of due cases (skipping those another run holds) by moving their retry
    time a lease ahead; ``None`` when none is due. A case whose invoice already has an
    attempt it has not recorded (a run died after charging) is brought up to date
    instead of charged again."""
    with transaction.atomic():
        qs = DunningCase.objects.filter(status=CaseStatus.OPEN, next_retry_at__lte=ctx.now)
        if organization_id is not None:
            qs = qs.filter(organization_id=organization_id)
        if connection.features.has_select_for_update_skip_locked:
            qs = qs.select_for_update(skip_locked=True)
        rows = list(
            qs.order_by("next_retry_at", "id").values_list("id", "invoice_id", "attempts")[:CHUNK]
        )
        if not rows:
            return None
        latest = dict(
            PaymentAttempt.objects.filter(invoice_id__in=[r[1] for r in rows])
            .values("invoice_id")
            .annotate(n=Max("attempt_number"))
            .values_list("invoice_id", "n")
        )
        DunningCase.objects.filter(pk__in=[r[0] for r in rows]).update(
            next_retry_at=ctx.now + LEASE
        )
    send = [(pk, inv) for pk, inv, n in rows if latest.get(inv, 0) <= n]
    stale = [pk for pk, inv, n in rows if latest.get(inv, 0) > n]
    if stale:
        cases_after_attempts(ctx, stale)
    return send


def cases_after_attempts(ctx: _Context, case_ids: Sequence[int]) -> None:
    """Bring cases up to date with their invoices' latest attempts and plan the next."""
    cases = list(
        DunningCase.objects.filter(pk__in=case_ids, status=CaseStatus.OPEN).select_related(
            "invoice", "policy"
        )
    )
    latest: dict[int, tuple[Any, ...]] = {}
    for row in (
        PaymentAttempt.objects.filter(invoice_id__in=[c.invoice_id for c in cases])
        .order_by("attempt_number")
        .values_list(
            "invoice_id",
            "status",
            "created_at",
            "decline_code",
            "advice_code",
            "payment_method_id",
            "attempt_number",
        )
    ):
        latest[row[0]] = row[1:]  # ascending, so the last row per invoice stays
    for case in cases:
        last = latest.get(case.invoice_id)
        with transaction.atomic():
            if last is None or last[5] <= case.attempts:
                # Nothing was sent (no card on file, or an attempt still in flight).
                if last is None or last[0] != AttemptStatus.PENDING:
                    _replan(ctx, case)
                    case.save(update_fields=["next_retry_at", "waiting_for_card", "retry_note"])
                continue
            status, at, code, advice, method_id, number = last
            case.attempts = number
            case.last_attempt_at = at
            case.last_payment_method_id = method_id
            if status == AttemptStatus.FAILED:
                case.last_decline_code = code
                case.last_advice_code = advice
                _replan(ctx, case)
            elif status == AttemptStatus.SUCCEEDED and case.invoice.amount_due > 0:
                _replan(ctx, case)  # a part was paid (an instalment): the rest is still due
            else:
                case.next_retry_at = None  # paid (settled below) or in flight
            case.save()


# --- settling --------------------------------------------------------------------------


SETTLED_BY: dict[str, str] = {
    InvoiceStatus.PAID: CaseStatus.RECOVERED,
    InvoiceStatus.VOID: CaseStatus.CLOSED,
}


def cases_settle(ctx: _Context, organization_id: int | None) -> int:
    """Close cases whose invoice was paid (by retry, card update, desk or portal) or voided,
    and lift their restrictions: a member is reinstated as soon as they have paid."""
    qs = DunningCase.objects.filter(
        Q(invoice__status=InvoiceStatus.PAID) & ~Q(status=CaseStatus.RECOVERED)
        | Q(invoice__status=InvoiceStatus.VOID)
        & ~Q(status__in=[CaseStatus.RECOVERED, CaseStatus.CLOSED])
        | Q(invoice__status=InvoiceStatus.UNCOLLECTIBLE, status=CaseStatus.OPEN)
    )
    if organization_id is not None:
        qs = qs.filter(organization_id=organization_id)
    settled = 0
    for case in qs.select_related("invoice"):
        with transaction.atomic():
            case.status = SETTLED_BY.get(case.invoice.status, CaseStatus.UNCOLLECTIBLE)
            case.next_retry_at = None
            case.closed_at = ctx.now
            case.save(update_fields=["status", "next_retry_at", "closed_at"])
            restrictions_lift(
                source=SOURCE,
                source_ids=[case.pk],
                clock=ctx.clock,
                reason=f"invoice {case.invoice.status}",
            )
            events_emit_bulk([_event(case, f"dunning.{case.status}", ctx.now)])
        settled += 1
    return settled


# --- reminders, restrictions, late fee, final action -----------------------------------


def cases_escalate(ctx: _Context, organization_id: int | None) -> dict[str, int]:
    """Once per local day per case: reminders, restrictions, late fee, final action."""
    counts = {"reminders": 0, "restrictions": 0, "late_fees": 0, "final_actions": 0}
    qs = DunningCase.objects.filter(status=CaseStatus.OPEN)
    if organization_id is not None:
        qs = qs.filter(organization_id=organization_id)
    for location_id in set(qs.values_list("invoice__location_id", flat=True)):
        today = local_date(ctx.now, ctx.location(location_id)[0])
        due = qs.filter(invoice__location_id=location_id).filter(
            Q(escalated_on__isnull=True) | Q(escalated_on__lt=today)
        )
        for pk in due.order_by("id").values_list("id", flat=True):
            with transaction.atomic():
                case = (
                    DunningCase.objects.select_for_update(of=("self",))
                    .select_related("invoice", "policy")
                    .get(pk=pk)
                )
                if case.status != CaseStatus.OPEN or case.escalated_on == today:
                    continue  # another run got here first
                for key, n in _escalate(ctx, case, today).items():
                    counts[key] += n
                case.escalated_on = today
                case.save()
    return counts


def _escalate(ctx: _Context, case: DunningCase, today: date) -> dict[str, int]:
    policy = case.policy
    days = (today - case.first_failed_on).days
    done = {"reminders": 0, "restrictions": 0, "late_fees": 0, "final_actions": 0}
    final_on = case.first_failed_on + timedelta(days=policy.max_days)
    steps = list(policy.steps.all())
    passed = case.reminded_through_day
    due_steps = [
        s for s in steps if s.day_offset <= days and (passed is None or s.day_offset > passed)
    ]
    if due_steps:
        if not case.is_fee:
            step = due_steps[-1]  # only the latest: a late run does not send a burst
            payload = _reminder_payload(case, step.tone, step.channels, days, final_on)
            events_emit_bulk([_event(case, "dunning.reminder", ctx.now, payload)])
            done["reminders"] = 1
        case.reminders_sent += len(due_steps)
        case.reminded_through_day = due_steps[-1].day_offset
    if case.is_fee:
        if days >= policy.max_days:
            _final(ctx, case, FinalAction.UNCOLLECTIBLE)
            done["final_actions"] = 1
        return done
    target = _restriction_level(policy, days)
    while case.restriction_level < target:
        case.restriction_level += 1
        _restrict(ctx, case, case.restriction_level, days)
        done["restrictions"] += 1
    if (
        policy.late_fee_kind != LateFeeKind.NONE
        and case.late_fee_invoice_id is None
        and days >= late_fee_day(policy)
    ):
        done["late_fees"] = _late_fee(ctx, case)
    if days >= policy.max_days:
        _final(ctx, case, policy.final_action)
        done["final_actions"] = 1
    return done


RESTRICTION_STEPS = ("block_bookings", "block_access", "cancel")


def restriction_days(policy: DunningPolicy) -> list[int]:
    """The day each restriction level starts, in order; a level left unset ends the list."""
    out = []
    for threshold in (
        policy.block_bookings_after_days,
        policy.block_access_after_days,
        policy.cancel_after_days,
    ):
        if threshold is None:
            break
        out.append(max(policy.grace_days, threshold))
    return out


def _restriction_level(policy: DunningPolicy, days: int) -> int:
    return sum(1 for start in restriction_days(policy) if days >= start)


def _memberships(case: DunningCase) -> list[Subscription]:
    """The memberships this invoice bills: only they are restricted, so a membership paid
    ahead is not blocked because another is overdue."""
    ids = InvoiceLine.objects.filter(invoice_id=case.invoice_id, subscription__isnull=False).values(
        "subscription_id"
    )
    return list(Subscription.objects.filter(pk__in=ids).select_related("location", "plan"))


def _restrict(ctx: _Context, case: DunningCase, level: int, days: int) -> None:
    reason = f"invoice {case.invoice.number} unpaid for {days} days"
    for sub in _memberships(case):
        if level == 3:
            if sub.status != SubscriptionStatus.CANCELLED:
                subscription_cancel(sub=sub, clock=ctx.clock, reason=reason, immediately=True)
            continue
        kind = RestrictionKind.BOOKINGS if level == 1 else RestrictionKind.ACCESS
        restriction_place(
            subscription=sub,
            kind=kind,
            source=SOURCE,
            source_id=case.pk,
            reason=reason,
            clock=ctx.clock,
        )


def late_fee_day(policy: DunningPolicy) -> int:
    """The day after the first failure the late fee is charged (never within grace)."""
    return max(policy.grace_days, policy.late_fee_after_days)


def late_fee_amount(policy: DunningPolicy, *, total: int, currency: str) -> int:
    """The late fee on an overdue invoice of ``total`` in ``currency`` (0: none)."""
    if policy.late_fee_kind == LateFeeKind.FIXED:
        # A fixed fee is set in one currency; invoices in another get none.
        return policy.late_fee_amount if policy.late_fee_currency == currency else 0
    if policy.late_fee_kind == LateFeeKind.PERCENT:
        return percent_of(total, policy.late_fee_bp)
    return 0


def _late_fee(ctx: _Context, case: DunningCase) -> int:
    invoice = case.invoice
    amount = late_fee_amount(case.policy, total=invoice.total, currency=invoice.currency)
    subs = _memberships(case)
    if amount <= 0 or not subs:
        return 0
    fee = invoice_issue_one_off(
        sub=subs[0],
        kind=InvoiceLine.Kind.LATE_FEE,
        description=f"Late-payment fee, invoice {invoice.number}",
        amount=amount,
        category=RevenueCategory.LATE_FEE,
        clock=ctx.clock,
        taxed=False,
    )
    case.late_fee_invoice = fee
    return 1


def _final(ctx: _Context, case: DunningCase, action: str) -> None:
    reason = f"dunning: invoice {case.invoice.number} unpaid after {case.policy.max_days} days"
    if action == FinalAction.CANCEL:
        for sub in _memberships(case):
            if sub.status != SubscriptionStatus.CANCELLED:
                subscription_cancel(sub=sub, clock=ctx.clock, reason=reason, immediately=True)
        case.status = CaseStatus.CANCELLED
    elif action == FinalAction.UNCOLLECTIBLE:
        invoice_write_off(invoice=case.invoice, clock=ctx.clock, reason=reason)
        restrictions_lift(
            source=SOURCE, source_ids=[case.pk], clock=ctx.clock, reason="written off"
        )
        case.status = CaseStatus.UNCOLLECTIBLE
    else:
        case.status = CaseStatus.COLLECTIONS
    case.next_retry_at = None
    case.closed_at = ctx.now
    events_emit_bulk([_event(case, "dunning.final_action", ctx.now, {"action": action})])


def _reminder_payload(
    case: DunningCase, tone: str, channels: list[str], days: int, final_on: date
) -> dict[str, Any]:
    """What a reminder says: the facts, and what happens next and when."""
    invoice = case.invoice
    policy = case.policy
    upcoming = [
        (RESTRICTION_STEPS[level], case.first_failed_on + timedelta(days=start))
        for level, start in enumerate(restriction_days(policy))
        if start > days and start < policy.max_days
    ]
    return {
        "tone": tone,
        "style": reminder_style(case),
        "channels": channels,
        "days_overdue": days,
        "next_restriction": upcoming[0][0] if upcoming else None,
        "next_restriction_on": str(upcoming[0][1]) if upcoming else None,
        "invoice_number": invoice.number,
        "amount_due": invoice.amount_due,
        "currency": invoice.currency,
        "due_date": str(invoice.due_date),
        "next_retry_at": case.next_retry_at.isoformat() if case.next_retry_at else None,
        "waiting_for_card": case.waiting_for_card,
        "final_action": case.policy.final_action,
        "final_action_on": str(final_on),
    }


def _event(
    case: DunningCase, topic: str, now: datetime, extra: dict[str, Any] | None = None
) -> Event:
    payload = {"case_id": case.pk, "invoice_id": case.invoice_id, "payer_id": case.payer_id}
    return Event(case.organization_id, topic, "dunning_case", case.pk, payload | (extra or {}), now)
