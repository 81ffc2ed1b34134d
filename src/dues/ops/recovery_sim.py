"""``dues simulate --scenario``: a gym's failed payments under one dunning policy.

The gym, its members, their cards and monthly memberships are made through the services;
then the simulated clock moves from event to event (each local day's start, each retry
the dunning run planned, each card update a member makes after a reminder) and the real
jobs run at each: ``bill`` (invoicing, collection, dunning) and ``deliver`` (reminders).
Only the gateway is the scenario's (``ScenarioGateway``); members react to the messages
Dues actually sent.

Invoices issued in the scenario's ``months`` are counted; the run goes on past them for
the longest dunning cycle, so every counted invoice reaches its end.
"""

from __future__ import annotations

import heapq
import json
from collections.abc import Callable
from datetime import date, datetime, timedelta

import phonenumbers
from django.db.models import Min, Sum
from django.test.utils import override_settings
from django.utils.text import slugify

from dues.billing.models import Invoice, InvoiceStatus
from dues.billing.services import subscription_create
from dues.catalog.models import Plan
from dues.core.clock import SimulatedClock, local_date, local_midnight
from dues.core.models import Location, Organization
from dues.core.services import location_create, organization_create
from dues.dunning.declines import Category, decline_classify
from dues.dunning.limits import invoice_gap_violations, violations
from dues.dunning.models import CaseStatus, DunningCase, LateFeeKind, Payday, RetryMode
from dues.dunning.services import policy_default
from dues.ledger.check import ledger_check
from dues.members.models import Member
from dues.members.services import member_create
from dues.notify.models import Message, MessageStatus
from dues.ops.demo import card_add
from dues.ops.jobs import bill, deliver
from dues.ops.scenario import Scenario
from dues.ops.scenario_gateway import ScenarioGateway, draw
from dues.ops.simulate import add_months
from dues.payments.models import AttemptStatus, PaymentAttempt, PaymentMethod

CARDS = {"visa": "4242424242424242", "mastercard": "5555555555554444"}
TICK = timedelta(minutes=1)  # day ticks run just after local midnight, when billing starts


class _World:
    def __init__(self, scenario: Scenario, policy: str, seed: int) -> None:
        self.s = scenario
        self.seed = seed
        self.clock = SimulatedClock(local_midnight(scenario.start, scenario.timezone))
        self.gateway = ScenarioGateway(scenario, seed=seed, clock=self.clock)
        self.org, self.location, self.plan = _gym(scenario, self.clock, policy)
        self.members: dict[int, Member] = {}
        self.networks: dict[int, str] = {}
        self.updates: list[tuple[datetime, int, int]] = []
        self.updated: set[tuple[int, int]] = set()  # (member, invoice) that got a new card
        self.seen_message = 0

    def draw(self, *parts: object) -> float:
        return draw(self.seed, *parts)

    def join(self, i: int, day: date) -> None:
        s = self.s
        member = member_create(
            organization=self.org,
            first_name="Member",
            last_name=str(i + 1),
            email=f"member{i + 1}@example.org",
            phone=_phone(s.country, i),
            language=s.language,
            home_location=self.location,
            clock=self.clock,
        )
        network = "mastercard" if self.draw("network", i) < s.mastercard_share else "visa"
        self.members[i] = member
        self.networks[i] = network
        self.gateway.member_index[member.pk] = i
        self.card_add(i)
        subscription_create(
            member=member, plan=self.plan, location=self.location, start_date=day, clock=self.clock
        )

    def card_add(self, i: int) -> None:
        exp = (12, self.s.start.year + 4)
        card_add(self.members[i], CARDS[self.networks[i]], self.clock, exp=exp)

    def react(self) -> None:
        """Members read the reminders sent since the last look; some update their card."""
        new = list(
            Message.objects.filter(
                organization_id=self.org.pk, pk__gt=self.seen_message, invoice_id__isnull=False
            )
            .exclude(status__in=[MessageStatus.FAILED, MessageStatus.SKIPPED])
            .order_by("pk")
            .values_list("pk", "invoice_id", "channel", "template", "created_at")
        )
        lo, hi = self.s.update_delay_hours
        for pk, invoice_id, channel, template, created in new:
            self.seen_message = pk
            assert invoice_id is not None  # filtered above
            i, issued = self.gateway.invoice_key(invoice_id)
            chance = self.s.update_after.get(channel, 0.0)
            # Keyed by what the scenario knows (not row ids), so runs repeat exactly.
            key = ("update", i, issued, template, channel, created.isoformat())
            if "reminder" not in template or self.draw(*key) >= chance:
                continue
            delay = timedelta(hours=lo + (hi - lo) * self.draw(*key, "delay"))
            heapq.heappush(self.updates, (created + delay, i, invoice_id))

    def apply_updates(self, now: datetime) -> None:
        while self.updates and self.updates[0][0] <= now:
            _, i, invoice_id = heapq.heappop(self.updates)
            if (i, invoice_id) in self.updated:
                continue
            status = Invoice.objects.values_list("status", flat=True).get(pk=invoice_id)
            if status == InvoiceStatus.OPEN:
                self.updated.add((i, invoice_id))
                self.card_add(i)

    def next_tick(self, now: datetime, next_day: datetime) -> datetime:
        due = [next_day]
        if self.updates:
            due.append(self.updates[0][0])
        retry = (
            DunningCase.objects.filter(
                organization_id=self.org.pk, status=CaseStatus.OPEN, next_retry_at__gt=now
            )
            .aggregate(m=Min("next_retry_at"))
            .get("m")
        )
        if retry is not None:
            due.append(retry)
        return max(min(due), now + TICK)


def recovery_simulate(
    scenario: Scenario, *, policy: str, seed: int, out: Callable[[str], None]
) -> dict[str, object]:
    """Run the scenario under ``policy`` (fixed or smart); print progress and the result
    as the last line (JSON); return the result."""
    s = scenario
    out(f"Scenario {s.name!r}: {s.members} members, {s.months} months from {s.start}, {policy}")
    # Reminders go nowhere: the scenario's members read them through ``_World.react``.
    with override_settings(
        EMAIL_BACKEND="django.core.mail.backends.dummy.EmailBackend",
        DUES_SMS_BACKEND="dues.notify.sms.NullSmsBackend",
    ):
        w = _World(s, policy, seed)
        counted_until = add_months(s.start.replace(day=1), s.months)
        stop = local_midnight(counted_until, s.timezone) + timedelta(
            days=s.grace_days + s.max_days + 3
        )
        joins: dict[date, list[int]] = {}
        for i in range(s.members):
            day = s.start + timedelta(days=int(w.draw("join", i) * 28))
            joins.setdefault(day, []).append(i)
        today = s.start
        next_day = local_midnight(today, s.timezone) + TICK
        now = next_day
        while now < stop:
            w.clock.set(now)
            if now == next_day:
                for i in joins.get(today, []):
                    w.join(i, today)
                today += timedelta(days=1)
                next_day = local_midnight(today, s.timezone) + TICK
                if today.day == 1:
                    out(f"{today:%Y-%m-%d}: {_progress(w.org.pk, s.start)}")
            w.apply_updates(now)
            bill(as_of=local_date(now, s.timezone), clock=w.clock, gateway=w.gateway,
                 organization_id=w.org.pk)  # fmt: skip
            deliver(clock=w.clock)
            w.react()
            now = w.next_tick(now, next_day)
        result = recovery_result(w.org.pk, policy, s.start, counted_until)
    problems = sum(len(v) for v in ledger_check().values())
    out(f"ledger check: {'passed' if not problems else f'{problems} violation(s)'}")
    out(json.dumps(result))
    return result


def recovery_result(org_id: int, policy: str, first: date, until: date) -> dict[str, object]:
    """The scenario's figures for invoices issued in [first, until) whose first attempt
    failed: how many and how much were recovered, at how many retries each; and every
    broken network or per-invoice limit in the whole run."""
    failed_ids = set(
        PaymentAttempt.objects.filter(
            organization_id=org_id,
            attempt_number=1,
            status=AttemptStatus.FAILED,
            invoice__issue_date__gte=first,
            invoice__issue_date__lt=until,
        ).values_list("invoice_id", flat=True)
    )
    invoices = Invoice.objects.filter(pk__in=failed_ids)
    paid = invoices.filter(status=InvoiceStatus.PAID)
    total = invoices.aggregate(s=Sum("total"))["s"] or 0
    recovered_amount = paid.aggregate(s=Sum("total"))["s"] or 0
    retries = PaymentAttempt.objects.filter(invoice_id__in=failed_ids, attempt_number__gte=2)
    recovered = paid.count()
    return {
        "policy": policy,
        "failed_invoices": len(failed_ids),
        "recovered_invoices": recovered,
        "recovery_rate": round(recovered / len(failed_ids), 4) if failed_ids else 0.0,
        "recovered_amount_rate": round(recovered_amount / total, 4) if total else 0.0,
        "attempts_per_recovery": round(retries.count() / recovered, 2) if recovered else 0.0,
        "network_limit_violations": limit_violations(org_id),
    }


def limit_violations(org_id: int) -> int:
    """Attempts that broke a card network's window, or the rule of one attempt per invoice
    on a card per day (a new card is a new authorization, tried at once)."""
    attempts = list(
        PaymentAttempt.objects.filter(organization_id=org_id)
        .exclude(status=AttemptStatus.PENDING)
        .values_list("payment_method_id", "invoice_id", "created_at", "decline_code", "advice_code")
    )
    brands = dict(PaymentMethod.objects.filter(organization_id=org_id).values_list("pk", "brand"))
    by_card: dict[int, list[datetime]] = {}
    by_invoice: dict[tuple[int, int], list[tuple[datetime, bool]]] = {}
    for method, invoice, at, code, advice in attempts:
        by_card.setdefault(method, []).append(at)
        processing = bool(code) and decline_classify(code, advice).category == Category.PROCESSING
        by_invoice.setdefault((invoice, method), []).append((at, processing))
    found = sum(
        len(violations(network=brands.get(m, ""), card_attempts=times))
        for m, times in by_card.items()
    )
    return found + sum(len(invoice_gap_violations(a)) for a in by_invoice.values())


def _progress(org_id: int, first: date) -> str:
    cases = DunningCase.objects.filter(organization_id=org_id)
    return (
        f"{Invoice.objects.filter(organization_id=org_id, issue_date__gte=first).count()} "
        f"invoices, {cases.count()} failed, "
        f"{cases.filter(status=CaseStatus.RECOVERED).count()} recovered, "
        f"{cases.filter(status=CaseStatus.OPEN).count()} in dunning"
    )


def _gym(
    scenario: Scenario, clock: SimulatedClock, policy: str
) -> tuple[Organization, Location, Plan]:
    s = scenario
    org = organization_create(
        name=s.name[:100],
        slug=f"{slugify(s.name)[:40]}-{policy}-{Organization.objects.count() + 1}",
        clock=clock,
        default_currency=s.currency,
    )
    location = location_create(
        organization=org,
        name="Gym",
        timezone=s.timezone,
        currency=s.currency,
        country=s.country,
        locale=s.language,
    )
    Payday.objects.create(organization=org, location=location, days=list(s.paydays))
    plan = Plan.objects.create(
        organization=org,
        name="Monthly",
        code="monthly",
        interval="month",
        currency=s.currency,
        price=s.price,
    )
    plan.locations.add(location)
    p = policy_default(organization_id=org.pk, clock=clock)
    p.grace_days = s.grace_days
    p.retry_mode = RetryMode.SMART if policy == "smart" else RetryMode.FIXED
    p.retry_days = list(s.fixed_retry_days)
    p.max_attempts = s.max_attempts
    p.max_days = s.max_days
    p.final_action = s.final_action
    p.late_fee_kind = LateFeeKind.NONE  # a fee is an invoice of its own; it would be counted
    p.cancel_after_days = None
    p.full_clean()
    p.save()
    return org, location, plan


def _phone(country: str, i: int) -> str:
    """A valid mobile number in ``country``, different per member where the plan allows."""
    example = phonenumbers.example_number_for_type(country, phonenumbers.PhoneNumberType.MOBILE)
    if example is None:
        return ""
    national = str(example.national_number)
    candidate = phonenumbers.parse(f"+{example.country_code}{national[:-4]}{i % 10000:04d}")
    chosen = candidate if phonenumbers.is_valid_number(candidate) else example
    return phonenumbers.format_number(chosen, phonenumbers.PhoneNumberFormat.E164)
