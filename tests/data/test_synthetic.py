from __future__ import annotations

import numpy as np
import pandas as pd
from lifetimes import BetaGeoFitter

from churnml.data import BGNBDParams, GammaGammaParams, simulate_transactions


def test_same_seed_same_log():
    a, ta = simulate_transactions(500, seed=3)
    b, tb = simulate_transactions(500, seed=3)
    pd.testing.assert_frame_equal(a, b)
    pd.testing.assert_frame_equal(ta, tb)
    c, _ = simulate_transactions(500, seed=4)
    assert not a.equals(c)


def test_log_respects_its_window_and_ids():
    tx, truth = simulate_transactions(2000, seed=1, observation_days=200, start="2021-01-01")
    assert tx["date"].min() >= pd.Timestamp("2021-01-01")
    assert tx["date"].max() < pd.Timestamp("2021-01-01") + pd.Timedelta(days=200)
    assert set(tx["customer_id"]) == set(truth["customer_id"])  # everyone buys once
    assert truth["customer_id"].str.len().eq(4).all()


def test_repeat_purchases_match_bgnbd_expectation():
    """Mean repeat purchases by time t equal the BG/NBD closed form (lifetimes' implementation)."""
    params = BGNBDParams(r=0.5, alpha=6.0, a=0.8, b=2.5)
    weeks = 52
    tx, _ = simulate_transactions(
        40_000, bgnbd=params, acquisition_days=0, observation_days=weeks * 7, seed=11
    )
    simulated = tx.groupby("customer_id").size().mean() - 1
    model = BetaGeoFitter()
    model.params_ = pd.Series({"r": params.r, "alpha": params.alpha, "a": params.a, "b": params.b})
    expected = float(model.expected_number_of_purchases_up_to_time(weeks))
    assert abs(simulated - expected) / expected < 0.03
    # and P(no repeat purchase in 52 weeks) = P(X(t)=0) from the same closed form
    p_zero = float(model.probability_of_n_purchases_up_to_time(weeks, 0))
    observed_zero = (tx.groupby("customer_id").size() == 1).mean()
    assert abs(observed_zero - p_zero) < 0.01


def test_spend_follows_gamma_gamma():
    spend = GammaGammaParams(p=6.0, q=4.0, v=15.0)
    tx, truth = simulate_transactions(20_000, spend=spend, seed=5)
    # E[Z] = p * v / (q - 1) over the population of customers, per transaction
    mean_per_customer = tx.groupby("customer_id")["amount"].mean()
    expected = spend.p * spend.v / (spend.q - 1)
    assert abs(mean_per_customer.mean() - expected) / expected < 0.03
    assert np.allclose(truth["mean_spend"], spend.p / truth["nu"])
