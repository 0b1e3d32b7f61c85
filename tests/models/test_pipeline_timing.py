"""The rate baseline's timing: chunked over distinct rates, same numbers, bounded memory."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pandas as pd
import pytest

from churnml.data import simulate_transactions
from churnml.features import build_features
from churnml.models import pipeline
from churnml.models.baseline import rate_baseline
from churnml.models.pipeline import RateBaselineScorer
from churnml.models.timing import TIMING_COLUMNS, timing_from_cdf


def _features(n: int, seed: int) -> pd.DataFrame:
    """What the baseline reads of a feature table, with nearly every rate distinct."""
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "n_purchases": rng.integers(1, 60, n),
            "tenure_days": rng.integers(0, 2000, n),
            "avg_purchase_value": rng.gamma(2.0, 20.0, n),
        },
        index=pd.Index([f"c{i:06d}" for i in range(n)], name="customer_id"),
    )


def test_baseline_timing_is_the_unchunked_computation(monkeypatch):
    log, _ = simulate_transactions(2000, seed=11)
    as_of = pd.Timestamp("2021-03-31")
    feats = build_features(log, as_of)
    rate, _ = rate_baseline(feats)
    # every customer at once, as one customers x grid array
    whole = timing_from_cdf(
        lambda days: -np.expm1(-rate[:, None] * days[None, :]), 365, feats.index
    )
    monkeypatch.setattr(pipeline, "_TIMING_CHUNK", 7)
    assert np.unique(rate).size > 5 * 7  # several chunks of distinct rates
    scores = RateBaselineScorer().fit(log, as_of).predict_features(feats, as_of, 365)
    # equal to the last bits: numpy's row sums may add in another order for another shape
    pd.testing.assert_frame_equal(scores[list(TIMING_COLUMNS)], whole, rtol=1e-12, atol=1e-12)


def test_baseline_timing_memory_does_not_grow_with_customers_times_horizon(monkeypatch):
    # 40,000 customers x 366 days of float64 is 117 MB per array; chunks of 2,000 rates, 6 MB
    feats = _features(40_000, seed=2)
    monkeypatch.setattr(pipeline, "_TIMING_CHUNK", 2_000)
    scorer = RateBaselineScorer().fit(feats, "2024-01-01")
    tracemalloc.start()
    try:
        scores = scorer.predict_features(feats, pd.Timestamp("2024-01-01"), 365)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert len(scores) == 40_000 and np.isfinite(scores[list(TIMING_COLUMNS)]).all().all()
    assert peak < 60e6, f"peak {peak / 1e6:.0f} MB"


@pytest.mark.parametrize("horizon", [1, 30, 400])
def test_baseline_timing_with_few_customers_and_any_horizon(horizon):
    feats = _features(5, seed=3)
    rate, _ = rate_baseline(feats)
    whole = timing_from_cdf(
        lambda days: -np.expm1(-rate[:, None] * days[None, :]), horizon, feats.index
    )
    scores = (
        RateBaselineScorer()
        .fit(feats, "2024-01-01")
        .predict_features(feats, pd.Timestamp("2024-01-01"), horizon)
    )
    pd.testing.assert_frame_equal(scores[list(TIMING_COLUMNS)], whole, rtol=1e-12, atol=1e-12)
