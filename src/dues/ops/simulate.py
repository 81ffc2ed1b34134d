"""``dues simulate``: run a gym through the simulated clock and report month by month.

Members join over the first months, pay by card (about 8% of cards decline, with various
codes), and some freeze, cancel or change plan; every day runs the real billing job
(``dues.ops.jobs.bill``). The output depends only on the arguments: the same seed gives
byte-identical output (no wall-clock times, no unordered iteration).
"""

from __future__ import annotations

import random
from calendar import monthrange
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta

from django.db.models import Sum

from dues.billing.models import Invoice, InvoiceStatus, Subscription, SubscriptionStatus
from dues.billing.services import subscription_create
from dues.core.clock import SimulatedClock, local_midnight
from dues.core.money import format_money
from dues.ledger.check import ledger_check
from dues.members.models import Member, MemberStatus
from dues.ops.demo import (
    DECLINING_CARDS,
    GOOD_CARDS,
    STOCKHOLM,
    Gym,
    card_add,
    day_clock_set,
    event_apply,
    gym_create,
    live_subscription,
    person_create,
)
from dues.ops.jobs import bill
from dues.payments.gateways.sandbox import SandboxGateway
from dues.payments.models import AttemptStatus, Payment, PaymentAttempt
from dues.reports.mrr import monthly_price

PLAN_MIX = (
    ["monthly", "quarterly", "yearly", "student", "commit12", "trial"],
    [40, 12, 8, 10, 20, 10],
)


@dataclass
class MonthRow:
    month: str
    members: int
    invoices: int
    revenue: int
    failed: int
    mrr: int


def add_months(day: date, months: int) -> date:
    """The first of the month ``months`` after ``day``'s month."""
    total = day.year * 12 + day.month - 1 + months
    return date(total // 12, total % 12 + 1, 1)


def shift_months(day: date, months: int) -> date:
    first = add_months(day, months)
    return date(first.year, first.month, min(day.day, monthrange(first.year, first.month)[1]))


def simulate_run(
    *, members: int, months: int, seed: int, start: date, out: Callable[[str], None]
) -> bool:
    """Run the simulation; print the monthly table and the ledger check. True if it passed."""
    rng = random.Random(seed)
    gateway = SandboxGateway()
    clock = SimulatedClock(local_midnight(start, STOCKHOLM) + timedelta(hours=7))
    gym = gym_create(clock=clock, name="Simulated Gym", slug="simulated-gym", paris=False)
    site = gym.sites[0]
    org_id = gym.organization.pk
    end = shift_months(start, months)
    days = (end - start).days
    join_window = max(1, (add_months(start.replace(day=1), min(3, months)) - start).days)

    joins: dict[int, int] = {}
    for _ in range(members):
        offset = rng.randrange(join_window)
        joins[offset] = joins.get(offset, 0) + 1
    events: dict[int, list[tuple[str, int]]] = {}
    for kind, share in (("cancel", 0.10), ("freeze", 0.05), ("change", 0.05)):
        for i in range(members):
            if rng.random() < share:
                events.setdefault(rng.randrange(14, max(15, days)), []).append((kind, i))

    out(
        f"Simulating {members} members for {months} months from {start} (seed {seed}), "
        f"{site.location.currency}"
    )
    header = (
        f"{'month':<8} {'members':>8} {'invoices':>9} {'revenue':>18} {'failed':>7} {'MRR':>16}"
    )
    out(header)
    out("-" * len(header))
    people: list[Member] = []
    month_start = start
    for offset in range(days):
        day = start + timedelta(days=offset)
        day_clock_set(clock, day)
        for _ in range(joins.get(offset, 0)):
            people.append(_join(gym, rng, clock, day))
        for kind, i in events.get(offset, []):
            if i >= len(people):
                continue
            sub = live_subscription(people[i])
            if sub is None or sub.status not in (
                SubscriptionStatus.ACTIVE,
                SubscriptionStatus.TRIALING,
            ):
                continue
            event_apply(gym, rng, clock, day, kind, sub)
        day_clock_set(clock, day, hour=9)
        bill(as_of=day, clock=clock, gateway=gateway, organization_id=org_id)
        tomorrow = day + timedelta(days=1)
        if tomorrow.month != day.month or tomorrow == end:
            row = month_row(org_id, month_start, tomorrow)
            out(
                f"{row.month:<8} {row.members:>8} {row.invoices:>9} "
                f"{money(row.revenue, site.location.currency):>18} {row.failed:>7} "
                f"{money(row.mrr, site.location.currency):>16}"
            )
            month_start = tomorrow

    violations = ledger_check()
    failures = 0
    for name in sorted(violations):
        for v in violations[name][:20]:
            out(f"{name}: {v}")
        failures += len(violations[name])
    if failures:
        out(f"ledger check failed: {failures} violation(s)")
        return False
    out("ledger check passed")
    return True


def money(amount: int, currency: str) -> str:
    return format_money(amount, currency, "en").replace("\xa0", " ")


def month_row(org_id: int, first: date, after: date) -> MonthRow:
    lo = local_midnight(first, STOCKHOLM)
    hi = local_midnight(after, STOCKHOLM)
    revenue = (
        Payment.objects.filter(organization_id=org_id, received_at__gte=lo, received_at__lt=hi)
        .aggregate(s=Sum("amount"))
        .get("s")
        or 0
    )
    mrr = sum(
        monthly_price(price, interval)
        for price, interval in Subscription.objects.filter(
            organization_id=org_id, status=SubscriptionStatus.ACTIVE
        ).values_list("price", "interval")
    )
    return MonthRow(
        month=first.strftime("%Y-%m"),
        members=Member.objects.filter(organization_id=org_id, status=MemberStatus.ACTIVE).count(),
        invoices=Invoice.objects.filter(organization_id=org_id, issue_date__gte=first)
        .filter(issue_date__lt=after)
        .exclude(status=InvoiceStatus.DRAFT)
        .count(),
        revenue=revenue,
        failed=PaymentAttempt.objects.filter(
            organization_id=org_id,
            status=AttemptStatus.FAILED,
            created_at__gte=lo,
            created_at__lt=hi,
        ).count(),
        mrr=mrr,
    )


def _join(gym: Gym, rng: random.Random, clock: SimulatedClock, day: date) -> Member:
    site = gym.sites[0]
    member = person_create(gym=gym, site=site, rng=rng, clock=clock, today=day, emergency=False)
    number = rng.choice(DECLINING_CARDS) if rng.random() < 0.08 else rng.choice(GOOD_CARDS)
    card_add(member, number, clock, exp=(rng.randint(1, 12), rng.randint(2029, 2032)))
    code = rng.choices(PLAN_MIX[0], weights=PLAN_MIX[1])[0]
    subscription_create(
        member=member,
        plan=site.plans[code],
        location=site.location,
        start_date=day,
        clock=clock,
        coupon=gym.coupon if rng.random() < 0.05 else None,
    )
    return member
