from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from churnml.data import simulate_transactions, validate_transactions
from churnml.exceptions import ConfigError, InsufficientDataError
from churnml.features import btyd_summary, build_features, build_labels

AS_OF = pd.Timestamp("2020-06-30")


def _tiny() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "customer_id": ["a", "a", "a", "a", "a", "b", "a", "b"],
            "date": pd.to_datetime(
                [
                    "2020-01-01",
                    "2020-03-01",
                    "2020-06-01",
                    "2020-06-01",
                    "2020-06-20",
                    "2020-06-30 23:00",
                    "2020-07-10",
                    "2020-08-01",
                ],
                format="ISO8601",
            ),
            "amount": [10.0, 20.0, 30.0, -5.0, 40.0, 7.0, 50.0, 8.0],
            "order_id": ["1", "2", "3", "3", "4", "5", "6", "7"],
            "product_id": ["x", "y", "x", "x", "z", "x", "x", "y"],
            "quantity": ["1", "2", "3", "-1", "4", "1", "5", "1"],
        }
    )


def test_hand_computed_features():
    f = build_features(validate_transactions(_tiny()), AS_OF)
    a, b = f.loc["a"], f.loc["b"]
    assert a["n_purchases"] == 4 and a["frequency"] == 3
    assert a["tenure_days"] == 181 and a["days_since_last"] == 10
    assert a["total_revenue"] == 95.0  # 10 + 20 + (30 - 5) + 40
    assert a["purchases_30d"] == 2 and a["revenue_30d"] == 65.0
    assert a["purchases_90d"] == 2 and a["purchases_180d"] == 3 and a["purchases_365d"] == 4
    gaps = [60.0, 92.0, 19.0]
    assert a["ipi_mean"] == pytest.approx(np.mean(gaps))
    assert a["ipi_std"] == pytest.approx(np.std(gaps, ddof=1))
    assert a["ipi_last"] == 19.0 and a["ipi_median"] == 60.0
    assert a["cycle_ratio"] == pytest.approx(10 / np.mean(gaps))
    assert a["return_share"] == pytest.approx(5 / 100) and a["n_return_lines"] == 1
    assert a["distinct_products"] == 3 and a["orders_per_purchase"] == 1
    assert a["units_per_purchase"] == pytest.approx(10 / 4)
    assert a["trend_purchases"] == pytest.approx((2 + 1) / (1 + 1))
    assert b["n_purchases"] == 1 and b["days_since_last"] == 0 and np.isnan(b["ipi_mean"])
    assert len(f) == 2


def test_labels_hand_computed():
    tx = validate_transactions(_tiny())
    lab = build_labels(tx, AS_OF, 32)  # the data ends on 2020-08-01 = as-of + 32 days
    assert lab.loc["a"].tolist() == [True, 1.0, 50.0, 10.0]
    assert lab.loc["b"].tolist() == [True, 1.0, 8.0, 32.0]
    lab = build_labels(tx, AS_OF, 31)
    assert lab.loc["a"].tolist() == [True, 1.0, 50.0, 10.0]
    assert not lab.loc["b", "bought"] and np.isnan(lab.loc["b", "days_to_next"])
    assert lab.loc["b", "n_purchases"] == 0 and lab.loc["b", "revenue"] == 0


def test_label_window_past_the_data_is_an_error():
    with pytest.raises(InsufficientDataError, match="runs past the end of the data"):
        build_labels(validate_transactions(_tiny()), AS_OF, 60)
    with pytest.raises(ConfigError, match="horizon_days"):
        build_labels(validate_transactions(_tiny()), AS_OF, 0)


@pytest.fixture(scope="module")
def synthetic():
    tx, _ = simulate_transactions(3000, seed=7, observation_days=400)
    tx["order_id"] = np.arange(len(tx)).astype(str)
    tx["product_id"] = (np.arange(len(tx)) % 13).astype(str)
    return tx


def _features_and_summary(frame, as_of, freq="D"):
    tx = validate_transactions(frame, policy=None)
    return build_features(tx, as_of, freq=freq), btyd_summary(tx, as_of, freq)


@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    cut=st.integers(120, 300),
    freq=st.sampled_from(["D", "W"]),
)
def test_rows_after_as_of_never_change_features(synthetic, seed, cut, freq):
    """Changing, deleting or adding any row dated after as-of leaves every feature unchanged."""
    rng = np.random.default_rng(seed)
    as_of = pd.Timestamp("2020-01-01") + pd.Timedelta(days=cut)
    before, summary_before = _features_and_summary(synthetic, as_of, freq)

    changed = synthetic.copy()
    after = (changed["date"] >= as_of + pd.Timedelta(days=1)).to_numpy()
    idx = np.flatnonzero(after)
    changed.loc[idx, "amount"] = rng.normal(0, 100, idx.size)  # incl. returns and zeros
    drop = rng.choice(idx, size=idx.size // 3, replace=False)
    changed = changed.drop(index=drop)
    extra = changed.sample(50, random_state=seed).copy()
    # new rows on the day after as-of (same week as as-of for W), for known and new customers
    extra["date"] = as_of + pd.Timedelta(days=1, hours=1)
    extra.loc[extra.index[:10], "customer_id"] = "new-customer"
    extra["amount"] = -extra["amount"]
    changed = pd.concat([changed, extra], ignore_index=True).sample(frac=1, random_state=seed)

    after_f, summary_after = _features_and_summary(changed, as_of, freq)
    pd.testing.assert_frame_equal(before, after_f)
    pd.testing.assert_frame_equal(summary_before, summary_after)


def test_rows_up_to_as_of_never_change_labels(synthetic):
    as_of = pd.Timestamp("2020-08-01")
    tx = validate_transactions(synthetic)
    customers = btyd_summary(tx, as_of).index
    base = build_labels(tx, as_of, 90, customers=customers)
    changed = synthetic.copy()
    early = changed["date"] < as_of + pd.Timedelta(days=1)
    changed.loc[early, "amount"] = changed.loc[early, "amount"] * 3 - 40
    changed = changed.drop(index=changed.index[early.to_numpy()][::4])
    again = build_labels(validate_transactions(changed), as_of, 90, customers=customers)
    pd.testing.assert_frame_equal(base, again)


def test_labels_agree_with_a_direct_count(synthetic):
    as_of, horizon = pd.Timestamp("2020-08-01"), 120
    lab = build_labels(validate_transactions(synthetic), as_of, horizon)
    window = synthetic[
        (synthetic["date"] >= as_of + pd.Timedelta(days=1))
        & (synthetic["date"] < as_of + pd.Timedelta(days=horizon + 1))
    ]
    days = window.assign(day=window["date"].dt.normalize()).groupby(["customer_id", "day"])
    per_day = days["amount"].sum().reset_index()
    direct = per_day.groupby("customer_id").agg(
        n=("day", "size"), rev=("amount", "sum"), first=("day", "min")
    )
    known = direct.index.intersection(lab.index)
    assert (lab.loc[known, "n_purchases"] == direct.loc[known, "n"]).all()
    np.testing.assert_allclose(lab.loc[known, "revenue"], direct.loc[known, "rev"])
    expected_days = (direct.loc[known, "first"] - as_of).dt.days
    assert (lab.loc[known, "days_to_next"] == expected_days).all()
    assert lab["days_to_next"].dropna().between(1, horizon).all()
    assert lab["bought"].sum() == len(known)


def test_weekly_features_follow_the_weekly_customers():
    """A customer whose purchase and return fall in one week has a purchase day but no
    purchase week: with weeks the features, the BTYD summary and the labels all leave them
    out (before, the daily rows did not fit the weekly summary and evaluate crashed)."""
    from churnml.features import btyd_summary

    lines = pd.DataFrame(
        {
            "customer_id": ["a", "a", "b", "b", "c", "c"],
            "date": pd.to_datetime(
                ["2024-01-01", "2024-01-20", "2024-01-08", "2024-01-10", "2024-01-03", "2024-01-16"]
            ),
            "amount": [10.0, 20.0, 40.0, -40.0, 5.0, 7.0],
        }
    )
    weekly = build_features(lines, "2024-01-31", freq="W")
    assert weekly.index.tolist() == btyd_summary(lines, "2024-01-31", "W").index.tolist()
    assert "b" not in weekly.index and {"a", "c"} <= set(weekly.index)
    daily = build_features(lines, "2024-01-31")
    assert "b" in daily.index
    # BTYD columns in weeks, the rest in days
    assert weekly.loc["a", "recency"] == 2.0 and daily.loc["a", "recency"] == 19.0
    assert weekly.loc["a", "days_since_last"] == daily.loc["a", "days_since_last"] == 11
