"""Metrics against hand-computed cases and independent reference formulas."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest

from churnml.data import load_transactions
from churnml.evaluation import (
    evaluate,
    expected_calibration_error,
    model_metrics,
    normalized_gini,
    top_share,
)
from churnml.features import build_labels


def kaggle_gini(actual, pred):
    """The classic Kaggle normalized-Gini reference (valid without ties in pred)."""

    def gini(a, p):
        order = np.lexsort((np.arange(len(a)), -p))
        a = np.asarray(a, float)[order]
        return (np.cumsum(a).sum() / a.sum() - (len(a) + 1) / 2.0) / len(a)

    return gini(actual, pred) / gini(actual, actual)


def test_normalized_gini_matches_reference_without_ties():
    rng = np.random.default_rng(0)
    actual = rng.gamma(0.5, 10, 500) * (rng.random(500) < 0.4)
    pred = actual + rng.normal(0, 5, 500)
    assert normalized_gini(actual, pred) == pytest.approx(kaggle_gini(actual, pred), rel=1e-9)
    assert normalized_gini(actual, actual) == pytest.approx(1.0)
    assert normalized_gini(actual, -actual) < -0.5


def test_gini_treats_ties_as_their_average_order():
    actual = np.array([0.0, 10.0, 0.0, 5.0])
    tied = np.array([1.0, 1.0, 1.0, 1.0])
    assert normalized_gini(actual, tied) == pytest.approx(0.0)
    # hand case: order [10, 5, 0, 0]: y = .667, 1, 1, 1 -> area by trapezoid
    assert normalized_gini(actual, np.array([0.1, 0.9, 0.2, 0.5])) == pytest.approx(1.0)


def test_top_share_and_ece_hand_cases():
    actual = np.array([100.0, 0, 0, 0, 0, 0, 0, 0, 0, 0])
    assert top_share(actual, np.arange(10)[::-1].astype(float)) == 1.0
    assert top_share(actual, np.arange(10).astype(float)) == 0.0
    y = np.array([1, 0, 1, 1])
    p = np.array([0.05, 0.05, 0.95, 0.95])
    # bins: {0.05, 0.05} -> |0.05 - 0.5| = .45 x 2 ; {0.95, 0.95} -> |0.95 - 1| = .05 x 2
    assert expected_calibration_error(y, p) == pytest.approx((0.9 + 0.1) / 4)


def small_case():
    """Four customers' scores and what they did: nobody buys after day 25."""
    idx = pd.Index(["a", "b", "c", "d"], name="customer_id")
    pred = pd.DataFrame(
        {
            "p_repurchase": [0.9, 0.2, 0.6, 0.1],
            "expected_purchases": [2.0, 0.2, 1.0, 0.1],
            "expected_revenue": [40.0, 2.0, 10.0, 1.0],
            "expected_days_to_next_purchase": [10.0, 50.0, 20.0, 60.0],
            "p_buy_7d": [0.3, 0.0, 0.1, 0.0],
            "p_buy_30d": [0.7, 0.1, 0.4, 0.05],
            "p_buy_90d": [0.9, 0.2, 0.6, 0.1],
        },
        index=idx,
    )
    labels = pd.DataFrame(
        {
            "bought": [True, False, True, False],
            "n_purchases": [3.0, 0, 1, 0],
            "revenue": [60.0, 0, 20, 0],
            "days_to_next": [4.0, np.nan, 25.0, np.nan],
        },
        index=idx,
    )
    return pred, labels


def test_model_metrics_small_case():
    pred, labels = small_case()
    m = model_metrics(pred, labels)
    assert m["auc"] == 1.0 and m["pr_auc"] == 1.0
    assert m["brier"] == pytest.approx(np.mean([0.01, 0.04, 0.16, 0.01]))
    assert m["buyers_ratio"] == pytest.approx(1.8 / 2)
    assert m["purchases_mae"] == pytest.approx(np.mean([1.0, 0.2, 0.0, 0.1]))
    assert m["revenue_ratio"] == pytest.approx(53 / 80)
    assert m["days_to_next_mae"] == pytest.approx(np.mean([6.0, 5.0]))
    assert m["top_decile_revenue_share"] == pytest.approx(60 / 80)
    # horizon seen in labels is 25 days: only the 7-day window is inside it
    assert m["timing_calibration_error"] == pytest.approx(abs(0.1 - 0.25))


def test_timing_error_takes_the_window_length_not_the_last_purchase_seen():
    # nobody buys after day 25 of a 90-day window
    pred, labels = small_case()
    # observed shares within 7, 30, 90 days: 1/4, 2/4, 2/4; predicted means .1, .3125, .45
    expected = np.mean([abs(0.1 - 0.25), abs(0.3125 - 0.5), abs(0.45 - 0.5)])
    m = model_metrics(pred, labels, horizon_days=90)
    assert m["timing_calibration_error"] == pytest.approx(expected)
    # a 60-day window has no 90-day point
    short = np.mean([abs(0.1 - 0.25), abs(0.3125 - 0.5)])
    m = model_metrics(pred, labels, horizon_days=60)
    assert m["timing_calibration_error"] == pytest.approx(short)
    # the length build_labels records in attrs stands in when none is given
    labels.attrs["horizon_days"] = 90
    assert model_metrics(pred, labels)["timing_calibration_error"] == pytest.approx(expected)


def test_labels_record_their_window_and_model_metrics_uses_it():
    lines = pd.DataFrame(
        {
            "customer_id": ["a", "b", "a", "b", "c"],
            "date": pd.to_datetime(
                ["2024-01-05", "2024-01-20", "2024-02-03", "2024-02-10", "2024-01-25"]
            ),
            "amount": [10.0, 20.0, 15.0, 5.0, 8.0],
        }
    )
    # the window ends 2024-04-30; the last purchase in it is 2024-02-10, day 10
    labels = build_labels(lines, "2024-01-31", 90, data_end="2024-04-30")
    pred = pd.DataFrame(
        {
            "p_repurchase": [0.8, 0.7, 0.2],
            "expected_purchases": [1.0, 1.0, 0.2],
            "expected_revenue": [12.0, 6.0, 1.0],
            "expected_days_to_next_purchase": [5.0, 12.0, 40.0],
            "p_buy_7d": [0.5, 0.2, 0.05],
            "p_buy_30d": [0.7, 0.6, 0.1],
            "p_buy_90d": [0.8, 0.7, 0.2],
        },
        index=pd.Index(["a", "b", "c"], name="customer_id"),
    )
    # observed: a on day 3, b on day 10, c never: 1/3, 2/3, 2/3
    gaps = [abs(0.25 - 1 / 3), abs(1.4 / 3 - 2 / 3), abs(1.7 / 3 - 2 / 3)]
    m = model_metrics(pred, labels)
    assert m["timing_calibration_error"] == pytest.approx(np.mean(gaps))
    assert labels.attrs["horizon_days"] == 90
    assert labels.loc[["c", "a"]].attrs["horizon_days"] == 90  # model_metrics subsets by .loc
    labels.attrs.clear()  # an explicit horizon wins over (and stands in for) the record
    m = model_metrics(pred, labels, horizon_days=90)
    assert m["timing_calibration_error"] == pytest.approx(np.mean(gaps))


def test_evaluate_scores_timing_over_the_whole_holdout_window():
    """The baseline's 90-day timing point counts although nobody buys after day 40."""
    rng = np.random.default_rng(5)
    days = pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 120, 200), unit="D")
    lines = pd.DataFrame(
        {"customer_id": [f"c{i % 50:02d}" for i in range(200)], "date": days, "amount": 10.0}
    )
    cutoff = pd.Timestamp("2024-04-30")
    late = pd.DataFrame(
        {
            "customer_id": [f"c{i:02d}" for i in range(0, 50, 5)],
            "date": cutoff + pd.to_timedelta(np.arange(1, 41, 4), unit="D"),
            "amount": 12.0,
        }
    )
    # a return on the window's last day: the data covers it, yet it is no purchase
    end = pd.DataFrame({"customer_id": ["c01"], "date": [cutoff + pd.Timedelta(days=90)]})
    tx = load_transactions(pd.concat([lines, late, end.assign(amount=-3.0)]))
    ev = evaluate(tx, cutoff, 90, models=["baseline"])
    pred, labels = ev.predictions["baseline"], ev.labels
    days_to_next = labels["days_to_next"].to_numpy(float)
    assert np.nanmax(days_to_next) <= 40
    observed = [np.mean(np.nan_to_num(days_to_next, nan=np.inf) <= t) for t in (7, 30, 90)]
    predicted = [pred[f"p_buy_{t}d"].mean() for t in (7, 30, 90)]
    expected = np.mean(np.abs(np.subtract(predicted, observed)))
    m = ev.metrics["baseline"]
    assert m["timing_calibration_error"] == pytest.approx(expected)


def _top_share_by_every_tie_order(actual, score, k):
    """Mean top-k share over every order of the tied customers (brute force)."""
    actual = np.asarray(actual, float)
    shares = []
    groups = [np.flatnonzero(score == v) for v in sorted(set(score), reverse=True)]
    for orders in itertools.product(*(itertools.permutations(g) for g in groups)):
        ranking = np.concatenate(orders)
        shares.append(actual[ranking[:k]].sum() / actual.sum())
    return float(np.mean(shares))


def test_top_share_splits_ties_at_the_cut_off_whatever_the_ids():
    # 10 customers, top decile = 1 slot; the best three are tied: each gets a third of it
    actual = np.array([0.0, 90.0, 0, 0, 0, 0, 0, 0, 0, 30.0])
    score = np.array([5.0, 5.0, 5.0, 1, 1, 1, 1, 1, 1, 0])
    assert top_share(actual, score) == pytest.approx((0 + 90 + 0) / 3 / 120)
    # 2 slots over a tie of 4 behind one sure customer (k = 3 of 12): brute force agrees
    actual = np.array([7.0, 0, 40, 0, 5, 0, 0, 0, 2, 0, 11, 0])
    score = np.array([9.0, 3, 3, 3, 3, 1, 1, 1, 1, 0, 0, 0])
    expected = _top_share_by_every_tie_order(actual, score, 3)
    assert expected == pytest.approx((7 + 2 / 4 * 45) / 65)
    assert top_share(actual, score, 0.25) == pytest.approx(expected)
    # reordering customers (their ids) leaves the share alone
    rng = np.random.default_rng(1)
    for _ in range(20):
        shuffle = rng.permutation(actual.size)
        assert top_share(actual[shuffle], score[shuffle], 0.25) == pytest.approx(expected)
    # a model predicting the same for everyone gets the random share
    assert top_share(actual, np.zeros(12), 0.25) == pytest.approx(0.25)
