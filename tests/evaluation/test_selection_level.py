"""Level factors from backtest windows: the year-ago window first, else the rolling ones."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from churnml.data import load_transactions, simulate_transactions
from churnml.evaluation import LEVEL_RULE, Evaluation, evaluate, learn_levels
from churnml.evaluation.backtest import (
    backtest_horizon,
    backtest_windows,
    seasonal_cutoff,
    window_cutoffs,
    window_step,
)
from churnml.evaluation.level import ROLLING_WEIGHT, corrected_ratios, own_season, window_ratios
from churnml.exceptions import InsufficientDataError
from churnml.models.level import LEVEL_CLIP
from churnml.models.pipeline import BTYDScorer


def _window(cutoff, buyers, purchases=None, revenue=None, family="gbm", horizon=90):
    """A window whose family predicted ``1 / ratio`` times what happened."""
    ratios = (buyers, purchases or buyers, revenue or buyers)
    keys = ("buyers_ratio", "purchases_ratio", "revenue_ratio")
    metrics = {k: 1.0 / r for k, r in zip(keys, ratios, strict=True)}
    return Evaluation(
        pd.Timestamp(cutoff), horizon, pd.DataFrame(), pd.DataFrame(), metrics={family: metrics}
    )


ROLLING = [
    _window("1998-04-01", 0.8, 0.9, 0.7),
    _window("1998-03-02", 0.9, 1.0, 0.8),
    _window("1998-01-31", 0.85, 0.95, 0.75),
]


def test_rolling_windows_give_half_their_geometric_mean():
    fit = learn_levels(ROLLING, "gbm")
    assert fit.method == "rolling" and ROLLING_WEIGHT == 0.5
    assert fit.factors["buyers"] == pytest.approx((0.8 * 0.9 * 0.85) ** (1 / 6))
    assert fit.factors["revenue"] == pytest.approx((0.7 * 0.8 * 0.75) ** (1 / 6))
    assert [w["kind"] for w in fit.windows] == ["rolling"] * 3
    # three 90-day windows 30 days apart cover 150 days: a year's CLV is not rescaled
    assert fit.factors["clv"] == 1.0 and any("cover 150 days" in n for n in fit.notes)


def test_the_same_window_a_year_earlier_wins_when_it_exists():
    season = _window("1997-04-01", 1.3, 1.2, 1.4)
    fit = learn_levels(ROLLING, "gbm", season)
    assert fit.method == "seasonal"
    assert fit.factors["buyers"] == pytest.approx(1.3)
    assert fit.factors["revenue"] == pytest.approx(1.4)
    assert fit.windows[-1]["kind"] == "seasonal" and fit.windows[-1]["cutoff"] == "1997-04-01"
    assert "year earlier" in LEVEL_RULE


def test_fewer_than_two_windows_correct_nothing():
    fit = learn_levels(ROLLING[:1], "gbm")
    assert fit.method == "none" and set(fit.factors.values()) == {1.0}
    assert any("2 needed" in note for note in fit.notes)
    # the one window still gives an interval (its miss), around the uncorrected total
    assert fit.interval["buyers"] == pytest.approx([0.8, 1.0])
    assert learn_levels([], "gbm").interval == {"buyers": None, "purchases": None, "revenue": None}


def test_factors_are_clipped():
    fit = learn_levels([_window("1998-04-01", 25.0), _window("1998-03-02", 16.0)], "gbm")
    assert fit.factors["buyers"] == LEVEL_CLIP[1]
    assert learn_levels(ROLLING, "gbm", _window("1997-04-01", 0.1)).factors["buyers"] == 0.5


def test_clv_is_rescaled_once_the_windows_cover_its_horizon():
    long = [_window(c, 0.64, horizon=365) for c in ("1997-06-30", "1997-02-28", "1996-10-30")]
    fit = learn_levels(long, "gbm")
    assert fit.factors["revenue"] == pytest.approx(0.8)
    # a year's CLV is the average of every window's miss, here the same
    assert fit.factors["clv"] == pytest.approx(0.64)
    assert learn_levels(long, "gbm", clv_horizon_days=2000).factors["clv"] == 1.0


def test_the_interval_holds_every_corrected_window_and_two_sd():
    fit = learn_levels(ROLLING, "gbm")
    ratios = np.array([0.8, 0.9, 0.85]) / fit.factors["buyers"]
    low, high = fit.interval["buyers"]
    sd = np.std(np.log(ratios), ddof=1)
    assert low == pytest.approx(min(ratios.min(), math.exp(-2 * sd)))
    assert high == pytest.approx(max(ratios.max(), math.exp(2 * sd)))
    assert low < 1 < high
    totals = fit.totals({"buyers": 100.0, "purchases": 150.0, "revenue": 1000.0})
    assert totals["buyers"] == {"predicted": 100.0, "low": 100 * low, "high": 100 * high}


def test_a_failed_family_or_window_is_no_evidence():
    failed = Evaluation(
        pd.Timestamp("1998-01-01"), 90, pd.DataFrame(), pd.DataFrame(), metrics={"gbm": {}}
    )
    assert all(math.isnan(v) for v in window_ratios(failed, "gbm").values())
    fit = learn_levels([ROLLING[0], failed], "gbm")
    assert fit.method == "none" and len(fit.windows) == 1
    assert corrected_ratios([1.44, float("nan"), 1.44]) == pytest.approx(
        [1.2, float("nan"), 1.2], nan_ok=True
    )


def test_fit_is_json_ready():
    fit = learn_levels(ROLLING, "gbm", _window("1997-04-01", float("inf")))
    payload = fit.to_dict()
    assert payload["method"] == "rolling"  # a year-ago window without a usable ratio
    assert payload["rule"] == LEVEL_RULE and payload["family"] == "gbm"


def test_rolling_cutoffs_step_and_history():
    assert window_step(30) == 30 and window_step(90) == 30 and window_step(180) == 60
    cutoffs = window_cutoffs("1997-01-01", "1998-06-30", 180)
    assert [str(c.date()) for c in cutoffs] == ["1998-01-01", "1997-11-02", "1997-09-03"]
    # every window's labels end by as-of, and never overlap more than 2/3 of a horizon
    assert all(c + pd.Timedelta(days=180) <= pd.Timestamp("1998-06-30") for c in cutoffs)
    # an older window needs 28 days of history before its cutoff (the BTYD gate)
    short = window_cutoffs("1997-12-01", "1998-06-30", 180)
    assert [str(c.date()) for c in short] == ["1998-01-01"]
    assert len(window_cutoffs("1997-01-01", "1998-06-30", 90, n_windows=5)) == 5


def test_the_year_ago_cutoff_needs_half_a_year_of_history():
    assert seasonal_cutoff("2010-01-01", "2011-09-30", 90) == pd.Timestamp("2010-09-30")
    assert seasonal_cutoff("2010-06-01", "2011-09-30", 90) is None  # 121 days before it
    assert seasonal_cutoff("2000-01-01", "2011-09-30", 400) is None  # would run past as-of


def test_a_family_with_its_own_seasonal_level_gets_no_second_one():
    # LightGBM families already multiply BG/NBD's level by its miss a year earlier; the
    # windows (fitted without that correction) would correct the season twice
    assert own_season({"seasonality": {"buyers": 1.3}}) and not own_season({"notes": []})
    season = _window("1997-04-01", 1.3)
    fit = learn_levels(ROLLING, "gbm", season, own_level="BG/NBD's level times its miss")
    assert fit.method == "own" and set(fit.factors.values()) == {1.0}
    assert any("sets its own level (BG/NBD's level times its miss)" in n for n in fit.notes)
    assert fit.interval["buyers"] is not None  # the windows still bound the totals


def test_evaluate_reports_the_champion_train_would_register():
    """Chosen on inner windows before the cutoff, with the level those windows teach."""
    frame, _ = simulate_transactions(700, seed=3, observation_days=450)
    tx = load_transactions(frame)
    ev = evaluate(tx, "2021-01-20", 60, models=["bgnbd", "baseline"], champion=True)
    diagnostics = ev.diagnostics["champion"]
    assert diagnostics["family"] == "bgnbd"
    assert diagnostics["inner_cutoffs"] == ["2020-11-21", "2020-10-22", "2020-09-22"]
    factors = diagnostics["level"]["factors"]
    assert diagnostics["level"]["method"] == "rolling"
    champion, plain = ev.predictions["champion"], ev.predictions["bgnbd"]
    assert champion["p_repurchase"].sum() == pytest.approx(
        factors["buyers"] * plain["p_repurchase"].sum()
    )
    assert ev.metrics["champion"]["revenue_ratio"] == pytest.approx(
        factors["revenue"] * ev.metrics["bgnbd"]["revenue_ratio"]
    )
    # a logit shift keeps the ranking: same AUC
    assert ev.metrics["champion"]["auc"] == pytest.approx(ev.metrics["bgnbd"]["auc"])


def test_pareto_at_the_cutoff_starts_from_the_newest_inner_window(monkeypatch):
    """The inner windows run first; the evaluation's own Pareto/NBD fit starts at their newest
    fit (a month of data earlier) and reaches the optimum a fit from scratch reaches."""
    frame, _ = simulate_transactions(1500, seed=8, observation_days=450)
    tx = load_transactions(frame)
    starts = {}
    real = BTYDScorer.fit

    def spy(self, tx, as_of, *args, **kwargs):
        if self.kind == "pareto":
            starts[str(pd.Timestamp(as_of).date())] = self.start
        return real(self, tx, as_of, *args, **kwargs)

    monkeypatch.setattr(BTYDScorer, "fit", spy)
    ev = evaluate(tx, "2021-01-20", 60, models=["bgnbd", "pareto"], champion=True)
    monkeypatch.setattr(BTYDScorer, "fit", real)
    inner = ev.diagnostics["champion"]["inner_cutoffs"]
    assert len(inner) == 3
    assert starts[inner[-1]] is None  # the oldest inner window, from scratch
    # the cutoff, from the newest inner window's optimum
    assert starts["2021-01-20"] is not None
    scratch = BTYDScorer(kind="pareto", penalizer=ev.diagnostics["pareto"]["penalizer"])
    scratch.fit(tx, "2021-01-20")
    fitted = ev.diagnostics["pareto"]["params"]
    for name, value in scratch.diagnostics_["params"].items():
        assert fitted[name] == pytest.approx(value, rel=0.02), name
    assert ev.metrics["pareto"]["auc"] == pytest.approx(
        roc_auc_score(
            ev.labels.loc[ev.predictions["pareto"].index, "bought"],
            scratch.predict(tx, "2021-01-20", 60)["p_repurchase"],
        ),
        abs=1e-3,
    )


@pytest.mark.parametrize(
    ("cutoff", "message"),
    [("2019-06-01", "no purchase .* on or before as-of 2019-06-01"), ("2021-03-20", "runs past")],
)
def test_evaluate_with_a_champion_checks_its_own_window_first(cutoff, message, monkeypatch):
    """A cutoff before the data or a holdout past its end is named before any inner window."""
    frame, _ = simulate_transactions(300, seed=2, observation_days=450)
    tx = load_transactions(frame)
    ran = []
    monkeypatch.setattr(
        "churnml.evaluation.backtest.backtest_windows", lambda *a, **k: ran.append(1) or ([], [])
    )
    with pytest.raises(InsufficientDataError, match=message):
        evaluate(tx, cutoff, 60, models=["bgnbd"], champion=True)
    assert ran == []


def test_windows_with_a_few_months_of_history_do_not_teach_the_level():
    """Fits on a few months of history miss for reasons of their own (young customers): UCI
    2009-10 at 2010-06-01 learned +35 % from windows with 2-4 months and over-predicted
    buyers by 34 %. Such windows give no level; with 180 days they do."""
    from churnml.evaluation import Evaluation
    from churnml.evaluation.level import learn_levels

    def window(cutoff: str, history: float) -> Evaluation:
        ratios = {"buyers_ratio": 1.5625, "purchases_ratio": 1.5625, "revenue_ratio": 1.5625}
        summary = pd.DataFrame({"T": [history / 2, history]})
        return Evaluation(
            pd.Timestamp(cutoff), 90, pd.DataFrame(), summary, metrics={"gbm": ratios}
        )

    young = learn_levels([window("2010-03-03", 92), window("2010-02-01", 62)], "gbm")
    assert young.method == "none" and young.factors["buyers"] == 1.0
    assert any("under 180 days of history" in n for n in young.notes)
    old = learn_levels([window("2010-03-03", 300), window("2010-02-01", 270)], "gbm")
    assert old.method == "rolling" and old.factors["buyers"] == pytest.approx(0.8)


def test_with_nothing_to_rank_the_default_champion_is_a_candidate():
    """No inner window at all (nothing precedes its cutoff): BG/NBD only when it competes."""
    rng = np.random.default_rng(0)
    days = rng.integers(0, 300, 200)
    once = pd.DataFrame(
        {
            "customer_id": [f"c{i}" for i in range(200)],
            "date": pd.Timestamp("2020-01-01") + pd.to_timedelta(days, unit="D"),
            "amount": 10.0,
        }
    )
    tx = load_transactions(once)
    ev = evaluate(tx, "2020-01-20", 30, models=["gbm", "baseline"], champion=True)
    assert ev.diagnostics["champion"]["inner_cutoffs"] == []
    assert ev.diagnostics["champion"]["family"] == "gbm"
    assert "gbm by default" in ev.diagnostics["champion"]["reason"]


def test_inner_windows_reach_the_cutoff_even_with_no_purchase_on_it():
    """The data known at the cutoff covers the cutoff day, bought on or not."""
    frame, _ = simulate_transactions(700, seed=3, observation_days=450)
    cutoff = pd.Timestamp("2021-01-20")
    quiet = frame[pd.to_datetime(frame["date"]).dt.normalize() != cutoff]
    ev = evaluate(load_transactions(quiet), cutoff, 60, models=["bgnbd"], champion=True)
    # the newest inner window ends on the cutoff day itself
    assert ev.diagnostics["champion"]["inner_cutoffs"][0] == "2020-11-21"
    assert len(ev.diagnostics["champion"]["inner_cutoffs"]) == 3


def test_a_horizon_as_long_as_the_history_is_backtested_on_shorter_windows():
    """CDNOW at 1997-09-30 with 273 days left no window, and BG/NBD won by default."""
    assert backtest_horizon("1997-01-01", "1997-09-30", 90) == 90
    days = backtest_horizon("1997-01-01", "1997-09-30", 273)
    cutoffs = window_cutoffs("1997-01-01", "1997-09-30", days)
    # the longest windows with three cutoffs, each after 28 days of history, labels by as-of
    assert len(cutoffs) == 3 and (cutoffs[-1] - pd.Timestamp("1997-01-01")).days >= 28
    assert cutoffs[0] + pd.Timedelta(days=days) == pd.Timestamp("1997-09-30")
    assert (
        len(window_cutoffs("1997-01-01", "1997-09-30", days + 1)) < 3
        or (
            window_cutoffs("1997-01-01", "1997-09-30", days + 1)[-1] - pd.Timestamp("1997-01-01")
        ).days
        < 28
    )
    frame, _ = simulate_transactions(700, seed=3, observation_days=300)
    tx = load_transactions(frame)
    as_of = tx.lines["date"].max().normalize()
    windows, notes = backtest_windows(tx, as_of, 280, models=["bgnbd", "baseline"])
    assert len(windows) == 3 and {ev.horizon_days for ev in windows} == {windows[0].horizon_days}
    assert 30 <= windows[0].horizon_days < 280
    assert all("auc" in ev.metrics["bgnbd"] for ev in windows)
    assert all(set(ev.predictions) == {"bgnbd", "baseline"} for ev in windows)  # kept by default
    assert any("no level is learned from them" in n for n in notes)
