"""What an evaluate run records, and the data fingerprint it is built on."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pandas as pd
import pytest
from mlflow import MlflowClient
from typer.testing import CliRunner

import churnml
from churnml.cli import app
from churnml.data import fingerprint, load_transactions, simulate_transactions
from churnml.exceptions import ConfigError, InsufficientDataError
from churnml.tracking import environment_tags

runner = CliRunner()


def test_fingerprint_is_order_free_content_sensitive_and_anonymous():
    log, _ = simulate_transactions(300, seed=2)
    log.loc[0, "customer_id"] = "zz-secret-7"
    tx = load_transactions(log)
    print_ = fingerprint(tx)
    assert print_["rows"] == len(tx.lines) and print_["customers"] == 300
    assert print_["rows_read"] == len(log) and set(print_["excluded"]) >= {"exact_duplicate"}
    shuffled = load_transactions(log.sample(frac=1.0, random_state=1))
    assert fingerprint(shuffled)["sha256"] == print_["sha256"]
    changed = log.copy()
    changed.loc[5, "amount"] += 0.01
    assert fingerprint(load_transactions(changed))["sha256"] != print_["sha256"]
    assert "zz-secret" not in json.dumps(print_, default=str)


def test_environment_tags_pin_the_code():
    tags = environment_tags()
    for package in ("churnml", "pandas", "lifetimes", "lightgbm", "mlflow"):
        assert tags[f"versions.{package}"] not in ("", "not installed")
    assert len(tags.get("mlflow.source.git.commit", "x" * 40).removesuffix("-dirty")) == 40


def test_evaluate_is_an_mlflow_run_with_metrics_plots_and_data(tmp_path):
    log, _ = simulate_transactions(1200, seed=4, observation_days=500)
    path = tmp_path / "log.csv"
    log.to_csv(path, index=False)
    args = ["evaluate", "-t", str(path), "--cutoff", "2020-12-31", "--horizon-days", "60"]
    args += ["--models", "bgnbd,baseline", "--experiment", "eval-test", "--no-champion"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    run_id = result.output.split("MLflow run ")[1].split()[0]
    run = MlflowClient().get_run(run_id)
    assert run.data.tags["churnml.command"] == "evaluate"
    assert run.data.params["cutoff"] == "2020-12-31" and run.data.params["families"] == (
        "bgnbd,baseline"
    )
    assert run.data.params["data.rows_read"] == str(len(log))
    # the UI's Dataset column: file name, path and digest only
    (dataset,) = run.inputs.dataset_inputs
    assert dataset.dataset.name == "log.csv" and str(path) in dataset.dataset.source
    assert dataset.dataset.digest == run.data.params["data.sha256"][:16]
    assert [t.value for t in dataset.tags] == ["evaluation"]
    metrics = run.data.metrics
    assert {"bgnbd.auc", "bgnbd.revenue_ratio", "baseline.brier", "time.evaluate_s"} <= set(metrics)
    assert metrics["backtest.customers"] == float(
        log[log["date"] < pd.Timestamp("2021-01-01")]["customer_id"].nunique()
    )
    client = MlflowClient()
    local = client.download_artifacts(run_id, "metrics.json", str(tmp_path))
    logged = json.loads(Path(local).read_text())
    assert logged["models"]["bgnbd"]["auc"] == metrics["bgnbd.auc"]
    plots = {a.path for a in client.list_artifacts(run_id, "plots")}
    assert {"plots/calibration.png", "plots/gains.png", "plots/frequency.png"} <= plots
    # --no-track leaves no run behind
    before = len(client.search_runs([run.info.experiment_id]))
    assert runner.invoke(app, [*args, "--no-track"]).exit_code == 0
    assert len(client.search_runs([run.info.experiment_id])) == before


def test_a_fit_that_fails_while_the_store_opens_beside_it_is_a_failed_run():
    """The store opens in a thread while the models fit; the run is made when the command
    starts, with the tags mlflow.start_run gives, and a failure in the fit marks it FAILED."""
    log, _ = simulate_transactions(600, seed=8, observation_days=400)
    tx = load_transactions(log)
    before_ms = time.time() * 1000
    too_early = (log["date"].min() - pd.Timedelta(days=5)).date()
    with pytest.raises(InsufficientDataError, match="no purchase"):
        churnml.evaluate(tx, too_early, 60, models=["bgnbd"], champion=False, experiment="bg-fail")
    client = MlflowClient()
    (run,) = client.search_runs([client.get_experiment_by_name("bg-fail").experiment_id])
    assert run.info.status == "FAILED"
    assert run.data.tags["churnml.command"] == "evaluate"
    assert run.data.tags["mlflow.source.name"] and "versions.lightgbm" in run.data.tags
    assert before_ms - 1000 <= run.info.start_time <= time.time() * 1000


def test_a_store_that_cannot_open_stops_train_before_it_registers():
    client = MlflowClient()
    client.delete_experiment(client.create_experiment("bg-gone"))
    log, _ = simulate_transactions(600, seed=8, observation_days=400)
    steps: list[str] = []
    with pytest.raises(ConfigError, match="deleted"):
        churnml.train(
            load_transactions(log),
            horizon_days=60,
            families=["bgnbd", "pareto"],
            experiment="bg-gone",
            on_step=steps.append,
        )
    assert not any(step.startswith("Registering") for step in steps)
