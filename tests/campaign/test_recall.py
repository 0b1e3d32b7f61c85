"""The provisional recall list: budget, order, segments, reasons, parameter checks."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from churnml.campaign import RECALL_COLUMNS, recall_list
from churnml.exceptions import ConfigError, DataValidationError


def _scores(n=40, seed=0):
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "customer_id": [f"{i:04d}" for i in range(n)],
            "segment": rng.choice(
                ["new", "active", "warm", "high_recall", "low_recall", "lost"], n
            ),
            "value_tier": rng.choice(["gold", "silver", "bronze"], n),
            "p_alive": rng.random(n),
            "p_repurchase": rng.random(n),
            "expected_revenue": rng.gamma(2.0, 10.0, n),
        }
    )


def test_a_hand_computed_list():
    scores = pd.DataFrame(
        {
            "customer_id": ["001", "002", "003", "004", "005"],
            "segment": ["warm", "active", "high_recall", "low_recall", "lost"],
            "value_tier": ["gold", "gold", "silver", "bronze", "gold"],
            "p_alive": [0.9, 0.95, 0.41, 0.2, 0.05],
            "p_repurchase": [0.5, 0.7, 0.3, 0.1, 0.01],
            "expected_revenue": [12.0, 99.0, 23.1, 2.5, 50.0],
        }
    )
    out = recall_list(scores, budget=10, cost_per_contact=4, horizon_days=90)
    assert list(out.columns) == list(RECALL_COLUMNS)
    # at-risk only (not active, not lost); 10 // 4 = 2 contacts: 003 (23.10) then 001 (12.00)
    assert out["customer_id"].tolist() == ["003", "001"]
    assert out["rank"].tolist() == [1, 2]
    assert out["expected_value"].tolist() == pytest.approx([19.1, 8.0])
    assert out["cost"].tolist() == [4.0, 4.0] and out["cumulative_cost"].tolist() == [4.0, 8.0]
    assert out.loc[0, "reason"] == "high_recall: P(alive) 0.41, expected revenue 23.10 in 90 d"
    assert out.loc[1, "reason"] == "warm: P(alive) 0.90, expected revenue 12.00 in 90 d"
    everyone = recall_list(scores, budget=100, cost_per_contact=4)
    assert everyone["customer_id"].tolist() == ["003", "001", "004"]  # fewer than affordable
    assert everyone.loc[2, "expected_value"] == pytest.approx(-1.5)  # shown, not hidden
    assert "in " not in everyone.loc[0, "reason"].split("revenue")[1]


def test_segment_filter_and_limit():
    scores = _scores()
    lost = recall_list(scores, budget=1000, cost_per_contact=1, segment="lost")
    assert set(lost["segment"]) == {"lost"} and len(lost) == (scores["segment"] == "lost").sum()
    two = recall_list(scores, budget=1000, cost_per_contact=1, segment=["warm", "new"], limit=3)
    assert len(two) == 3 and set(two["segment"]) <= {"warm", "new"}
    assert recall_list(scores, budget=1000, cost_per_contact=1, limit=0).empty
    assert recall_list(scores, budget=0, cost_per_contact=1).empty


def test_decimal_budgets_buy_what_they_say():
    scores = _scores()
    out = recall_list(scores, budget=0.3, cost_per_contact=0.1)
    assert len(out) == 3 and out["cumulative_cost"].iloc[-1] <= 0.3


@settings(max_examples=60, deadline=None)
@given(
    budget=st.floats(0, 1e4, allow_nan=False),
    cost=st.floats(1e-3, 1e3, allow_nan=False),
    seed=st.integers(0, 3),
)
def test_never_over_budget_and_sorted(budget, cost, seed):
    out = recall_list(_scores(seed=seed), budget=budget, cost_per_contact=cost)
    assert len(out) <= int(budget // cost) + 1
    if len(out):
        assert out["cumulative_cost"].iloc[-1] <= budget
    assert out["expected_value"].is_monotonic_decreasing
    assert out["rank"].tolist() == list(range(1, len(out) + 1))
    assert out["segment"].isin(["warm", "high_recall", "low_recall"]).all()


def test_the_affordable_count_is_not_cut_short():
    scores = _scores(200)
    candidates = scores["segment"].isin(["warm", "high_recall", "low_recall"]).sum()
    out = recall_list(scores, budget=7 * 2.5, cost_per_contact=2.5)
    assert len(out) == min(7, candidates)


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"budget": -1, "cost_per_contact": 1}, "budget"),
        ({"budget": float("nan"), "cost_per_contact": 1}, "budget"),
        ({"budget": 10, "cost_per_contact": 0}, "cost_per_contact"),
        ({"budget": 10, "cost_per_contact": -2}, "cost_per_contact"),
        ({"budget": 10, "cost_per_contact": 1, "limit": -1}, "limit"),
        ({"budget": 10, "cost_per_contact": 1, "segment": "sleepy"}, "segment"),
        ({"budget": 10, "cost_per_contact": 1, "horizon_days": 0}, "horizon_days"),
    ],
)
def test_bad_parameters_are_named(kwargs, name):
    with pytest.raises(ConfigError, match=rf"^{name} must"):
        recall_list(_scores(), **kwargs)


def test_a_missing_column_is_named():
    with pytest.raises(DataValidationError, match="'expected_revenue'"):
        recall_list(_scores().drop(columns="expected_revenue"), budget=1, cost_per_contact=1)


def test_an_astronomical_budget_buys_everyone():
    # found by schemathesis through GET /v1/recall: 1e30 / 1 overflowed decimal division
    scores = _scores()
    everyone = recall_list(scores, budget=1e30, cost_per_contact=1.0)
    tiny_cost = recall_list(scores, budget=1e300, cost_per_contact=1e-300)
    assert (
        len(everyone) == len(tiny_cost) == len(recall_list(scores, budget=1e6, cost_per_contact=1))
    )
