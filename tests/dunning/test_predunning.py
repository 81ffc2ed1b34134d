"""Pre-dunning: card-expiry notices 30 and 7 days ahead, a notice before a yearly renewal,
and a heads-up to members whose next charge is likely to fail, each sent once; the risk
score learns from the gym's own history."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from dues.billing.models import Invoice
from dues.billing.services import subscription_create
from dues.core.clock import local_midnight
from dues.dunning.models import PreNotice, RiskScore
from dues.dunning.predunning import pre_dunning_run
from dues.dunning.risk import PRIOR_RATE, Charge, RiskModel
from dues.notify.models import Message
from dues.ops.jobs import bill, deliver
from dues.payments.services import payment_take_at_desk
from tests.factories import add_card, d, join, make_member, make_plan

pytestmark = pytest.mark.django_db

NO_FUNDS = "4000000000009995"
NOT_RENEWED = "5555555555554444"


def at_day(clock, location, day: date, hour: int = 9) -> None:
    clock.set(local_midnight(day, location.timezone) + timedelta(hours=hour))


def test_card_expiry_notices_30_and_7_days_ahead_once(org, location, clock, gateway):
    # Works until 28 February; the account updater does not renew this one.
    member, _ = join(
        org,
        location,
        clock,
        NOT_RENEWED,
        exp=(2, 2026),
        member_kw={"first_name": "Erik", "language": "en"},
    )
    sent_on = []
    day = d("2026-01-15")
    while day <= d("2026-03-01"):
        at_day(clock, location, day)
        for _ in range(2):  # twice a day: still one notice
            bill(as_of=day, clock=clock, gateway=gateway)
        deliver(clock=clock)
        if PreNotice.objects.count() > len(sent_on):
            sent_on.append(day)
        day += timedelta(days=1)
    assert sent_on == [d("2026-01-29"), d("2026-02-21")]
    emails = Message.objects.filter(member=member, channel="email").order_by("id")
    assert [m.subject for m in emails] == ["Your card expires on February 28, 2026"] * 2
    assert "before your next payment on February 15, 2026" in emails[0].body
    assert "Mastercard •••• 4444" in emails[0].body
    assert "http://127.0.0.1:8000/c/" in emails[0].body  # the signed card page
    assert Message.objects.filter(member=member, channel="in_app").count() == 2


def test_yearly_renewal_notice(org, location, clock, gateway):
    member = make_member(org, clock, language="sv")
    add_card(member, clock)
    subscription_create(
        member=member,
        plan=make_plan(org, interval="year", price=499000),
        location=location,
        start_date=d("2026-01-15"),
        clock=clock,
    )
    bill(as_of=d("2026-01-15"), clock=clock, gateway=gateway)
    for day in (d("2026-12-15"), d("2026-12-16"), d("2026-12-17")):
        at_day(clock, location, day)
        pre_dunning_run(clock=clock)
    [notice] = PreNotice.objects.filter(kind="renewal")
    assert notice.created_at.date() == date(2026, 12, 16)  # 30 days before 15 January
    deliver(clock=clock)
    email = Message.objects.get(
        member=member, channel="email", template="dunning/pre_notice_renewal"
    )
    assert email.subject == "Ditt årsmedlemskap förnyas den 15 januari 2027"
    assert "vi drar då 4\xa0990,00\xa0kr från Visa •••• 4242" in email.body


def test_risky_member_gets_a_heads_up_and_staff_see_the_score(org, location, clock, gateway):
    plan = make_plan(org)
    risky = make_member(org, clock, first_name="Risky")
    steady = make_member(org, clock, first_name="Steady")
    add_card(risky, clock, NO_FUNDS)
    add_card(steady, clock)
    for m in (risky, steady):
        subscription_create(
            member=m, plan=plan, location=location, start_date=d("2026-01-15"), clock=clock
        )
    day = d("2026-01-15")
    while day < d("2026-03-13"):
        at_day(clock, location, day)
        bill(as_of=day, clock=clock, gateway=gateway)
        for invoice in Invoice.objects.filter(payer=risky, status="open"):
            # Risky's first charges fail; Risky pays at the desk the same day.
            payment_take_at_desk(
                invoice=invoice, amount=invoice.amount_due, method="cash", clock=clock
            )
        day += timedelta(days=1)
    scores = {s.payer_id: s for s in RiskScore.objects.all()}
    assert set(scores) == {risky.pk, steady.pk}
    assert scores[risky.pk].score_bp >= 3000
    assert "several charges declined in the last year" in scores[risky.pk].reasons
    assert scores[steady.pk].score_bp < 3000
    assert scores[risky.pk].charge_on == d("2026-03-15")
    notices = PreNotice.objects.filter(kind="risky_charge")
    assert [(n.payer_id, n.created_at.date()) for n in notices] == [(risky.pk, date(2026, 3, 12))]


def test_risk_model_learns_from_history():
    prior = RiskModel()
    base = Charge(
        declines_before=1, tenure_days=400, card_expires=d("2030-12-31"), charge_on=d("2026-03-01")
    )
    before, _ = prior.score(base)
    assert before == pytest.approx(PRIOR_RATE * 3.0 * 0.8, rel=0.01)
    # This gym's members with one past decline fail far more often than the prior says.
    history = [
        Charge(1, 400, d("2030-12-31"), d("2026-01-01"), failed=i % 5 != 0) for i in range(200)
    ] + [Charge(0, 400, d("2030-12-31"), d("2026-01-01"), failed=i % 20 == 0) for i in range(800)]
    after, reasons = RiskModel.fit(history).score(base)
    assert after > 2 * before
    assert reasons == ["a charge declined in the last year"]
    no_card, why = prior.score(Charge(0, 400, None, d("2026-03-01")))
    assert (no_card, why) == (0.99, ["no usable card for the charge"])
