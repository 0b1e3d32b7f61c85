"""GBM and hybrid scorers: leakage, fallbacks, calibration, determinism, persistence."""

from __future__ import annotations

import itertools
import json
import shutil

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from churnml.data import simulate_transactions
from churnml.evaluation import evaluate
from churnml.features import build_labels
from churnml.models import gbm as gbm_module
from churnml.models.gbm import GBMScorer, share_prefix
from churnml.models.pipeline import SCORE_COLUMNS, BTYDScorer

AS_OF = pd.Timestamp("2021-03-31")


@pytest.fixture(scope="module")
def log():
    frame, _ = simulate_transactions(4000, seed=11, observation_days=600)
    return frame


@pytest.fixture(scope="module")
def fitted(log):
    return GBMScorer(hybrid=True, n_estimators=80).fit(log, AS_OF, 60)


@pytest.fixture(scope="module")
def fitted_gbm(log):
    return GBMScorer(n_estimators=80).fit(log, AS_OF, 60)


def _clean(scores: pd.DataFrame) -> None:
    numeric = scores[[c for c in SCORE_COLUMNS if c != "next_purchase_date"]].to_numpy(float)
    assert np.isfinite(numeric).all()
    assert scores["p_repurchase"].between(0, 1).all()
    assert (scores["reasons"].str.len() > 0).all()


def test_scores_and_explanations(fitted_gbm, log):
    scores = fitted_gbm.predict(log, AS_OF, 60)
    _clean(scores)
    assert fitted_gbm.diagnostics_["snapshots"][0] == str((AS_OF - pd.Timedelta(days=60)).date())
    assert "(raises)" in " ".join(scores["reasons"]) and "(lowers)" in " ".join(scores["reasons"])


def test_rows_after_as_of_never_reach_training(log, fitted):
    changed = log.copy()
    after = changed["date"] >= AS_OF + pd.Timedelta(days=1)
    changed.loc[after, "amount"] = 1e6
    changed = changed.drop(index=changed.index[after.to_numpy()][::2])
    again = GBMScorer(hybrid=True, n_estimators=80).fit(changed, AS_OF, 60)
    pd.testing.assert_frame_equal(fitted.predict(log, AS_OF, 60), again.predict(changed, AS_OF, 60))


@pytest.mark.slow
def test_same_seed_same_model(log, fitted):
    # another input object: the same fit on the same object would be shared, not refitted
    again = GBMScorer(hybrid=True, n_estimators=80).fit(log.copy(), AS_OF, 60)
    assert "fit_reused" not in again.diagnostics_
    pd.testing.assert_frame_equal(fitted.predict(log, AS_OF, 60), again.predict(log, AS_OF, 60))


def test_save_and_load_scores_identically(fitted_gbm, log, tmp_path):
    fitted = fitted_gbm
    fitted.save(tmp_path / "m")
    assert not list(tmp_path.glob("m/*.pkl")) and (tmp_path / "m" / "repurchase.lgb.txt").exists()
    loaded = GBMScorer.load(tmp_path / "m")
    pd.testing.assert_frame_equal(fitted.predict(log, AS_OF, 60), loaded.predict(log, AS_OF, 60))


@pytest.mark.slow
def test_calibration_is_fitted_on_the_held_out_snapshot(log):
    scorer = GBMScorer(hybrid=False, anchor_level=False, n_estimators=80).fit(log, AS_OF, 60)
    cal = scorer.diagnostics_["calibration"]
    assert cal["held_out_snapshot"] == scorer.diagnostics_["early_stopping"]["held_out_snapshot"]
    assert cal["brier_after_in_window"] <= cal["brier_before"]


@pytest.mark.slow
def test_calibration_improves_brier_out_of_time(cdnow_tx):
    """CDNOW drifts (younger snapshots buy more): Platt scaling on the newest snapshot lowers
    Brier on the 180 days after the cutoff, which no part of training saw."""
    cutoff = "1997-12-31"
    # 150 trees instead of 300: the same effect (Brier 0.1325 vs 0.1333) in half the time
    scorer = GBMScorer(hybrid=False, anchor_level=False, n_estimators=150).fit(
        cdnow_tx, cutoff, 180
    )
    labels = build_labels(cdnow_tx, cutoff, 180)
    calibrated = scorer.predict(cdnow_tx, cutoff, 180)
    platt, scorer.platt_ = scorer.platt_, None
    raw = scorer.predict(cdnow_tx, cutoff, 180)
    y = labels.loc[calibrated.index, "bought"].to_numpy(float)
    brier_cal = np.mean((calibrated["p_repurchase"].to_numpy() - y) ** 2)
    brier_raw = np.mean((raw["p_repurchase"].to_numpy() - y) ** 2)
    assert platt is not None and brier_cal < brier_raw


@pytest.mark.slow
def test_short_history_shortens_labels_then_falls_back(log):
    early = log[log["date"] < pd.Timestamp("2020-07-01")]
    # 182 days of history, 150-day horizon: labels shortened to 122 days and rescaled
    scorer = GBMScorer(n_estimators=40).fit(early, "2020-06-30", 150)
    assert any("rescaled to 150 days" in n for n in scorer.diagnostics_["notes"])
    _clean(scorer.predict(early, "2020-06-30", 150))
    # 89 days: no snapshot fits; BG/NBD answers, and says so
    tiny = GBMScorer(n_estimators=40).fit(early, "2020-03-30", 90)
    assert tiny.fallback_ is not None
    assert "history too short" in tiny.diagnostics_["notes"][0]
    # what the champion rule reads to leave this window out of gbm's comparison
    assert tiny.diagnostics_["fell_back_to"] == "bgnbd"
    assert "fell_back_to" not in scorer.diagnostics_
    scores = tiny.predict(early, "2020-03-30", 90)
    assert scores["reasons"].str.contains("BG/NBD fallback").all()


def test_level_anchoring_matches_bgnbd_totals(fitted, log):
    scores = fitted.predict(log, AS_OF, 60)
    base = fitted.btyd_.predict(log, AS_OF, 60)
    # a year before as-of the history was 90 days: too short to read seasonality from
    assert any("no seasonal change" in n for n in fitted.diagnostics_["notes"])
    assert fitted.season_ == {"buyers": 1.0, "purchases": 1.0, "revenue": 1.0}
    assert scores["p_repurchase"].sum() == pytest.approx(base["p_repurchase"].sum(), rel=1e-6)
    assert scores["expected_revenue"].sum() == pytest.approx(
        base["expected_revenue"].sum(), rel=1e-6
    )


@pytest.mark.slow
def test_cdnow_gbm_beats_bgnbd_with_honest_totals(cdnow_tx, cdnow_evaluation):
    """CDNOW, cutoff 1997-12-31, 180 days (the issue's target: +0.015 AUC, +0.03 Gini; this
    asserts a margin that survives library versions: +0.01 and +0.02)."""
    result = evaluate(cdnow_tx, "1997-12-31", 180, models=("gbm",))
    g, b = result.metrics["gbm"], cdnow_evaluation.metrics["bgnbd"]
    assert g["auc"] >= b["auc"] + 0.01 and g["revenue_gini"] >= b["revenue_gini"] + 0.02
    assert g["brier"] <= b["brier"]
    assert abs(g["buyers_ratio"] - 1) <= 0.05 and abs(g["revenue_ratio"] - 1) <= 0.05


@pytest.mark.slow
def test_scoring_data_without_an_optional_column_still_scores(log):
    # A model trained where quantity was known must score API requests that only carry
    # date and amount: the quantity features become missing values, not a KeyError.
    with_quantity = log.assign(quantity=np.arange(len(log)) % 3 + 1)
    model = GBMScorer(n_estimators=40).fit(with_quantity, AS_OF, 60)
    assert "units_per_purchase" in model.features_
    full = model.predict(with_quantity, AS_OF, 60)
    bare = model.predict(log, AS_OF, 60)
    _clean(bare)
    assert bare.index.equals(full.index)
    assert not np.allclose(bare["p_repurchase"], full["p_repurchase"])


def test_a_horizon_over_a_year_reads_nothing_after_the_snapshot(log, fitted):
    """The same window a year earlier ends snapshot - 365 + horizon: past the snapshot when the
    horizon is over a year, so training features would read their own future."""
    snapshot = AS_OF  # 455 days into the log: the year-ago window has data
    changed = log.copy()
    after = changed["date"] >= snapshot + pd.Timedelta(days=1)
    changed.loc[after, "amount"] = 1e6
    table = fitted._table(log, snapshot, 400, fitted.btyd_)
    pd.testing.assert_frame_equal(table, fitted._table(changed, snapshot, 400, fitted.btyd_))
    assert table["last_year_lines"].notna().all()


def test_last_year_features_count_the_same_window_a_year_earlier(log, fitted):
    snapshot, days = AS_OF, 60
    # refunds of a whole purchase in the year-ago window: they net to zero, exactly
    lines = log.copy()
    start = snapshot - pd.Timedelta(days=365)
    day = lines["date"].dt.normalize()
    inside = (day > start) & (day <= start + pd.Timedelta(days=days))
    refunds = lines[inside].iloc[:40].assign(amount=lambda f: -f["amount"])
    lines = pd.concat([lines, refunds], ignore_index=True)
    table = fitted._table(lines, snapshot, days, fitted.btyd_)
    # the definition, by a plain group-by of the lines of the days (as-of - 365, as-of - 365 +
    # days]
    day = lines["date"].dt.normalize()
    window = lines[(day > start) & (day <= start + pd.Timedelta(days=days))]
    by = window.groupby("customer_id")["amount"]
    want_lines = by.size().reindex(table.index, fill_value=0)
    want_revenue = by.sum().reindex(table.index, fill_value=0.0)
    assert (want_lines > 0).sum() > 100
    assert np.array_equal(table["last_year_lines"].to_numpy(), want_lines.to_numpy(np.float32))
    assert np.allclose(table["last_year_revenue"], want_revenue, rtol=1e-6, atol=1e-3)
    refunded = table.loc[refunds["customer_id"].unique()]
    netted = want_revenue.loc[refunded.index].abs() < 1e-6
    assert netted.any() and (refunded.loc[netted, "last_year_revenue"] == 0).all()


def test_tree_counts_are_chosen_on_a_window_no_training_label_overlaps(fitted_gbm):
    stopping = fitted_gbm.diagnostics_["early_stopping"]
    held_out = pd.Timestamp(stopping["held_out_snapshot"])
    days = pd.Timedelta(days=stopping["label_days"])
    assert held_out + days == AS_OF  # the newest full window
    for snapshot in stopping["training_snapshots"]:
        assert pd.Timestamp(snapshot) + days <= held_out
    assert 0 < fitted_gbm.rounds_["repurchase"] <= 80
    assert fitted_gbm.boosters_["repurchase"].num_trees() == fitted_gbm.rounds_["repurchase"]


def test_hybrid_on_bgnbd_data_keeps_bgnbd_where_trees_do_not_help(fitted, log):
    """The log is simulated from BG/NBD itself: trees can only add noise, so the held-out loss
    does not improve on BG/NBD's and the hybrid keeps zero trees (BG/NBD's ranking)."""
    stopping = fitted.diagnostics_["early_stopping"]["repurchase"]
    assert fitted.rounds_["repurchase"] == 0 and "repurchase" not in fitted.boosters_
    assert stopping["loss_trees"] >= stopping["loss_btyd"]
    scores = fitted.predict(log, AS_OF, 60)
    base = fitted.btyd_.predict(log, AS_OF, 60)
    ranks = scores["p_repurchase"].rank(), base.loc[scores.index, "p_repurchase"].rank()
    assert np.corrcoef(*ranks)[0, 1] > 0.9999


def test_nobody_buying_in_the_training_windows_is_a_clear_error():
    """LightGBM would stop on "sum of labels is zero"; the scorer says what happened."""
    from churnml.exceptions import InsufficientDataError

    days = pd.date_range("2020-01-01", "2020-07-31", periods=300).normalize()
    once = pd.DataFrame({"customer_id": [f"c{i}" for i in range(300)], "date": days})
    # 40 January customers came back two days later, before any snapshot's label window
    back = once.head(40).assign(date=lambda d: d["date"] + pd.Timedelta(days=2))
    log = pd.concat([once, back]).assign(amount=10.0)
    with pytest.raises(InsufficientDataError, match="nobody bought in any of the"):
        GBMScorer(n_estimators=10).fit(log, "2020-08-31", 30)


def test_expected_purchases_keep_the_anchored_total_and_cover_p(fitted_gbm, log):
    scores = fitted_gbm.predict(log, AS_OF, 60)
    base = fitted_gbm.btyd_.predict(log, AS_OF, 60)
    assert (scores["expected_purchases"] >= scores["p_repurchase"] - 1e-12).all()
    assert scores["expected_purchases"].sum() == pytest.approx(
        base["expected_purchases"].sum(), rel=1e-6
    )


def test_expected_purchases_are_p_times_bgnbd_count_given_a_purchase(fitted, fitted_gbm, log):
    """The hurdle: trees say who buys, BG/NBD how often a buyer buys; no count booster."""
    for scorer in (fitted, fitted_gbm):
        assert "purchases" not in scorer.boosters_ and "purchases" not in scorer.rounds_
    # the hybrid kept BG/NBD's P(repurchase) (zero trees on BG/NBD's own data), so its counts
    # are BG/NBD's up to the one factor that sets the total with the floor p in place
    scores = fitted.predict(log, AS_OF, 60)
    base = fitted.btyd_.predict(log, AS_OF, 60).loc[scores.index]
    free = scores["expected_purchases"] > scores["p_repurchase"] + 1e-9
    assert free.mean() > 0.5
    ratio = scores.loc[free, "expected_purchases"] / base.loc[free, "expected_purchases"]
    assert ratio.max() / ratio.min() - 1 < 1e-6
    # gbm: count over P(repurchase) before the level is BG/NBD's count given a purchase
    table = fitted_gbm._table(log, AS_OF, fitted_gbm.label_days_, fitted_gbm.btyd_)
    raw = fitted_gbm._raw(table)
    sure = (table["btyd_p_repurchase"] > 1e-6).to_numpy()  # below, the count is floored at 1
    given = (table["btyd_expected_purchases"] / table["btyd_p_repurchase"]).to_numpy()[sure]
    count = (raw["purchases"] / raw["repurchase"])[sure]
    np.testing.assert_allclose(count, np.maximum(given, 1.0))


def test_a_model_saved_with_a_purchases_booster_still_scores_with_it(fitted_gbm, log, tmp_path):
    """Models registered before the hurdle carry a Poisson booster of their own."""
    fitted_gbm.save(tmp_path / "m")
    state = json.loads((tmp_path / "m" / "scorer.json").read_text())
    # a stand-in booster for the old purchases target: any booster the loader reads will do
    shutil.copy(tmp_path / "m" / "revenue.lgb.txt", tmp_path / "m" / "purchases.lgb.txt")
    state["state"]["booster_files"]["purchases"] = "purchases.lgb.txt"
    state["state"]["rounds"]["purchases"] = state["state"]["rounds"]["revenue"]
    (tmp_path / "m" / "scorer.json").write_text(json.dumps(state))
    legacy = GBMScorer.load(tmp_path / "m")
    table = legacy._table(log, AS_OF, legacy.label_days_, legacy.btyd_)
    raw = legacy._raw(table)
    np.testing.assert_allclose(raw["purchases"], raw["revenue"])
    assert not np.allclose(raw["purchases"], fitted_gbm._raw(table)["purchases"])


def test_payback_days_follow_the_rescaled_clv(log):
    from churnml.settings import ValueSettings

    value = ValueSettings(acquisition_cost=20.0)
    scorer = GBMScorer(n_estimators=20, max_snapshots=2, value=value).fit(log, AS_OF, 60)
    scores = scorer.predict(log, AS_OF, 60)
    base = scorer.btyd_.predict(log, AS_OF, 60).loc[scores.index]
    # CLV differs from BG/NBD's per customer, and payback is read off the same curve
    assert not np.allclose(scores["clv"], base["clv"])
    covered = scores["clv"] >= 20.0
    assert scores.loc[covered, "payback_days"].notna().all()
    assert scores.loc[~covered, "payback_days"].isna().all()
    assert (scores["net_clv"] == scores["clv"] - 20.0).all()


def test_weekly_purchases_reach_features_labels_and_scores():
    """--freq W: BTYD columns, BG/NBD and purchase counts in weeks; a customer whose purchase
    and return fall in one week has no purchase week (before, daily feature rows met weekly
    labels and the fit crashed)."""
    frame, _ = simulate_transactions(800, seed=5, observation_days=500)
    cancelled = pd.DataFrame(
        {
            "customer_id": ["yy", "yy"],
            "date": pd.to_datetime(["2020-06-01", "2020-06-03"]),  # Monday, Wednesday
            "amount": [40.0, -40.0],
        }
    )
    log = pd.concat([frame, cancelled], ignore_index=True)
    scorer = GBMScorer(freq="W", n_estimators=20, max_snapshots=2).fit(log, "2020-12-31", 56)
    assert scorer.btyd_.freq == "W"
    scores = scorer.predict(log, "2020-12-31", 56)
    _clean(scores)
    assert "yy" not in scores.index
    daily = GBMScorer(n_estimators=20, max_snapshots=2).fit(log, "2020-12-31", 56)
    # weekly counts: never more purchases than the daily model expects
    weekly_n = scores["expected_purchases"].sum()
    assert weekly_n < daily.predict(log, "2020-12-31", 56)["expected_purchases"].sum()


def test_sampled_rows_keep_the_buyer_share_and_the_ranking(log, fitted_gbm):
    rng = np.random.default_rng(3)
    y = pd.DataFrame({"bought": rng.random(100_000) < 0.1})
    x = pd.DataFrame({"a": np.arange(100_000)})
    for cap in (30_000, 5_000):  # buyers fit in half the cap / buyers drawn too
        diag: dict = {}
        sx, sy, weight = GBMScorer(max_rows=cap, seed=1)._thin([x], [y], diag, "refit")
        assert abs(len(sx) - cap) < 0.05 * cap and diag["sampled"]["refit"]["kept"] == len(sx)
        # snapshot by snapshot, the same sample as of the stacked tables
        cuts = [0, 100, 40_000, 100_000]
        parts = [(x.iloc[a:b], y.iloc[a:b]) for a, b in itertools.pairwise(cuts)]
        px, py, pw = GBMScorer(max_rows=cap, seed=1)._thin(
            [p[0] for p in parts], [p[1] for p in parts], {}, "refit"
        )
        pd.testing.assert_frame_equal(px, sx)
        pd.testing.assert_frame_equal(py, sy)
        np.testing.assert_array_equal(pw, weight)
        bought = sy["bought"].to_numpy()
        assert (bought * weight).sum() / weight.sum() == pytest.approx(0.1, abs=0.01)
        assert set(sx["a"]) <= set(x["a"])
    # on the simulated log: far fewer rows, a ranking out of time as good within 0.02
    small = GBMScorer(n_estimators=80, max_rows=6_000).fit(log, AS_OF, 60)
    sampled = small.diagnostics_["sampled"]["refit"]
    assert sampled["rows"] > 2 * sampled["kept"] and small.diagnostics_["training_rows"] < 7_000
    labels = build_labels(log, AS_OF, 60)
    full, thin = (m.predict(log, AS_OF, 60)["p_repurchase"] for m in (fitted_gbm, small))
    bought = labels["bought"].reindex(full.index).fillna(False).astype(bool)
    assert roc_auc_score(bought, thin) > roc_auc_score(bought, full) - 0.02
    assert "sampled" not in fitted_gbm.diagnostics_  # 24,000 rows: under the default cap
    # a held-out snapshot over the cap is sampled too (uniformly), and still calibrates
    tiny = GBMScorer(n_estimators=80, max_rows=2_500).fit(log, AS_OF, 60)
    held = tiny.diagnostics_["sampled"]["held_out"]
    assert held["kept"] == 2_500 < held["rows"]
    assert tiny.platt_ is not None and "calibration" in tiny.diagnostics_
    thin = tiny.predict(log, AS_OF, 60)["p_repurchase"]
    assert roc_auc_score(bought, thin) > roc_auc_score(bought, full) - 0.03


def test_a_prefix_view_reuses_only_the_tables_its_rows_can_make(log, fitted):
    """``share_prefix``: evaluate's inner windows read the evaluation's snapshot tables.

    A view holding the log's lines up to a cutoff may take the source's entries whose data end
    by then (the same rows made them) and must make its own for the rest: a snapshot whose
    labels run past the cutoff sees fewer purchases in the view.
    """
    cutoff = AS_OF - pd.Timedelta(days=30)  # on the 30-day grid of the fit at AS_OF
    known = log[log["date"] < cutoff + pd.Timedelta(days=1)]
    share_prefix(known, log, cutoff)
    own = gbm_module._SHARED[id(known)]
    source = gbm_module._SHARED[id(log)]
    before = dict(source.entries)
    inside = GBMScorer(hybrid=True, n_estimators=80).fit(known, cutoff, 60)
    plain = known.copy()  # an object of its own: shares nothing
    pd.testing.assert_frame_equal(
        inside.predict(known, cutoff, 60),
        GBMScorer(hybrid=True, n_estimators=80).fit(plain, cutoff, 60).predict(plain, cutoff, 60),
    )
    # the tables the fit at AS_OF made and that end by the cutoff were read, not made again
    reused = [k for k in before if k[0] == "snapshot" and k[1] + pd.Timedelta(days=k[2]) <= cutoff]
    assert reused and not own.entries
    # past its end the view makes its own, from its own rows
    beyond = GBMScorer(hybrid=True, n_estimators=80).fit(known, AS_OF, 60)
    plain = known.copy()
    pd.testing.assert_frame_equal(
        beyond.predict(known, AS_OF, 60),
        GBMScorer(hybrid=True, n_estimators=80).fit(plain, AS_OF, 60).predict(plain, AS_OF, 60),
    )
    assert own.entries and all(
        k[1] + pd.Timedelta(days=k[2] if k[0] == "snapshot" else 0) > cutoff for k in own.entries
    )


def test_gbm_and_hybrid_at_one_as_of_share_its_bgnbd_scores_and_table(log):
    """Scoring reuses the as-of BG/NBD scores and feature table only for that same BG/NBD."""
    fresh = log.copy()
    gbm = GBMScorer(n_estimators=80).fit(fresh, AS_OF, 60)
    hybrid = GBMScorer(hybrid=True, n_estimators=80).fit(fresh, AS_OF, 60)
    entries = gbm_module._SHARED[id(fresh)].entries

    def count(kind: str) -> int:
        return sum(key[0] == kind for key in entries)

    gbm.predict(fresh, AS_OF, 60)
    assert count("btyd_scores") == count("scoring_table") == 1
    shared = hybrid.predict(fresh, AS_OF, 60)
    assert count("btyd_scores") == count("scoring_table") == 1  # read, not made again
    alone = fresh.copy()  # an object of its own: computes everything
    pd.testing.assert_frame_equal(shared, hybrid.predict(alone, AS_OF, 60))
    # another BG/NBD at the same as-of makes its own entries
    other = GBMScorer(n_estimators=80).fit(fresh, AS_OF, 60)
    other.btyd_ = BTYDScorer(kind="bgnbd", penalizer=0.01).fit(fresh, AS_OF)
    other.predict(fresh, AS_OF, 60)
    assert count("btyd_scores") == count("scoring_table") == 2


def test_shared_tables_are_bounded_in_bytes_oldest_first(monkeypatch):
    frame = pd.DataFrame({"a": np.zeros(1000)})  # 8,000 bytes of data plus the index
    size = gbm_module._nbytes(frame)
    monkeypatch.setattr(gbm_module, "_SHARED_BYTES", int(2.5 * size))
    tables = gbm_module._Tables()
    made = []

    def make(name: str):
        def build() -> tuple[pd.DataFrame, pd.DataFrame]:
            made.append(name)
            return frame.copy(), frame.iloc[:0]

        return build

    day = pd.Timestamp("2021-01-01")
    for name in ("a", "b", "c"):
        tables.get((name,), day, make(name))
    assert list(tables.entries) == [("b",), ("c",)]  # "a" went: three would pass the bound
    tables.get(("b",), day, make("b"))  # read, and now the newest used
    tables.get(("a",), day, make("a"))  # made again, pushing out "c"
    assert made == ["a", "b", "c", "a"] and list(tables.entries) == [("b",), ("a",)]
    # one entry over the bound on its own still stays (the fit asking for it reads it next)
    big = pd.DataFrame({"a": np.zeros(10_000)})
    tables.get(("big",), day, lambda: big)
    assert list(tables.entries) == [("big",)]


def test_snapshot_bgnbd_fits_skip_the_penalizer_search_the_as_of_fit_runs(log):
    """Training snapshots fit BG/NBD at one penalizer (the search chose 0 or 1e-5 at 47 dates)."""
    fresh = log.copy()  # tables of its own, which no other test's fits evict
    fitted = GBMScorer(n_estimators=20).fit(fresh, AS_OF, 60)
    assert "penalizer_search" in fitted.btyd_.diagnostics_
    days = {pd.Timestamp(d) for d in fitted.diagnostics_["snapshots"]}
    entries = gbm_module._SHARED[id(fresh)].entries
    snapshots = [v for k, v in entries.items() if k[0] == "btyd" and k[1] in days]
    assert len(snapshots) == len(days) >= 3
    for btyd in snapshots:
        assert "penalizer_search" not in btyd.diagnostics_
        assert btyd.penalizer_ == gbm_module._SNAPSHOT_PENALIZER == 1e-5


def test_max_bin_bounds_the_split_points_of_every_feature(log):
    model = GBMScorer(n_estimators=40, max_bin=4, explain=False).fit(log, AS_OF, 60)
    trees = model.boosters_["repurchase"].trees_to_dataframe()
    splits = trees.dropna(subset=["split_feature"]).groupby("split_feature")["threshold"]
    assert len(splits) > 3
    # four bins give at most three places to split a feature
    assert splits.nunique().max() <= 3
    wide = GBMScorer(n_estimators=40, explain=False).fit(log, AS_OF, 60)
    wide_trees = wide.boosters_["repurchase"].trees_to_dataframe()
    assert wide_trees.groupby("split_feature")["threshold"].nunique().max() > 3


def test_a_model_saved_before_max_bin_existed_says_it_used_255(fitted_gbm, tmp_path):
    payload = json.loads(fitted_gbm.to_json())
    del payload["params"]["max_bin"]
    old = GBMScorer.from_json(json.dumps(payload))
    assert old.max_bin == 255 and GBMScorer().max_bin == 63


def test_gbm_and_hybrid_read_one_seasonal_factor_worked_out_as_bgnbd_missed_a_year_ago():
    """The factors are BG/NBD's miss one year before as-of, computed once per as-of."""
    log, _ = simulate_transactions(3000, seed=5, observation_days=900)
    as_of = pd.Timestamp("2022-04-30")
    gbm = GBMScorer(n_estimators=40).fit(log, as_of, 60)
    hybrid = GBMScorer(hybrid=True, n_estimators=40).fit(log, as_of, 60)
    entries = gbm_module._SHARED[id(log)].entries
    assert sum(key[0] == "season" for key in entries) == 1
    assert gbm.season_ == hybrid.season_
    assert gbm.diagnostics_["seasonality"] == hybrid.diagnostics_["seasonality"]
    # independently: the full BG/NBD prediction a year earlier against what happened
    year_ago = as_of - pd.Timedelta(days=365)
    past = BTYDScorer(kind="bgnbd", penalizer=gbm.btyd_.penalizer_).fit(log, year_ago)
    pred = past.predict(log, year_ago, gbm.label_days_)
    actual = build_labels(log, year_ago, gbm.label_days_, customers=pred.index)
    expected = {
        key: float(np.clip(actual[a].sum() / pred[p].sum(), 0.5, 2.5))
        for key, p, a in (
            ("buyers", "p_repurchase", "bought"),
            ("purchases", "expected_purchases", "n_purchases"),
            ("revenue", "expected_revenue", "revenue"),
        )
    }
    assert gbm.season_ == pytest.approx(expected, rel=1e-9)
    assert gbm.season_ != {"buyers": 1.0, "purchases": 1.0, "revenue": 1.0}
