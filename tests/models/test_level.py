"""Level factors: one logit shift for P(repurchase), scaled totals, a wrapper that persists."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from churnml.data import simulate_transactions
from churnml.exceptions import ConfigError, NotFittedError
from churnml.models import (
    BaseScorer,
    BTYDScorer,
    GBMScorer,
    LevelAdjusted,
    apply_level,
    learn_level,
    make_scorer,
)
from churnml.models.bundle import load_bundle, save_bundle
from churnml.models.level import LEVEL_CLIP, logit_shift
from churnml.settings import ValueSettings

AS_OF = pd.Timestamp("2021-03-31")


@pytest.fixture(scope="module")
def log():
    frame, _ = simulate_transactions(1200, seed=33, observation_days=500)
    return frame


@pytest.fixture(scope="module")
def scores(log):
    return BTYDScorer().fit(log, AS_OF).predict(log, AS_OF, 60)


def test_learn_level_is_the_clipped_geometric_mean():
    assert learn_level([0.5, 2.0]) == pytest.approx(1.0)
    assert learn_level([1.1, 1.21]) == pytest.approx(1.1**1.5)
    assert learn_level([float("nan"), 0.0, -1.0, 1.2]) == pytest.approx(1.2)
    assert learn_level([]) == 1.0 and learn_level([float("nan")]) == 1.0
    assert learn_level([10.0]) == LEVEL_CLIP[1] and learn_level([0.01]) == LEVEL_CLIP[0]


@pytest.mark.parametrize("factor", [0.6, 0.9, 1.0, 1.3, 1.9])
def test_one_logit_shift_scales_the_buyers_and_keeps_the_order(scores, factor):
    out = apply_level(scores, {"buyers": factor})
    p, q = scores["p_repurchase"].to_numpy(), out["p_repurchase"].to_numpy()
    assert q.sum() == pytest.approx(factor * p.sum(), rel=1e-9)
    assert ((q > 0) & (q < 1)).all()
    # the same constant on every logit: the ranking is untouched
    order = np.argsort(p, kind="stable")
    assert (np.diff(q[order]) >= -1e-15).all()
    logits = np.log(q / (1 - q)) - np.log(p / (1 - p))
    assert np.ptp(logits) < 1e-8
    # the rest follows: at least one expected purchase per expected buyer, alive when buying
    assert (out["expected_purchases"] >= out["p_repurchase"] - 1e-12).all()
    assert (out["p_alive"] >= out["p_repurchase"] - 1e-12).all()
    # the timing given a purchase is the model's: each P(buy within t) keeps its share
    for t in (7, 30, 90):
        kept = out[f"p_buy_{t}d"] < 1  # where the share does not run into certainty
        np.testing.assert_allclose(
            (out[f"p_buy_{t}d"] / out["p_repurchase"])[kept],
            (scores[f"p_buy_{t}d"] / scores["p_repurchase"])[kept],
            rtol=1e-9,
        )
    assert (out["p_buy_30d"] <= out["p_repurchase"] + 1e-12).all()  # 30 d within the 60 d
    assert (out["p_buy_90d"] >= out["p_repurchase"] - 1e-12).all()  # 90 d beyond it


def test_purchases_revenue_and_clv_are_multiplied(scores):
    out = apply_level(scores, {"purchases": 1.5, "revenue": 0.8, "clv": 1.2})
    pd.testing.assert_series_equal(out["p_repurchase"], scores["p_repurchase"])
    np.testing.assert_allclose(out["expected_revenue"], 0.8 * scores["expected_revenue"])
    np.testing.assert_allclose(out["clv"], 1.2 * scores["clv"])
    np.testing.assert_allclose(
        out["expected_purchases"],
        np.maximum(1.5 * scores["expected_purchases"], scores["p_repurchase"]),
    )
    pd.testing.assert_frame_equal(apply_level(scores, {}), scores)


def test_net_clv_and_payback_follow_the_rescaled_clv(log):
    value = ValueSettings(acquisition_cost=15.0)
    base = BTYDScorer(value=value).fit(log, AS_OF).predict(log, AS_OF, 60)
    for factor in (0.5, 2.0):
        out = apply_level(base, {"clv": factor}, value)
        assert (out["net_clv"] == out["clv"] - 15.0).all()
        covered = out["clv"] >= 15.0
        assert out.loc[covered, "payback_days"].notna().all()
        assert out.loc[~covered, "payback_days"].isna().all()
        kept = covered & base["payback_days"].notna()
        pd.testing.assert_series_equal(
            out.loc[kept, "payback_days"], base.loc[kept, "payback_days"]
        )


def test_certainties_stay_and_impossible_totals_are_capped():
    p = np.array([0.0, 0.2, 0.5, 1.0])
    frame = pd.DataFrame(
        {
            "p_alive": p,
            "p_repurchase": p,
            "expected_purchases": p,
            "expected_revenue": p,
            "clv": p,
        }
    )
    out = apply_level(frame, {"buyers": 1.5})
    assert out["p_repurchase"].iloc[0] == 0.0 and out["p_repurchase"].iloc[3] == 1.0
    assert out["p_repurchase"].sum() == pytest.approx(1.5 * p.sum())
    # more buyers than customers cannot be asked of a probability: just under all of them
    assert apply_level(frame, {"buyers": 10.0})["p_repurchase"].sum() < 4.0
    assert logit_shift(np.array([0.0, 1.0]), 2.0) == 0.0


@pytest.fixture(scope="module")
def adjusted(log):
    factors = {"buyers": 0.8, "purchases": 1.1, "revenue": 1.25, "clv": 0.9}
    return LevelAdjusted(family="bgnbd", factors=factors).fit(log, AS_OF, 60)


def test_wrapper_totals_are_the_family_totals_times_the_factors(adjusted, log):
    plain = make_scorer("bgnbd").fit(log, AS_OF).predict(log, AS_OF, 60)
    scored = adjusted.predict(log, AS_OF, 60)
    assert adjusted.name == "bgnbd" and adjusted.diagnostics_["level"]["factors"]["buyers"] == 0.8
    assert scored["p_repurchase"].sum() == pytest.approx(0.8 * plain["p_repurchase"].sum())
    assert scored["expected_revenue"].sum() == pytest.approx(1.25 * plain["expected_revenue"].sum())
    assert adjusted.totals_["adjusted"]["buyers"] == pytest.approx(scored["p_repurchase"].sum())
    assert adjusted.totals_["model"]["revenue"] == pytest.approx(plain["expected_revenue"].sum())


def test_a_customer_scores_the_same_alone_or_in_a_batch(adjusted, log):
    """The shift is learned once at the fit: a batch of one must not be shifted on its own."""
    everyone = adjusted.predict(log, AS_OF, 60)
    one = everyone.index[5]
    alone = adjusted.predict(log[log["customer_id"] == one], AS_OF, 60)
    np.testing.assert_allclose(
        alone.loc[one, ["p_repurchase", "expected_revenue"]].to_numpy(float),
        everyone.loc[one, ["p_repurchase", "expected_revenue"]].to_numpy(float),
        rtol=1e-9,
    )


def test_around_wraps_a_fitted_scorer_without_refitting(log, adjusted):
    inner = make_scorer("bgnbd").fit(log, AS_OF)
    wrapped = LevelAdjusted.around(inner, adjusted.factors_, log, 60)
    assert wrapped.inner_ is inner and wrapped.as_of_ == AS_OF
    pd.testing.assert_frame_equal(wrapped.predict(log, AS_OF, 60), adjusted.predict(log, AS_OF, 60))
    with pytest.raises(NotFittedError):
        LevelAdjusted.around(make_scorer("bgnbd"), None, log, 60)
    with pytest.raises(ConfigError, match="a LevelAdjusted is not a bgnbd scorer"):
        LevelAdjusted.around(adjusted, None, log, 60)


@pytest.mark.parametrize(
    "factors, match",
    [
        ({"buyer": 1.0}, "unknown key"),
        ({"buyers": 0.0}, r"factors\['buyers'\] must be a positive finite number"),
        ({"revenue": float("nan")}, r"factors\['revenue'\]"),
        ({"clv": "x"}, r"factors\['clv'\]"),
    ],
)
def test_bad_factors_are_named(log, factors, match):
    with pytest.raises(ConfigError, match=match):
        LevelAdjusted(family="bgnbd", factors=factors).fit(log, AS_OF)
    with pytest.raises(ConfigError, match="choose from"):
        LevelAdjusted(family="xgb").fit(log, AS_OF)


def test_saved_and_loaded_it_scores_identically(adjusted, log, tmp_path):
    expected = adjusted.predict(log, AS_OF, 60)
    adjusted.save(tmp_path / "m")
    for loaded in (
        LevelAdjusted.load(tmp_path / "m"),
        BaseScorer.load(tmp_path / "m"),
        BaseScorer.from_json(adjusted.to_json()),
    ):
        assert type(loaded) is LevelAdjusted and type(loaded.inner_) is BTYDScorer
        assert loaded.factors_ == adjusted.factors_ and loaded.shift_ == adjusted.shift_
        pd.testing.assert_frame_equal(loaded.predict(log, AS_OF, 60), expected)
    assert not list(tmp_path.rglob("*.pkl"))


def test_a_lightgbm_family_inside_keeps_its_booster_files(log, tmp_path):
    inner = GBMScorer(n_estimators=20, max_snapshots=2).fit(log, AS_OF, 60)
    wrapped = LevelAdjusted.around(inner, {"buyers": 1.2, "revenue": 0.9}, log, 60)
    save_bundle(wrapped, {"family": "gbm"}, tmp_path / "bundle")
    assert (tmp_path / "bundle" / "repurchase.lgb.txt").exists()
    loaded, meta = load_bundle(tmp_path / "bundle")
    assert meta == {"family": "gbm"} and type(loaded.inner_) is GBMScorer
    pd.testing.assert_frame_equal(loaded.predict(log, AS_OF, 60), wrapped.predict(log, AS_OF, 60))


def test_only_the_family_class_is_accepted_inside(adjusted, tmp_path):
    path = adjusted.save(tmp_path / "m")
    payload = json.loads(path.read_text())
    payload["state"]["inner"] = json.loads(adjusted.to_json())  # a wrapper inside a wrapper
    path.write_text(json.dumps(payload))
    with pytest.raises(ConfigError, match="the saved scorer inside is a 'LevelAdjusted'"):
        BaseScorer.load(tmp_path / "m")
