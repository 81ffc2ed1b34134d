"""Property tests for integer money arithmetic (DESIGN: money, tax, rounding)."""

from __future__ import annotations

from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dues.core.money import (
    MoneyError,
    allocate,
    percent_of,
    round_half_up,
    tax_exclusive_part,
)

amounts = st.integers(min_value=-10_000_000_00, max_value=10_000_000_00)
weights = st.lists(st.integers(min_value=0, max_value=1_000_000), min_size=1, max_size=12)


@settings(deadline=None, max_examples=300)
@given(total=amounts, ws=weights)
def test_allocate_sums_exactly_and_stays_within_one_of_proportional(total, ws):
    parts = allocate(total, ws)
    assert len(parts) == len(ws)
    assert sum(parts) == total
    weight_sum = sum(ws)
    if weight_sum == 0:
        assert parts == [total] + [0] * (len(ws) - 1)
        return
    for part, w in zip(parts, ws, strict=True):
        exact = Fraction(total * w, weight_sum)
        assert abs(part - exact) < 1
        assert isinstance(part, int)


def test_allocate_exact_examples():
    assert allocate(100, [1, 1, 1]) == [34, 33, 33]
    assert allocate(10, [3, 7]) == [3, 7]
    assert allocate(1, [1, 1]) == [1, 0]
    assert allocate(49900, [47075, 2825]) == [47075, 2825]
    with pytest.raises(MoneyError):
        allocate(10, [])


@settings(deadline=None, max_examples=300)
@given(gross=amounts, rate=st.integers(min_value=0, max_value=5000))
def test_tax_exclusive_part_adds_back_to_gross(gross, rate):
    net, tax = tax_exclusive_part(gross, rate)
    assert net + tax == gross
    exact = Fraction(gross * rate, 10000 + rate)
    assert abs(tax - exact) <= Fraction(1, 2)


def test_tax_exclusive_part_examples():
    assert tax_exclusive_part(49900, 600) == (47075, 2825)
    assert tax_exclusive_part(19900, 2500) == (15920, 3980)
    assert tax_exclusive_part(0, 600) == (0, 0)
    assert tax_exclusive_part(-49900, 600) == (-47075, -2825)


@settings(deadline=None, max_examples=300)
@given(n=st.integers(min_value=-(10**12), max_value=10**12), d=st.integers(1, 10**6))
def test_round_half_up_is_nearest_with_halves_away_from_zero(n, d):
    value = Fraction(n, d)
    r = round_half_up(value)
    assert abs(r - value) <= Fraction(1, 2)
    if abs(r - value) == Fraction(1, 2):
        assert abs(r) > abs(value)


def test_round_and_percent_examples():
    assert round_half_up(Fraction(5, 2)) == 3
    assert round_half_up(Fraction(-5, 2)) == -3
    assert round_half_up(Fraction(7, 3)) == 2
    assert percent_of(49900, 2500) == 12475
    assert percent_of(199, 5000) == 100
