"""The demo: every step of churnml on the bundled CDNOW log, end to end."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from churnml.config import models_dir
from churnml.data.bundled import load_cdnow
from churnml.data.validation import load_transactions
from churnml.evaluation import Evaluation, save_plots
from churnml.models.catalog import FAMILIES, MODEL_KEYS, check_keys
from churnml.summary import DataSummary, describe
from churnml.tracking import configure
from churnml.workflows.evaluating import evaluate
from churnml.workflows.reporting import ReportResult, write_report
from churnml.workflows.scoring import ScoreResult, score
from churnml.workflows.training import TrainResult, train

__all__ = ["DEMO_MODEL", "DemoResult", "run_demo"]

#: Registered model and experiment of the demo, so a user's own ``churnml`` is never touched.
DEMO_MODEL = "churnml-demo"
#: The demo's out-of-time evaluation: fit on 1997, score the first half of 1998.
DEMO_CUTOFF, DEMO_HORIZON_DAYS = "1997-12-31", 180
#: Scoring date of the demo: the last day of the log.
DEMO_SCORE_AS_OF = "1998-06-30"


@dataclass
class DemoResult:
    """Where the demo's outputs went, and the outputs themselves.

    Attributes
    ----------
    out_dir : pathlib.Path
        The output folder.
    transactions_csv, summary_json, metrics_json, plots_dir, scores_csv, report_html : pathlib.Path
        The bundled log as CSV, the data summary, the evaluation metrics, the plots, the scores,
        the campaign planners' report.
    evaluate_run_id, train_run_id : str or None
        MLflow runs of the evaluation and of the training.
    model_name : str
        Registered model of the demo (``churnml-demo``).
    version : str or None
        The version the training registered.
    tracking_uri : str
        Where the runs and the model are.
    summary : DataSummary
        The data summary.
    evaluation : Evaluation
        The out-of-time evaluation.
    training : TrainResult
        The training run.
    scoring : ScoreResult
        The scores.
    report : ReportResult
        The report.
    """

    out_dir: Path
    transactions_csv: Path
    summary_json: Path
    metrics_json: Path
    plots_dir: Path
    scores_csv: Path
    report_html: Path
    evaluate_run_id: str | None
    train_run_id: str | None
    model_name: str
    version: str | None
    tracking_uri: str
    summary: DataSummary
    evaluation: Evaluation
    training: TrainResult
    scoring: ScoreResult
    report: ReportResult


def run_demo(
    out_dir: str | Path | None = None,
    *,
    models: Sequence[str] | None = None,
    on_step: Callable[[str], None] | None = None,
) -> DemoResult:
    """Run churnml end to end on the bundled CDNOW log.

    Writes the log as CSV; describes it; evaluates every model out of time (fit on 1997,
    score the first half of 1998) as an MLflow run; trains on the whole log (backtest,
    champion, registered as ``churnml-demo``); scores every customer; writes the campaign
    planners' report (``report.html``).

    Parameters
    ----------
    out_dir : str or pathlib.Path, optional
        Output folder (default: ``<models dir>/demo``).
    models : sequence of str, optional
        Model keys to compare (default: all; fewer is faster). Training uses the competing ones.
    on_step : callable, optional
        Progress messages.

    Returns
    -------
    DemoResult
        The paths, run ids and registered version, and each step's result.
    """
    keys = check_keys(models if models is not None else MODEL_KEYS)
    folder = Path(out_dir) if out_dir is not None else models_dir() / "demo"
    folder.mkdir(parents=True, exist_ok=True)

    def step(message: str) -> None:
        if on_step is not None:
            on_step(message)

    step("Writing the bundled CDNOW log")
    csv_path = folder / "cdnow.csv"
    load_cdnow().to_csv(csv_path, index=False, date_format="%Y-%m-%d")
    tx = load_transactions(csv_path)
    summary = describe(tx)
    summary_path = folder / "describe.json"
    summary_path.write_text(json.dumps(summary.to_dict(), indent=2, default=str) + "\n")

    step(f"Evaluating out of time: fit to {DEMO_CUTOFF}, score {DEMO_HORIZON_DAYS} days")
    evaluation = evaluate(
        tx,
        DEMO_CUTOFF,
        DEMO_HORIZON_DAYS,
        models=keys,
        champion=False,
        experiment=DEMO_MODEL,
        on_step=on_step,
    )
    metrics_path = evaluation.write_json(folder / "metrics.json")
    plots_dir = folder / "plots"
    save_plots(evaluation, plots_dir)

    step("Training on the whole log")
    families = [k for k in keys if k in FAMILIES] or ["bgnbd"]
    training = train(
        tx,
        horizon_days=90,
        families=families,
        model_name=DEMO_MODEL,
        experiment=DEMO_MODEL,
        on_step=on_step,
    )

    step("Scoring every customer")
    scoring = score(tx, DEMO_SCORE_AS_OF, model=str(training.version), model_name=DEMO_MODEL)
    scores_path = folder / "scores.csv"
    scoring.scores.to_csv(scores_path, index=False)

    step("Writing the campaign planners' report")
    report = write_report(
        tx,
        folder / "report.html",
        scores=scoring.scores,
        evaluation=evaluation,
        as_of=DEMO_SCORE_AS_OF,
        horizon_days=int(scoring.meta.get("horizon_days") or 90),
    )
    return DemoResult(
        out_dir=folder,
        transactions_csv=csv_path,
        summary_json=summary_path,
        metrics_json=metrics_path,
        plots_dir=plots_dir,
        scores_csv=scores_path,
        report_html=report.path,
        evaluate_run_id=evaluation.run_id,
        train_run_id=training.run_id,
        model_name=DEMO_MODEL,
        version=training.version,
        tracking_uri=configure(),
        summary=summary,
        evaluation=evaluation,
        training=training,
        scoring=scoring,
        report=report,
    )
