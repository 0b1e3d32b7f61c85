"""The result of an out-of-time evaluation: labels, predictions, metrics, diagnostics."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from churnml.evaluation.metrics import METRIC_NAMES

__all__ = ["Evaluation"]


def _json_ready(value: Any) -> Any:
    """Return ``value`` with every non-finite float, however deeply nested, replaced by None."""
    # JSON has no NaN: json.dumps would write one that strict readers refuse
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _json_ready(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_ready(v) for v in value]
    return value


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
    files : list of pathlib.Path
        Files written from it (``metrics.json``, plots), if any.
    seconds : float or None
        Wall time of the whole backtest (every model), when timed; never in ``metrics.json``,
        which stays the same for the same data and seed.
    """

    cutoff: pd.Timestamp
    horizon_days: int
    labels: pd.DataFrame
    summary: pd.DataFrame
    predictions: dict[str, pd.DataFrame] = field(default_factory=dict)
    metrics: dict[str, dict[str, Any]] = field(default_factory=dict)
    diagnostics: dict[str, dict[str, Any]] = field(default_factory=dict)
    run_id: str | None = None
    files: list[Path] = field(default_factory=list)
    seconds: float | None = None

    def to_dict(self) -> dict[str, Any]:
        """Return the ``metrics.json`` payload of the contract (NaN written as null).

        Returns
        -------
        dict
            ``cutoff``, ``horizon_days``, ``n_customers``, ``actual``, ``models``,
            ``diagnostics``.
        """
        return _json_ready(
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
        """Write :meth:`to_dict` as JSON.

        Parameters
        ----------
        path : str or pathlib.Path
            Destination file (its folder is created).

        Returns
        -------
        pathlib.Path
            The path written.
        """
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.to_dict(), indent=2, default=str) + "\n")
        return path

    def table(self) -> pd.DataFrame:
        """Metrics as a table.

        Returns
        -------
        pandas.DataFrame
            One row per model, one column per metric; models that failed are left out.
        """
        rows = {
            (f"champion ({m['family']})" if name == "champion" else name): {
                k: m.get(k, float("nan")) for k in METRIC_NAMES
            }
            for name, m in self.metrics.items()
            if "error" not in m
        }
        return pd.DataFrame.from_dict(rows, orient="index", columns=list(METRIC_NAMES))
