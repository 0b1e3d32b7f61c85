"""Out-of-time evaluation: fit at a cutoff, score, compare with what happened after it."""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from churnml.config import parse_day
from churnml.data.validation import ValidatedTransactions
from churnml.evaluation.metrics import METRIC_NAMES, model_metrics
from churnml.exceptions import ChurnmlError, ConfigError
from churnml.features.rfm import btyd_summary
from churnml.features.windows import build_labels
from churnml.models.btyd import KINDS
from churnml.models.gbm import GBMScorer
from churnml.models.pipeline import BTYDScorer, RateBaselineScorer
from churnml.models.value import ValueSettings

__all__ = ["DEFAULT_MODELS", "Evaluation", "evaluate", "make_scorer"]

#: Models ``evaluate`` compares by default; ``bgnbd`` is BG/NBD with Gamma-Gamma spend.
DEFAULT_MODELS = ("bgnbd", "pareto", "mbgnbd", "gbm", "hybrid", "baseline")


def make_scorer(
    name: str, value: ValueSettings | None = None, freq: str = "D", seed: int = 0
) -> Any:
    """Return an unfitted scorer by model key.

    Keys: ``bgnbd``, ``pareto``, ``mbgnbd`` (each with Gamma-Gamma), ``gbm``, ``hybrid``,
    ``baseline``. ``seed`` reaches the models that use randomness (LightGBM); the BTYD fits
    are deterministic.
    """
    if name == "baseline":
        return RateBaselineScorer(value=value or ValueSettings())
    if name in ("gbm", "hybrid"):
        return GBMScorer(hybrid=name == "hybrid", value=value, seed=seed)
    if name in KINDS:
        return BTYDScorer(kind=name, value=value, freq=freq)  # type: ignore[arg-type]
    raise ConfigError(f"unknown model {name!r}; choose from {', '.join((*KINDS, 'baseline'))}")


@dataclass
class Evaluation:
    """Predictions, labels and metrics of every model at one cutoff.

    Attributes
    ----------
    cutoff : pandas.Timestamp
        Last day of the fitting data.
    horizon_days : int
        Length of the holdout window (cutoff, cutoff + horizon].
    labels : pandas.DataFrame
        What each customer seen by the cutoff did in the window.
    summary : pandas.DataFrame
        BTYD summary at the cutoff (for plots by calibration frequency).
    predictions : dict of str to pandas.DataFrame
        Scores per model.
    metrics : dict of str to dict
        Metrics per model; a model that could not be fitted has ``{"error": message}``.
    diagnostics : dict of str to dict
        Fit diagnostics per model (penalizer search, fallbacks, warnings, fit seconds).
    run_id : str or None
        MLflow run that recorded it, if any.
    """

    cutoff: pd.Timestamp
    horizon_days: int
    labels: pd.DataFrame
    summary: pd.DataFrame
    predictions: dict[str, pd.DataFrame] = field(default_factory=dict)
    metrics: dict[str, dict[str, Any]] = field(default_factory=dict)
    diagnostics: dict[str, dict[str, Any]] = field(default_factory=dict)
    run_id: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """Return the ``metrics.json`` payload of the contract (NaN written as null)."""

        def clean(value: Any) -> Any:
            if isinstance(value, float) and not math.isfinite(value):
                return None
            if isinstance(value, dict):
                return {k: clean(v) for k, v in value.items()}
            if isinstance(value, list | tuple):
                return [clean(v) for v in value]
            return value

        return clean(
            {
                "cutoff": str(self.cutoff.date()),
                "horizon_days": self.horizon_days,
                "n_customers": len(self.labels),
                "actual": {
                    "buyers": int(self.labels["bought"].sum()),
                    "purchases": float(self.labels["n_purchases"].sum()),
                    "revenue": float(self.labels["revenue"].sum()),
                },
                "models": self.metrics,
                "diagnostics": self.diagnostics,
            }
        )

    def write_json(self, path: str | Path) -> Path:
        """Write :meth:`to_dict` as JSON and return the path."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.to_dict(), indent=2, default=str) + "\n")
        return path

    def table(self) -> pd.DataFrame:
        """Metrics as a table: one row per model, one column per metric."""
        rows = {
            (f"champion ({m['family']})" if name == "champion" else name): {
                k: m.get(k, float("nan")) for k in METRIC_NAMES
            }
            for name, m in self.metrics.items()
            if "error" not in m
        }
        return pd.DataFrame.from_dict(rows, orient="index", columns=list(METRIC_NAMES))


def evaluate(
    tx: ValidatedTransactions,
    cutoff: Any,
    horizon_days: int,
    *,
    models: Sequence[str] = DEFAULT_MODELS,
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
        Model keys (see :func:`make_scorer`).
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
    scorers = [make_scorer(name, value, freq, seed) for name in models]
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
    from churnml.training import FAMILIES, select_champion

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
