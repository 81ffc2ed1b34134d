"""Payment plans: staff split a member's overdue balance into instalments.

Agreeing a plan pauses dunning on the invoices it covers (no retries, reminders or
restrictions; restrictions already placed are lifted, since the member is now keeping to
an agreement). Each instalment is charged on its due date against the plan's oldest open
invoices first, as partial payments, within the card networks' limits. A failed
instalment is tried once more ``RETRY_AFTER_DAYS`` later; if that fails too the plan is
broken and its cases go back to dunning where they left off.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, timedelta
from typing import Any

from dateutil.relativedelta import relativedelta
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Sum

from dues.billing.models import Invoice, InvoiceStatus
from dues.billing.restrictions import restrictions_lift
from dues.core.clock import Clock, local_date
from dues.core.money import allocate, validate_amount
from dues.core.outbox import Event, events_emit_bulk
from dues.dunning.limits import earliest_allowed
from dues.dunning.models import (
    CaseStatus,
    DunningCase,
    Instalment,
    InstalmentStatus,
    PaymentPlan,
    PlanStatus,
)
from dues.members.models import Member
from dues.payments.collect import invoices_retry
from dues.payments.gateways.base import Gateway
from dues.payments.models import PaymentAttempt, PaymentMethod

RETRY_AFTER_DAYS = 3
MAX_TRIES = 2
SOURCE = "dunning"


def instalments_split(
    *, total: int, count: int, first_on: date, every_months: int = 1
) -> list[tuple[date, int]]:
    """``count`` instalments a month (or ``every_months``) apart, as equal as the minor
    unit allows; the remainder goes to the first ones, so the sum is exactly ``total``."""
    if count < 1:
        raise ValidationError({"count": "a plan needs at least one instalment"})
    amounts = allocate(total, [1] * count)
    return [
        (first_on + relativedelta(months=every_months * i), amount)
        for i, amount in enumerate(amounts)
    ]


def payment_plan_create(
    *,
    payer: Member,
    instalments: Sequence[tuple[date, int]],
    clock: Clock,
    case_ids: Sequence[int] | None = None,
    note: str = "",
) -> PaymentPlan:
    """Put the payer's open dunning cases (or those of ``case_ids``) on a plan. The
    instalments must add up exactly to what those invoices owe."""
    with transaction.atomic():
        qs = DunningCase.objects.select_for_update(of=("self",)).filter(
            payer=payer, status=CaseStatus.OPEN, invoice__status=InvoiceStatus.OPEN
        )
        if case_ids is not None:
            qs = qs.filter(pk__in=case_ids)
        cases = list(qs.select_related("invoice", "invoice__location").order_by("invoice_id"))
        if case_ids is not None and len(cases) != len(set(case_ids)):
            raise ValidationError({"case_ids": "every case must be the payer's and in dunning"})
        if not cases:
            raise ValidationError({"case_ids": "the payer has no overdue invoice in dunning"})
        currencies = {c.invoice.currency for c in cases}
        if len(currencies) > 1:
            raise ValidationError({"case_ids": "one plan covers invoices in one currency"})
        total = sum(c.invoice.amount_due for c in cases)
        today = local_date(clock.now(), cases[0].invoice.location.timezone)
        _check_instalments(instalments, total, today, currencies.pop())
        now = clock.now()
        plan = PaymentPlan.objects.create(
            organization_id=payer.organization_id,
            payer=payer,
            currency=cases[0].invoice.currency,
            total=total,
            note=note,
            created_at=now,
        )
        Instalment.objects.bulk_create(
            Instalment(
                organization_id=payer.organization_id,
                plan=plan,
                number=n,
                due_on=due_on,
                amount=amount,
            )
            for n, (due_on, amount) in enumerate(instalments, start=1)
        )
        DunningCase.objects.filter(pk__in=[c.pk for c in cases]).update(
            status=CaseStatus.ON_PLAN, payment_plan=plan, next_retry_at=None
        )
        restrictions_lift(
            source=SOURCE,
            source_ids=[c.pk for c in cases],
            clock=clock,
            reason=f"payment plan {plan.pk} agreed",
        )
        events_emit_bulk([_event(plan, "dunning.plan_agreed", now)])
    return plan


def _check_instalments(
    instalments: Sequence[tuple[date, int]], total: int, today: date, currency: str
) -> None:
    if not instalments:
        raise ValidationError({"instalments": "a plan needs at least one instalment"})
    for i, (_, amount) in enumerate(instalments):
        validate_amount(amount, allow_zero=False, field=f"instalments[{i}].amount")
    days = [d for d, _ in instalments]
    if days != sorted(set(days)):
        raise ValidationError({"instalments": "instalment dates must rise, one per day"})
    if days[0] < today:
        raise ValidationError({"instalments": f"the first instalment is before today ({today})"})
    given = sum(a for _, a in instalments)
    if given != total:
        raise ValidationError(
            {"instalments": f"instalments add up to {given} but {total} {currency} is owed"}
        )


def payment_plan_cancel(*, plan: PaymentPlan, clock: Clock, reason: str) -> None:
    """Staff end a plan: its unpaid invoices go back to dunning."""
    with transaction.atomic():
        plan = PaymentPlan.objects.select_for_update().get(pk=plan.pk)
        if plan.status != PlanStatus.ACTIVE:
            raise ValidationError({"plan": f"a {plan.status} plan cannot be cancelled"})
        _close(plan, PlanStatus.CANCELLED, clock, reason)


def _close(plan: PaymentPlan, status: str, clock: Clock, reason: str) -> list[int]:
    """End the plan; cases whose invoice is still unpaid go back to dunning (ids returned)."""
    plan.status = status
    plan.closed_at = clock.now()
    plan.save(update_fields=["status", "closed_at"])
    back = list(
        DunningCase.objects.filter(
            payment_plan=plan, status=CaseStatus.ON_PLAN, invoice__status=InvoiceStatus.OPEN
        ).values_list("pk", flat=True)
    )
    # Back where dunning left off, except that restrictions (lifted for the plan) are
    # placed again by the next escalation, for the days overdue by then.
    DunningCase.objects.filter(pk__in=back).update(
        status=CaseStatus.OPEN, restriction_level=0, escalated_on=None
    )
    events_emit_bulk([_event(plan, f"dunning.plan_{status}", clock.now(), {"reason": reason})])
    return back


def instalments_charge(
    *, clock: Clock, gateway: Gateway, organization_id: int | None = None
) -> tuple[dict[str, int], list[int]]:
    """Charge every instalment due today or earlier. Returns counts, and the cases that
    went back to dunning because their plan broke (the caller re-plans their retries)."""
    counts = {"instalments_paid": 0, "instalments_failed": 0, "plans_broken": 0}
    reopened: list[int] = []
    qs = Instalment.objects.filter(
        plan__status=PlanStatus.ACTIVE,
        status__in=[InstalmentStatus.SCHEDULED, InstalmentStatus.FAILED],
    ).select_related("plan")
    if organization_id is not None:
        qs = qs.filter(organization_id=organization_id)
    for inst in qs.order_by("plan_id", "number"):
        invoices = list(
            Invoice.objects.filter(
                dunning_case__payment_plan=inst.plan, status=InvoiceStatus.OPEN
            ).order_by("due_date", "id")
        )
        if not invoices:
            continue
        today = local_date(clock.now(), invoices[0].location.timezone)
        due_on = inst.next_try_on or inst.due_on
        if due_on > today or _earlier_unpaid(inst) or not _card_allows(inst, invoices, clock):
            continue
        amounts = _spread(inst.amount - inst.amount_paid, invoices)
        before = _owed(inst.plan)
        invoices_retry(list(amounts), clock=clock, gateway=gateway, amounts=amounts)
        paid = before - _owed(inst.plan)
        with transaction.atomic():
            inst.amount_paid += paid
            inst.tries += 1
            if inst.amount_paid >= inst.amount:
                inst.status = InstalmentStatus.PAID
                inst.paid_at = clock.now()
                inst.next_try_on = None
                counts["instalments_paid"] += 1
            else:
                inst.status = InstalmentStatus.FAILED
                inst.last_decline_code = _last_decline(list(amounts))
                inst.next_try_on = today + timedelta(days=RETRY_AFTER_DAYS)
                counts["instalments_failed"] += 1
            inst.save()
            plan = PaymentPlan.objects.select_for_update().get(pk=inst.plan_id)
            if inst.status == InstalmentStatus.FAILED and inst.tries >= MAX_TRIES:
                reopened += _close(plan, PlanStatus.BROKEN, clock, f"instalment {inst.number}")
                counts["plans_broken"] += 1
            elif not plan.instalments.exclude(status=InstalmentStatus.PAID).exists():
                plan.status = PlanStatus.COMPLETED
                plan.closed_at = clock.now()
                plan.save(update_fields=["status", "closed_at"])
                events_emit_bulk([_event(plan, "dunning.plan_completed", clock.now())])
    return counts, reopened


def _spread(amount: int, invoices: Sequence[Invoice]) -> dict[int, int]:
    """The oldest invoices first, each up to what it owes."""
    out: dict[int, int] = {}
    for invoice in invoices:
        if amount <= 0:
            break
        part = min(amount, invoice.amount_due)
        out[invoice.pk] = part
        amount -= part
    return out


def _owed(plan: PaymentPlan) -> int:
    owed = Invoice.objects.filter(dunning_case__payment_plan=plan).aggregate(s=Sum("amount_due"))
    return int(owed["s"] or 0)


def _earlier_unpaid(inst: Instalment) -> bool:
    return (
        Instalment.objects.filter(plan_id=inst.plan_id, number__lt=inst.number)
        .exclude(status=InstalmentStatus.PAID)
        .exists()
    )


def _card_allows(inst: Instalment, invoices: Sequence[Invoice], clock: Clock) -> bool:
    """The network limits and the one-attempt-per-invoice-per-day rule hold for a charge now."""
    method = (
        PaymentMethod.objects.usable_defaults()
        .filter(payer_id=inst.plan.payer_id)
        .values_list("id", "brand")
        .first()
    )
    if method is None:
        return False
    now = clock.now()
    card = PaymentAttempt.objects.filter(
        payment_method_id=method[0], created_at__gt=now - timedelta(days=31)
    ).values_list("created_at", flat=True)
    last = (
        PaymentAttempt.objects.filter(invoice__in=invoices)
        .order_by("-created_at")
        .values_list("created_at", flat=True)
        .first()
    )
    at = earliest_allowed(
        network=method[1] or "other",
        card_attempts=list(card),
        last_invoice_attempt=last,
        last_was_processing_error=False,
        not_before=now,
    )
    return at <= now


def _last_decline(invoice_ids: list[int]) -> str:
    code = (
        PaymentAttempt.objects.filter(invoice_id__in=invoice_ids)
        .order_by("-id")
        .values_list("decline_code", flat=True)
        .first()
    )
    return code or ""


def _event(
    plan: PaymentPlan, topic: str, now: datetime, extra: dict[str, Any] | None = None
) -> Event:
    payload = {"plan_id": plan.pk, "payer_id": plan.payer_id, "total": plan.total}
    return Event(plan.organization_id, topic, "payment_plan", plan.pk, payload | (extra or {}), now)
