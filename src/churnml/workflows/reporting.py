"""Write ``report.html`` for campaign planners (``churnml report``).

Gathers what the page shows (the data summary and repeat rates, scores from the caller or
the registry's champion, the recall plan, the latest evaluation's curves from MLflow) and
writes the self-contained page that :mod:`churnml.report` builds.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from churnml.campaign import (
    DEFAULT_MARGIN,
    DEFAULT_UPLIFT,
    Breakeven,
    RecallPlan,
    cac_breakeven,
    plan_recall,
)
from churnml.config import EXPERIMENT, REGISTERED_MODEL, parse_day
from churnml.data.validation import ValidatedTransactions
from churnml.evaluation import Evaluation, EvaluationCurves, evaluation_curves
from churnml.exceptions import ConfigError
from churnml.report import NO_EVALUATION, NO_SCORES, render_report
from churnml.summary import describe
from churnml.tracking import latest_evaluation_curves
from churnml.workflows.scoring import score

__all__ = ["ReportResult", "write_report"]


@dataclass
class ReportResult:
    """What :func:`write_report` wrote and from what.

    Attributes
    ----------
    path : pathlib.Path
        The report file.
    as_of : pandas.Timestamp
        The report's date.
    sections : tuple of str
        Sections shown with content (of :data:`churnml.report.SECTIONS`).
    charts : tuple of str
        Charts drawn (of :data:`churnml.report.CHARTS`).
    notes : list of str
        What is missing and how to get it (no scores, no evaluation).
    scores_source : str or None
        ``"given"``, the registry label of the model that scored (``churnml/3``), or None
        without scores.
    evaluation_run_id : str or None
        MLflow run of the evaluation shown, when it came from one.
    plan : RecallPlan or None
        The recall plan (None without scores).
    """

    path: Path
    as_of: pd.Timestamp
    sections: tuple[str, ...]
    charts: tuple[str, ...]
    notes: list[str] = field(default_factory=list)
    scores_source: str | None = None
    evaluation_run_id: str | None = None
    plan: RecallPlan | None = None


def _curves(
    evaluation: Evaluation | EvaluationCurves | None, experiment: str
) -> tuple[EvaluationCurves | None, str | None, str | None]:
    """Find the curves to show, their run id, and a note when there are none."""
    if isinstance(evaluation, Evaluation):
        return evaluation_curves(evaluation), evaluation.run_id, None
    if isinstance(evaluation, EvaluationCurves):
        return evaluation, None, None
    if evaluation is not None:
        raise ConfigError(
            "evaluation must be an Evaluation, EvaluationCurves or None; "
            f"got {type(evaluation).__name__}"
        )
    found = latest_evaluation_curves(experiment)
    if found is None:
        return (
            None,
            None,
            f"No evaluation found in MLflow experiment {experiment!r}: run churnml evaluate "
            "to see how well the model ranks customers and how calibrated it is.",
        )
    return found[0], found[1], None


def write_report(
    tx: ValidatedTransactions,
    out: str | Path,
    *,
    scores: pd.DataFrame | None = None,
    as_of: Any = None,
    evaluation: Evaluation | EvaluationCurves | None = None,
    experiment: str = EXPERIMENT,
    model_name: str = REGISTERED_MODEL,
    budget: float = 100.0,
    cost_per_contact: float = 0.05,
    uplift: float = DEFAULT_UPLIFT,
    margin: float = DEFAULT_MARGIN,
    horizon_days: int | None = None,
    acquisition: Breakeven | Mapping[str, float] | None = None,
    top: int = 50,
) -> ReportResult:
    """Write ``report.html``: one self-contained page for campaign planners.

    Parameters
    ----------
    tx : ValidatedTransactions
        Validated transactions.
    out : str or pathlib.Path
        The HTML file to write (its folders are created).
    scores : pandas.DataFrame, optional
        A score table (``scores.csv``). Default: score ``tx`` at as-of with the registered
        champion of ``model_name``; when there is none, the score-based sections say how to
        get scores.
    as_of : str or pandas.Timestamp, optional
        Report date (default: the last date in the data).
    evaluation : Evaluation or EvaluationCurves, optional
        The model evaluation to show (an in-memory :class:`~churnml.evaluation.Evaluation`
        or its curves). Default: the latest evaluation logged to ``experiment``
        (``curves.json``); when there is none, the model section says to run one.
    experiment : str
        MLflow experiment searched for the latest evaluation.
    model_name : str
        Registered model whose champion scores when ``scores`` is not given.
    budget : float
        Money for the recall campaign.
    cost_per_contact : float
        Cost of one contact.
    uplift : float
        Response uplift of a contact (see :func:`churnml.campaign.plan_recall`).
    margin : float
        Margin on revenue, from 0 to 1.
    horizon_days : int, optional
        Scoring horizon with the champion (default: the model's); quoted in the recall
        reasons.
    acquisition : Breakeven or mapping, optional
        The CAC break-even block: a :class:`~churnml.campaign.Breakeven`, or the keyword
        arguments of :func:`churnml.campaign.cac_breakeven` (``acquisition_cost``,
        ``order_value``, ``margin``, optionally ``repeat_order_value``), computed here
        against the scores. Left out when None.
    top : int
        Rows of the recall list shown.

    Returns
    -------
    ReportResult
        The path written, the sections and charts shown, notes on what is missing, where the
        scores and the evaluation came from and the recall plan.

    Raises
    ------
    ConfigError
        A campaign parameter is out of range, or ``evaluation`` is of another type.
    DataValidationError
        ``scores`` lacks a column the report needs.
    """
    day = parse_day(as_of if as_of is not None else tx.lines["date"].max(), "as_of")
    notes: list[str] = []
    context: dict[str, str] = {}
    source: str | None = None
    no_scores = NO_SCORES
    horizon = horizon_days
    if scores is not None:
        source = "given"
        context["scores"] = f"given score table ({len(scores):,} customers)"
    else:
        try:
            result = score(
                tx, day, horizon_days=horizon_days, model="champion", model_name=model_name
            )
        except ConfigError:
            no_scores = (
                "No scores: pass --scores scores.csv or train a model (churnml train); "
                f"registered model {model_name!r} has no champion to score with."
            )
            notes.append(no_scores)
        else:
            scores, source, horizon = result.scores, result.model_version, result.horizon_days
            context["scores"] = (
                f"champion {result.model_version} ({result.family}), horizon {horizon} days"
            )
    plan = None
    breakeven = None
    if scores is not None:
        plan = plan_recall(
            scores,
            budget=budget,
            cost_per_contact=cost_per_contact,
            horizon_days=horizon,
            uplift=uplift,
            margin=margin,
        )
    if isinstance(acquisition, Breakeven):
        breakeven = acquisition
    elif acquisition is not None:
        breakeven = cac_breakeven(**acquisition, scores=scores)  # type: ignore[arg-type]
    curves, run_id, missing = _curves(evaluation, experiment)
    if missing is not None:
        notes.append(missing)
    elif run_id is not None:
        context["evaluation"] = f"MLflow run {run_id}"
    # describe computes the rates, months and cohorts once; the page draws those
    summary = describe(tx, day)
    page = render_report(
        summary,
        summary.rates,
        summary.monthly,
        summary.cohorts,
        scores=scores,
        plan=plan,
        curves=curves,
        breakeven=breakeven,
        context=context,
        evaluation_run_id=run_id,
        missing_scores=no_scores,
        missing_evaluation=missing or NO_EVALUATION,
        top=top,
    )
    path = Path(out)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(page.html, encoding="utf-8")
    return ReportResult(
        path=path,
        as_of=day,
        sections=page.sections,
        charts=page.charts,
        notes=notes,
        scores_source=source,
        evaluation_run_id=run_id,
        plan=plan,
    )
