"""churnml's BG/NBD, MBG/NBD, Pareto/NBD and Gamma-Gamma objectives against lifetimes'."""

from __future__ import annotations

import numpy as np
import pytest
from lifetimes import BetaGeoFitter, GammaGammaFitter, ModifiedBetaGeoFitter, ParetoNBDFitter
from lifetimes.datasets import load_cdnow_summary, load_cdnow_summary_data_with_monetary_value
from scipy.optimize import approx_fprime
from scipy.special import gammaln

from churnml.data import load_cdnow
from churnml.features import btyd_summary
from churnml.models.likelihood import (
    ParetoRows,
    fit_beta_geometric,
    fit_gamma_gamma,
    gamma_gamma_negative_log_likelihood,
    negative_log_likelihood,
    pareto_log_likelihood,
    pareto_negative_log_likelihood,
)


@pytest.fixture(scope="module")
def cdnow_rows():
    s = load_cdnow_summary(index_col=[0])
    return (s["frequency"].to_numpy(float), s["recency"].to_numpy(float), s["T"].to_numpy(float))


@pytest.mark.parametrize(
    ("modified", "reference"), [(False, BetaGeoFitter), (True, ModifiedBetaGeoFitter)]
)
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_objective_and_gradient(cdnow_rows, modified, reference, seed):
    x, t_x, T = cdnow_rows
    rng = np.random.default_rng(seed)
    log_params = rng.normal(0, 1, 4)
    weights = rng.integers(1, 5, x.size).astype(float)
    penalizer = float(rng.choice([0.0, 0.01, 0.1]))
    value, grad = negative_log_likelihood(log_params, x, t_x, T, weights, penalizer, modified)
    expected = reference._negative_log_likelihood(
        log_params, x.astype(int), t_x, T, weights, penalizer
    )
    assert value == pytest.approx(float(expected), rel=1e-10)
    numeric = approx_fprime(
        log_params,
        lambda p: negative_log_likelihood(
            p, x, t_x, T, weights, penalizer, modified, gradient=False
        ),
        1e-7,
    )
    np.testing.assert_allclose(grad, numeric, rtol=1e-4, atol=1e-6)


def test_distinct_rows_with_weights_give_the_same_optimum(cdnow_rows):
    x, t_x, T = cdnow_rows
    full = fit_beta_geometric(x, t_x, T, np.ones_like(x))
    rows = np.unique(np.column_stack([x, t_x, T]), axis=0, return_counts=True)
    compact = fit_beta_geometric(*rows[0].T, rows[1].astype(float))
    for name in full.params:
        assert compact.params[name] == pytest.approx(full.params[name], rel=1e-5)
    assert full.converged and compact.converged and not full.at_bound


@pytest.fixture(scope="module")
def spend_rows():
    s = load_cdnow_summary_data_with_monetary_value()
    s = s[s["frequency"] > 0]
    return s["frequency"].to_numpy(float), s["monetary_value"].to_numpy(float)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_gamma_gamma_objective_and_gradient(spend_rows, seed):
    x, m = spend_rows
    rng = np.random.default_rng(seed)
    log_params = rng.normal(0, 1, 3)
    weights = rng.integers(1, 5, x.size).astype(float)
    penalizer = float(rng.choice([0.0, 0.01, 0.1]))
    value, grad = gamma_gamma_negative_log_likelihood(log_params, x, m, weights, penalizer)
    expected = GammaGammaFitter._negative_log_likelihood(log_params, x, m, weights, penalizer)
    assert value == pytest.approx(float(expected), rel=1e-10)
    numeric = approx_fprime(
        log_params,
        lambda p: gamma_gamma_negative_log_likelihood(p, x, m, weights, penalizer, gradient=False),
        1e-7,
    )
    np.testing.assert_allclose(grad, numeric, rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("penalizer", [0.0, 0.001, 0.1])
def test_gamma_gamma_fit_matches_lifetimes(spend_rows, penalizer):
    x, m = spend_rows
    theirs = GammaGammaFitter(penalizer_coef=penalizer).fit(x, m).params_
    ours = fit_gamma_gamma(x, m, np.ones_like(x), penalizer=penalizer)
    assert ours.converged and not ours.at_bound
    for name in ("p", "q", "v"):
        assert ours.params[name] == pytest.approx(float(theirs[name]), rel=1e-4), name


@pytest.mark.parametrize(
    "params",
    [
        [0.55, 10.6, 0.61, 11.7],  # alpha < beta
        [0.8, 12.0, 1.5, 4.0],  # alpha > beta
        [2.0, 0.5, 0.3, 0.5],  # alpha == beta
        [0.3, 400.0, 50.0, 9000.0],  # far along the ridge
    ],
)
def test_pareto_objective_per_distinct_pair_is_lifetimes(params):
    """A daily summary has many customers per (frequency, recency) and (frequency, age) pair."""
    summary = btyd_summary(load_cdnow(), "1997-09-30")
    x, t_x, T = (summary[c].to_numpy(float) for c in ("frequency", "recency", "T"))
    rows = ParetoRows.of(x, t_x, T)
    assert len(rows.recency_pairs[0]) < len(x) / 5 and len(rows.age_pairs[0]) < len(x) / 5
    params = np.array(params)
    ours = pareto_log_likelihood(params, rows)
    theirs = ParetoNBDFitter._conditional_log_likelihood(params, x, t_x, T)
    lost = np.isnan(theirs)
    np.testing.assert_allclose(ours[~lost], theirs[~lost], rtol=1e-11, atol=1e-11)
    # Far along the ridge lifetimes' signed logsumexp turns A_0 = 0 (recency == age: the
    # integral from recency to age is empty) into NaN; here it is 0, and the likelihood is
    # the closed form of a customer seen alive at the end.
    assert lost.sum() <= 3 and (t_x[lost] == T[lost]).all()
    r, alpha, s, beta = params
    xl, Tl = x[lost], T[lost]
    alive = (
        gammaln(r + xl)
        - gammaln(r)
        + r * np.log(alpha)
        + s * np.log(beta)
        - (r + xl) * np.log(alpha + Tl)
        - s * np.log(beta + Tl)
    )
    np.testing.assert_allclose(ours[lost], alive, rtol=1e-12)
    weights = np.random.default_rng(0).integers(1, 4, x.size).astype(float)
    if not lost.any():
        assert pareto_negative_log_likelihood(params, rows, weights, 0.01) == pytest.approx(
            ParetoNBDFitter._negative_log_likelihood(params, x.astype(int), t_x, T, weights, 0.01),
            rel=1e-12,
        )
    assert pareto_negative_log_likelihood(-params, rows, weights, 0.01) == np.inf
