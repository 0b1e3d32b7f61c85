"""Out-of-time evaluation: fit at a cutoff, score, compare with what happened after it."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import pandas as pd

from churnml.config import parse_day
from churnml.data.validation import ValidatedTransactions
from churnml.evaluation.metrics import model_metrics
from churnml.evaluation.result import Evaluation
from churnml.evaluation.selection import select_champion
from churnml.exceptions import ChurnmlError
from churnml.features.rfm import btyd_summary
from churnml.features.windows import build_labels
from churnml.models.catalog import FAMILIES, MODEL_KEYS, check_keys, make_scorer
from churnml.settings import ValueSettings

__all__ = ["Evaluation", "evaluate"]


def evaluate(
    tx: ValidatedTransactions,
    cutoff: Any,
    horizon_days: int,
    *,
    models: Sequence[str] = MODEL_KEYS,
    value: ValueSettings | None = None,
    freq: str = "D",
    on_step: Callable[[str], None] | None = None,
    champion: bool = False,
    seed: int = 0,
) -> Evaluation:
    """Fit every model on data up to the cutoff and score it on (cutoff, cutoff + horizon].

    Parameters
    ----------
    tx : ValidatedTransactions
        Validated transactions covering the cutoff and the whole holdout window.
    cutoff : str or pandas.Timestamp
        Last day of fitting data.
    horizon_days : int
        Holdout length in days.
    models : sequence of str
        Model keys of :data:`~churnml.models.catalog.CATALOGUE` (default: all of them).
    value : ValueSettings, optional
        CLV settings.
    freq : {"D", "W"}
        Purchase period.
    on_step : callable, optional
        Called with a short message before each model (for progress display).
    champion : bool
        Also report ``champion``: the family ``churnml train`` would pick at the cutoff, by
        its rule applied to an inner backtest on data up to the cutoff only (so the choice
        never sees the holdout). Costs a second round of fits.
    seed : int
        Random seed of the models that use one; same data and seed give the same metrics.

    Returns
    -------
    Evaluation
        Labels, predictions, metrics and diagnostics.

    Raises
    ------
    InsufficientDataError
        The holdout window runs past the end of the data, or nothing precedes the cutoff.
    """
    cutoff = parse_day(cutoff, "cutoff")
    scorers = [make_scorer(name, value, freq, seed) for name in check_keys(models)]
    summary = btyd_summary(tx, cutoff, freq)  # type: ignore[arg-type]
    # purchases are counted in the same unit the models predict (customer-days or -weeks)
    labels = build_labels(tx, cutoff, horizon_days, customers=summary.index, freq=freq)
    result = Evaluation(
        cutoff=cutoff, horizon_days=int(horizon_days), labels=labels, summary=summary
    )
    for scorer in scorers:
        if on_step is not None:
            on_step(f"Fitting and scoring {scorer.name}")
        started = pd.Timestamp.now()
        try:
            scorer.fit(tx, cutoff, horizon_days=horizon_days)
            pred = scorer.predict(tx, cutoff, horizon_days)
        except ChurnmlError as exc:
            result.metrics[scorer.name] = {"error": str(exc)}
            continue
        seconds = (pd.Timestamp.now() - started).total_seconds()
        result.predictions[scorer.name] = pred
        result.metrics[scorer.name] = model_metrics(pred, labels)
        result.diagnostics[scorer.name] = {**scorer.diagnostics_, "seconds": round(seconds, 2)}
    if champion:
        _add_champion(result, tx, cutoff, horizon_days, models, value, freq, on_step, seed)
    return result


def _add_champion(
    result: Evaluation,
    tx: Any,
    cutoff: pd.Timestamp,
    horizon_days: int,
    models: Sequence[str],
    value: ValueSettings | None,
    freq: str,
    on_step: Callable[[str], None] | None,
    seed: int,
) -> None:
    families = [m for m in models if m in FAMILIES]
    if on_step is not None:
        on_step("Choosing the champion on an inner backtest")
    inner_cutoff = cutoff - pd.Timedelta(days=int(horizon_days))
    lines = tx.lines if isinstance(tx, ValidatedTransactions) else tx
    known = lines[lines["date"] < cutoff + pd.Timedelta(days=1)]
    try:
        inner = evaluate(
            known, inner_cutoff, horizon_days, models=families, value=value, freq=freq, seed=seed
        )
        name, reason = select_champion(inner, families)
    except ChurnmlError as exc:
        name, reason = "bgnbd", f"no inner backtest possible ({exc}); BG/NBD by default"
    if name in result.metrics and "error" not in result.metrics[name]:
        result.metrics["champion"] = {**result.metrics[name], "family": name}
        result.predictions["champion"] = result.predictions[name]
    result.diagnostics["champion"] = {
        "family": name,
        "reason": reason,
        "inner_cutoff": str(inner_cutoff.date()),
    }
