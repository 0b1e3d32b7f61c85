"""Champion/challenger on a real MLflow store: promotion rule, rollback, reproducibility."""

from __future__ import annotations

import importlib
import logging

import pytest
from mlflow import MlflowClient
from typer.testing import CliRunner

from churnml.cli import app
from churnml.data import load_cdnow
from churnml.evaluation import beats
from churnml.exceptions import ConfigError
from churnml.tracking import list_versions, promote, rollback
from churnml.tracking.registry import _pins_known, _requirements

runner = CliRunner()


def _metrics(auc, gini, buyers=1.0, revenue=1.0):
    return {"auc": auc, "revenue_gini": gini, "buyers_ratio": buyers, "revenue_ratio": revenue}


def test_promotion_rule():
    assert beats(_metrics(0.80, 0.70), _metrics(0.79, 0.70))[0]
    assert not beats(_metrics(0.79, 0.70), _metrics(0.79, 0.70))[0]  # a tie keeps the champion
    # within the aggregate tolerance beats a better-ranking model that is not
    won, why = beats(_metrics(0.70, 0.60), _metrics(0.90, 0.80, revenue=1.5))
    assert won and "only the new version is within" in why
    assert not beats(_metrics(0.90, 0.80, buyers=0.5), _metrics(0.70, 0.60))[0]
    assert beats(_metrics(0.70, 0.60), {"error": "no fit"})[0]
    assert not beats({"error": "no fit"}, _metrics(0.70, 0.60))[0]


def _run_metrics(run_id):
    metrics = MlflowClient().get_run(run_id).data.metrics
    return {k: v for k, v in metrics.items() if not k.startswith("time.")}


def _train(path, name, models):
    result = runner.invoke(
        app, ["train", "-t", str(path), "--model-name", name, "--models", models, "--seed", "7"]
    )
    assert result.exit_code == 0, result.output
    return result.output


@pytest.mark.slow
def test_cdnow_champion_stays_worse_challenger_waits_rollback_works(tmp_path):
    path = tmp_path / "cdnow.csv"
    load_cdnow().to_csv(path, index=False)
    name = "cdnow-registry"
    first = _train(path, name, "bgnbd,mbgnbd")
    assert "Version 1 promoted to champion: first version" in " ".join(first.split())
    # a worse configuration: BG/NBD alone, which the first run's backtest ranked below MBG/NBD
    second = " ".join(_train(path, name, "bgnbd").split())
    assert "Version 2 not promoted: champion 1 kept: bgnbd vs champion 1 (mbgnbd)" in second
    versions = list_versions(name).set_index("version")
    assert versions.loc[1, "aliases"] == "champion" and versions.loc[2, "aliases"] == "challenger"
    assert versions.loc[1, "family"] == "mbgnbd" and versions.loc[2, "family"] == "bgnbd"
    assert float(versions.loc[1, "auc"]) > float(versions.loc[2, "auc"])

    # both runs are complete: metrics of every model, plots, data fingerprint, environment
    client = MlflowClient()
    for version in (1, 2):
        run = client.get_run(versions.loc[version, "run_id"])
        assert run.data.tags["churnml.command"] == "train"
        assert run.data.tags["versions.lightgbm"] and run.data.tags["churnml.version"]
        assert "mlflow.source.git.commit" in run.data.tags  # the tests run from a git clone
        params = run.data.params
        assert params["as_of"] == "1998-06-30" and params["horizon_days"] == "90"
        assert params["value.margin"] == "1.0" and params["value.annual_discount_rate"] == "0.1"
        assert params["data.rows"] == "69579" and len(params["data.sha256"]) == 64
        assert run.data.metrics["data.excluded.zero_amount"] == 80
        for key in ("auc", "revenue_gini", "bgnbd.auc", "baseline.auc", "time.total_s"):
            assert key in run.data.metrics
        files = {a.path for a in client.list_artifacts(run.info.run_id)}
        assert {"metrics.json", "data_fingerprint.json", "plots"} <= files
        plots = {a.path for a in client.list_artifacts(run.info.run_id, "plots")}
        assert {"plots/calibration.png", "plots/gains.png", "plots/frequency.png"} <= plots

    # the same data, configuration and seed give the same metrics, and a tie keeps the champion
    third = " ".join(_train(path, name, "bgnbd,mbgnbd").split())
    assert "Version 3 not promoted: champion 1 kept: mbgnbd vs champion 1 (mbgnbd)" in third
    versions = list_versions(name).set_index("version")
    assert _run_metrics(versions.loc[3, "run_id"]) == _run_metrics(versions.loc[1, "run_id"])

    # by hand: promote the challenger, then roll back to the previous champion
    result = runner.invoke(app, ["models", "promote", "2", "--model-name", name])
    assert result.exit_code == 0 and "version 2 is champion (was 1)" in result.output
    result = runner.invoke(app, ["models", "rollback", "--model-name", name])
    assert result.exit_code == 0 and "from version 2 to 1" in result.output
    assert list_versions(name).set_index("version").loc[1, "aliases"] == "champion"
    result = runner.invoke(app, ["models", "rollback", "--model-name", name])
    assert result.exit_code == 2 and "nothing to roll back to" in result.output
    listing = runner.invoke(app, ["models", "list", "--model-name", name])
    assert listing.exit_code == 0 and "champion" in listing.output and "mbgnbd" in listing.output


def test_registry_errors_name_what_exists():
    with pytest.raises(ConfigError, match="no version '4'"):
        promote("4", "test", "never-registered")
    with pytest.raises(ConfigError, match="has no champion"):
        rollback("never-registered")
    assert list_versions("never-registered").empty
    result = runner.invoke(app, ["models", "list", "--model-name", "never-registered"])
    assert result.exit_code == 0 and "No versions of 'never-registered'" in result.output


def test_registration_checks_its_pins_without_mapping_every_package(caplog):
    utils = importlib.import_module("mlflow.utils.requirements_utils")
    saved = utils._MODULES_TO_PACKAGES, utils._PACKAGES_TO_MODULES
    utils._MODULES_TO_PACKAGES = utils._PACKAGES_TO_MODULES = None
    try:
        pins = _requirements()
        with _pins_known(pins):
            assert set(utils._MODULES_TO_PACKAGES) >= {"lightgbm", "scikit_learn", "mlflow"}
            # the check still runs: a pin the environment does not satisfy is reported
            with caplog.at_level(logging.WARNING, logger="mlflow.utils.requirements_utils"):
                utils.warn_dependency_requirement_mismatches([*pins, "numpy==0.0.1"])
        warned = " ".join(r.getMessage() for r in caplog.records)
        assert "numpy (current:" in warned and "required: numpy==0.0.1" in warned
        assert "lightgbm" not in warned  # every real pin is satisfied
        # put back: a user's own model later in the process gets MLflow's full map
        assert utils._MODULES_TO_PACKAGES is None and utils._PACKAGES_TO_MODULES is None
    finally:
        utils._MODULES_TO_PACKAGES, utils._PACKAGES_TO_MODULES = saved
