"""The scorer base: parameters from the signature, every one persisted, one not-fitted error."""

from __future__ import annotations

import inspect
import json
import os
import subprocess
import sys
import threading
import time

import lightgbm as lgb
import numpy as np
import pandas as pd
import pytest

from churnml.data import simulate_transactions
from churnml.exceptions import ConfigError, NotFittedError
from churnml.models import (
    CATALOGUE,
    FAMILIES,
    BaseScorer,
    BlendScorer,
    BTYDScorer,
    GBMScorer,
    RateBaselineScorer,
    make_scorer,
)
from churnml.models import base as base_module
from churnml.models.base import free_processors
from churnml.models.btyd import GammaGammaModel, TransactionModel
from churnml.models.bundle import load_bundle, save_bundle
from churnml.settings import ValueSettings

AS_OF = pd.Timestamp("2021-03-31")
VALUE = ValueSettings(horizon_days=200, margin=0.4, annual_discount_rate=0.2, acquisition_cost=9)

#: Every scorer with every parameter away from its default.
NON_DEFAULT = {
    RateBaselineScorer: {"value": VALUE, "clv": False, "timing": False},
    BTYDScorer: {
        "kind": "mbgnbd",
        "penalizer": 0.001,
        "spend_penalizer": 0.01,
        "value": VALUE,
        "freq": "W",
        "max_customers": 10_000,
        "start": {"r": 0.5, "alpha": 10.0, "s": 0.5, "beta": 10.0},
        "clv": False,
        "timing": False,
    },
    GBMScorer: {
        "hybrid": True,
        "n_estimators": 20,
        "learning_rate": 0.2,
        "num_leaves": 7,
        "min_child_samples": 30,
        "seed": 4,
        "value": VALUE,
        "step_days": 20,
        "max_snapshots": 2,
        "max_rows": 1_000,
        "boost_from_btyd": False,
        "anchor_level": False,
        "early_stopping_rounds": 5,
        "max_bin": 31,
        "timing_models": True,
        "explain": False,
        "n_jobs": 1,
        "freq": "W",
        "penalizer": 0.001,
        "clv": False,
        "timing": False,
    },
    BlendScorer: {
        "value": VALUE,
        "seed": 4,
        "freq": "W",
        "penalizer": 0.001,
        "explain": False,
        "n_jobs": 1,
        "clv": False,
        "timing": False,
    },
}


@pytest.fixture(scope="module")
def log():
    frame, _ = simulate_transactions(1500, seed=21, observation_days=500)
    return frame


def test_the_table_covers_every_parameter():
    for cls, params in NON_DEFAULT.items():
        signature = inspect.signature(cls.__init__).parameters
        assert set(params) == set(cls._param_names())
        for name, value in params.items():
            assert signature[name].default != value, (cls.__name__, name)


@pytest.mark.parametrize(
    "cls",
    [
        RateBaselineScorer,
        BTYDScorer,
        pytest.param(GBMScorer, marks=pytest.mark.slow),  # trains LightGBM: ~10 s
        pytest.param(BlendScorer, marks=pytest.mark.slow),
    ],
    ids=lambda c: c.__name__,
)
def test_every_non_default_parameter_survives_save_and_load(cls, log, tmp_path):
    scorer = cls(**NON_DEFAULT[cls]).fit(log, AS_OF, 60)
    assert scorer.get_params() == NON_DEFAULT[cls]
    scorer.save(tmp_path / "m")
    loaded = cls.load(tmp_path / "m")
    assert type(loaded) is cls and loaded.get_params() == NON_DEFAULT[cls]
    again = BaseScorer.from_json(scorer.to_json())
    assert again.get_params() == NON_DEFAULT[cls]
    expected = scorer.predict(log, AS_OF, 60)
    pd.testing.assert_frame_equal(loaded.predict(log, AS_OF, 60), expected)
    pd.testing.assert_frame_equal(again.predict(log, AS_OF, 60), expected)
    assert not list(tmp_path.rglob("*.pkl"))


@pytest.mark.slow
def test_gbm_switches_reach_the_scores(log):
    # the settings that used to be lost on save change what the model predicts
    quick = {"hybrid": True, "n_estimators": 20, "max_snapshots": 2}
    on = GBMScorer(**quick).fit(log, AS_OF, 60)
    off = GBMScorer(**quick, anchor_level=False).fit(log, AS_OF, 60)
    assert not on.predict(log, AS_OF, 60).equals(off.predict(log, AS_OF, 60))


def test_bundle_round_trip_keeps_the_class_and_metadata(log, tmp_path):
    scorer = GBMScorer(boost_from_btyd=False, n_estimators=20, max_snapshots=2).fit(log, AS_OF, 60)
    save_bundle(scorer, {"family": "gbm", "note": "x"}, tmp_path / "b")
    loaded, meta = load_bundle(tmp_path / "b")
    assert isinstance(loaded, GBMScorer) and loaded.boost_from_btyd is False
    assert meta == {"family": "gbm", "note": "x"}


@pytest.mark.parametrize("cls", list(NON_DEFAULT), ids=lambda c: c.__name__)
def test_use_before_fit_is_one_error(cls, log, tmp_path):
    scorer = cls()
    for call in (
        lambda: scorer.predict(log, AS_OF, 60),
        scorer.to_json,
        lambda: scorer.save(tmp_path),
    ):
        with pytest.raises(NotFittedError, match=f"{cls.__name__} is not fitted"):
            call()
    assert "[not fitted]" in repr(scorer)


def test_estimators_use_the_same_error():
    for model in (TransactionModel(), GammaGammaModel()):
        with pytest.raises(NotFittedError):
            model.to_json()


def test_repr_shows_changed_parameters_and_fitted_state(log):
    scorer = BTYDScorer(kind="pareto", penalizer=0.01)
    assert repr(scorer) == "BTYDScorer(kind='pareto', penalizer=0.01) [not fitted]"
    scorer.set_params(kind="bgnbd").fit(log, AS_OF)
    assert repr(scorer) == "BTYDScorer(penalizer=0.01) [fitted at 2021-03-31]"
    with pytest.raises(ConfigError, match="has no parameter 'kindd'; parameters: kind"):
        scorer.set_params(kindd="x")


def test_loading_names_only_churnml_classes(tmp_path):
    (tmp_path / "scorer.json").write_text('{"scorer": "os.system", "params": {}}')
    with pytest.raises(ConfigError, match=r"saved model is a 'os\.system'"):
        BaseScorer.load(tmp_path)
    with pytest.raises(ConfigError, match="holds no saved churnml model"):
        BaseScorer.load(tmp_path / "nothing")


def test_catalogue_builds_every_family():
    for key, family in CATALOGUE.items():
        scorer = make_scorer(key, VALUE, "D", 3)
        assert isinstance(scorer, family.scorer) and scorer.name == key
        if "seed" in scorer.get_params():
            assert scorer.seed == 3
        assert scorer.value == VALUE
    assert "baseline" not in FAMILIES and set(FAMILIES) < set(CATALOGUE)
    with pytest.raises(ConfigError, match="unknown model 'xgb'; choose from: bgnbd"):
        make_scorer("xgb")


def test_non_finite_scores_fall_back_to_the_fitted_baseline(log):
    scorer = BTYDScorer().fit(log, AS_OF)
    scorer.transaction_.params_ = {**scorer.transaction_.params_, "r": float("nan")}
    scores = scorer.predict(log, AS_OF, 60)
    baseline = RateBaselineScorer().fit(log, AS_OF).predict(log, AS_OF, 60)
    assert scorer.diagnostics_["n_nonfinite_replaced"] == len(scores) > 0
    numeric = scores.drop(columns=["next_purchase_date"]).to_numpy(float)
    assert np.isfinite(numeric).all()
    pd.testing.assert_series_equal(scores["p_repurchase"], baseline["p_repurchase"])


def test_a_scorer_defined_outside_churnml_cannot_be_loaded(log):
    class BTYDScorer(RateBaselineScorer):  # same name as churnml's, defined in a test
        pass

    text = BTYDScorer().fit(log, AS_OF).to_json()
    # the name resolves to churnml's own class, never to the one defined here
    assert BaseScorer._registry["BTYDScorer"].__module__ == "churnml.models.pipeline"
    with pytest.raises(ConfigError, match="saved model is a 'BTYDScorer', not a"):
        RateBaselineScorer.from_json(text)
    with pytest.raises(ConfigError, match="does not match this churnml version"):
        BaseScorer.from_json(text)


def test_saved_files_are_checked_before_use(log, tmp_path):
    scorer = GBMScorer(n_estimators=10, max_snapshots=2).fit(log, AS_OF, 60)
    path = scorer.save(tmp_path / "m")
    payload = json.loads(path.read_text())
    payload["state"]["booster_files"]["repurchase"] = "../../etc/passwd"
    path.write_text(json.dumps(payload))
    with pytest.raises(ConfigError, match="is not a model file"):
        GBMScorer.load(tmp_path / "m")
    payload["params"]["depth"] = 3  # a parameter this version does not have
    payload["state"]["booster_files"]["repurchase"] = "repurchase.lgb.txt"
    path.write_text(json.dumps(payload))
    with pytest.raises(ConfigError, match="does not match this churnml version"):
        GBMScorer.load(tmp_path / "m")


def test_a_failed_refit_does_not_look_fitted(log):
    scorer = BTYDScorer().fit(log, AS_OF)
    with pytest.raises(ConfigError):
        scorer.set_params(kind="nope").fit(log, AS_OF)
    assert not scorer.is_fitted


def test_threads_leave_out_the_processors_others_keep_busy():
    usable = len(os.sched_getaffinity(0))
    assert free_processors() in range(1, usable + 1)
    busy = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        time.sleep(0.5)
        assert free_processors() <= max(1, usable - 1)
    finally:
        busy.kill()
        busy.wait()


def test_own_pool_threads_are_not_competitors_but_python_threads_are():
    """LightGBM's OpenMP worker of this process is left out; the Python thread it serves is not."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(100_000, 20))
    data = lgb.Dataset(x, label=(x[:, 0] > 0).astype(float), params={"verbose": -1})
    params = {"objective": "binary", "num_threads": 2, "verbose": -1, "num_leaves": 63}
    busy = threading.Thread(target=lgb.train, args=(params, data, 1000))
    busy.start()
    try:
        time.sleep(0.5)  # binning done, trees growing on both threads
        workers = [base_module._own_workers_running() for _ in range(50)]
        # each reading is the fewest of five samples; a master waiting at a barrier sleeps
        competitors = [base_module._busy_elsewhere() for _ in range(20)]
        still_training = busy.is_alive()
    finally:
        busy.join()
    assert still_training
    assert max(workers) >= 1  # the OpenMP worker spins or works beside its master
    assert max(competitors) >= 1  # the Python thread running the fit counts
    time.sleep(1.0)  # the pool has gone to sleep
    assert base_module._own_workers_running() == 0
