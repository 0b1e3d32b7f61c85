"""The acquisition-cost break-even, by hand and over a score table."""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from churnml.campaign import cac_breakeven
from churnml.exceptions import ConfigError, DataValidationError


def test_the_issue_example():
    # 100 x 20 % = 20 earned on the first order against 50: -30 left, 2 repeats of 20 cover it
    b = cac_breakeven(50, 100, 0.2)
    assert b.after_first_order == pytest.approx(-30)
    assert b.repeat_purchases_to_break_even == 2
    assert b.repeat_order_value == 100 and b.customers == 0 and b.share_paying_back is None


def test_an_exact_division_is_not_one_purchase_too_many():
    # 20 - 40 = -20: exactly one repeat of 20
    assert cac_breakeven(40, 100, 0.2).repeat_purchases_to_break_even == 1
    # 0.1 - 0.4 is -0.30000000000000004 in floats; 3 repeats of 0.1 pay it back
    assert cac_breakeven(0.4, 1, 0.1).repeat_purchases_to_break_even == 3


def test_a_first_order_that_pays_needs_no_repeat():
    b = cac_breakeven(10, 100, 0.2)
    assert b.after_first_order == pytest.approx(10)
    assert b.repeat_purchases_to_break_even == 0
    assert cac_breakeven(20, 100, 0.2).repeat_purchases_to_break_even == 0  # exactly even


def test_no_margin_never_pays_back():
    b = cac_breakeven(10, 100, 0)
    assert b.after_first_order == -10 and b.repeat_purchases_to_break_even is None


def test_a_different_repeat_order_value():
    # -30 left, repeats of 40 x 20 % = 8: ceil(30 / 8) = 4
    b = cac_breakeven(50, 100, 0.2, repeat_order_value=40)
    assert b.repeat_purchases_to_break_even == 4 and b.repeat_order_value == 40


@settings(max_examples=200, deadline=None)
@given(
    cac=st.integers(0, 100_000),
    value=st.integers(0, 100_000),
    repeat=st.integers(0, 100_000),
    margin=st.integers(0, 100),
)
def test_repeat_purchases_match_exact_arithmetic(cac, value, repeat, margin):
    # amounts in cents and margins in whole percent, as written; exact rationals by hand
    cac_f, value_f, repeat_f, margin_f = cac / 100, value / 100, repeat / 100, margin / 100
    b = cac_breakeven(cac_f, value_f, margin_f, repeat_order_value=repeat_f)
    rest = Fraction(cac, 100) - Fraction(value, 100) * Fraction(margin, 100)
    per_repeat = Fraction(repeat, 100) * Fraction(margin, 100)
    if rest <= 0:
        expected = 0
    elif per_repeat > 0:
        expected = math.ceil(rest / per_repeat)
    else:
        expected = None
    assert b.repeat_purchases_to_break_even == expected
    assert b.after_first_order == pytest.approx(float(-rest), abs=1e-9)


def test_share_paying_back_over_a_score_table():
    # CLV computed at a 20 % margin (clv_margin=0.2): already margin, as the rest to pay back
    scores = pd.DataFrame(
        {
            "customer_id": list("abcdefg"),
            "clv": [10.0, 30.0, 29.99, 100.0, np.nan, 0.0, 45.0],
            "value_tier": ["bronze", "silver", "silver", "gold", "gold", "bronze", "gold"],
        }
    )
    b = cac_breakeven(50, 100, 0.2, scores=scores, clv_margin=0.2)
    # 30 left after the first order; known CLVs 10, 30, 29.99, 100, 0, 45: 3 of 6 cover it
    known = [10.0, 30.0, 29.99, 100.0, 0.0, 45.0]
    assert b.customers == 6
    assert b.share_paying_back == pytest.approx(sum(c >= 30 for c in known) / 6) == 0.5
    assert b.clv_mean == pytest.approx(sum(known) / 6)
    assert b.clv_median == pytest.approx((29.99 + 30.0) / 2)  # 0 10 [29.99 30] 45 100
    # by tier: bronze 10, 0 -> 0; silver 30, 29.99 -> 1/2; gold 100, 45 (NaN left out) -> 1
    assert b.by_tier == pytest.approx({"bronze": 0.0, "silver": 0.5, "gold": 1.0})
    figures = b.to_dict()
    assert figures["share_paying_back"] == 0.5 and figures["repeat_purchases_to_break_even"] == 2
    # a first order that pays leaves nothing to cover: every non-negative CLV does
    paid = cac_breakeven(10, 100, 0.2, scores=scores)
    assert paid.share_paying_back == 1.0
    assert cac_breakeven(10, 100, 0.2, scores=scores.drop(columns="value_tier")).by_tier == {}


def test_a_revenue_clv_is_turned_into_margin_before_the_comparison():
    """The default CLV is revenue (margin 1.0): at a 20 % margin a CLV of 100 earns 20."""
    scores = pd.DataFrame({"customer_id": list("abc"), "clv": [100.0, 150.0, 160.0]})
    b = cac_breakeven(50, 100, 0.2, scores=scores)
    # as margin: 20, 30, 32 against the 30 left: b and c
    assert b.share_paying_back == pytest.approx(2 / 3)
    assert b.clv_mean == pytest.approx((20 + 30 + 32) / 3)
    with pytest.raises(ConfigError, match="clv_margin"):
        cac_breakeven(50, 100, 0.2, scores=scores, clv_margin=0)


def test_a_score_table_without_clv_is_named():
    with pytest.raises(DataValidationError, match="'clv'"):
        cac_breakeven(50, 100, 0.2, scores=pd.DataFrame({"customer_id": ["a"]}))


@pytest.mark.parametrize(
    ("args", "kwargs", "name"),
    [
        ((-1, 100, 0.2), {}, "acquisition_cost"),
        ((float("nan"), 100, 0.2), {}, "acquisition_cost"),
        (("50", 100, 0.2), {}, "acquisition_cost"),
        ((50, -100, 0.2), {}, "order_value"),
        ((50, float("inf"), 0.2), {}, "order_value"),
        ((50, 100, 1.2), {}, "margin"),
        ((50, 100, -0.1), {}, "margin"),
        ((50, 100, True), {}, "margin"),
        ((50, 100, 0.2), {"repeat_order_value": -1}, "repeat_order_value"),
    ],
)
def test_bad_inputs_are_named(args, kwargs, name):
    with pytest.raises(ConfigError, match=rf"^{name} must"):
        cac_breakeven(*args, **kwargs)
