"""The public verbs called from Python: settings checks, outputs, results."""

from __future__ import annotations

import json

import pytest

import churnml
from churnml.data import load_transactions, simulate_transactions
from churnml.exceptions import ConfigError
from churnml.settings import RunSettings
from churnml.workflows import evaluate, train_with


@pytest.fixture(scope="module")
def tx():
    frame, _ = simulate_transactions(800, seed=12, observation_days=400)
    return load_transactions(frame)


def test_train_with_refuses_families_that_cannot_be_champion(tx):
    for families in (("baseline",), ("xgb",)):
        settings = RunSettings(as_of="2020-12-31", families=families)
        with pytest.raises(ConfigError, match="choose from: bgnbd"):
            train_with(tx, settings, track=False)
    with pytest.raises(ConfigError, match=r"needs settings\.as_of"):
        train_with(tx, RunSettings(), track=False)


def test_train_without_tracking_records_settings_from_the_data(tx, tmp_path):
    result = churnml.train(
        tx, horizon_days=60, families=["bgnbd"], track=False, export_dir=tmp_path / "bundle"
    )
    assert result.version is None and result.champion == "bgnbd"
    assert result.settings.as_of == tx.lines["date"].max().normalize()
    assert result.settings.freq == tx.policy.freq and result.settings.families == ("bgnbd",)
    meta = json.loads((tmp_path / "bundle" / "bundle.json").read_text())
    assert RunSettings.from_dict(meta["settings"]) == result.settings
    scored = churnml.score(tx, result.settings.as_of, model=str(tmp_path / "bundle"))
    assert scored.family == "bgnbd" and scored.horizon_days == 60
    assert scored.n_unscored == 0 and len(scored.scores) == tx.report.n_customers


def test_evaluate_writes_metrics_and_plots_where_asked(tx, tmp_path):
    result = evaluate(
        tx,
        "2020-10-31",
        60,
        models=["bgnbd", "baseline"],
        champion=False,
        track=False,
        out=tmp_path / "run" / "metrics.json",
    )
    names = sorted(p.relative_to(tmp_path).as_posix() for p in result.files)
    assert names[0] == "run/metrics.json" and "run/plots/calibration.png" in names
    assert json.loads((tmp_path / "run" / "metrics.json").read_text())["horizon_days"] == 60
    none = evaluate(tx, "2020-10-31", 60, models=["baseline"], champion=False, track=False)
    assert none.files == []
