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


def _daily_reference(cdf, horizon: int) -> pd.DataFrame:
    """The timing columns from the conditional CDF on every day, one customer at a time."""
    h = horizon
    grid = np.unique(np.round(np.linspace(0, h, min(h + 1, 96))).astype(int))
    rows = []
    for values in cdf(grid.astype(float)):
        f = np.interp(np.arange(h + 1), grid, np.maximum.accumulate(np.clip(values, 0, 1)))
        cond = f / f[-1]
        mean = float(sum(1.0 - cond[d] for d in range(h)))
        first = [next(d for d in range(h + 1) if cond[d] >= q - 1e-12) for q in (0.5, 0.1, 0.9)]
        rows.append([mean, *(max(float(d), 1.0) for d in first)])
    return pd.DataFrame(rows, columns=list(TIMING_COLUMNS[:4]))


@pytest.mark.parametrize("horizon", [1, 7, 90, 96, 97, 365, 1000])
def test_timing_summaries_equal_the_daily_computation(horizon):
    """Means and quantiles come from the grid in closed form; a day-by-day loop agrees."""
    rng = np.random.default_rng(horizon)
    rate, alive = rng.gamma(0.5, 0.05, 300), rng.uniform(0.05, 1.0, 300)

    def cdf(days: np.ndarray) -> np.ndarray:
        return alive[:, None] * -np.expm1(-rate[:, None] * days[None, :])

    got = timing_from_cdf(cdf, horizon, pd.RangeIndex(300))[list(TIMING_COLUMNS[:4])]
    want = _daily_reference(cdf, horizon)
    np.testing.assert_allclose(
        got["expected_days_to_next_purchase"], want["expected_days_to_next_purchase"], rtol=1e-9
    )
    for column in TIMING_COLUMNS[1:4]:
        np.testing.assert_array_equal(got[column].to_numpy(), want[column].to_numpy())
