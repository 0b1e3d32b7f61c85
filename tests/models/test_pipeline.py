"""BTYD scoring from transactions: gates, fallbacks, no NaN, penalizer choice."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from churnml.data import load_transactions, simulate_transactions
from churnml.exceptions import ChurnmlWarning, InsufficientDataError
from churnml.features.rfm import btyd_summary
from churnml.models.pipeline import (
    PARETO_PENALIZER,
    PENALIZER_GRID,
    SCORE_COLUMNS,
    BTYDScorer,
    RateBaselineScorer,
)
from churnml.models.value import ValueSettings


@pytest.fixture(scope="module")
def small_log():
    log, _ = simulate_transactions(3000, seed=3)
    return log


def _assert_clean(scores: pd.DataFrame) -> None:
    assert list(scores.columns) == list(SCORE_COLUMNS)
    numeric = scores.drop(columns="next_purchase_date").to_numpy(float)
    assert np.isfinite(numeric).all()
    assert scores["p_repurchase"].between(0, 1).all() and scores["p_alive"].between(0, 1).all()
    assert (scores["p_repurchase"] <= scores["p_alive"] + 1e-12).all()
    assert (scores["p_buy_7d"] <= scores["p_buy_30d"] + 1e-12).all()
    assert (scores["days_to_next_purchase_p10"] <= scores["median_days_to_next_purchase"]).all()
    assert (scores["median_days_to_next_purchase"] <= scores["days_to_next_purchase_p90"]).all()


@pytest.mark.parametrize(
    "kind",
    ["bgnbd", "mbgnbd", pytest.param("pareto", marks=pytest.mark.slow)],  # lifetimes: ~3 s
)
def test_every_family_scores_cleanly(small_log, kind):
    scorer = BTYDScorer(kind=kind).fit(small_log, "2021-03-31")
    scores = scorer.predict(small_log, "2021-03-31", 90)
    _assert_clean(scores)
    assert scorer.diagnostics_["penalizer"] in (*PENALIZER_GRID, 0.1)
    if kind == "pareto":  # no search (see BTYDScorer)
        assert "skipped" in scorer.diagnostics_["penalizer_search"]
        assert scorer.penalizer_ == PARETO_PENALIZER
    else:
        assert "log_loss" in scorer.diagnostics_["penalizer_search"]
    assert scores.index.is_unique and len(scores) == scorer.diagnostics_["n_customers"]


def test_predictions_are_deterministic(small_log):
    a = BTYDScorer().fit(small_log, "2021-03-31").predict(small_log, "2021-03-31", 60)
    b = BTYDScorer().fit(small_log, "2021-03-31").predict(small_log, "2021-03-31", 60)
    pd.testing.assert_frame_equal(a, b)


def test_eligibility_gates_name_what_is_missing():
    one_timers = pd.DataFrame(
        {
            "customer_id": [str(i) for i in range(100)],
            "date": pd.Timestamp("2021-01-01"),
            "amount": 5.0,
        }
    )
    with pytest.raises(InsufficientDataError, match=r"0 bought again \(10 needed\)"):
        BTYDScorer().fit(load_transactions(one_timers), "2021-06-01")
    single = pd.DataFrame(
        {
            "customer_id": ["a"] * 3,
            "amount": 5.0,
            "date": pd.to_datetime(["2021-01-01", "2021-02-01", "2021-03-01"]),
        }
    )
    with pytest.raises(InsufficientDataError, match=r"1 customers \(30 needed\)"):
        BTYDScorer().fit(load_transactions(single), "2021-06-01")


def test_equal_spend_falls_back_to_mean_spend(small_log):
    # one line per customer-day, so every purchase is exactly 25
    day = small_log["date"].dt.normalize()
    flat = small_log[~pd.DataFrame({"c": small_log["customer_id"], "d": day}).duplicated()]
    flat = flat.assign(amount=25.0)
    with pytest.warns(ChurnmlWarning, match="Gamma-Gamma not used"):
        scorer = BTYDScorer(penalizer=0.0).fit(flat, "2021-03-31")
    assert scorer.spend_ is None and "fallback" in scorer.diagnostics_["spend_model"]
    scores = scorer.predict(flat, "2021-03-31", 90)
    _assert_clean(scores)
    ratio = scores["expected_revenue"] / scores["expected_purchases"]
    np.testing.assert_allclose(ratio, 25.0)


def test_extremely_frequent_buyers_stay_finite(small_log):
    days = pd.date_range("2020-01-01", "2021-03-31", freq="D")
    heavy = pd.DataFrame({"customer_id": "wholesale", "date": days, "amount": 1000.0})
    log = pd.concat([small_log, heavy], ignore_index=True)
    # one giant buyer makes spend and frequency correlate: the Gamma-Gamma assumption is flagged
    with pytest.warns(ChurnmlWarning, match="frequency and spend are correlated"):
        scorer = BTYDScorer(penalizer=0.0).fit(log, "2021-03-31")
    scores = scorer.predict(log, "2021-03-31", 90)
    _assert_clean(scores)
    assert scores.loc["wholesale", "p_alive"] > 0.99
    assert scores.loc["wholesale", "expected_purchases"] > 50


def test_short_history_skips_penalizer_search():
    log, _ = simulate_transactions(2000, seed=5, acquisition_days=10, observation_days=60)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ChurnmlWarning)
        # 32 days of history: enough to fit, but a 30-day validation window leaves 2 days
        scorer = BTYDScorer().fit(log, "2020-02-02")
    assert "skipped" in scorer.diagnostics_["penalizer_search"]
    assert scorer.penalizer_ == 1e-3


def test_clv_discounting_and_payback(small_log):
    no_discount = ValueSettings(annual_discount_rate=0.0)
    fitted = BTYDScorer(value=no_discount, penalizer=0.0).fit(small_log, "2021-03-31")
    undiscounted = fitted.predict(small_log, "2021-03-31", 365)
    # without discounting, a one-year CLV is the one-year expected revenue
    np.testing.assert_allclose(undiscounted["clv"], undiscounted["expected_revenue"], rtol=1e-9)
    discounted = (
        BTYDScorer(penalizer=0.0).fit(small_log, "2021-03-31").predict(small_log, "2021-03-31", 365)
    )
    assert (discounted["clv"] <= undiscounted["clv"] + 1e-9).all()
    assert (discounted["clv"] >= undiscounted["clv"] / 1.1 - 1e-9).all()


def test_baseline_is_the_past_rate():
    lines = pd.DataFrame(
        {
            "customer_id": ["a"] * 4,
            "amount": [10.0, 20, 30, 40],
            "date": pd.to_datetime(["2021-01-01", "2021-01-31", "2021-03-02", "2021-04-01"]),
        }
    )
    tx = load_transactions(lines)
    scores = RateBaselineScorer().fit(tx, "2021-04-10").predict(tx, "2021-04-10", 30)
    rate = 4 / 100  # 4 purchases over 99 days of tenure + 1
    assert scores.loc["a", "expected_purchases"] == pytest.approx(rate * 30)
    assert scores.loc["a", "p_repurchase"] == pytest.approx(1 - np.exp(-rate * 30))
    assert scores.loc["a", "expected_revenue"] == pytest.approx(rate * 30 * 25)


def test_acquisition_cost_gives_net_clv_and_payback(small_log):
    value = ValueSettings(acquisition_cost=20.0)
    scores = (
        BTYDScorer(value=value, penalizer=0.0)
        .fit(small_log, "2021-03-31")
        .predict(small_log, "2021-03-31", 90)
    )
    np.testing.assert_allclose(scores["net_clv"], scores["clv"] - 20.0)
    recovered = scores["clv"] >= 20.0
    assert scores.loc[recovered, "payback_days"].between(1, 365).all()
    assert scores.loc[~recovered, "payback_days"].isna().all()
    assert recovered.any() and (~recovered).any()


def test_scorer_json_round_trip_scores_identically(small_log):
    scorer = BTYDScorer(value=ValueSettings(margin=0.4, acquisition_cost=5.0)).fit(
        small_log, "2021-03-31"
    )
    text = scorer.to_json()
    assert "pickle" not in text and '"spend_excluded_customers"' in text
    again = BTYDScorer.from_json(text)
    pd.testing.assert_frame_equal(
        scorer.predict(small_log, "2021-03-31", 90), again.predict(small_log, "2021-03-31", 90)
    )


def test_too_short_a_history_is_named():
    log, _ = simulate_transactions(3000, seed=1, acquisition_days=5, observation_days=30)
    with pytest.raises(InsufficientDataError, match=r"spans 14 days; BTYD models need at least 28"):
        BTYDScorer().fit(log, "2020-01-15")


def test_parameters_from_a_customer_sample_score_everyone_alike(small_log):
    as_of = pd.Timestamp(small_log["date"].max()).normalize() - pd.Timedelta(days=60)
    full = BTYDScorer(penalizer=0.001, max_customers=None).fit(small_log, as_of)
    part = BTYDScorer(penalizer=0.001, max_customers=1000).fit(small_log, as_of)
    n = full.diagnostics_["n_customers"]
    assert full.diagnostics_["fitted_customers"] == n
    assert abs(part.diagnostics_["fitted_customers"] - 1000) < 150  # a hash sample of ids
    a, b = full.predict(small_log, as_of, 60), part.predict(small_log, as_of, 60)
    assert len(a) == len(b) == n  # everyone is still scored
    # a third of the customers pin the four parameters: the same ranking and total within 5 %
    assert np.corrcoef(a["p_repurchase"], b["p_repurchase"])[0, 1] > 0.99
    assert b["p_repurchase"].sum() == pytest.approx(a["p_repurchase"].sum(), rel=0.05)
    # drawn by id, not at random: with more customers (a smaller share) the sample of those
    # in both is a subset of the earlier one
    now = btyd_summary(small_log, as_of)
    before = now.iloc[: len(now) * 2 // 3]  # fewer customers
    assert len(before) < len(now)
    picked_now = set(part._sample(now).index) & set(before.index)
    picked_before = set(BTYDScorer(max_customers=1000)._sample(before).index)
    assert picked_now and picked_now <= picked_before
    # the draw is the id's pandas hash as text, mapped to [0, 1)
    hashed = pd.util.hash_pandas_object(now.index.to_series(), index=False).to_numpy()
    share = 1000 / len(now)
    expected = now.index[(hashed >> np.uint64(11)).astype(float) / 2.0**53 < share]
    assert part._sample(now).index.equals(expected)
