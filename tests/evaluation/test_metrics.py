"""Metrics against hand-computed cases and independent reference formulas."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from churnml.evaluation import (
    expected_calibration_error,
    model_metrics,
    normalized_gini,
    top_share,
)


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


def test_model_metrics_small_case():
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
