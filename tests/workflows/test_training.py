"""train: the champion over rolling windows, the level it learns, and the fallback chain."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from mlflow import MlflowClient
from typer.testing import CliRunner

import churnml
from churnml.cli import app
from churnml.data import load_transactions, simulate_transactions
from churnml.data.sampling import sample_customers
from churnml.models import LevelAdjusted
from churnml.models.bundle import load_bundle

runner = CliRunner()
START = pd.Timestamp("2020-01-01")


def _once_only(n: int = 300, days: int = 400, seed: int = 0) -> pd.DataFrame:
    """Every customer buys exactly once: no BTYD model can see anyone come back."""
    rng = np.random.default_rng(seed)
    day = rng.integers(0, days, n)
    day[0] = days - 1
    return pd.DataFrame(
        {
            "customer_id": [f"c{i:04d}" for i in range(n)],
            "date": (START + pd.to_timedelta(day, unit="D")).strftime("%Y-%m-%d"),
            "amount": rng.uniform(10, 100, n).round(2),
        }
    )


def _quiet_end(seed: int = 0) -> pd.DataFrame:
    """Repeat buyers for 120 days, then first purchases only: nobody buys again at the end."""
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(200):
        for day in np.sort(rng.integers(0, 120, rng.integers(2, 6))):
            rows.append((f"o{i:04d}", int(day), float(rng.uniform(10, 100))))
    for i in range(150):
        rows.append((f"n{i:04d}", int(rng.integers(120, 400)), float(rng.uniform(10, 100))))
    rows.append(("n9999", 399, 20.0))
    frame = pd.DataFrame(rows, columns=["customer_id", "day", "amount"])
    frame["date"] = (START + pd.to_timedelta(frame.pop("day"), unit="D")).dt.strftime("%Y-%m-%d")
    return frame[["customer_id", "date", "amount"]].assign(amount=lambda d: d["amount"].round(2))


@pytest.fixture(scope="module")
def simulated():
    frame, _ = simulate_transactions(900, seed=4, observation_days=450)
    return load_transactions(frame)


@pytest.fixture(scope="module")
def trained(simulated, tmp_path_factory):
    folder = tmp_path_factory.mktemp("bundle")
    result = churnml.train(
        simulated,
        horizon_days=60,
        families=["bgnbd", "mbgnbd"],
        model_name="rolling-windows",
        export_dir=folder,
    )
    return result, folder


def test_three_windows_are_backtested_and_summarised(trained):
    result, _ = trained
    assert len(result.backtests) == 3 and result.backtest is result.backtests[0]
    cutoffs = [ev.cutoff for ev in result.backtests]
    as_of = result.settings.as_of
    assert cutoffs[0] == as_of - pd.Timedelta(days=60)
    assert [(cutoffs[j] - cutoffs[j + 1]).days for j in range(2)] == [30, 30]
    table = result.backtest_summary
    assert list(table.index) == ["bgnbd", "mbgnbd"] and table["n_windows"].eq(3).all()
    for column in ("auc_mean", "auc_std", "revenue_gini_mean", "brier_mean", "revenue_ratio_max"):
        assert table[column].notna().all()
    # the table holds what the rule read: the chosen row is the champion
    assert table.index[table["chosen"]].tolist() == [result.champion]
    assert "over 3 window(s)" in result.reason
    # per-window seconds, and the steps after
    for key in ("backtest.window_1", "backtest.window_3", "backtest", "fit", "level", "totals"):
        assert key in result.timings
    assert all(ev.seconds is not None and ev.seconds > 0 for ev in result.backtests)
    # the windows keep labels and metrics, not the models' predictions (memory)
    assert all(not ev.predictions and len(ev.labels) > 0 for ev in result.backtests)
    assert all("auc" in ev.metrics["bgnbd"] for ev in result.backtests)


def test_the_registered_model_carries_its_level_and_interval(trained, simulated):
    result, folder = trained
    level = result.level
    assert level is not None and level.family == result.champion
    assert level.method in ("rolling", "seasonal") and len(level.windows) >= 3
    for key in ("buyers", "purchases", "revenue"):
        total = result.totals[key]
        assert total["low"] <= total["predicted"] <= total["high"]
    scorer, meta = load_bundle(folder)
    assert isinstance(scorer, LevelAdjusted) and scorer.factors_ == level.factors
    assert meta["family"] == result.champion and meta["level"]["factors"] == level.factors
    assert meta["totals"] == json.loads(json.dumps(result.totals))
    assert [w["cutoff"] for w in meta["backtests"]] == [
        str(ev.cutoff.date()) for ev in result.backtests
    ]
    assert {row["family"] for row in meta["backtest_summary"]} == {"bgnbd", "mbgnbd"}
    # what the registry serves scores the totals train reported
    scored = churnml.score(simulated, result.settings.as_of, model_name="rolling-windows")
    assert scored.scores["p_repurchase"].sum() == pytest.approx(
        result.totals["buyers"]["predicted"]
    )
    assert scored.scores["expected_revenue"].sum() == pytest.approx(
        result.totals["revenue"]["predicted"]
    )


def test_the_run_logs_every_window_and_the_summary(trained):
    result, _ = trained
    client = MlflowClient()
    metrics = client.get_run(result.run_id).data.metrics
    assert metrics["backtest.windows"] == 3
    for j in (1, 2, 3):
        assert f"window_{j}.bgnbd.auc" in metrics and f"window_{j}.baseline.auc" in metrics
    assert metrics["summary.bgnbd.auc_mean"] == pytest.approx(
        result.backtest_summary.loc["bgnbd", "auc_mean"]
    )
    assert "time.backtest.window_2_s" in metrics and "time.level_s" in metrics
    files = {a.path for a in client.list_artifacts(result.run_id)}
    assert {"backtests.json", "backtest_summary.json", "metrics.json"} <= files


def test_the_challenge_compares_on_the_same_windows(trained, simulated):
    result, _ = trained
    again = churnml.train(
        simulated, horizon_days=60, families=["bgnbd"], model_name="rolling-windows", seed=1
    )
    # same data: BG/NBD alone against the champion's configuration over the 3 windows
    assert "over 3 backtest windows" in again.promotion
    assert f"vs champion {result.version} ({result.champion})" in again.promotion


def test_everyone_buying_once_falls_back_to_the_baseline(tmp_path):
    """No BTYD fit, no LightGBM fit: train still registers a model that scores."""
    log = _once_only()
    path = tmp_path / "once.csv"
    log.to_csv(path, index=False)
    tx = load_transactions(log)
    result = churnml.train(tx, horizon_days=60, model_name="fallback-once")
    assert result.champion == "baseline" and result.version == "1" and result.promoted
    assert "refit failed for bgnbd, pareto, mbgnbd, gbm, hybrid" in result.reason
    assert "the naive baseline, the last fallback" in result.reason
    assert any(n.startswith("gbm could not be refitted") for n in result.notes)
    out = tmp_path / "scores.csv"
    scored = runner.invoke(
        app,
        [
            *("score", "-t", str(path), "--as-of", str(result.settings.as_of.date())),
            *("--model-name", "fallback-once", "--out", str(out)),
        ],
    )
    assert scored.exit_code == 0, scored.output
    scores = pd.read_csv(out)
    assert len(scores) == 300 and scores["p_repurchase"].between(0, 1).all()
    assert (scores["model_version"] == "fallback-once/1").all()


def test_nobody_buying_again_at_the_end_falls_back_past_lightgbm(tmp_path):
    log = _quiet_end()
    path = tmp_path / "quiet.csv"
    log.to_csv(path, index=False)
    result = churnml.train(
        load_transactions(log),
        horizon_days=60,
        families=["gbm", "hybrid"],
        model_name="fallback-quiet",
    )
    # no window had a buyer, so the rule had nothing to rank; both LightGBM refits refuse
    assert result.champion == "baseline", result.reason
    assert "no family could be scored in any of the 3 backtest window(s); gbm by default" in (
        result.reason
    )
    assert "refit failed for gbm, hybrid" in result.reason
    out = tmp_path / "scores.csv"
    scored = runner.invoke(
        app,
        [
            *("score", "-t", str(path), "--as-of", str(result.settings.as_of.date())),
            *("--model-name", "fallback-quiet", "--out", str(out)),
        ],
    )
    assert scored.exit_code == 0, scored.output
    assert len(pd.read_csv(out)) == log["customer_id"].nunique()


def test_train_output_shows_the_windows_the_level_and_the_totals(tmp_path):
    frame, _ = simulate_transactions(600, seed=9, observation_days=420)
    path = tmp_path / "log.csv"
    frame.to_csv(path, index=False)
    result = runner.invoke(
        app,
        [
            *("train", "-t", str(path), "--horizon-days", "60", "--models", "bgnbd"),
            *("--model-name", "cli-windows"),
        ],
    )
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())
    assert "Backtest over 3 windows" in text and "bgnbd *" in text and "…" not in text
    assert "Level of bgnbd (" in text and "Expected in the 60 days after" in text
    assert "backtest.window_1" in text
    # score prints the totals with the interval the windows gave, for the trained horizon
    scored = runner.invoke(
        app,
        [
            *("score", "-t", str(path), "--as-of", str(frame["date"].max())[:10]),
            *("--model-name", "cli-windows", "--out", str(tmp_path / "s.csv")),
        ],
    )
    assert scored.exit_code == 0, scored.output
    line = next(x for x in scored.output.splitlines() if x.startswith("Expected in the next"))
    assert line.startswith("Expected in the next 60 days: buyers ") and ") , " not in line
    assert line.count("(") == 3 and line.count("-") >= 3


def test_a_horizon_as_long_as_the_history_picks_on_shorter_windows():
    """Before, no backtest window fitted and the champion was BG/NBD by default."""
    frame, _ = simulate_transactions(700, seed=3, observation_days=300)
    tx = load_transactions(frame)
    result = churnml.train(tx, horizon_days=280, families=("bgnbd", "pareto"), track=False)
    assert "by default" not in result.reason and result.champion in ("bgnbd", "pareto")
    assert len(result.backtests) == 3
    assert all(30 <= ev.horizon_days < 280 for ev in result.backtests)
    assert result.backtest_summary is not None and result.backtest_summary["n_windows"].max() == 3
    # their totals are another horizon's: no level from them
    assert result.level is not None and result.level.method == "none"
    assert any("no level is learned from them" in n for n in result.notes)


def test_a_log_past_max_customers_trains_on_a_sample_and_scores_everyone(tmp_path):
    frame, _ = simulate_transactions(2400, seed=5, observation_days=450)
    tx = load_transactions(frame)
    result = churnml.train(
        tx,
        horizon_days=60,
        families=["bgnbd"],
        model_name="sampled-customers",
        export_dir=tmp_path,
        max_customers=800,
    )
    sample = result.sample
    assert sample is not None and (sample.customers, sample.sampled) == (2400, 800)
    assert result.notes[0] == sample.note()
    # the backtest windows read the sample's customers only
    assert result.backtests and all(len(ev.labels) <= 800 for ev in result.backtests)
    params = MlflowClient().get_run(result.run_id).data.params
    assert params["max_customers"] == "800" and params["sample.sampled"] == "800"
    _, meta = load_bundle(tmp_path)
    assert meta["sample"]["customers"] == 2400 and meta["settings"]["max_customers"] == 800
    # the data fingerprint is the whole log's, not the sample's
    assert meta["data"]["customers"] == 2400
    # scoring reads every customer, and the scaled totals of the sample estimate theirs
    scored = churnml.score(tx, result.settings.as_of, model_name="sampled-customers")
    assert len(scored.scores) == 2400
    scores = scored.scores.set_index("customer_id")
    small, _ = sample_customers(tx, 800, seed=0)
    mine = scores.loc[small.lines["customer_id"].unique()]
    n, f = 800, 800 / 2400
    for key, column in (("buyers", "p_repurchase"), ("revenue", "expected_revenue")):
        total = result.totals[key]["predicted"]
        # the sample's customers score as when everyone is scored: the total is theirs, scaled
        assert total == pytest.approx(mine[column].sum() * sample.scale, rel=1e-9)
        # and it estimates everyone's within four standard errors of a sample total
        se = sample.scale * np.sqrt(n * (1 - f)) * scores[column].std()
        assert abs(total - scores[column].sum()) < 4 * se


def test_max_customers_none_trains_on_everyone():
    frame, _ = simulate_transactions(600, seed=5, observation_days=450)
    result = churnml.train(
        load_transactions(frame),
        horizon_days=60,
        families=["bgnbd"],
        track=False,
        max_customers=None,
    )
    assert result.sample is None and result.settings.max_customers is None
    assert max(len(ev.labels) for ev in result.backtests) > 500
