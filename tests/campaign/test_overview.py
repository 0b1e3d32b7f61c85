"""Segment and value-tier tables against a pandas groupby written here."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from churnml.campaign import segment_overview, value_tier_overview
from churnml.exceptions import DataValidationError
from churnml.segments import SEGMENT_ACTIONS, SEGMENTS, VALUE_TIERS


def _scores(n=60, seed=1) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    # no "lost" customer and no "bronze" one: empty rows must still be there
    return pd.DataFrame(
        {
            "customer_id": [f"{i:03d}" for i in range(n)],
            "segment": rng.choice(["new", "active", "warm", "high_recall", "low_recall"], n),
            "value_tier": rng.choice(["gold", "silver"], n),
            "expected_revenue": rng.gamma(2.0, 10.0, n),
            "clv": rng.gamma(2.0, 40.0, n),
            "p_repurchase": rng.random(n),
        }
    )


@pytest.mark.parametrize(
    ("function", "by", "order"),
    [(segment_overview, "segment", SEGMENTS), (value_tier_overview, "value_tier", VALUE_TIERS)],
)
def test_sums_and_shares_match_a_groupby(function, by, order):
    scores = _scores()
    out = function(scores)
    assert out.index.tolist() == list(order) and out.index.name == by
    grouped = scores.groupby(by)
    for name in order:
        part = scores[scores[by] == name]
        row = out.loc[name]
        assert row["customers"] == len(part)
        assert row["share"] == pytest.approx(len(part) / len(scores))
        assert row["expected_revenue"] == pytest.approx(part["expected_revenue"].sum())
        assert row["clv"] == pytest.approx(part["clv"].sum())
        assert row["clv_share"] == pytest.approx(part["clv"].sum() / scores["clv"].sum())
        if len(part):
            assert row["mean_p_repurchase"] == pytest.approx(grouped["p_repurchase"].mean()[name])
        else:
            assert np.isnan(row["mean_p_repurchase"])
    assert out["share"].sum() == pytest.approx(1) and out["clv_share"].sum() == pytest.approx(1)
    empty = "lost" if by == "segment" else "bronze"
    assert out.loc[empty, "customers"] == 0 and out.loc[empty, "clv"] == 0


def test_segments_carry_their_actions():
    out = segment_overview(_scores())
    assert out["action"].tolist() == [SEGMENT_ACTIONS[s] for s in SEGMENTS]
    assert "action" not in value_tier_overview(_scores()).columns


def test_a_small_table_by_hand():
    scores = pd.DataFrame(
        {
            "segment": ["new", "warm", "warm", "lost"],
            "value_tier": ["gold", "gold", "bronze", "bronze"],
            "expected_revenue": [5.0, 3.0, 1.0, 0.5],
            "clv": [20.0, 10.0, 10.0, 0.0],
            "p_repurchase": [0.5, 0.4, 0.2, 0.0],
        }
    )
    out = segment_overview(scores)
    assert out["customers"].tolist() == [1, 0, 2, 0, 0, 1]
    assert out.loc["warm", "share"] == 0.5 and out.loc["warm", "clv_share"] == 0.5
    assert out.loc["warm", "expected_revenue"] == 4.0
    assert out.loc["warm", "mean_p_repurchase"] == pytest.approx(0.3)
    tiers = value_tier_overview(scores)
    assert tiers["customers"].tolist() == [2, 0, 2]
    assert tiers["clv"].tolist() == [30.0, 0.0, 10.0]
    assert tiers["clv_share"].tolist() == [0.75, 0.0, 0.25]


def test_an_empty_table_gives_zero_rows():
    empty = _scores().iloc[:0]
    out = segment_overview(empty)
    assert out.index.tolist() == list(SEGMENTS)
    assert (out["customers"] == 0).all() and (out["share"] == 0).all()
    assert (out["clv_share"] == 0).all()


@pytest.mark.parametrize("function", [segment_overview, value_tier_overview])
def test_missing_columns_are_named(function):
    with pytest.raises(DataValidationError, match="'clv', 'p_repurchase'"):
        function(_scores().drop(columns=["clv", "p_repurchase"]))
