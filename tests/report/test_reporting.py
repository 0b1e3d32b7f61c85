"""write_report: where its scores and evaluation come from, and what it says when they don't."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from mlflow import MlflowClient

from churnml.campaign import RecallPlan, cac_breakeven
from churnml.evaluation import EvaluationCurves, evaluation_curves
from churnml.exceptions import ConfigError
from churnml.report import CHARTS, SECTIONS
from churnml.tracking import CURVES_ARTIFACT, latest_evaluation_curves, tracked_run
from churnml.workflows import evaluate, train
from churnml.workflows.reporting import ReportResult, write_report
from tests.report.conftest import AS_OF


def test_given_scores_and_evaluation_give_the_whole_report(
    report_tx, report_scores, report_evaluation, tmp_path
):
    out = tmp_path / "deep" / "folder" / "report.html"
    result = write_report(
        report_tx,
        out,
        scores=report_scores,
        as_of=AS_OF,
        evaluation=report_evaluation,
        budget=5.0,
        acquisition={"acquisition_cost": 20.0, "order_value": 35.0, "margin": 0.3},
        top=5,
    )
    assert isinstance(result, ReportResult) and result.path == out and out.exists()
    assert result.as_of == AS_OF
    assert result.sections == SECTIONS and result.charts == CHARTS and result.notes == []
    assert result.scores_source == "given" and result.evaluation_run_id is None
    assert isinstance(result.plan, RecallPlan) and result.plan.budget == 5.0
    page = out.read_text(encoding="utf-8")
    assert "given score table (" in page
    expected = cac_breakeven(20.0, 35.0, 0.3, scores=report_scores)
    assert f"<b>{expected.share_paying_back:.0%}</b> have a CLV" in page
    # curves given directly are drawn the same way as an Evaluation
    again = write_report(
        report_tx,
        tmp_path / "again.html",
        scores=report_scores,
        evaluation=evaluation_curves(report_evaluation),
    )
    assert again.charts == CHARTS
    assert again.as_of == report_tx.lines["date"].max().normalize()  # by default, the last day


def test_nothing_to_score_with_and_no_evaluation_are_notes_that_say_what_to_run(
    report_tx, tmp_path
):
    result = write_report(
        report_tx,
        tmp_path / "report.html",
        experiment="report-test-empty",
        model_name="report-test-nothing",
        as_of="2021-03-31",
    )
    assert result.sections == ("summary", "repeat_rate", "cohort_retention")
    assert result.scores_source is None and result.plan is None
    no_scores, no_eval = result.notes
    assert "pass --scores" in no_scores and "'report-test-nothing' has no champion" in no_scores
    assert "experiment 'report-test-empty': run churnml evaluate" in no_eval
    page = result.path.read_text(encoding="utf-8")
    assert "experiment &#x27;report-test-empty&#x27;: run churnml evaluate" in page
    assert "as of: 2021-03-31" in page


def test_wrong_evaluation_type_is_refused(report_tx, tmp_path):
    with pytest.raises(ConfigError, match="evaluation must be an Evaluation"):
        write_report(report_tx, tmp_path / "r.html", evaluation={"cutoff": "2021-01-01"})


def test_the_latest_tracked_evaluation_is_found_and_drawn(report_tx, report_scores, tmp_path):
    experiment = "report-test-tracked"
    assert latest_evaluation_curves(experiment) is None  # no such experiment yet
    ev = evaluate(
        report_tx, "2021-02-28", 60, models=["bgnbd"], champion=False, experiment=experiment
    )
    # a newer run without curves (a train run, say) is passed over
    with tracked_run("train", experiment=experiment):
        pass
    curves, run_id = latest_evaluation_curves(experiment)
    assert run_id == ev.run_id
    logged = MlflowClient().download_artifacts(run_id, CURVES_ARTIFACT, str(tmp_path))
    assert EvaluationCurves.from_dict(json.loads(Path(logged).read_text())).to_dict() == (
        evaluation_curves(ev).to_dict()
    )
    assert curves.to_dict() == evaluation_curves(ev).to_dict()
    result = write_report(
        report_tx, tmp_path / "report.html", scores=report_scores, experiment=experiment
    )
    assert result.evaluation_run_id == ev.run_id and "gains" in result.charts
    assert f"MLflow run {ev.run_id}" in result.path.read_text(encoding="utf-8")


@pytest.mark.slow  # a tracked train run: backtest, fit, registry
def test_without_scores_the_registered_champion_scores(report_tx, tmp_path):
    name = "report-test-champion"
    trained = train(
        report_tx,
        as_of="2021-05-31",
        horizon_days=60,
        families=["bgnbd"],
        model_name=name,
        experiment="report-test-train",
    )
    assert trained.promoted
    result = write_report(
        report_tx,
        tmp_path / "report.html",
        model_name=name,
        experiment="report-test-train",
        budget=5.0,
    )
    assert result.scores_source == f"{name}/1"
    assert {"segments", "recall"} <= set(result.sections)
    page = result.path.read_text(encoding="utf-8")
    assert f"champion {name}/1 (bgnbd), horizon 60 days" in page
    # train runs log no curves: the model section says to run an evaluation
    assert result.notes and "run churnml evaluate" in result.notes[0]
