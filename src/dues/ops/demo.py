"""The demo gym, "Northside Fitness": two locations, a full catalog, ~200 members and six
months of history made by running the real billing day by day on a simulated clock.

Everything goes through the services (sign-ups, freezes, cancellations, plan changes, the
billing run), so the demo data obeys every invariant and ``dues ledger check`` passes.
The data is deterministic: the same ``today`` and seed give the same gym.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import transaction

from dues.billing.models import Subscription, SubscriptionStatus
from dues.billing.services import (
    subscription_cancel,
    subscription_change_plan,
    subscription_create,
    subscription_freeze,
)
from dues.catalog.models import AddOn, Coupon, Plan, TaxRate
from dues.core.clock import SimulatedClock, local_midnight
from dues.core.models import Location, Organization
from dues.core.services import location_create, organization_create
from dues.members.models import Member
from dues.members.services import emergency_contact_add, member_create
from dues.ops.jobs import bill
from dues.payments.gateways.base import Gateway
from dues.payments.gateways.sandbox import SandboxGateway, sandbox_tokenize
from dues.payments.services import payment_method_add

STOCKHOLM = "Europe/Stockholm"
DEMO_PASSWORD = "dues-demo"

SWEDISH_FIRST = [
    "Erik", "Lars", "Karl", "Anders", "Johan", "Per", "Nils", "Mikael", "Oskar", "Gustav",
    "Axel", "Emil", "Viktor", "Linus", "Henrik", "Björn", "Magnus", "Fredrik", "Jonas", "Elias",
    "Anna", "Eva", "Maria", "Karin", "Sara", "Emma", "Elin", "Ida", "Linnea", "Maja",
    "Ebba", "Frida", "Klara", "Sofia", "Astrid", "Ingrid", "Hanna", "Matilda", "Alva", "Saga",
]  # fmt: skip
SWEDISH_LAST = [
    "Andersson", "Johansson", "Karlsson", "Nilsson", "Eriksson", "Larsson", "Olsson",
    "Persson", "Svensson", "Gustafsson", "Pettersson", "Jonsson", "Jansson", "Hansson",
    "Bengtsson", "Lindberg", "Lindqvist", "Lundgren", "Bergström", "Sjöberg", "Holm",
    "Engström", "Wallin", "Åberg", "Öberg", "Nyström", "Hedlund", "Forsberg",
]  # fmt: skip
FRENCH_FIRST = [
    "Jean", "Pierre", "Louis", "Hugo", "Lucas", "Jules", "Arthur", "Théo", "Nicolas", "Julien",
    "Antoine", "Mathieu", "Léo", "Gabriel", "Raphaël", "Camille", "Chloé", "Léa", "Manon",
    "Inès", "Juliette", "Zoé", "Alice", "Louise", "Margaux", "Élodie", "Céline", "Amélie",
    "Hélène", "Sophie",
]  # fmt: skip
FRENCH_LAST = [
    "Martin", "Bernard", "Dubois", "Thomas", "Robert", "Richard", "Petit", "Durand", "Leroy",
    "Moreau", "Simon", "Laurent", "Lefèvre", "Michel", "Garcia", "David", "Bertrand", "Roux",
    "Vincent", "Fournier", "Morel", "Girard", "Bonnet", "Dupont", "Lambert", "Fontaine",
    "Rousseau", "Chevalier",
]  # fmt: skip

GOOD_CARDS = ["4242424242424242"] * 8 + ["5555555555554444"] * 2
DECLINING_CARDS = [
    "4000000000009995",  # insufficient_funds
    "4000000000000044",  # do_not_honor
    "4000000000000002",  # generic_decline
    "4000000000000069",  # expired_card
    "4000000000009987",  # lost_card
    "4000000000000127",  # incorrect_cvc
    "4000000000003002",  # fails twice, then succeeds
]

# (code suffix, name, interval, price SEK, price EUR, joining SEK, joining EUR, extras)
PLAN_ROWS: list[tuple[str, str, str, int, int, int, int, dict[str, int]]] = [
    ("monthly", "Monthly", "month", 49900, 5900, 29900, 3900, {"freeze_fee": 9900}),
    ("quarterly", "Quarterly", "quarter", 134900, 15900, 19900, 2900, {}),
    ("yearly", "Yearly", "year", 479000, 54900, 0, 0, {}),
    ("student", "Student weekly", "week", 9900, 1200, 0, 0, {}),
    (
        "commit12",
        "12-month commitment",
        "month",
        39900,
        4500,
        0,
        0,
        {"minimum_term_periods": 12, "notice_days": 30},
    ),
    ("trial", "Monthly with 14-day trial", "month", 54900, 6500, 0, 0, {"trial_days": 14}),
]


@dataclass
class Site:
    location: Location
    plans: dict[str, Plan]
    addons: dict[str, AddOn]
    first_names: list[str]
    last_names: list[str]
    language: str
    phone_prefix: str
    email_domain: str


@dataclass
class Gym:
    organization: Organization
    sites: list[Site]
    coupon: Coupon
    members: list[Member] = field(default_factory=list)


def site_create(
    *,
    org: Organization,
    name: str,
    timezone: str,
    currency: str,
    locale: str,
    country: str,
    rates: dict[str, int],
    address: str,
) -> Site:
    loc = location_create(
        organization=org,
        name=name,
        timezone=timezone,
        currency=currency,
        country=country,
        locale=locale,
        address=address,
    )
    for category, rate in rates.items():
        TaxRate.objects.create(
            organization=org, location=loc, category=category, name="VAT", rate_bp=rate
        )
    sek = currency == "SEK"
    suffix = currency.lower()
    plans: dict[str, Plan] = {}
    for code, label, interval, p_sek, p_eur, j_sek, j_eur, extras in PLAN_ROWS:
        extra = dict(extras)
        if "freeze_fee" in extra and not sek:
            extra["freeze_fee"] = 1000
        plan = Plan.objects.create(
            organization=org,
            name=f"{label} ({name})",
            code=f"{code}-{suffix}",
            interval=interval,
            currency=currency,
            price=p_sek if sek else p_eur,
            joining_fee=j_sek if sek else j_eur,
            **extra,
        )
        plan.locations.add(loc)
        plans[code] = plan
    addons = {
        "pt10": AddOn.objects.create(
            organization=org,
            name=f"Personal training 10-pack ({name})",
            code=f"pt10-{suffix}",
            kind=AddOn.Kind.PACK,
            currency=currency,
            price=550000 if sek else 55000,
            sessions=10,
        ),
        "towel": AddOn.objects.create(
            organization=org,
            name=f"Towel service ({name})",
            code=f"towel-{suffix}",
            kind=AddOn.Kind.RECURRING,
            currency=currency,
            price=4900 if sek else 500,
        ),
    }
    if sek:
        names = (SWEDISH_FIRST, SWEDISH_LAST, "sv", "+46 70", "example.se")
    else:
        names = (FRENCH_FIRST, FRENCH_LAST, "fr", "+33 6", "example.fr")
    return Site(loc, plans, addons, names[0], names[1], names[2], names[3], names[4])


def gym_create(*, clock: SimulatedClock, name: str, slug: str, paris: bool = True) -> Gym:
    org = organization_create(
        name=name,
        slug=slug,
        clock=clock,
        prices_include_tax=True,
        default_currency="SEK",
        invoice_prefix="NF",
    )
    sites = [
        site_create(
            org=org,
            name="Stockholm",
            timezone=STOCKHOLM,
            currency="SEK",
            locale="sv",
            country="SE",
            rates={"training": 600, "service": 2500, "goods": 2500},
            address="Sveavägen 44, 111 34 Stockholm",
        )
    ]
    if paris:
        sites.append(
            site_create(
                org=org,
                name="Paris",
                timezone="Europe/Paris",
                currency="EUR",
                locale="fr",
                country="FR",
                rates={"training": 2000, "service": 2000, "goods": 2000},
                address="12 rue Oberkampf, 75011 Paris",
            )
        )
    coupon = Coupon.objects.create(
        organization=org,
        code="WELCOME20",
        name="20% off the first three periods",
        kind=Coupon.Kind.PERCENT,
        percent_bp=2000,
        duration_periods=3,
    )
    return Gym(org, sites, coupon)


def _ascii(text: str) -> str:
    table = str.maketrans("åäöéèêëàâîïôûùüçÅÄÖÉ", "aaoeeeeaaiiouuucAAOE")
    return text.translate(table).lower()


def person_create(
    *,
    gym: Gym,
    site: Site,
    rng: random.Random,
    clock: SimulatedClock,
    today: date,
    payer: Member | None = None,
    last_name: str | None = None,
    emergency: bool = True,
) -> Member:
    first = rng.choice(site.first_names)
    last = last_name or rng.choice(site.last_names)
    n = len(gym.members) + 1
    age_days = rng.randint(17 * 365, 70 * 365) if payer is None else rng.randint(13 * 365, 25 * 365)
    member = member_create(
        organization=gym.organization,
        first_name=first,
        last_name=last,
        email=f"{_ascii(first)}.{_ascii(last)}{n}@{site.email_domain}",
        phone=f"{site.phone_prefix} {rng.randint(100, 999)} {rng.randint(1000, 9999)}",
        date_of_birth=today - timedelta(days=age_days),
        language=site.language,
        home_location=site.location,
        payer=payer,
        clock=clock,
    )
    gym.members.append(member)
    if emergency and rng.random() < 0.6:
        emergency_contact_add(
            member=member,
            name=f"{rng.choice(site.first_names)} {last}",
            phone=f"{site.phone_prefix} {rng.randint(100, 999)} {rng.randint(1000, 9999)}",
            relationship=rng.choice(["partner", "parent", "sibling", "friend"]),
        )
    return member


def card_add(
    member: Member, number: str, clock: SimulatedClock, exp: tuple[int, int] = (12, 2030)
) -> None:
    tok = sandbox_tokenize(number, exp[0], exp[1])
    payment_method_add(
        payer=member,
        token=str(tok["token"]),
        brand=str(tok["brand"]),
        last4=str(tok["last4"]),
        exp_month=exp[0],
        exp_year=exp[1],
        clock=clock,
    )


def live_subscription(member: Member) -> Subscription | None:
    return (
        Subscription.objects.filter(member=member)
        .exclude(status=SubscriptionStatus.CANCELLED)
        .select_related("plan", "location", "organization")
        .order_by("-pk")
        .first()
    )


def attempt(action: Callable[[], object]) -> bool:
    """Run one staff/member action; a refusal by the rules (e.g. a minimum term) is fine."""
    try:
        with transaction.atomic():
            action()
    except ValidationError:
        return False
    return True


def day_clock_set(clock: SimulatedClock, day: date, hour: int = 7) -> None:
    clock.set(local_midnight(day, STOCKHOLM) + timedelta(hours=hour))


Event = tuple[str, int]  # (kind, member index)


def demo_build(
    *,
    today: date,
    seed: int = 2026,
    members: int = 200,
    days: int = 182,
    gateway: Gateway | None = None,
    log: Callable[[str], None] = lambda s: None,
) -> Gym:
    """Build Northside Fitness with ``days`` of history ending on ``today``."""
    rng = random.Random(seed)
    gateway = gateway or SandboxGateway()
    start = today - timedelta(days=days)
    clock = SimulatedClock(local_midnight(start, STOCKHOLM) + timedelta(hours=7))
    gym = gym_create(clock=clock, name="Northside Fitness", slug="northside")

    # Who joins when: 40% are there from day one, the rest trickle in.
    joins: dict[int, list[int]] = {}
    households: list[int] = []  # indices of "joins" that bring dependants
    for i in range(members):
        join_offset = 0 if rng.random() < 0.4 else rng.randint(1, days - 1)
        joins.setdefault(join_offset, []).append(i)
        if rng.random() < 0.1:
            households.append(i)
    events: dict[int, list[Event]] = {}
    for kind, share in (("freeze", 0.06), ("cancel", 0.08), ("change", 0.06)):
        for i in range(members):
            if rng.random() < share:
                events.setdefault(rng.randint(20, days - 1), []).append((kind, i))

    people: dict[int, Member] = {}
    for offset in range(days + 1):
        day = start + timedelta(days=offset)
        day_clock_set(clock, day)
        for i in joins.get(offset, []):
            people[i] = _join(gym, rng, clock, day, household=i in households)
        for kind, i in sorted(events.get(offset, [])):
            member = people.get(i)
            sub = live_subscription(member) if member else None
            if sub is None or sub.status not in (
                SubscriptionStatus.ACTIVE,
                SubscriptionStatus.TRIALING,
            ):
                continue
            event_apply(gym, rng, clock, day, kind, sub)
        day_clock_set(clock, day, hour=9)
        bill(as_of=day, clock=clock, gateway=gateway, organization_id=gym.organization.pk)
        if offset % 30 == 0:
            log(f"  {day}: {len(gym.members)} members")
    return gym


def _join(
    gym: Gym, rng: random.Random, clock: SimulatedClock, day: date, *, household: bool
) -> Member:
    site = gym.sites[0] if len(gym.sites) == 1 or rng.random() < 0.65 else gym.sites[1]
    payer = person_create(gym=gym, site=site, rng=rng, clock=clock, today=day)
    if rng.random() < 0.9:
        number = rng.choice(GOOD_CARDS) if rng.random() < 0.88 else rng.choice(DECLINING_CARDS)
        card_add(payer, number, clock, exp=(rng.randint(1, 12), rng.randint(2028, 2031)))
    plan_code = rng.choices(
        ["monthly", "quarterly", "yearly", "student", "commit12", "trial"],
        weights=[40, 12, 8, 10, 20, 10],
    )[0]
    signers = [(payer, plan_code)]
    if household:
        for _ in range(rng.randint(1, 2)):
            dep = person_create(
                gym=gym,
                site=site,
                rng=rng,
                clock=clock,
                today=day,
                payer=payer,
                last_name=payer.last_name,
                emergency=False,
            )
            emergency_contact_add(
                member=dep, name=payer.full_name, phone=payer.phone, relationship="parent"
            )
            signers.append((dep, rng.choice(["monthly", "student"])))
    for member, code in signers:
        addons = [(site.addons["towel"], 1)] if rng.random() < 0.15 else None
        coupon = gym.coupon if rng.random() < 0.1 else None
        subscription_create(
            member=member,
            plan=site.plans[code],
            location=site.location,
            start_date=day,
            clock=clock,
            coupon=coupon,
            addons=addons,
            sold_online=rng.random() < 0.5,
        )
    return payer


def event_apply(
    gym: Gym, rng: random.Random, clock: SimulatedClock, day: date, kind: str, sub: Subscription
) -> None:
    if kind == "freeze":
        begin = day + timedelta(days=rng.randint(1, 10))
        length = rng.randint(14, 45)
        attempt(
            lambda: subscription_freeze(
                sub=sub,
                start_date=begin,
                end_date=begin + timedelta(days=length),
                clock=clock,
                reason=rng.choice(["travel", "injury", "parental leave"]),
            )
        )
    elif kind == "cancel":
        immediately = rng.random() < 0.25
        attempt(
            lambda: subscription_cancel(
                sub=sub,
                clock=clock,
                reason=rng.choice(["moving away", "too expensive", "not using it", "health"]),
                immediately=immediately,
                refund_unused=immediately,
            )
        )
    elif kind == "change":
        site = next(s for s in gym.sites if s.location.pk == sub.location_id)
        options = [p for p in site.plans.values() if p.pk != sub.plan_id and not p.trial_days]
        new = rng.choice(options)
        attempt(lambda: subscription_change_plan(sub=sub, new_plan=new, clock=clock))


def staff_users_create() -> list[tuple[str, str]]:
    User = get_user_model()
    logins = []
    if not User.objects.filter(username="staff").exists():
        User.objects.create_superuser("staff", "staff@northside.example", DEMO_PASSWORD)
    logins.append(("staff", DEMO_PASSWORD))
    if not User.objects.filter(username="owner").exists():
        User.objects.create_user(
            "owner", "owner@northside.example", DEMO_PASSWORD, is_staff=True, first_name="Owner"
        )
    logins.append(("owner", DEMO_PASSWORD))
    return logins
