from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from lifetimes import BetaGeoFitter

from churnml.data import (
    BGNBDParams,
    GammaGammaParams,
    load_transactions,
    simulate_retail_log,
    simulate_transactions,
)


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


# -- simulate_retail_log ------------------------------------------------------------------------


def test_retail_log_without_season_orders_as_the_bgnbd_log_does():
    """No season: the clock is the calendar, so orders fall where simulate_transactions buys."""
    lines, _ = simulate_retail_log(
        3000, seed=7, yearly=0.0, weekly=0.0, acquisition_days=84, observation_days=546
    )
    plain, _ = simulate_transactions(3000, seed=7, acquisition_days=84, observation_days=546)
    orders = lines[lines["order_id"].str.startswith("O")].drop_duplicates("order_id")
    # the calendar is hourly: a time is carried over to within a microsecond of a second
    got = orders[["customer_id", "date"]].sort_values(["customer_id", "date"])
    want = plain[["customer_id", "date"]].sort_values(["customer_id", "date"])
    assert len(got) == len(want)
    assert (got["customer_id"].to_numpy() == want["customer_id"].to_numpy()).all()
    gap = (got["date"].to_numpy() - want["date"].to_numpy()) / np.timedelta64(1, "s")
    assert np.abs(gap).max() <= 1.0


def test_retail_log_lines_orders_and_returns_hold_together():
    lines, truth = simulate_retail_log(4000, seed=2, return_share=0.05)
    assert list(lines.columns) == [
        "customer_id", "order_id", "date", "product_id", "quantity", "amount", "channel",
    ]  # fmt: skip
    assert lines["date"].is_monotonic_increasing
    assert lines["date"].max() < pd.Timestamp("2020-01-01") + pd.Timedelta(days=730)
    sales = lines[lines["order_id"].str.startswith("O")]
    per_order = sales.groupby("order_id").agg(
        customers=("customer_id", "nunique"),
        stamps=("date", "nunique"),
        channels=("channel", "nunique"),
        n=("product_id", "size"),
    )
    assert (per_order[["customers", "stamps", "channels"]] == 1).all().all()
    assert per_order["n"].mean() == pytest.approx(2.5, abs=0.05)
    assert (sales["quantity"] >= 1).all() and (sales["amount"] >= 0).all()
    # each return negates one earlier line of the same customer, product and order number
    returns = lines[lines["order_id"].str.startswith("R")]
    assert len(returns) / len(sales) == pytest.approx(0.05, abs=0.01)
    back = returns.assign(order_id=returns["order_id"].str.replace("R", "O"))
    matched = back.merge(
        sales,
        on=["customer_id", "order_id", "product_id", "channel"],
        suffixes=("_r", "_s"),
    )
    matched = matched[
        (matched["quantity_r"] == -matched["quantity_s"])
        & (matched["amount_r"] == -matched["amount_s"])
    ]
    assert matched.drop_duplicates(["order_id", "product_id", "date_r"]).shape[0] == len(returns)
    assert (matched["date_r"] > matched["date_s"]).all()
    # every customer's usual channel carries most of their orders
    usual = truth.set_index("customer_id")["channel"]
    assert (sales["channel"].to_numpy() == usual.loc[sales["customer_id"]].to_numpy()).mean() > 0.8
    # and the log validates as a shop's export, returns counted
    report = load_transactions(lines).report
    assert report.n_input == report.n_kept == len(lines)  # nothing in it is malformed
    assert report.n_customers == len(truth)


def test_retail_log_has_its_yearly_and_weekly_season():
    def orders(**season: float) -> pd.DataFrame:
        lines, _ = simulate_retail_log(20_000, seed=4, **season)
        return lines[lines["order_id"].str.startswith("O")].drop_duplicates("order_id")

    # against the same log without a season (whose customer base also grows and shrinks)
    season, flat = orders(yearly=0.35, weekly=0.15), orders(yearly=0.0, weekly=0.0)
    month = season["date"].dt.month.value_counts() / flat["date"].dt.month.value_counts()
    # the rate (1 + 0.35 cos) peaks near 10 December and bottoms out in June: about 2 to 1
    assert month[12] / month[6] > 1.6
    day = season["date"].dt.day_of_week.value_counts() / flat["date"].dt.day_of_week.value_counts()
    assert day[[0, 6]].min() > 1.15 * day[3]  # Sunday and Monday over Thursday


def test_retail_log_refuses_orders_without_lines():
    with pytest.raises(ValueError, match="lines_per_order"):
        simulate_retail_log(10, lines_per_order=0.5)
