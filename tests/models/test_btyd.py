"""BTYD estimators against published parameters (Fader, Hardie & Lee 2005) and lifetimes."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from lifetimes import BetaGeoFitter, GammaGammaFitter, ParetoNBDFitter
from lifetimes.datasets import load_cdnow_summary, load_cdnow_summary_data_with_monetary_value

from churnml.exceptions import ConfigError, InsufficientDataError, NotFittedError
from churnml.models import GammaGammaModel, TransactionModel, btyd
from churnml.models.btyd import pareto_no_purchase
from churnml.models.likelihood import ParetoRows


@pytest.fixture(scope="module")
def weekly():
    return load_cdnow_summary(index_col=[0])


@pytest.mark.parametrize(
    ("kind", "published"),
    [
        ("bgnbd", {"r": 0.2426, "alpha": 4.4135, "a": 0.7929, "b": 2.4258}),
        ("pareto", {"r": 0.5533, "alpha": 10.5776, "s": 0.6062, "beta": 11.6669}),
    ],
)
def test_published_parameters_on_cdnow(weekly, kind, published):
    model = TransactionModel(kind=kind).fit(weekly)
    for name, value in published.items():
        assert model.params_[name] == pytest.approx(value, rel=2e-3), name
    assert model.n_customers_ == 2357 and model.n_unique_rows_ < model.n_customers_


def test_gamma_gamma_published_parameters():
    summary = load_cdnow_summary_data_with_monetary_value()
    model = GammaGammaModel().fit(summary)
    assert model.params_["p"] == pytest.approx(6.25, rel=5e-3)
    assert model.params_["q"] == pytest.approx(3.74, rel=5e-3)
    assert model.params_["v"] == pytest.approx(15.44, rel=5e-3)
    assert model.n_fitted_ + model.n_excluded_ == len(summary)
    ref = GammaGammaFitter().fit(
        summary.loc[summary["frequency"] > 0, "frequency"],
        summary.loc[summary["frequency"] > 0, "monetary_value"],
    )
    repeat = summary[summary["frequency"] > 0]
    theirs = ref.conditional_expected_average_profit(repeat["frequency"], repeat["monetary_value"])
    ours = GammaGammaModel.from_json(model.to_json()).expected_spend(repeat)
    np.testing.assert_allclose(ours.to_numpy(), np.asarray(theirs), rtol=5e-3)


def test_weighted_fit_equals_plain_lifetimes_predictions(weekly):
    ours = TransactionModel(kind="bgnbd").fit(weekly)
    plain = BetaGeoFitter().fit(weekly["frequency"], weekly["recency"], weekly["T"])
    np.testing.assert_allclose(
        ours.p_alive(weekly).to_numpy(),
        plain.conditional_probability_alive(weekly["frequency"], weekly["recency"], weekly["T"]),
        rtol=1e-4,
    )
    expected = plain.conditional_expected_number_of_purchases_up_to_time(
        39, weekly["frequency"], weekly["recency"], weekly["T"]
    )
    np.testing.assert_allclose(ours.expected_purchases(weekly, 39), expected, rtol=1e-4)


@pytest.mark.parametrize("kind", ["bgnbd", "pareto", "mbgnbd"])
def test_expected_purchases_curve_equals_one_horizon_at_a_time(weekly, kind):
    model = TransactionModel(kind=kind).fit(weekly)
    times = np.array([4.3, 8.7, 26.0, 52.0])
    curve = model.expected_purchases_curve(weekly, times)
    assert curve.shape == (len(weekly), times.size)
    for j, t in enumerate(times):
        np.testing.assert_allclose(curve[:, j], model.expected_purchases(weekly, t), rtol=1e-12)
    # and lifetimes' own, for one horizon
    fitter = {"bgnbd": BetaGeoFitter, "pareto": ParetoNBDFitter}.get(kind)
    if fitter is not None:
        ref = fitter()
        ref.params_ = pd.Series(model.params_)
        theirs = ref.conditional_expected_number_of_purchases_up_to_time(
            26.0, weekly["frequency"], weekly["recency"], weekly["T"]
        )
        np.testing.assert_allclose(curve[:, 2], np.asarray(theirs), rtol=1e-9)


def test_pareto_p_alive_equals_lifetimes(weekly):
    model = TransactionModel(kind="pareto").fit(weekly)
    ref = ParetoNBDFitter()
    ref.params_ = pd.Series(model.params_)
    theirs = ref.conditional_probability_alive(weekly["frequency"], weekly["recency"], weekly["T"])
    np.testing.assert_allclose(model.p_alive(weekly).to_numpy(), np.asarray(theirs), rtol=1e-10)


def test_json_round_trip_scores_identically(weekly):
    model = TransactionModel(kind="mbgnbd", penalizer=0.001).fit(weekly)
    text = model.to_json()
    assert "pickle" not in text
    again = TransactionModel.from_json(text)
    assert again.kind == "mbgnbd" and again.penalizer == 0.001
    pd.testing.assert_series_equal(model.p_alive(weekly), again.p_alive(weekly))


def test_bad_parameters_and_inputs_are_named(weekly):
    with pytest.raises(ConfigError, match=r"TransactionModel\.kind must be one of"):
        TransactionModel(kind="bg").fit(weekly)
    with pytest.raises(ConfigError, match="penalizer must be a number >= 0"):
        TransactionModel(penalizer=-1).fit(weekly)
    with pytest.raises(ConfigError, match="missing: T"):
        TransactionModel().fit(weekly.drop(columns="T"))
    with pytest.raises(NotFittedError, match="not fitted"):
        TransactionModel().p_alive(weekly)
    one_timers = pd.DataFrame({"frequency": [0.0] * 20, "monetary_value": [0.0] * 20})
    with pytest.raises(InsufficientDataError, match="at least 10 repeat customers"):
        GammaGammaModel().fit(one_timers)


def test_singular_parameters_never_give_nan(weekly):
    """lifetimes' BG/NBD expectation divides by (a - 1); a = 1 must still score."""
    model = TransactionModel(kind="bgnbd")
    model.params_ = {"r": 0.25, "alpha": 4.4, "a": 1.0, "b": 2.4}
    expected = model.expected_purchases(weekly, 39)
    assert np.isfinite(expected).all() and (expected >= 0).all()
    alive = model.p_alive(weekly)
    assert (
        expected <= alive * (0.25 + weekly["frequency"]) / (4.4 + weekly["T"]) * 39 + 1e-9
    ).all()


def test_pareto_fit_does_not_depend_on_the_global_random_state(weekly):
    # lifetimes draws the Pareto/NBD starting point from np.random; two runs of train on the
    # same data must still give the same model (found by the MLflow reproducibility test)
    np.random.seed(1)  # noqa: NPY002 - the legacy global state is what lifetimes reads
    first = TransactionModel(kind="pareto").fit(weekly).params_
    np.random.seed(2)  # noqa: NPY002
    second = TransactionModel(kind="pareto").fit(weekly).params_
    assert first == second


@pytest.mark.parametrize("swap", [False, True])
def test_pareto_no_purchase_equals_lifetimes_term_for_term(weekly, swap):
    """The vectorised P(no purchase within t) is lifetimes' formula at n = 0, both branches."""
    params = {"r": 0.5533, "alpha": 10.5776, "s": 0.6062, "beta": 11.6669}
    if swap:  # alpha > beta takes lifetimes' other hypergeometric branch
        params = {**params, "alpha": 23.3, "beta": 5.29}
    fitter = ParetoNBDFitter()
    fitter.params_ = pd.Series(params)
    times = np.array([0.5, 1.0, 7.0, 26.0, 52.0, 200.0])
    x, t_x, T = (weekly[c].to_numpy() for c in ("frequency", "recency", "T"))
    ours = pareto_no_purchase(params, x, t_x, T, times)
    theirs = np.column_stack(
        [fitter.conditional_probability_of_n_purchases_up_to_time(0, t, x, t_x, T) for t in times]
    )
    np.testing.assert_allclose(ours, theirs, rtol=0, atol=1e-10)
    assert ((ours > 0) & (ours <= 1 + 1e-12)).all() and (np.diff(ours, axis=1) <= 1e-12).all()


def test_pareto_warm_start_reaches_the_same_optimum(weekly):
    cold = TransactionModel(kind="pareto").fit(weekly)
    # a neighbour's optimum, 5 % off in every parameter
    start = {k: v * 1.05 for k, v in cold.params_.items()}
    warm = TransactionModel(kind="pareto", start=start).fit(weekly)
    for name, value in cold.params_.items():
        assert warm.params_[name] == pytest.approx(value, rel=2e-3), name
    assert warm.converged_
    with pytest.raises(ConfigError, match="start must give r, alpha, s, beta"):
        TransactionModel(kind="pareto", start={"r": 1.0}).fit(weekly)


def _no_dropout_heterogeneity(n: int, seed: int = 0) -> pd.DataFrame:
    """Daily histories where everyone drops out at one rate: Pareto/NBD's ridge (s, beta -> oo)."""
    rng = np.random.default_rng(seed)
    T = rng.uniform(300, 700, n)
    rate = rng.gamma(0.75, 1 / 40, n)
    end = np.minimum(T, rng.exponential(1500, n))
    x, t_x = np.zeros(n), np.zeros(n)
    for i in range(n):
        times = np.cumsum(rng.exponential(1 / rate[i], 400))
        times = times[times < end[i]]
        x[i], t_x[i] = len(times), times[-1] if len(times) else 0.0
    return pd.DataFrame({"frequency": x, "recency": t_x, "T": T})


def test_pareto_fit_stops_on_the_ridge_instead_of_walking_it():
    """Without drop-out heterogeneity the likelihood rises along s, beta -> oo, and turns NaN.

    lifetimes' Nelder-Mead, started there (a warm start from a neighbour on the ridge), keeps
    its NaN vertex until the iteration limit: measured on 2,000 such customers, 2,999
    evaluations, 456 s, NaN at the end. The fit must start afresh, stop at the wall on s and
    say so.
    """
    summary = _no_dropout_heterogeneity(300)
    scale = 1 / summary["T"].max()
    x, t_x, T = (summary[c].to_numpy() for c in ("frequency", "recency", "T"))
    x, t_x, T, w = x.astype(int), t_x * scale, T * scale, np.ones(len(x))
    far = np.array([0.75, 40 * scale, 300.0, 1500 * 300 * scale])
    assert np.isnan(ParetoNBDFitter._negative_log_likelihood(far, x, t_x, T, w, 0.0))
    start = {"r": 0.75, "alpha": 40.0, "s": 300.0, "beta": 1500.0 * 300}
    model = TransactionModel(kind="pareto", start=start).fit(summary)
    assert model.converged_, model.fit_message_
    assert all(np.isfinite(v) and v > 0 for v in model.params_.values())
    assert model.params_["s"] <= btyd.PARETO_MAX_S
    # the ridge keeps the mean drop-out rate s / beta: the simulated one, 1 / 1500 a day
    assert model.params_["s"] / model.params_["beta"] == pytest.approx(1 / 1500, rel=0.5)
    if model.params_["s"] > 0.999 * btyd.PARETO_MAX_S:
        assert model.at_bound_ == ["s"]
    # below the wall, where the likelihood is finite, the objective is lifetimes' own
    near = np.array([0.75, 40 * scale, 3.0, 1500 * 3 * scale])
    rows = ParetoRows.of(x, t_x, T)
    assert btyd._pareto_objective(near, rows, w, 0.0) == pytest.approx(
        ParetoNBDFitter._negative_log_likelihood(near, x, t_x, T, w, 0.0), rel=1e-12
    )
    assert btyd._pareto_objective(far, rows, w, 0.0) == np.inf


@pytest.mark.parametrize("kind", ["bgnbd", "mbgnbd"])
def test_weighted_distinct_rows_and_a_warm_start_give_the_plain_fit(weekly, kind):
    plain = TransactionModel(kind=kind).fit(weekly)
    rows = weekly[["frequency", "recency", "T"]].value_counts().rename("n").reset_index()
    weighted = TransactionModel(kind=kind).fit(rows, sample_weight=rows["n"].to_numpy())
    # a start elsewhere (another penalizer's optimum) reaches the same optimum
    elsewhere = TransactionModel(kind=kind, penalizer=0.01).fit(weekly).params_
    warm = TransactionModel(kind=kind, start=elsewhere).fit(weekly)
    assert weighted.n_customers_ == plain.n_customers_ == len(weekly)
    assert len(rows) < len(weekly)
    for name, value in plain.params_.items():
        assert weighted.params_[name] == pytest.approx(value, rel=1e-5), name
        assert warm.params_[name] == pytest.approx(value, rel=1e-5), name
        assert elsewhere[name] != pytest.approx(value, rel=1e-2), name
    with pytest.raises(ConfigError, match="start must give r, alpha, a, b"):
        TransactionModel(kind=kind, start={"r": 1.0}).fit(weekly)


def test_distinct_triples_are_reused_for_the_same_frame_and_values(monkeypatch):
    summary = load_cdnow_summary()[["frequency", "recency", "T"]]
    calls = []
    real = pd.factorize
    monkeypatch.setattr(btyd.pd, "factorize", lambda *a, **k: calls.append(1) or real(*a, **k))
    codes, distinct = btyd.distinct_rfm(summary)
    made = len(calls)
    # the definition: each row is its distinct triple
    assert np.array_equal(distinct.to_numpy()[codes], summary.to_numpy(float))
    assert len(distinct) == len(summary.drop_duplicates())
    again_codes, again = btyd.distinct_rfm(summary)
    assert len(calls) == made  # nothing factorised again
    assert again_codes is codes and again.equals(distinct) and again is not distinct
    with pytest.raises(ValueError):
        again_codes[0] = 1  # shared, so read-only
    # the same frame changed in place (its block, which the cache must not share), or an
    # equal frame elsewhere: factorised again
    changed = summary.copy()
    btyd.distinct_rfm(changed)
    changed.loc[changed.index[0], "T"] = 1e6
    changed.loc[changed.index[1], ["frequency", "recency", "T"]] = changed.iloc[2].to_numpy()
    new_codes, new = btyd.distinct_rfm(changed)
    assert len(calls) == 3 * made
    assert np.array_equal(new.to_numpy()[new_codes], changed.to_numpy(float))
    assert new_codes[1] == new_codes[2]
