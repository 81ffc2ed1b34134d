"""DESIGN invariant 9: card numbers never reach our database or logs."""

from __future__ import annotations

import logging
import re
from datetime import timedelta

import pytest
from django.apps import apps
from django.core.exceptions import ValidationError
from django.db import models

from dues.billing.services import subscription_create
from dues.core.clock import local_date
from dues.ops.jobs import bill
from dues.payments.gateways.sandbox import TEST_CARDS, sandbox_tokenize
from dues.payments.models import Payment, PaymentMethod
from dues.payments.services import payment_method_add, refund_create
from tests.factories import add_card, d, make_member, make_plan

pytestmark = pytest.mark.django_db

DIGIT_RUN = re.compile(r"(?<!\d)\d{13,19}(?!\d)")


def luhn_ok(number: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(number)):
        n = int(ch)
        if i % 2:
            n = n * 2 - 9 if n > 4 else n * 2
        total += n
    return total % 10 == 0


def pans_in(text: str) -> list[str]:
    # Runs of digits, also with spaces or dashes between groups.
    squashed = re.sub(r"(?<=\d)[ -](?=\d)", "", text)
    return [m for m in DIGIT_RUN.findall(squashed) if luhn_ok(m)]


def test_scanner_finds_pans():
    assert pans_in("card 4242 4242 4242 4242 ok") == ["4242424242424242"]
    assert pans_in('{"n": "5555-5555-5555-4444"}') == ["5555555555554444"]
    assert pans_in("order 1234567890123") == []  # not Luhn-valid


@pytest.mark.parametrize(
    "token", ["4242424242424242", "4242 4242 4242 4242", "5555555555554444", "4000000000000408"]
)
def test_payment_method_refuses_a_card_number_as_token(org, clock, token):
    member = make_member(org, clock)
    with pytest.raises(ValidationError) as err:
        payment_method_add(
            payer=member,
            token=token,
            last4="4242",
            brand="visa",
            exp_month=12,
            exp_year=2030,
            clock=clock,
        )
    assert list(err.value.message_dict) == ["token"]
    assert PaymentMethod.objects.count() == 0


def test_payment_method_keeps_only_four_digits(org, clock):
    member = make_member(org, clock)
    with pytest.raises(ValidationError) as err:
        payment_method_add(
            payer=member,
            token="tok_x",
            last4="424242",
            brand="visa",
            exp_month=12,
            exp_year=2030,
            clock=clock,
        )
    assert list(err.value.message_dict) == ["last4"]


def _text_values(model):
    fields = [
        f.attname
        for f in model._meta.concrete_fields
        if isinstance(f, models.CharField | models.TextField | models.JSONField)
    ]
    if not fields:
        return
    for row in model.objects.values_list(*fields):
        for value in row:
            if value is not None:
                yield str(value)


def test_no_card_number_anywhere_after_a_full_run(org, location, clock, gateway, caplog):
    caplog.set_level(logging.DEBUG)
    plan = make_plan(org)
    members = []
    for number in TEST_CARDS:
        member = make_member(org, clock)
        add_card(member, clock, number)
        subscription_create(
            member=member, plan=plan, location=location, start_date=d("2026-01-15"), clock=clock
        )
        members.append(member)
    for _ in range(40):
        bill(as_of=local_date(clock.now(), location.timezone), clock=clock, gateway=gateway)
        clock.advance(timedelta(days=1))
    payment = Payment.objects.filter(gateway_reference__gt="").first()
    assert payment is not None
    refund_create(payment=payment, amount=100, reason="sorry", clock=clock, gateway=gateway)
    assert sandbox_tokenize("4242424242424242", 1, 2030)["last4"] == "4242"

    scanned = 0
    found = []
    for model in apps.get_models():
        for value in _text_values(model):
            scanned += 1
            for pan in pans_in(value):
                found.append((model.__name__, pan))
    assert scanned > 200
    assert found == []
    assert [r.getMessage() for r in caplog.records if pans_in(r.getMessage())] == []
    assert set(PaymentMethod.objects.values_list("last4", flat=True)) == {
        n[-4:] for n in TEST_CARDS
    }
