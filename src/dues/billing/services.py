"""Subscription lifecycle: sign-up, freeze, cancel, change plan, and the daily advance.

Every operation takes the clock; "today" is the location's local date (DESIGN invariant 5).
"""

from __future__ import annotations

import copy
from datetime import date, timedelta
from fractions import Fraction
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction

from dues.billing.invoices import InvoiceSpec, credit_note_create, invoices_issue
from dues.billing.models import (
    SUBSCRIPTION_TRANSITIONS,
    Freeze,
    Invoice,
    InvoiceLine,
    Subscription,
    SubscriptionAddOn,
    SubscriptionStatus,
)
from dues.billing.periods import add_periods, first_anchor, period_start
from dues.billing.pricing import line_build, prorate
from dues.billing.run import (
    invoice_batch,
    subscription_lines,
    subscription_next_period,
    switch_to_pending_plan,
)
from dues.catalog.models import AddOn, Coupon, Plan, RevenueCategory
from dues.catalog.selectors import tax_rate_bp, tax_rates_for_locations
from dues.core.clock import Clock, local_date
from dues.core.models import Location, Organization
from dues.core.outbox import event_emit
from dues.members.models import Member
from dues.members.services import member_activate_if_prospect, member_set_status


class SubscriptionError(ValidationError):
    pass


def today_at(location: Location, clock: Clock) -> date:
    return local_date(clock.now(), location.timezone)


def _emit(sub: Subscription, topic: str, clock: Clock, **extra: Any) -> None:
    event_emit(
        organization=sub.organization_id,
        topic=topic,
        aggregate_type="subscription",
        aggregate_id=sub.pk,
        payload={"subscription_id": sub.pk, "member_id": sub.member_id, "status": sub.status}
        | extra,
        clock=clock,
    )


def subscription_transition(sub: Subscription, to: str) -> None:
    if to not in SUBSCRIPTION_TRANSITIONS[sub.status]:
        raise SubscriptionError(f"subscription cannot go from {sub.status} to {to}")
    sub.status = to


def subscription_build(
    *,
    member: Member,
    plan: Plan,
    location: Location,
    start_date: date,
    clock: Clock,
    billing_anchor_day: int | None = None,
    coupon: Coupon | None = None,
    sold_online: bool = False,
) -> Subscription:
    """The subscription a sign-up would create, checked and not saved: what
    ``subscription_create`` saves and what a preview of the first charge prices."""
    org_id = member.organization_id
    for name, obj in (("plan", plan), ("location", location), ("coupon", coupon)):
        if obj is not None and obj.organization_id != org_id:
            raise SubscriptionError({name: "belongs to another organization"})
    if not plan.active:
        raise SubscriptionError({"plan": "this plan is no longer sold"})
    if plan.currency != location.currency:
        raise SubscriptionError(
            {
                "plan": f"plan is priced in {plan.currency}, "
                f"the location bills in {location.currency}"
            }
        )
    today = today_at(location, clock)
    if start_date < today - timedelta(days=31):
        raise SubscriptionError({"start_date": "start date is more than a month in the past"})
    if coupon is not None:
        if not coupon.active:
            raise SubscriptionError({"coupon": "this coupon is no longer valid"})
        if coupon.kind == "fixed" and coupon.currency != plan.currency:
            raise SubscriptionError({"coupon": "coupon currency differs from the plan's"})
    payer_id = member.payer_id or member.pk
    trial_end = start_date + timedelta(days=plan.trial_days) if plan.trial_days else None
    first_day = trial_end or start_date
    anchor, anchor_day = first_anchor(first_day, billing_anchor_day, plan.interval)
    if anchor == first_day:
        index = 0
    else:
        index = -1  # a stub before the anchor, prorated
    status = SubscriptionStatus.PENDING
    if start_date <= today:
        status = SubscriptionStatus.TRIALING if trial_end and trial_end > today else status
    min_term_end = (
        add_periods(first_day, plan.interval, plan.minimum_term_periods)
        if plan.minimum_term_periods
        else None
    )
    return Subscription(
        organization_id=org_id,
        member=member,
        payer_id=payer_id,
        plan=plan,
        location=location,
        status=status,
        interval=plan.interval,
        currency=plan.currency,
        price=plan.price,
        start_date=start_date,
        billing_anchor_day=anchor_day,
        trial_end=trial_end,
        anchor_date=anchor,
        next_period_index=index,
        next_billing_date=first_day,
        minimum_term_end=min_term_end,
        coupon=coupon,
        coupon_periods_left=coupon.duration_periods if coupon else None,
        joining_fee_pending=plan.joining_fee,
        sold_online=sold_online,
        created_at=clock.now(),
    )


def subscription_create(
    *,
    member: Member,
    plan: Plan,
    location: Location,
    start_date: date,
    clock: Clock,
    billing_anchor_day: int | None = None,
    coupon: Coupon | None = None,
    addons: list[tuple[AddOn, int]] | None = None,
    sold_online: bool = False,
) -> Subscription:
    """Sign a member up. The first invoice (joining fee and a full or prorated first
    period) is issued at once when the first billable day is today or earlier."""
    sub = subscription_build(
        member=member,
        plan=plan,
        location=location,
        start_date=start_date,
        clock=clock,
        billing_anchor_day=billing_anchor_day,
        coupon=coupon,
        sold_online=sold_online,
    )
    org_id = sub.organization_id
    today = today_at(location, clock)
    first_day = sub.next_billing_date
    assert first_day is not None
    with transaction.atomic():
        sub.save(force_insert=True)
        for addon, quantity in addons or []:
            if addon.organization_id != org_id:
                raise SubscriptionError({"addons": "add-on belongs to another organization"})
            SubscriptionAddOn.objects.create(
                organization_id=org_id,
                subscription=sub,
                addon=addon,
                quantity=quantity,
                unit_price=addon.price,
            )
        member_activate_if_prospect(member=member, clock=clock)
        _emit(sub, "subscription.created", clock, plan_id=plan.pk, start_date=str(start_date))
    if first_day <= today:
        subscription_bill_now(sub=sub, clock=clock)
        sub.refresh_from_db()
    return sub


def subscription_bill_now(*, sub: Subscription, clock: Clock) -> None:
    """Invoice whatever is due for one subscription today (sign-up, catch-up)."""
    today = today_at(sub.location, clock)
    while True:
        issued = invoice_batch(
            as_of=today,
            clock=clock,
            organization_id=sub.organization_id,
            batch_size=1,
            only_ids=[sub.pk],
        )
        if issued is None:
            return


def subscription_freeze(
    *,
    sub: Subscription,
    start_date: date,
    end_date: date,
    clock: Clock,
    reason: str = "",
    fee: int | None = None,
) -> Freeze:
    """Pause billing from ``start_date`` until ``end_date`` (the first day back). The days
    already paid for when the freeze starts are kept, and the minimum term extends."""
    today = today_at(sub.location, clock)
    if sub.status not in (SubscriptionStatus.ACTIVE, SubscriptionStatus.TRIALING):
        raise SubscriptionError({"status": f"a {sub.status} membership cannot be frozen"})
    if start_date < today:
        raise SubscriptionError({"start_date": "a freeze cannot start in the past"})
    if end_date <= start_date:
        raise SubscriptionError({"end_date": "end date must be after the start date"})
    if (end_date - start_date).days > 366:
        raise SubscriptionError({"end_date": "a freeze can last at most a year"})
    overlapping = sub.freezes.filter(
        status__in=[Freeze.Status.SCHEDULED, Freeze.Status.ACTIVE],
        start_date__lt=end_date,
        end_date__gt=start_date,
    )
    if overlapping.exists():
        raise SubscriptionError({"start_date": "overlaps another freeze"})
    fee = sub.plan.freeze_fee if fee is None else fee
    with transaction.atomic():
        freeze = Freeze.objects.create(
            organization_id=sub.organization_id,
            subscription=sub,
            start_date=start_date,
            end_date=end_date,
            fee=fee,
            reason=reason,
            created_at=clock.now(),
        )
        if fee:
            invoice_issue_one_off(
                sub=sub,
                kind="freeze_fee",
                description=f"Freeze fee, {start_date} – {end_date - timedelta(days=1)}",
                amount=fee,
                category=RevenueCategory.FREEZE_FEE,
                clock=clock,
            )
        _emit(sub, "subscription.freeze_scheduled", clock, start=str(start_date), end=str(end_date))
    if start_date <= today:
        subscriptions_advance(as_of=today, clock=clock, only_ids=[sub.pk])
    return freeze


def subscription_unfreeze(*, sub: Subscription, clock: Clock) -> Subscription:
    """End the active freeze today (or drop a scheduled one)."""
    today = today_at(sub.location, clock)
    with transaction.atomic():
        freeze = sub.freezes.filter(
            status__in=[Freeze.Status.ACTIVE, Freeze.Status.SCHEDULED]
        ).first()
        if freeze is None:
            raise SubscriptionError({"status": "this membership has no freeze to end"})
        if freeze.status == Freeze.Status.SCHEDULED:
            freeze.status = Freeze.Status.CANCELLED
            freeze.save(update_fields=["status"])
            _emit(sub, "subscription.freeze_cancelled", clock)
            return sub
        freeze.end_date = max(today, freeze.start_date + timedelta(days=1))
        freeze.save(update_fields=["end_date"])
    subscriptions_advance(as_of=freeze.end_date, clock=clock, only_ids=[sub.pk])
    sub.refresh_from_db()
    if sub.next_billing_date and sub.next_billing_date <= today:
        subscription_bill_now(sub=sub, clock=clock)
    return sub


def cancellation_date(sub: Subscription, today: date) -> date:
    """The earliest end that honours the notice period and the minimum term: the first
    period boundary on or after both."""
    earliest = today + timedelta(days=sub.plan.notice_days)
    if sub.minimum_term_end and sub.minimum_term_end > earliest:
        earliest = sub.minimum_term_end
    boundary = sub.next_billing_date or today
    index = sub.next_period_index
    while boundary < earliest:
        index += 1
        boundary = period_start(sub.anchor_date, sub.billing_anchor_day, sub.interval, index)
    return boundary


def subscription_cancel(
    *,
    sub: Subscription,
    clock: Clock,
    reason: str = "",
    immediately: bool = False,
    refund_unused: bool = False,
) -> Subscription:
    """Cancel at the end allowed by notice and term, or (staff) immediately, optionally
    crediting the unused part of the current period."""
    if sub.status == SubscriptionStatus.CANCELLED:
        raise SubscriptionError({"status": "this membership is already cancelled"})
    today = today_at(sub.location, clock)
    with transaction.atomic():
        sub = Subscription.objects.select_for_update().get(pk=sub.pk)
        if not immediately:
            sub.cancel_at = cancellation_date(sub, today)
            sub.cancel_reason = reason
            sub.save(update_fields=["cancel_at", "cancel_reason"])
            _emit(sub, "subscription.cancel_scheduled", clock, cancel_at=str(sub.cancel_at))
            return sub
        if refund_unused:
            _credit_unused(sub, today, clock)
        subscription_transition(sub, SubscriptionStatus.CANCELLED)
        sub.cancel_at = today
        sub.cancelled_at = clock.now()
        sub.cancel_reason = reason
        sub.next_billing_date = None
        sub.save(
            update_fields=[
                "status",
                "cancel_at",
                "cancelled_at",
                "cancel_reason",
                "next_billing_date",
            ]
        )
        sub.freezes.filter(status=Freeze.Status.SCHEDULED).update(status=Freeze.Status.CANCELLED)
        _emit(sub, "subscription.cancelled", clock, reason=reason)
        _member_after_end(sub, clock)
    return sub


def _credit_unused(sub: Subscription, today: date, clock: Clock) -> None:
    line = (
        InvoiceLine.objects.filter(subscription=sub, kind="plan", period_end__gt=today)
        .select_related("invoice")
        .order_by("-period_start")
        .first()
    )
    if line is None or line.period_start is None or line.period_end is None:
        return
    used_from = max(today, line.period_start)
    unused_days = (line.period_end - used_from).days
    total_days = (line.period_end - line.period_start).days
    amount = prorate(line.total_amount, Fraction(unused_days, total_days))
    if amount <= 0:
        return
    invoice = line.invoice
    credit_note_create(
        invoice=invoice,
        amount=amount,
        reason=f"Unused membership {used_from} – {line.period_end - timedelta(days=1)}",
        clock=clock,
        to_member_credit=invoice.amount_due == 0,
    )


def subscription_change_plan(
    *, sub: Subscription, new_plan: Plan, clock: Clock, at_period_end: bool | None = None
) -> Subscription:
    """Upgrade now with proration, or (by default for cheaper plans) switch at period end."""
    if new_plan.organization_id != sub.organization_id:
        raise SubscriptionError({"plan": "belongs to another organization"})
    if new_plan.pk == sub.plan_id:
        raise SubscriptionError({"plan": "the membership is already on this plan"})
    if new_plan.currency != sub.currency:
        raise SubscriptionError({"plan": "the new plan is priced in another currency"})
    if sub.status not in (SubscriptionStatus.ACTIVE, SubscriptionStatus.TRIALING):
        raise SubscriptionError({"status": f"a {sub.status} membership cannot change plan"})
    if at_period_end is None:
        at_period_end = new_plan.price < sub.price or new_plan.interval != sub.interval
    with transaction.atomic():
        sub = Subscription.objects.select_for_update().get(pk=sub.pk)
        if at_period_end:
            sub.pending_plan = new_plan
            sub.save(update_fields=["pending_plan"])
            _emit(sub, "subscription.plan_change_scheduled", clock, plan_id=new_plan.pk)
            return sub
        if new_plan.interval != sub.interval:
            raise SubscriptionError(
                {"plan": "a plan with another billing interval takes effect at period end"}
            )
        if new_plan.price < sub.price:
            raise SubscriptionError({"plan": "a cheaper plan takes effect at period end"})
        today = today_at(sub.location, clock)
        if sub.current_period_start and sub.current_period_end and sub.current_period_end > today:
            remaining = (sub.current_period_end - today).days
            total = (sub.current_period_end - sub.current_period_start).days
            frac = Fraction(remaining, total)
            rate = tax_rate_bp(location_id=sub.location_id, category=new_plan.tax_category)
            inclusive = sub.organization.prices_include_tax
            last = sub.current_period_end - timedelta(days=1)
            lines = [
                line_build(
                    kind="proration",
                    description=f"Unused {sub.plan.name}, {today} – {last}",
                    unit_amount=-prorate(sub.price, frac),
                    revenue_category=RevenueCategory.MEMBERSHIP,
                    tax_rate_bp=rate,
                    prices_include_tax=inclusive,
                    subscription_id=sub.pk,
                ),
                line_build(
                    kind="proration",
                    description=f"{new_plan.name}, {today} – {last}",
                    unit_amount=prorate(new_plan.price, frac),
                    revenue_category=RevenueCategory.MEMBERSHIP,
                    tax_rate_bp=rate,
                    prices_include_tax=inclusive,
                    subscription_id=sub.pk,
                ),
            ]
            invoices_issue(
                [
                    InvoiceSpec(
                        organization_id=sub.organization_id,
                        payer_id=sub.payer_id,
                        location_id=sub.location_id,
                        currency=sub.currency,
                        issue_date=today,
                        due_date=today,
                        lines=lines,
                    )
                ],
                clock=clock,
            )
        old_plan_id = sub.plan_id
        sub.plan = new_plan
        sub.price = new_plan.price
        sub.pending_plan = None
        sub.save(update_fields=["plan", "price", "pending_plan"])
        _emit(
            sub, "subscription.plan_changed", clock, plan_id=new_plan.pk, from_plan_id=old_plan_id
        )
    return sub


def invoice_issue_one_off(
    *,
    sub: Subscription,
    kind: str,
    description: str,
    amount: int,
    category: str,
    clock: Clock,
    taxed: bool = True,
) -> Invoice:
    """A one-off charge on a membership, invoiced and finalised at once. ``taxed=False``
    for charges outside the scope of VAT, such as late-payment fees (compensation, not a
    supply)."""
    return invoice_issue_charge(
        organization=sub.organization,
        payer_id=sub.payer_id,
        location=sub.location,
        currency=sub.currency,
        kind=kind,
        description=description,
        amount=amount,
        category=category,
        tax_category=sub.plan.tax_category,
        clock=clock,
        taxed=taxed,
        subscription_id=sub.pk,
    )


def invoice_issue_charge(
    *,
    organization: Organization,
    payer_id: int,
    location: Location,
    currency: str,
    kind: str,
    description: str,
    amount: int,
    category: str,
    tax_category: str,
    clock: Clock,
    taxed: bool = True,
    subscription_id: int | None = None,
) -> Invoice:
    """A one-off charge to ``payer_id`` at ``location`` (a drop-in, a fee, a pack),
    invoiced and finalised at once, dated the location's today; taxed at the location's
    rate for ``tax_category`` unless ``taxed`` is False."""
    today = today_at(location, clock)
    rate = tax_rate_bp(location_id=location.pk, category=tax_category) if taxed else 0
    line = line_build(
        kind=kind,
        description=description,
        unit_amount=amount,
        revenue_category=category,
        tax_rate_bp=rate,
        prices_include_tax=organization.prices_include_tax,
        subscription_id=subscription_id,
    )
    spec = InvoiceSpec(
        organization_id=organization.pk,
        payer_id=payer_id,
        location_id=location.pk,
        currency=currency,
        issue_date=today,
        due_date=today,
        lines=[line],
    )
    return Invoice.objects.get(pk=invoices_issue([spec], clock=clock)[0])


def _member_after_end(sub: Subscription, clock: Clock) -> None:
    member = sub.member
    others = member.subscriptions.exclude(pk=sub.pk).exclude(status=SubscriptionStatus.CANCELLED)
    if not others.exists() and member.status != "cancelled":
        member_set_status(member=member, status="cancelled", clock=clock, reason="membership ended")


def subscriptions_advance(
    *,
    as_of: date,
    clock: Clock,
    organization_id: int | None = None,
    only_ids: list[int] | None = None,
) -> int:
    """Apply what the calendar brings on ``as_of``: trials starting, freezes starting and
    ending, scheduled cancellations. Idempotent: each step moves rows out of its filter."""
    changed = 0
    subs = Subscription.objects.all()
    freezes = Freeze.objects.all()
    if organization_id is not None:
        subs = subs.filter(organization_id=organization_id)
        freezes = freezes.filter(organization_id=organization_id)
    if only_ids is not None:
        subs = subs.filter(pk__in=only_ids)
        freezes = freezes.filter(subscription_id__in=only_ids)

    for sub in subs.filter(
        status=SubscriptionStatus.PENDING, start_date__lte=as_of, trial_end__gt=as_of
    ):
        with transaction.atomic():
            subscription_transition(sub, SubscriptionStatus.TRIALING)
            sub.save(update_fields=["status"])
            _emit(sub, "subscription.trial_started", clock)
            changed += 1

    for freeze in freezes.filter(
        status=Freeze.Status.SCHEDULED, start_date__lte=as_of
    ).select_related("subscription"):
        with transaction.atomic():
            sub = Subscription.objects.select_for_update().get(pk=freeze.subscription_id)
            if sub.status == SubscriptionStatus.CANCELLED:
                freeze.status = Freeze.Status.CANCELLED
                freeze.save(update_fields=["status"])
                continue
            subscription_transition(sub, SubscriptionStatus.FROZEN)
            sub.save(update_fields=["status"])
            freeze.status = Freeze.Status.ACTIVE
            freeze.save(update_fields=["status"])
            _emit(sub, "subscription.frozen", clock, until=str(freeze.end_date))
            member = sub.member
            if member.status == "active":
                member_set_status(member=member, status="frozen", clock=clock, reason="freeze")
            changed += 1

    for freeze in freezes.filter(status=Freeze.Status.ACTIVE, end_date__lte=as_of):
        with transaction.atomic():
            sub = Subscription.objects.select_for_update().get(pk=freeze.subscription_id)
            paid_ahead = 0
            if sub.next_billing_date and sub.next_billing_date > freeze.start_date:
                paid_ahead = (sub.next_billing_date - freeze.start_date).days
            resume = freeze.end_date + timedelta(days=paid_ahead)
            length = freeze.end_date - freeze.start_date
            sub.anchor_date = resume
            sub.billing_anchor_day = resume.day
            sub.next_period_index = 0
            sub.next_billing_date = resume
            if sub.current_period_end and sub.current_period_end > freeze.start_date:
                sub.current_period_end = resume
            if sub.minimum_term_end:
                sub.minimum_term_end += length
            if sub.cancel_at:
                sub.cancel_at += length
            subscription_transition(sub, SubscriptionStatus.ACTIVE)
            sub.save()
            freeze.status = Freeze.Status.ENDED
            freeze.save(update_fields=["status"])
            _emit(sub, "subscription.unfrozen", clock, next_billing_date=str(resume))
            member = sub.member
            if member.status == "frozen":
                member_set_status(
                    member=member, status="active", clock=clock, reason="freeze ended"
                )
            changed += 1

    for sub in subs.filter(cancel_at__lte=as_of).exclude(status=SubscriptionStatus.CANCELLED):
        with transaction.atomic():
            subscription_transition(sub, SubscriptionStatus.CANCELLED)
            sub.cancelled_at = clock.now()
            sub.next_billing_date = None
            sub.save(update_fields=["status", "cancelled_at", "next_billing_date"])
            _emit(sub, "subscription.cancelled", clock, reason=sub.cancel_reason)
            _member_after_end(sub, clock)
            changed += 1
    return changed


def subscription_preview_next(sub: Subscription) -> dict[str, Any]:
    """What the next invoice for this subscription will say, without writing anything:
    the plan in force then (a change scheduled for period end included), add-ons, coupon
    and tax, as the billing run will compute them. ``sub`` may be unsaved (from
    ``subscription_build``: the first charge of a sign-up, shown before signing)."""
    if sub.next_billing_date is None:
        raise SubscriptionError({"status": f"a {sub.status} membership has no next charge"})
    sub = copy.copy(sub)
    if sub.pending_plan_id:
        switch_to_pending_plan(sub)
    period = subscription_next_period(sub)
    lines = subscription_lines(
        sub,
        period,
        rates=tax_rates_for_locations({sub.location_id}),
        prices_include_tax=sub.organization.prices_include_tax,
        addons=list(sub.addons.select_related("addon")) if sub.pk else [],
    )
    return {
        "period_start": period.start,
        "period_end": period.end,
        "price": sub.price,
        "lines": lines,
        "total": sum(line.total for line in lines),
    }
