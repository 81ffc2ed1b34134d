"""The invoicing half of the billing run (DESIGN "The billing run").

``invoice_due(as_of)`` invoices every subscription whose next billing date is on or before
``as_of``, in batches of set-based inserts, one transaction per batch. It is idempotent:
a period is invoiced only while the subscription still points at it, the pointer moves in
the same transaction, and the unique (subscription, period_start) constraint makes a second
invoice for a period impossible even if that logic were wrong. On PostgreSQL several
workers share a run by claiming batches with ``FOR UPDATE SKIP LOCKED``.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F, Q

from dues.billing.invoices import InvoiceSpec, invoices_number, invoices_write
from dues.billing.lines import AddOnTerms, CouponTerms, period_lines
from dues.billing.models import Subscription, SubscriptionAddOn, SubscriptionStatus
from dues.billing.periods import Period, period_at
from dues.billing.pricing import LineSpec
from dues.catalog.selectors import tax_rates_for_locations
from dues.core.clock import Clock
from dues.core.models import Organization
from dues.core.rows import rows_update

BILLABLE = (SubscriptionStatus.PENDING, SubscriptionStatus.TRIALING, SubscriptionStatus.ACTIVE)


def due_subscriptions(as_of: date, organization_id: int | None = None):  # type: ignore[no-untyped-def]
    qs = Subscription.objects.filter(status__in=BILLABLE, next_billing_date__lte=as_of).filter(
        Q(cancel_at__isnull=True) | Q(cancel_at__gt=F("next_billing_date"))
    )
    if organization_id is not None:
        qs = qs.filter(organization_id=organization_id)
    return qs


def invoice_due(
    *,
    as_of: date,
    clock: Clock,
    organization_id: int | None = None,
    batch_size: int | None = None,
) -> int:
    """Invoice all due periods up to ``as_of``; returns the number of invoices issued.

    Batches are claimed in id order from where the last one ended (a keyset, so a claim
    never re-reads the rows already done); a pass that reaches the end starts again from
    the first id, which picks up second periods of catch-up subscriptions and anything
    skipped while another worker held it. The run ends when a pass from the start finds
    nothing.
    """
    batch_size = batch_size or settings.DUES_BILLING_BATCH_SIZE
    issued = 0
    after = 0
    while True:
        claimed = invoice_batch(
            as_of=as_of,
            clock=clock,
            organization_id=organization_id,
            batch_size=batch_size,
            after=after,
        )
        if claimed is None:
            if after == 0:
                return issued
            after = 0
            continue
        count, after = claimed
        issued += count


def invoice_batch(
    *,
    as_of: date,
    clock: Clock,
    organization_id: int | None,
    batch_size: int,
    only_ids: list[int] | None = None,
    after: int = 0,
) -> tuple[int, int] | None:
    """Claim and invoice one batch of subscriptions with ids above ``after``; returns the
    invoices issued and the last id claimed, or ``None`` when nothing is left to claim."""
    with transaction.atomic():
        claim = due_subscriptions(as_of, organization_id).filter(id__gt=after).order_by("id")
        if only_ids is not None:
            claim = claim.filter(pk__in=only_ids)
        if connection.features.has_select_for_update_skip_locked:
            claim = claim.select_for_update(skip_locked=True)
        ids = list(claim.values_list("id", flat=True)[:batch_size])
        if not ids:
            return None
        subs = list(
            Subscription.objects.filter(id__in=ids)
            .select_related("plan", "pending_plan", "coupon")
            .order_by("id")
        )
        return _invoice_subscriptions(subs, as_of=as_of, clock=clock), ids[-1]


def _invoice_subscriptions(subs: list[Subscription], *, as_of: date, clock: Clock) -> int:
    org_tax_inclusive = dict(
        Organization.objects.filter(pk__in={s.organization_id for s in subs}).values_list(
            "pk", "prices_include_tax"
        )
    )
    rates = tax_rates_for_locations({s.location_id for s in subs})
    addons: dict[int, list[SubscriptionAddOn]] = defaultdict(list)
    for row in SubscriptionAddOn.objects.filter(subscription__in=subs).select_related("addon"):
        addons[row.subscription_id].append(row)

    specs: dict[tuple[int, int, int, str, date], InvoiceSpec] = {}
    for sub in subs:
        if sub.pending_plan_id:
            switch_to_pending_plan(sub)
        period = subscription_next_period(sub)
        lines = subscription_lines(
            sub,
            period,
            rates=rates,
            prices_include_tax=org_tax_inclusive[sub.organization_id],
            addons=addons[sub.pk],
        )
        key = (sub.organization_id, sub.payer_id, sub.location_id, sub.currency, period.start)
        spec = specs.get(key)
        if spec is None:
            spec = specs[key] = InvoiceSpec(
                organization_id=sub.organization_id,
                payer_id=sub.payer_id,
                location_id=sub.location_id,
                currency=sub.currency,
                issue_date=period.start,
                due_date=period.start,
                billing_run_date=as_of,
            )
        spec.lines.extend(lines)
        subscription_period_invoiced(sub, period)
    written = invoices_write(list(specs.values()), clock=clock)
    fields = [
        "plan_id",
        "price",
        "interval",
        "anchor_date",
        "billing_anchor_day",
        "pending_plan_id",
        "coupon_periods_left",
        "current_period_start",
        "current_period_end",
        "next_period_index",
        "next_billing_date",
        "joining_fee_pending",
        "status",
    ]
    rows_update(Subscription, fields, [(s.pk, *(getattr(s, f) for f in fields)) for s in subs])
    invoices_number(written, clock=clock)
    return len(specs)


def subscription_lines(
    sub: Subscription,
    period: Period,
    *,
    rates: dict[tuple[int, str], int],
    prices_include_tax: bool,
    addons: list[SubscriptionAddOn],
) -> list[LineSpec]:
    """The lines the subscription owes for ``period``. Uses up one coupon period on the
    in-memory subscription (the caller saves it, or a preview throws it away)."""
    coupon = None
    if sub.coupon_id and sub.coupon_periods_left != 0:
        c = sub.coupon
        assert c is not None
        coupon = CouponTerms(percent_bp=c.percent_bp, amount_off=c.amount_off, name=c.name)
        if sub.coupon_periods_left is not None:
            sub.coupon_periods_left -= 1
    return period_lines(
        subscription_id=sub.pk,
        plan_name=sub.plan.name,
        price=sub.price,
        period=period,
        tax_rate_bp=rates.get((sub.location_id, sub.plan.tax_category), 0),
        prices_include_tax=prices_include_tax,
        joining_fee=sub.joining_fee_pending,
        coupon=coupon,
        addons=[
            AddOnTerms(
                name=a.addon.name,
                quantity=a.quantity,
                unit_price=a.unit_price,
                tax_rate_bp=rates.get((sub.location_id, a.addon.tax_category), 0),
            )
            for a in addons
            if a.addon.kind == "recurring"
        ],
    )


def subscription_period_invoiced(sub: Subscription, period: Period) -> None:
    """Point the in-memory subscription past ``period`` once it is invoiced: the joining
    fee is paid and the next period is the one to bill (the run saves it; a preview of
    the charge after next throws it away)."""
    sub.current_period_start = period.start
    sub.current_period_end = period.end
    sub.next_period_index = period.index + 1
    sub.next_billing_date = period.end
    sub.joining_fee_pending = 0
    sub.status = SubscriptionStatus.ACTIVE


def subscription_next_period(sub: Subscription) -> Period:
    assert sub.next_billing_date is not None
    return period_at(
        sub.anchor_date,
        sub.billing_anchor_day,
        sub.interval,
        sub.next_period_index,
        sub.next_billing_date,
    )


def switch_to_pending_plan(sub: Subscription) -> None:
    """A change scheduled for period end takes effect as the next period is invoiced."""
    new = sub.pending_plan
    assert new is not None
    assert sub.next_billing_date is not None
    if new.interval != sub.interval:
        sub.anchor_date = sub.next_billing_date
        sub.billing_anchor_day = sub.next_billing_date.day
        sub.next_period_index = 0
    sub.plan = new
    sub.price = new.price
    sub.interval = new.interval
    sub.pending_plan = None
