"""Known parameters back from simulated logs, and timing against simulation."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from churnml.data import BGNBDParams, GammaGammaParams, simulate_transactions
from churnml.features import btyd_summary, build_labels
from churnml.models import GammaGammaModel, TransactionModel
from churnml.models.timing import timing_from_cdf

TRUE = BGNBDParams(r=0.5, alpha=6.0, a=0.8, b=2.5)  # weekly rates
SPEND = GammaGammaParams(p=6.0, q=4.0, v=15.0)


@pytest.fixture(scope="module")
def log100k():
    return simulate_transactions(100_000, bgnbd=TRUE, spend=SPEND, seed=0)


@pytest.mark.slow
def test_bgnbd_parameters_recovered_from_100k_customers(log100k):
    """Daily summary of a weekly-rate simulation: alpha comes back in days (x 7).

    Tolerance 8 %: same-day purchases merge into one (the BTYD unit), a small known bias.
    """
    log, _ = log100k
    summary = btyd_summary(log, log["date"].max())
    model = TransactionModel(kind="bgnbd").fit(summary)
    got = model.params_
    assert got["r"] == pytest.approx(TRUE.r, rel=0.08)
    assert got["alpha"] / 7 == pytest.approx(TRUE.alpha, rel=0.08)
    assert got["a"] == pytest.approx(TRUE.a, rel=0.08)
    assert got["b"] == pytest.approx(TRUE.b, rel=0.08)


@pytest.mark.slow
def test_gamma_gamma_recovers_the_spend_distribution(log100k):
    """p and v trade off in the likelihood; their mean p*v/(q-1) is pinned down tightly."""
    log, _ = log100k
    model = GammaGammaModel().fit(btyd_summary(log, log["date"].max()))
    p, q, v = (model.params_[k] for k in ("p", "q", "v"))
    assert p * v / (q - 1) == pytest.approx(SPEND.p * SPEND.v / (SPEND.q - 1), rel=0.06)
    assert q == pytest.approx(SPEND.q, rel=0.15)
    assert p == pytest.approx(SPEND.p, rel=0.15) and v == pytest.approx(SPEND.v, rel=0.15)
    assert abs(model.spend_frequency_corr_) < 0.1  # independent by construction


@pytest.mark.slow
def test_purchase_timing_matches_simulation(log100k):
    """With the true parameters, P(buy within t) and the mean day of the next purchase given
    one within the horizon agree with what the simulated customers then did."""
    log, _ = log100k
    as_of = pd.Timestamp("2021-01-31")
    horizon = 120
    summary = btyd_summary(log, as_of)
    model = TransactionModel(kind="bgnbd")
    model.params_ = {"r": TRUE.r, "alpha": TRUE.alpha * 7, "a": TRUE.a, "b": TRUE.b}
    labels = build_labels(log, as_of, horizon, customers=summary.index)
    timing = timing_from_cdf(lambda d: model.purchase_cdf(summary, d), horizon, summary.index)
    days = labels["days_to_next"].to_numpy()
    for t, column in ((7, "p_buy_7d"), (30, "p_buy_30d"), (90, "p_buy_90d")):
        observed = float(np.mean(days <= t))
        assert timing[column].mean() == pytest.approx(observed, abs=0.01), t
    p_h = model.p_repurchase(summary, horizon).to_numpy()
    assert p_h.mean() == pytest.approx(labels["bought"].mean(), abs=0.01)
    # mean next-purchase day among buyers: each customer's conditional mean, weighted by P(buy)
    predicted = np.average(timing["expected_days_to_next_purchase"], weights=p_h)
    observed_days = float(np.nanmean(days))
    assert predicted == pytest.approx(observed_days, rel=0.03)
    inside = (days >= timing["days_to_next_purchase_p10"]) & (
        days <= timing["days_to_next_purchase_p90"]
    )
    assert inside[labels["bought"].to_numpy()].mean() == pytest.approx(0.8, abs=0.03)
