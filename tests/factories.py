"""Test data built through the real services (so tests exercise the same paths)."""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime
from typing import Any

from dues.billing.models import Subscription
from dues.billing.services import subscription_create
from dues.catalog.models import Plan, TaxRate
from dues.core.clock import SimulatedClock
from dues.core.models import Location, Organization
from dues.core.services import location_create, organization_create
from dues.members.models import Member
from dues.members.services import member_create
from dues.payments.gateways.sandbox import sandbox_tokenize
from dues.payments.models import PaymentMethod
from dues.payments.services import payment_method_add

_seq = itertools.count(1)

VISA_OK = "4242424242424242"
DECLINE_FUNDS = "4000000000009995"
DECLINE_GENERIC = "4000000000000002"
LOST_CARD = "4000000000009987"
LOST_REPLY = "4000000000000408"


def clock_at(year: int, month: int, day: int, hour: int = 12) -> SimulatedClock:
    return SimulatedClock(datetime(year, month, day, hour, tzinfo=UTC))


def make_org(
    clock: SimulatedClock, *, inclusive: bool = True, slug: str | None = None
) -> Organization:
    n = next(_seq)
    return organization_create(
        name=f"Gym {n}",
        slug=slug or f"gym-{n}",
        clock=clock,
        prices_include_tax=inclusive,
    )


def make_location(
    org: Organization,
    *,
    tz: str = "Europe/Stockholm",
    currency: str = "SEK",
    country: str = "SE",
    training_rate_bp: int = 600,
) -> Location:
    loc = location_create(
        organization=org,
        name=f"Location {next(_seq)}",
        timezone=tz,
        currency=currency,
        country=country,
    )
    if training_rate_bp:
        TaxRate.objects.create(
            organization=org,
            location=loc,
            category="training",
            name="VAT",
            rate_bp=training_rate_bp,
        )
    return loc


def make_plan(org: Organization, **kw: object) -> Plan:
    n = next(_seq)
    fields: dict[str, object] = {
        "name": f"Plan {n}",
        "code": f"plan-{n}",
        "interval": "month",
        "currency": "SEK",
        "price": 49900,
        "joining_fee": 0,
    }
    fields.update(kw)
    return Plan.objects.create(organization=org, **fields)


def make_member(org: Organization, clock: SimulatedClock, **kw: object) -> Member:
    n = next(_seq)
    return member_create(
        organization=org,
        first_name=str(kw.pop("first_name", f"Alex{n}")),
        last_name=str(kw.pop("last_name", f"Member{n}")),
        email=str(kw.pop("email", f"m{n}@example.com")),
        clock=clock,
        **kw,  # type: ignore[arg-type]
    )


def add_card(
    member: Member, clock: SimulatedClock, number: str = VISA_OK, exp: tuple[int, int] = (12, 2030)
) -> PaymentMethod:
    tok = sandbox_tokenize(number, exp[0], exp[1])
    return payment_method_add(
        payer=member,
        token=str(tok["token"]),
        brand=str(tok["brand"]),
        last4=str(tok["last4"]),
        exp_month=exp[0],
        exp_year=exp[1],
        clock=clock,
    )


def d(s: str) -> date:
    return date.fromisoformat(s)


def join(
    org: Organization,
    location: Location,
    clock: SimulatedClock,
    card: str = VISA_OK,
    *,
    exp: tuple[int, int] = (12, 2030),
    member_kw: dict[str, Any] | None = None,
    **plan_kw: object,
) -> tuple[Member, Subscription]:
    """A member with a card, signed up on a new plan on 15 January 2026."""
    member = make_member(org, clock, **(member_kw or {}))
    add_card(member, clock, card, exp=exp)
    sub = subscription_create(
        member=member,
        plan=make_plan(org, **plan_kw),
        location=location,
        start_date=d("2026-01-15"),
        clock=clock,
    )
    return member, sub


def luhn_number(prefix: str, length: int = 16) -> str:
    """A valid card number starting with ``prefix`` (for cards beyond the fixed test set)."""
    body = prefix.ljust(length - 1, "0")
    total = 0
    for i, ch in enumerate(reversed(body)):
        n = int(ch)
        if i % 2 == 0:
            n = n * 2 - 9 if n > 4 else n * 2
        total += n
    return body + str((10 - total % 10) % 10)
