"""The dashboard's figures from a known history run through the real billing on the
simulated clock, read on 10 March 2026. In Stockholm (SEK, prices include 6% VAT) eight
memberships start on 15 January 2026: monthly, quarterly, yearly, weekly, one with a
14-day trial, one on a lost card (cancelled by dunning on 12 February), one whose card
fails twice and then pays, one cancelled by staff on 10 February, one frozen from 20
February to 20 March; the first payment is partly refunded on 3 February; one more member
joins in Stockholm and one in Paris (EUR, 5.5% VAT) on 5 February."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from django.db import transaction
from django.db.models import Sum

from dues.billing.models import CreditNote, Invoice, Subscription
from dues.billing.services import (
    invoice_issue_one_off,
    subscription_cancel,
    subscription_create,
    subscription_freeze,
)
from dues.catalog.models import RevenueCategory
from dues.core.clock import SimulatedClock, local_date, local_midnight
from dues.core.models import Location
from dues.core.selectors import organization_zone
from dues.core.services import location_create
from dues.dunning.models import CaseStatus, DunningCase
from dues.members.models import Member
from dues.ops.jobs import bill
from dues.payments.gateways.sandbox import SandboxGateway
from dues.payments.models import Payment
from dues.payments.services import refund_create
from dues.reports.dashboard import (
    MONTHS,
    collected_by_month,
    dashboard_figures,
    memberships_by_month,
    month_ends,
    month_firsts,
    mrr_by_day,
    recovery_months,
    revenue_by_month,
)
from dues.reports.mrr import MONTHLY_FACTOR, monthly_price
from tests.dunning.test_dunning_run import FAILS_TWICE, books_clean
from tests.factories import (
    LOST_CARD,
    VISA_OK,
    add_card,
    d,
    join,
    make_location,
    make_member,
    make_org,
    make_plan,
)

pytestmark = pytest.mark.django_db

TODAY = d("2026-03-10")
TZ = "Europe/Stockholm"
MONTH_FIRSTS = [d(f"2025-{m:02d}-01") for m in range(3, 13)] + [
    d("2026-01-01"),
    d("2026-02-01"),
    d("2026-03-01"),
]
JAN, FEB, MAR = -3, -2, -1  # where the months of 2026 sit in a figure's list


def at(clock: SimulatedClock, day: date, hour: int = 9) -> None:
    clock.set(local_midnight(day, TZ) + timedelta(hours=hour))


def run_until(clock: SimulatedClock, gateway: SandboxGateway, first: date, last: date) -> None:
    """The scheduler's billing job once a day, at 09:00 in Stockholm, first to last."""
    day = first
    while day <= last:
        at(clock, day)
        bill(as_of=day, clock=clock, gateway=gateway)
        day += timedelta(days=1)


@dataclass
class History:
    subs: dict[str, Subscription]
    members: dict[str, Member]
    paris: Location


def _start(org, location, clock, name: str, price: int, currency: str = "SEK"):
    member = make_member(org, clock, first_name=name.title())
    add_card(member, clock)
    plan = make_plan(org, price=price, currency=currency)
    sub = subscription_create(
        member=member, plan=plan, location=location, start_date=clock_day(clock), clock=clock
    )
    return member, sub


def clock_day(clock: SimulatedClock) -> date:
    return local_date(clock.now(), TZ)


@pytest.fixture
def history(org, location, clock, gateway) -> History:
    at(clock, d("2026-01-15"))
    people = {
        "anna": join(org, location, clock, VISA_OK, price=49900),
        "bo": join(org, location, clock, VISA_OK, price=134900, interval="quarter"),
        "cai": join(org, location, clock, LOST_CARD, price=479000, interval="year"),
        "dan": join(org, location, clock, FAILS_TWICE, price=29900),
        "eva": join(org, location, clock, VISA_OK, price=9900, interval="week"),
        "fia": join(org, location, clock, VISA_OK, price=54900, trial_days=14),
        "gus": join(org, location, clock, VISA_OK, price=39900),
        "hal": join(org, location, clock, VISA_OK, price=44900),
    }
    members = {name: m for name, (m, _s) in people.items()}
    subs = {name: s for name, (_m, s) in people.items()}
    run_until(clock, gateway, d("2026-01-15"), d("2026-02-02"))

    at(clock, d("2026-02-03"), hour=8)
    first = Payment.objects.filter(payer=members["anna"]).order_by("received_at").first()
    assert first is not None
    refund_create(payment=first, amount=10000, reason="towel", clock=clock, gateway=gateway)
    run_until(clock, gateway, d("2026-02-03"), d("2026-02-04"))

    at(clock, d("2026-02-05"), hour=8)
    paris = make_location(
        org, tz="Europe/Paris", currency="EUR", country="FR", training_rate_bp=550
    )
    members["ivy"], subs["ivy"] = _start(org, location, clock, "ivy", 19900)
    members["zoe"], subs["zoe"] = _start(org, paris, clock, "zoe", 5900, "EUR")
    run_until(clock, gateway, d("2026-02-05"), d("2026-02-09"))

    at(clock, d("2026-02-10"), hour=8)
    subscription_cancel(sub=subs["gus"], clock=clock, reason="moving", immediately=True)
    run_until(clock, gateway, d("2026-02-10"), d("2026-02-19"))

    at(clock, d("2026-02-20"), hour=8)
    subs["hal"].refresh_from_db()
    subscription_freeze(
        sub=subs["hal"], start_date=d("2026-02-20"), end_date=d("2026-03-20"), clock=clock
    )
    run_until(clock, gateway, d("2026-02-20"), TODAY)
    books_clean()
    for sub in subs.values():
        sub.refresh_from_db()
    return History(subs, members, paris)


def net(gross: int, rate_bp: int) -> int:
    """What a tax-inclusive price leaves after its tax (rounded half up, once)."""
    tax = (gross * rate_bp * 2 + (10000 + rate_bp)) // (2 * (10000 + rate_bp))
    return gross - tax


def test_the_history_is_what_the_figures_assume(history):
    """Dunning cancelled the lost card's membership; the retried card paid in January."""
    subs = history.subs
    assert (subs["cai"].status, subs["cai"].cancel_at) == ("cancelled", d("2026-02-12"))
    assert (subs["gus"].status, subs["gus"].cancel_at) == ("cancelled", d("2026-02-10"))
    assert subs["hal"].status == "frozen"
    assert subs["fia"].trial_end == d("2026-01-29")
    cases = {c.payer_id: c.status for c in DunningCase.objects.all()}
    assert cases == {
        history.members["cai"].pk: CaseStatus.CANCELLED,
        history.members["dan"].pk: CaseStatus.RECOVERED,
    }


def test_months_are_this_one_and_the_twelve_before():
    assert month_firsts(TODAY) == MONTH_FIRSTS
    assert len(MONTH_FIRSTS) == MONTHS
    ends = month_ends(MONTH_FIRSTS, TODAY)
    assert ends[0] == d("2025-03-31")
    assert ends[-3:] == [d("2026-01-31"), d("2026-02-28"), TODAY]


def test_revenue_per_month_is_the_invoiced_net_less_credit_notes(org, history):
    revenue = revenue_by_month(organization_id=org.pk, months=MONTH_FIRSTS, tz=TZ)
    assert set(revenue) == {"SEK", "EUR"}
    assert revenue["SEK"][:JAN] == [0] * 10
    # The ledger agrees with the invoices' net amounts, month by month.
    for index, first in ((JAN, d("2026-01-01")), (FEB, d("2026-02-01")), (MAR, d("2026-03-01"))):
        after = d("2026-04-01") if index == MAR else MONTH_FIRSTS[index + 1]
        invoiced = Invoice.objects.filter(
            organization=org, currency="SEK", issue_date__gte=first, issue_date__lt=after
        ).aggregate(s=Sum("subtotal"))["s"]
        credited = (
            CreditNote.objects.filter(
                organization=org,
                created_at__gte=local_midnight(first, TZ),
                created_at__lt=local_midnight(after, TZ),
            ).aggregate(s=Sum("subtotal"))["s"]
            or 0
        )
        assert revenue["SEK"][index] == invoiced - credited
    # And by hand: January is ten invoices (eva's weekly three times), the yearly one
    # unpaid but still revenue.
    january = [net(p, 600) for p in (49900, 134900, 479000, 29900, 39900, 44900, 54900)] + [
        net(9900, 600)
    ] * 3
    assert revenue["SEK"][JAN] == sum(january) == 814246
    # February: ivy, eva four times, anna, dan, hal, fia; less the refund's credit note
    # (10000 incl. VAT: 9434 net).
    february = [net(p, 600) for p in (19900, 49900, 29900, 44900, 54900)] + [net(9900, 600)] * 4
    assert revenue["SEK"][FEB] == sum(february) - 9434 == 216133
    assert revenue["SEK"][MAR] == net(9900, 600) + net(19900, 600) == 28114
    assert revenue["EUR"][FEB:] == [net(5900, 550)] * 2 == [5592, 5592]


def test_revenue_month_is_the_organizations_local_month(org, location, clock):
    """Posted at 23:30 UTC on 31 January, which is already 1 February in Stockholm."""
    _member, sub = join(org, location, clock, VISA_OK, price=10600)
    clock.set(datetime(2026, 1, 31, 23, 30, tzinfo=UTC))
    with transaction.atomic():
        invoice_issue_one_off(
            sub=sub,
            kind="fee",
            description="Towel",
            amount=5300,
            category=RevenueCategory.PRODUCT,
            clock=clock,
        )
    months = [d("2026-01-01"), d("2026-02-01")]
    revenue = revenue_by_month(organization_id=org.pk, months=months, tz=TZ)
    assert revenue == {"SEK": [10000, 5000]}  # 10600 and 5300, each less 6% VAT
    assert revenue_by_month(organization_id=org.pk, months=months, tz="UTC") == {"SEK": [15000, 0]}


def test_collected_is_payments_less_refunds_by_month(org, history):
    collected = collected_by_month(organization_id=org.pk, months=MONTH_FIRSTS, tz=TZ)
    # January: every first invoice but the lost card's, eva three times.
    assert collected["SEK"][JAN] == 49900 + 134900 + 29900 + 39900 + 44900 + 54900 + 3 * 9900
    assert collected["SEK"][JAN] == 384100
    # February: ivy, eva four times, anna, dan, hal, fia, less the 100.00 refund.
    assert collected["SEK"][FEB] == 19900 + 4 * 9900 + 49900 + 29900 + 44900 + 54900 - 10000
    assert collected["SEK"][MAR] == 9900 + 19900
    assert collected["EUR"][FEB:] == [5900, 5900]
    received = Payment.objects.filter(organization=org, currency="SEK").aggregate(s=Sum("amount"))
    assert sum(collected["SEK"]) == received["s"] - 10000


# Monthly-normalised prices of the Stockholm memberships.
QUARTER = monthly_price(134900, "quarter")  # 44966
YEAR = monthly_price(479000, "year")  # 39916
WEEK = monthly_price(9900, "week")  # 42900


def test_monthly_factor_is_the_one_normalisation():
    assert (QUARTER, YEAR, WEEK) == (44966, 39916, 42900)
    assert MONTHLY_FACTOR["week"] == (52, 12)
    with pytest.raises(KeyError):
        monthly_price(100, "fortnight")


@pytest.mark.parametrize(
    ("day", "sek", "why"),
    [
        ("2026-01-14", 0, "nothing started yet"),
        # fia is in her trial until 29 January
        ("2026-01-20", 49900 + 29900 + 39900 + 44900 + QUARTER + YEAR + WEEK, "trial"),
        ("2026-01-31", 49900 + 29900 + 54900 + 39900 + 44900 + QUARTER + YEAR + WEEK, "all"),
        # gus ended on 10 February, cai (lost card) on the 12th; ivy began on the 5th
        ("2026-02-11", 49900 + 29900 + 54900 + 44900 + 19900 + QUARTER + YEAR + WEEK, "gus"),
        ("2026-02-19", 49900 + 29900 + 54900 + 44900 + 19900 + QUARTER + WEEK, "cai"),
        # hal is frozen from 20 February
        ("2026-02-20", 49900 + 29900 + 54900 + 19900 + QUARTER + WEEK, "frozen"),
        ("2026-03-10", 49900 + 29900 + 54900 + 19900 + QUARTER + WEEK, "today"),
        # and back on 20 March (as the freeze stands)
        ("2026-03-20", 49900 + 29900 + 54900 + 44900 + 19900 + QUARTER + WEEK, "unfrozen"),
    ],
)
def test_mrr_on_a_day(org, history, day, sek, why):
    mrr = mrr_by_day(organization_id=org.pk, days=[d(day)])
    assert mrr.get("SEK", [0]) == [sek], why


def test_mrr_at_month_ends_per_currency(org, history):
    mrr = mrr_by_day(organization_id=org.pk, days=month_ends(MONTH_FIRSTS, TODAY))
    assert mrr["SEK"][:JAN] == [0] * 10
    assert mrr["SEK"][JAN:] == [347282, 242466, 242466]
    assert mrr["EUR"][JAN:] == [0, 5900, 5900]


def test_new_and_ended_memberships_by_month(org, history):
    changes = memberships_by_month(organization_id=org.pk, months=MONTH_FIRSTS, today=TODAY)
    assert changes.new[JAN:] == [8, 2, 0]
    assert changes.ended[JAN:] == [0, 2, 0]  # gus and cai
    assert (sum(changes.new), sum(changes.ended)) == (10, 2)
    assert changes.ending == 0


def test_notice_given_counts_as_ending_not_ended(org, history, clock):
    at(clock, TODAY, hour=10)
    sub = subscription_cancel(sub=history.subs["anna"], clock=clock, reason="moving")
    assert sub.cancel_at == d("2026-03-15")  # the end of the period she has paid for
    changes = memberships_by_month(organization_id=org.pk, months=MONTH_FIRSTS, today=TODAY)
    assert (changes.ended[MAR], changes.ending) == (0, 1)
    # still in MRR until then; gone from the day it ends
    mrr = mrr_by_day(organization_id=org.pk, days=[d("2026-03-14"), d("2026-03-15")])
    assert mrr["SEK"][0] - mrr["SEK"][1] == 49900


def test_a_membership_cancelled_before_it_began_never_counts(org, location, clock):
    member = make_member(org, clock)
    sub = subscription_create(
        member=member,
        plan=make_plan(org, price=30000),
        location=location,
        start_date=d("2026-02-01"),
        clock=clock,
    )
    subscription_cancel(sub=sub, clock=clock, immediately=True)
    months = [d("2026-01-01"), d("2026-02-01")]
    changes = memberships_by_month(organization_id=org.pk, months=months, today=d("2026-02-10"))
    assert (changes.new, changes.ended) == ([0, 0], [0, 0])
    assert mrr_by_day(organization_id=org.pk, days=[d("2026-02-01")]) == {}


def test_failed_and_recovered_by_month(org, history):
    recovery = recovery_months(organization_id=org.pk, months=MONTH_FIRSTS)
    assert recovery.failed[JAN:] == [2, 0, 0]
    assert recovery.recovered[JAN:] == [1, 0, 0]
    assert recovery.failed_amount == {"SEK": [0] * 10 + [479000 + 29900, 0, 0]}
    assert recovery.recovered_amount == {"SEK": [0] * 10 + [29900, 0, 0]}
    assert recovery.rate(JAN) == Decimal("0.5000")
    assert recovery.rate() is None  # nothing failed in March


def test_dashboard_figures_all_together(org, history, django_assert_num_queries):
    now = local_midnight(TODAY, TZ) + timedelta(hours=12)
    # However many members: the database sums. Fourteen: time zone, accounts, revenue,
    # payments (and again per currency for February and March, paid in SEK and EUR),
    # refunds, memberships, freezes, arrears (three), recovery, currencies.
    with django_assert_num_queries(14):
        fig = dashboard_figures(organization_id=org.pk, now=now)
    assert (fig.today, fig.timezone, fig.months) == (TODAY, TZ, MONTH_FIRSTS)
    assert fig.currencies == ["EUR", "SEK"]
    assert fig.revenue["SEK"][JAN:] == [814246, 216133, 28114]
    assert fig.collected["SEK"][MAR] == 29800
    assert fig.mrr["SEK"][JAN:] == [347282, 242466, 242466]
    assert fig.mrr_days[-1] == TODAY
    assert fig.memberships.new[JAN:] == [8, 2, 0]
    assert fig.recovery.failed[JAN:] == [2, 0, 0]
    # Arrears: the lost card's yearly invoice, due 15 January, 54 days overdue.
    cai = history.members["cai"]
    assert [(b.bucket, b.currency, b.invoices, b.amount) for b in fig.arrears.buckets] == [
        ("31-60", "SEK", 1, 479000)
    ]
    assert [(p.payer_id, p.amount, p.days_overdue) for p in fig.arrears.payers] == [
        (cai.pk, 479000, 54)
    ]
    assert (fig.arrears_total("SEK"), fig.arrears_total("EUR")) == (479000, 0)


def test_organization_time_zone_is_its_first_locations(org, clock):
    other = make_org(clock)
    assert organization_zone(organization_id=other.pk) == "UTC"
    location_create(
        organization=other, name="NYC", timezone="America/New_York", currency="USD", country="US"
    )
    location_create(
        organization=other,
        name="A first by name",
        timezone="Asia/Bangkok",
        currency="THB",
        country="TH",
    )
    assert organization_zone(organization_id=other.pk) == "America/New_York"


def test_an_empty_organization_has_zeros(org, location, clock):
    now = local_midnight(TODAY, TZ) + timedelta(hours=12)
    fig = dashboard_figures(organization_id=org.pk, now=now)
    assert fig.currencies == ["SEK"]
    assert fig.revenue == fig.collected == fig.mrr == {"SEK": [0] * MONTHS}
    assert fig.memberships.new == fig.memberships.ended == [0] * MONTHS
    assert fig.arrears.buckets == []
