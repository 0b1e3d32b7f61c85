from __future__ import annotations

import json
import subprocess
import sys
import warnings
from pathlib import Path

import pandas as pd
import pytest
import typer
from typer.testing import CliRunner

from churnml.cli import app, spark_path
from tests.conftest import shared_file, write_csv

runner = CliRunner()


def test_every_command_has_help():
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    group = typer.main.get_command(app)
    commands = list(group.commands)
    expected = {"describe", "demo", "sample-data", "train", "score", "models", "snapshots"}
    expected |= {"serve", "recall"}
    assert expected <= set(commands)
    nested = [
        [name, sub] for name in commands for sub in getattr(group.commands[name], "commands", {})
    ]
    assert ["models", "rollback"] in nested and ["snapshots", "activate"] in nested
    for path in [[name] for name in commands] + nested:
        sub = runner.invoke(app, [*path, "--help"])
        assert sub.exit_code == 0 and "Usage" in sub.output, path


def test_describe_small_file_with_bad_dates(tmp_path):
    path = write_csv(
        tmp_path / "t.csv",
        "customer_id,date,amount\n1,2020-01-01,5\n1,2020-99-01,5\n2,2020-01-09,5\n1,2020-02-01,7\n",
    )
    out = tmp_path / "summary.json"
    result = runner.invoke(app, ["describe", "-t", str(path), "--json", str(out)])
    assert result.exit_code == 0, result.output
    assert "unparseable date" in result.output and "| 3" not in result.output
    summary = json.loads(out.read_text())
    assert summary["validation"]["excluded"]["unparseable_date"] == 1
    assert summary["validation"]["examples"]["unparseable_date"] == [3]
    assert summary["stats"]["customers"] == 2 and summary["stats"]["purchases"] == 3


def test_missing_amount_exits_nonzero_without_traceback(tmp_path):
    path = write_csv(tmp_path / "t.csv", "customer_id,date,value\n1,2020-01-01,5\n")
    result = runner.invoke(app, ["describe", "--transactions", str(path)])
    assert result.exit_code == 2
    assert "'amount'" in result.output and "Traceback" not in result.output


@pytest.mark.slow
def test_console_script_errors_cleanly(tmp_path):
    """The installed entry point, in a real process: message on stderr, exit 2, no traceback."""
    path = write_csv(tmp_path / "t.csv", "customer_id;date;amount\n1;2020-01-01;5\n")
    proc = subprocess.run(
        [sys.executable, "-m", "churnml", "describe", "--transactions", str(path)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2
    assert "separated by ';'" in proc.stderr and "Traceback" not in proc.stderr
    ok = subprocess.run(
        [sys.executable, "-m", "churnml", "describe", "--transactions", str(path), "--sep", ";"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert ok.returncode == 0, ok.stderr
    assert "Lifecycle segments" in ok.stdout


def test_strict_flag_fails_on_exclusions(tmp_path):
    path = write_csv(tmp_path / "t.csv", "customer_id,date,amount\n1,2020-01-01,5\n,2020-01-01,5\n")
    result = runner.invoke(app, ["describe", "-t", str(path), "--strict"])
    assert result.exit_code == 2 and "missing customer id: 1 (lines 3)" in result.output


def test_column_options(tmp_path):
    path = write_csv(tmp_path / "t.csv", "cust\tday\trev\n01\t02/01/2020\t5\n01\t03/01/2020\t6\n")
    result = runner.invoke(
        app,
        [
            "describe",
            "-t",
            str(path),
            "--sep",
            "\\t",
            "--customer-col",
            "cust",
            "--date-col",
            "day",
            "--amount-col",
            "rev",
            "--date-format",
            "%d/%m/%Y",
            "--json",
            str(tmp_path / "s.json"),
        ],
    )
    assert result.exit_code == 0, result.output
    stats = json.loads((tmp_path / "s.json").read_text())["stats"]
    assert stats["first_date"].startswith("2020-01-02") and stats["purchases"] == 2


def test_sample_data_writes_a_retail_log_that_describe_reads(tmp_path):
    out = tmp_path / "shop.parquet"
    result = runner.invoke(
        app, ["sample-data", "retail", "--customers", "400", "--seed", "3", "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    lines = pd.read_parquet(out)
    assert {"order_id", "product_id", "quantity", "channel"} <= set(lines.columns)
    assert (lines["amount"] < 0).any()  # returns
    assert lines["customer_id"].nunique() == 400
    result = runner.invoke(
        app, ["describe", "--transactions", str(out), "--json", str(tmp_path / "d.json")]
    )
    assert result.exit_code == 0, result.output
    summary = json.loads((tmp_path / "d.json").read_text())
    assert summary["validation"]["n_input"] == len(lines)
    assert summary["stats"]["customers"] == 400


@pytest.mark.slow
def test_sample_data_and_demo(tmp_path):
    synth = tmp_path / "synth.csv"
    result = runner.invoke(
        app, ["sample-data", "synthetic", "--customers", "300", "--out", str(synth)]
    )
    assert result.exit_code == 0 and synth.exists()
    result = runner.invoke(
        app, ["demo", "--out-dir", str(tmp_path / "demo"), "--models", "bgnbd,baseline"]
    )
    assert result.exit_code == 0, result.output
    summary = json.loads((tmp_path / "demo" / "describe.json").read_text())
    assert summary["validation"]["n_input"] == 69_659
    assert summary["validation"]["excluded"]["zero_amount"] == 80
    assert summary["stats"]["customers"] == 23_502
    metrics = json.loads((tmp_path / "demo" / "metrics.json").read_text())
    assert 0.77 < metrics["models"]["bgnbd"]["auc"] < 0.81
    assert (tmp_path / "demo" / "plots" / "frequency.png").exists()
    scores = pd.read_csv(tmp_path / "demo" / "scores.csv", dtype={"customer_id": str})
    # 23,502 buyers and the 68 customers seen only through zero-amount rows (yet to buy)
    assert len(scores) == 23_570 and scores["customer_id"].iloc[0] == "00001"
    # the demo registers under its own name, so a user's churnml champion is never touched
    version = scores["model_version"].iloc[0]
    assert version.startswith("churnml-demo/") and (scores["model_version"] == version).all()
    assert "MLflow runs: evaluate" in result.output and "Registered model: churnml-demo" in (
        result.output
    )
    # the report: every chart, from the demo's own scores and evaluation, nothing missing
    report = (tmp_path / "demo" / "report.html").read_text(encoding="utf-8")
    assert "Report (HTML, opens offline)" in result.output
    for chart in ("repeat_rate", "cohort_retention", "segments", "clv_distribution", "gains"):
        assert f'data-chart="{chart}"' in report
    assert 'data-chart="calibration"' in report and 'data-chart="profit_curve"' in report
    assert "<script src=" not in report


@pytest.mark.slow
def test_describe_shared_log_reports_exclusions():
    path = shared_file("uci_online_retail.csv.gz")
    result = runner.invoke(app, ["describe", "-t", str(path), "--as-of", "2011-09-09"])
    assert result.exit_code == 0, result.output
    assert "exact duplicate line" in result.output and "dated after as-of" in result.output


def test_bad_as_of_is_named(tmp_path):
    path = write_csv(tmp_path / "t.csv", "customer_id,date,amount\n1,2020-01-01,5\n")
    result = runner.invoke(app, ["describe", "-t", str(path), "--as-of", "2020-13-45"])
    assert result.exit_code == 2
    assert "as_of must be a date" in result.output and "'2020-13-45'" in result.output
    early = runner.invoke(app, ["describe", "-t", str(path), "--as-of", "2019-01-01"])
    assert early.exit_code == 2 and "all 1 rows were excluded" in early.output


@pytest.mark.slow  # end to end through MLflow; tests/workflows covers the outputs quickly
def test_evaluate_writes_metrics_and_plots(tmp_path):
    from churnml.data import simulate_transactions

    log, _ = simulate_transactions(1500, seed=2)
    path = tmp_path / "log.csv"
    log.to_csv(path, index=False)
    out = tmp_path / "run" / "metrics.json"
    filters = list(warnings.filters)
    result = runner.invoke(
        app,
        [
            "evaluate",
            "-t",
            str(path),
            "--cutoff",
            "2021-01-31",
            "--horizon-days",
            "90",
            "--out",
            str(out),
            "--models",
            "bgnbd,baseline",
        ],
    )
    assert result.exit_code == 0, result.output
    # model warnings are silenced for the command only, never for the whole process
    assert warnings.filters == filters
    assert "revenue_ratio" in result.output and "bgnbd" in result.output
    payload = json.loads(out.read_text())
    # the contract's champion key: the family train's rule picks from an inner backtest
    assert set(payload["models"]) == {"bgnbd", "baseline", "champion"}
    assert payload["models"]["champion"]["family"] == "bgnbd"
    assert payload["diagnostics"]["champion"]["inner_cutoff"] == "2020-11-02"
    assert payload["models"]["bgnbd"]["auc"] > 0.6
    for name in ("calibration.png", "gains.png", "frequency.png"):
        assert (tmp_path / "run" / "plots" / name).stat().st_size > 1000


def test_evaluate_past_the_data_is_a_clean_error(tmp_path):
    path = write_csv(tmp_path / "t.csv", "customer_id,date,amount\n1,2020-01-01,5\n")
    result = runner.invoke(
        app, ["evaluate", "-t", str(path), "--cutoff", "2020-01-01", "--horizon-days", "30"]
    )
    assert result.exit_code == 2 and "runs past the end of the data" in result.output


@pytest.mark.slow
def test_train_then_score(tmp_path):
    from churnml.data import simulate_transactions
    from churnml.scoring import CONTRACT_COLUMNS

    log, _ = simulate_transactions(2500, seed=8, observation_days=500)
    path = tmp_path / "log.csv"
    log.to_csv(path, index=False)
    result = runner.invoke(
        app,
        [
            "train",
            "-t",
            str(path),
            "--as-of",
            "2021-02-28",
            "--horizon-days",
            "60",
            "--model-name",
            "cli-train-score",
            "--out-dir",
            str(tmp_path / "bundle"),
            "--models",
            "bgnbd,gbm",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "Registered cli-train-score version 1" in result.output
    assert "promoted to champion: first version" in result.output
    assert (tmp_path / "bundle" / "bundle.json").exists()
    out = tmp_path / "scores.csv"
    result = runner.invoke(
        app,
        [
            "score",
            "-t",
            str(path),
            "--as-of",
            "2021-02-28",
            "--model-name",
            "cli-train-score",
            "--out",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    # rows after as-of are excluded at load and the count is shown
    after = int((log["date"] >= "2021-03-01").sum())
    assert f"dated after as-of {after:,}" in result.output
    scores = pd.read_csv(out, dtype={"customer_id": str})
    assert list(scores.columns[: len(CONTRACT_COLUMNS)]) == list(CONTRACT_COLUMNS)
    assert scores["customer_id"].str.len().eq(4).all()  # leading zeros kept
    numeric = scores[
        [
            "p_alive",
            "p_repurchase",
            "expected_purchases",
            "expected_revenue",
            "clv",
            "expected_days_to_next_purchase",
        ]
    ]
    assert numeric.notna().all().all()
    assert (scores["model_version"] == "cli-train-score/1").all()
    expected = log[log["date"] < "2021-03-01"]["customer_id"].nunique()
    assert len(scores) == expected
    # the exported bundle folder scores the same customers identically
    again = tmp_path / "again.csv"
    result = runner.invoke(
        app,
        [
            *("score", "-t", str(path), "--as-of", "2021-02-28"),
            *("--model", str(tmp_path / "bundle"), "--out", str(again)),
        ],
    )
    assert result.exit_code == 0, result.output
    folder_scores = pd.read_csv(again, dtype={"customer_id": str})
    pd.testing.assert_frame_equal(
        folder_scores.drop(columns="model_version"), scores.drop(columns="model_version")
    )
    assert folder_scores["model_version"].str.startswith("run:").all()
    missing = runner.invoke(
        app,
        [
            "score",
            "-t",
            str(path),
            "--as-of",
            "2021-02-28",
            "--model-name",
            "cli-train-score",
            "--model",
            "9",
            "--out",
            str(out),
        ],
    )
    assert missing.exit_code == 2 and "cli-train-score': 1 [challenger,champion]" in (
        missing.output
    ), missing.output


def test_spark_paths_keep_the_double_slash_of_object_storage_urls():
    assert spark_path(Path("s3a://shop/orders/")) == "s3a://shop/orders"
    assert spark_path(Path("gs://b/x.parquet")) == "gs://b/x.parquet"
    assert spark_path(Path("abfss://c@acct.dfs.core.windows.net/x")) == (
        "abfss://c@acct.dfs.core.windows.net/x"
    )
    # Hadoop reads these single-slash forms as they are; plain paths are untouched
    assert spark_path(Path("file:///tmp/x")) == "file:/tmp/x"
    assert spark_path(Path("hdfs:///data/x")) == "hdfs:/data/x"
    assert spark_path(Path("/data/orders.parquet")) == "/data/orders.parquet"
    assert spark_path(Path("orders.csv")) == "orders.csv"
