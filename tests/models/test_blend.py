"""The blend of gbm and hybrid, and the sharing of identical GBMScorer fits and scores."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from churnml.data import simulate_transactions
from churnml.features import build_labels
from churnml.models import gbm as gbm_module
from churnml.models.blend import BlendScorer
from churnml.models.catalog import FAMILIES, make_scorer
from churnml.models.gbm import GBMScorer
from churnml.settings import ValueSettings

AS_OF = pd.Timestamp("2021-03-31")


def _logit(p):
    p = np.clip(p, 1e-6, 1 - 1e-6)
    return np.log(p / (1 - p))


@pytest.fixture(scope="module")
def log():
    frame, _ = simulate_transactions(3000, seed=5, observation_days=600)
    return frame


@pytest.fixture(scope="module")
def fitted(log):
    return {
        "gbm": GBMScorer(n_estimators=60).fit(log, AS_OF, 60),
        "hybrid": GBMScorer(hybrid=True, n_estimators=60).fit(log, AS_OF, 60),
    }


def test_blend_competes_for_champion():
    assert "blend" in FAMILIES
    assert isinstance(make_scorer("blend", seed=3), BlendScorer)


def test_blend_is_the_mean_of_the_members_logits_at_their_level(log):
    blend = BlendScorer(value=ValueSettings(acquisition_cost=15.0)).fit(log, AS_OF, 60)
    scores = blend.predict(log, AS_OF, 60)
    a = blend.members_["gbm"].predict(log, AS_OF, 60).loc[scores.index]
    b = blend.members_["hybrid"].predict(log, AS_OF, 60).loc[scores.index]
    # logits: the mean of the members' plus one constant
    gap = (
        _logit(scores["p_repurchase"]) - (_logit(a["p_repurchase"]) + _logit(b["p_repurchase"])) / 2
    )
    assert np.ptp(gap.to_numpy()) < 1e-6
    # totals: the members' mean (both members share BG/NBD's level)
    for column in ("p_repurchase", "expected_purchases", "expected_revenue", "clv"):
        want = (a[column].sum() + b[column].sum()) / 2
        assert scores[column].sum() == pytest.approx(want, rel=1e-6), column
    # revenue and CLV are the members' mean, customer by customer
    for column in ("expected_revenue", "clv"):
        mean = (a[column] + b[column]) / 2
        assert np.allclose(scores[column], mean, rtol=1e-9, atol=0), column
    assert (scores["expected_purchases"] >= scores["p_repurchase"] - 1e-12).all()
    assert (scores["p_alive"] >= scores["p_repurchase"] - 1e-12).all()
    assert (scores["net_clv"] == scores["clv"] - 15.0).all()
    assert scores.loc[scores["clv"] < 15.0, "payback_days"].isna().all()
    assert scores.loc[scores["clv"] >= 15.0, "payback_days"].notna().all()
    assert (scores["reasons"] == a["reasons"]).all()


def test_blend_ranks_out_of_time_at_least_as_well_as_a_member(log, fitted):
    # customers simulated from BG/NBD: the members differ little; the blend is not worse
    blend = BlendScorer(n_jobs=None).fit(log, AS_OF - pd.Timedelta(days=60), 60)
    cutoff = AS_OF - pd.Timedelta(days=60)
    scores = blend.predict(log, cutoff, 60)
    labels = build_labels(log, cutoff, 60, customers=scores.index)
    auc = {
        name: roc_auc_score(labels["bought"], member.predict(log, cutoff, 60)["p_repurchase"])
        for name, member in blend.members_.items()
    }
    assert roc_auc_score(labels["bought"], scores["p_repurchase"]) >= min(auc.values()) - 1e-9


def test_an_identical_fit_on_the_same_input_reuses_the_first(log, fitted, monkeypatch):
    trained = []
    real = gbm_module.lgb.train
    monkeypatch.setattr(gbm_module.lgb, "train", lambda *a, **k: trained.append(1) or real(*a, **k))
    again = GBMScorer(n_estimators=60).fit(log, AS_OF, 60)
    assert not trained and again.diagnostics_["fit_reused"]
    assert "fit_reused" not in fitted["gbm"].diagnostics_
    first = fitted["gbm"].predict(log, AS_OF, 60)
    pd.testing.assert_frame_equal(again.predict(log, AS_OF, 60), first)
    # its scores are shared too, and a caller changing them changes nobody else's
    mine = again.predict(log, AS_OF, 60)
    mine["p_repurchase"] = -1.0
    mine.loc[mine.index[0], "expected_revenue"] = -1.0
    pd.testing.assert_frame_equal(fitted["gbm"].predict(log, AS_OF, 60), first)
    # another input object (even with the same rows), or other parameters: a fit of its own
    GBMScorer(n_estimators=60).fit(log.copy(), AS_OF, 60)
    assert trained
    trained.clear()
    GBMScorer(n_estimators=59).fit(log, AS_OF, 60)
    assert trained


def test_blend_in_a_window_where_gbm_and_hybrid_were_fitted_trains_nothing(
    log, fitted, monkeypatch
):
    trained = []
    real = gbm_module.lgb.train
    monkeypatch.setattr(gbm_module.lgb, "train", lambda *a, **k: trained.append(1) or real(*a, **k))
    # the members the catalogue's blend makes are the catalogue's gbm and hybrid
    for name in ("gbm", "hybrid"):
        make_scorer(name).set_params(explain=False).fit(log, AS_OF, 60)
    trained.clear()
    blend = make_scorer("blend").set_params(explain=False).fit(log, AS_OF, 60)
    assert not trained
    assert all(m.diagnostics_["fit_reused"] for m in blend.members_.values())


@pytest.mark.parametrize("where", ["folder", "json"])
def test_blend_saves_and_loads_without_pickle(log, tmp_path, where):
    blend = BlendScorer(seed=2, explain=False).fit(log, AS_OF, 60)
    if where == "folder":
        blend.save(tmp_path / "m")
        assert (tmp_path / "m" / "gbm" / "repurchase.lgb.txt").exists()
        assert (tmp_path / "m" / "hybrid" / "scorer.json").exists()
        assert not list(tmp_path.rglob("*.pkl"))
        loaded = BlendScorer.load(tmp_path / "m")
    else:
        loaded = BlendScorer.from_json(blend.to_json())
    pd.testing.assert_frame_equal(loaded.predict(log, AS_OF, 60), blend.predict(log, AS_OF, 60))


def test_blend_of_members_that_fell_back_says_so(log, fitted):
    """The champion rule leaves a window out where the blend only repeated BG/NBD's scores."""
    early = log["date"].min().normalize() + pd.Timedelta(days=80)
    blend = BlendScorer().fit(log, early, 60)
    assert blend.members_["gbm"].fallback_ is not None
    assert blend.diagnostics_["fell_back_to"] == "bgnbd"
    later = BlendScorer().fit(log, AS_OF, 60)
    assert "fell_back_to" not in later.diagnostics_


def test_reasons_follow_the_blends_explain_set_after_the_fit(log, monkeypatch):
    blend = BlendScorer().fit(log, AS_OF, 60)
    calls = []
    real = gbm_module.top_reasons
    monkeypatch.setattr(gbm_module, "top_reasons", lambda *a, **k: calls.append(1) or real(*a, **k))
    blend.set_params(explain=False)
    quiet = blend.predict(log, AS_OF, 60)
    # the level step of train switches reasons off after the fit: no SHAP pass, no column
    assert "reasons" not in quiet.columns and calls == []
    blend.set_params(explain=True)
    loud = blend.predict(log, AS_OF, 60)
    assert len(calls) == 1 and loud["reasons"].str.len().gt(0).all()
    model_columns = [c for c in quiet.columns if c != "as_of"]
    pd.testing.assert_frame_equal(quiet[model_columns], loud[model_columns])
    blend.set_params(explain=False)
    blend.predict(log, AS_OF, 60)
    assert blend.members_["gbm"].explain is True  # the member stays as fitted
