"""SHAP reasons: the per-pattern contributions equal LightGBM's own TreeSHAP."""

from __future__ import annotations

import lightgbm as lgb
import numpy as np
import pandas as pd
import pytest

from churnml.data import simulate_transactions
from churnml.models.explain import describe_feature, shap_contributions, top_reasons
from churnml.models.gbm import GBMScorer


def _table(n: int = 6000, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = pd.DataFrame(
        {
            "days": rng.integers(0, 400, n).astype(float),  # whole numbers: many ties
            "spend": np.round(rng.gamma(2.0, 30.0, n), 2),
            "gap": np.where(rng.random(n) < 0.3, np.nan, rng.exponential(40.0, n)),
            "returns": np.where(rng.random(n) < 0.6, 0.0, rng.random(n)),  # mostly zero
            "noise": rng.normal(size=n).astype(np.float32),
        }
    )
    logit = -0.01 * x["days"] + 0.01 * x["spend"] - 0.5 * x["gap"].isna() + x["returns"]
    y = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(float)
    return x, y


def _lightgbm(x: pd.DataFrame) -> np.ndarray:
    return x.to_numpy(dtype=float)


@pytest.mark.parametrize(
    "params",
    [
        {"objective": "binary", "num_leaves": 15},
        {"objective": "binary", "num_leaves": 127, "min_child_samples": 5},  # patterns renumbered
        {"objective": "tweedie", "num_leaves": 15},
        {"objective": "binary", "num_leaves": 15, "zero_as_missing": True},
        {"objective": "binary", "num_leaves": 15, "use_missing": False},
    ],
)
def test_contributions_equal_lightgbms_treeshap(params):
    x, y = _table()
    target = y * 50 if params["objective"] == "tweedie" else y
    booster = lgb.train(
        {**params, "verbose": -1, "seed": 1},
        lgb.Dataset(x, label=target, params={"verbose": -1, "max_bin": 63}),
        60,
    )
    want = booster.predict(_lightgbm(x), pred_contrib=True)[:, :-1]
    got = shap_contributions(booster, x)
    assert got.shape == want.shape
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-10)
    # and new rows, values the training never saw (beyond every threshold, missing, zero)
    fresh = x.sample(500, random_state=2).reset_index(drop=True)
    fresh.loc[:50, "spend"] = 1e6
    fresh.loc[50:100, "days"] = np.nan
    fresh.loc[100:150, "noise"] = 0.0
    np.testing.assert_allclose(
        shap_contributions(booster, fresh),
        booster.predict(_lightgbm(fresh), pred_contrib=True)[:, :-1],
        rtol=0,
        atol=1e-10,
    )


def test_no_rows_no_contributions():
    x, y = _table(500)
    booster = lgb.train(
        {"objective": "binary", "verbose": -1}, lgb.Dataset(x, label=y, params={"verbose": -1}), 5
    )
    assert shap_contributions(booster, x.iloc[:0]).shape == (0, x.shape[1])
    assert len(top_reasons(booster, x.iloc[:0])) == 0


def test_categorical_and_multiclass_models_go_to_lightgbm_whole():
    x, _ = _table(2000)
    band = np.random.default_rng(5).integers(0, 8, len(x))
    cat = x.assign(band=pd.Categorical(band))
    booster = lgb.train(
        {"objective": "binary", "verbose": -1, "min_data_per_group": 5},
        lgb.Dataset(cat, label=np.isin(band, [1, 4, 6]).astype(float), params={"verbose": -1}),
        20,
    )
    assert (booster.trees_to_dataframe()["decision_type"] == "==").any()
    np.testing.assert_allclose(
        shap_contributions(booster, cat), booster.predict(cat, pred_contrib=True)[:, :-1]
    )
    three = lgb.train(
        {"objective": "multiclass", "num_class": 3, "verbose": -1},
        lgb.Dataset(x, label=(x["days"] // 150).to_numpy(), params={"verbose": -1}),
        10,
    )
    np.testing.assert_allclose(
        shap_contributions(three, x), three.predict(_lightgbm(x), pred_contrib=True)[:, :-1]
    )


def test_reasons_of_a_fitted_model_are_its_treeshap_reasons():
    log, _ = simulate_transactions(3000, seed=3, observation_days=600)
    as_of = pd.Timestamp("2021-06-30")
    model = GBMScorer(n_estimators=60, explain=False).fit(log, as_of, 60)
    table = model._table(log, as_of, model.label_days_, model.btyd_)
    X = table.reindex(columns=model.features_)
    booster = model.boosters_["repurchase"]
    want = booster.predict(X, pred_contrib=True)[:, :-1]
    np.testing.assert_allclose(shap_contributions(booster, X), want, rtol=0, atol=1e-10)
    reasons = top_reasons(booster, X)
    # the same three reasons, in words, from LightGBM's own contributions
    size = np.abs(want)
    order = np.argsort(-size, axis=1, kind="stable")
    values = X.to_numpy(dtype=float)
    expected = [
        "; ".join(
            f"{describe_feature(model.features_[j], values[i, j])} "
            f"({'raises' if want[i, j] > 0 else 'lowers'})"
            for j in order[i, :3]
        )
        for i in range(len(X))
    ]
    # rows whose 3rd and 4th sizes are closer than rounding can tell apart may swap them
    ranked = np.take_along_axis(size, order, axis=1)
    clear = np.abs(np.diff(ranked[:, :4], axis=1)).min(axis=1) > 1e-9
    clear |= ranked[:, 1:4].max(axis=1) == 0  # ties only among exact zeros: column order
    assert clear.mean() > 0.95
    assert (reasons.to_numpy()[clear] == np.asarray(expected)[clear]).all()
