"""Gains and calibration curves of an evaluation, small enough to log and to chart anywhere.

An :class:`~churnml.evaluation.Evaluation` holds a row per customer; the curves here summarise
it in a few hundred numbers per model, JSON-ready, so an MLflow run can keep them
(``curves.json``) and a report can draw them long after the predictions are gone. The
matplotlib plots (:mod:`churnml.evaluation.plots`) draw from the same helpers.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from churnml.config import parse_day
from churnml.evaluation.metrics import METRIC_NAMES
from churnml.evaluation.result import Evaluation
from churnml.exceptions import ConfigError

__all__ = [
    "CURVES_VERSION",
    "EvaluationCurves",
    "ModelCurves",
    "calibration_bins",
    "evaluation_curves",
    "gains_curve",
]

#: Version of the :meth:`EvaluationCurves.to_dict` layout, written into it.
CURVES_VERSION = 1


def gains_curve(actual: np.ndarray, score: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Share of the actual total captured by the customers with the highest scores.

    Parameters
    ----------
    actual : numpy.ndarray
        What each customer did (revenue, or 1 for a buyer), non-negative.
    score : numpy.ndarray
        The prediction customers are ranked by, highest first.

    Returns
    -------
    share : numpy.ndarray
        Share of customers contacted, ``0, 1/n, ..., 1``.
    captured : numpy.ndarray
        Share of the actual total they hold (all zeros when the total is zero).

    Notes
    -----
    Customers with tied scores form one straight segment of the curve, as in
    :func:`~churnml.evaluation.normalized_gini`: the average over every order of the tied
    customers, so a model that cannot tell customers apart gets no credit from the input's
    row order.

    Examples
    --------
    >>> share, captured = gains_curve(np.array([0.0, 10.0, 30.0]), np.array([1.0, 2.0, 3.0]))
    >>> captured.round(3).tolist()
    [0.0, 0.75, 1.0, 1.0]
    """
    actual = np.asarray(actual, dtype=float)
    score = np.asarray(score, dtype=float)
    n = actual.size
    if n == 0:
        return np.zeros(1), np.zeros(1)
    order = np.argsort(-score, kind="stable")
    ranked = score[order]
    # positions where a run of equal scores ends (NaN never equals itself: its own run)
    ends = np.flatnonzero(np.append(ranked[1:] != ranked[:-1], True)) + 1
    cumulative = np.cumsum(actual[order])
    x = np.concatenate([[0], ends])
    y = np.concatenate([[0.0], cumulative[ends - 1]])
    positions = np.arange(n + 1)
    # the running sum's own last value, so that the curve ends at exactly 1
    total = float(cumulative[-1])
    captured = np.interp(positions, x, y) / (total if total > 0 else 1.0)
    return positions / n, captured


def calibration_bins(y: np.ndarray, p: np.ndarray, n_bins: int = 10) -> pd.DataFrame:
    """Mean predicted probability and observed rate per quantile bin of the prediction.

    Parameters
    ----------
    y : numpy.ndarray
        Outcomes (0/1).
    p : numpy.ndarray
        Predicted probabilities.
    n_bins : int
        Number of quantile bins (10: deciles).

    Returns
    -------
    pandas.DataFrame
        One row per non-empty bin, lowest predictions first: ``bin`` (from 1),
        ``mean_predicted``, ``observed`` (share with ``y == 1``) and ``n``. Customers without
        a finite prediction are left out (a model that failed for a few must not blank the
        curve); ``n`` counts those in.

    Notes
    -----
    Bins are closed on the right, as :func:`pandas.qcut` and scikit-learn's
    ``calibration_curve(strategy="quantile")`` make them; where many predictions tie, bins
    collapse and fewer than ``n_bins`` rows come back.
    """
    y = np.asarray(y, dtype=float)
    p = np.asarray(p, dtype=float)
    finite = np.isfinite(p)
    y, p = y[finite], p[finite]
    columns = ["bin", "mean_predicted", "observed", "n"]
    if p.size == 0:
        return pd.DataFrame(columns=columns)
    edges = np.percentile(p, np.linspace(0, 100, n_bins + 1))
    ids = np.searchsorted(edges[1:-1], p)
    n = np.bincount(ids, minlength=n_bins)
    keep = n > 0
    return pd.DataFrame(
        {
            "bin": np.arange(1, int(keep.sum()) + 1),
            "mean_predicted": np.bincount(ids, weights=p, minlength=n_bins)[keep] / n[keep],
            "observed": np.bincount(ids, weights=y, minlength=n_bins)[keep] / n[keep],
            "n": n[keep],
        },
        columns=columns,
    )


def _thin(x: np.ndarray, y: np.ndarray, points: int) -> tuple[np.ndarray, np.ndarray]:
    """Keep about ``points`` evenly spaced points of a curve, both ends included."""
    keep = np.unique(np.round(np.linspace(0, x.size - 1, max(points, 2))).astype(int))
    return x[keep], y[keep]


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and math.isfinite(value) else None


@dataclass(frozen=True)
class ModelCurves:
    """One model's curves at an evaluation's cutoff.

    Attributes
    ----------
    gains : pandas.DataFrame
        ``share_customers`` (ranked by predicted ``expected_revenue``, highest first) and
        ``share_revenue`` (share of the window's actual revenue they brought), from 0 to 1.
    buyers_gains : pandas.DataFrame
        ``share_customers`` (ranked by ``p_repurchase``) and ``share_buyers`` (share of the
        window's buyers among them).
    calibration : pandas.DataFrame
        :func:`calibration_bins` of ``p_repurchase``: ``bin``, ``mean_predicted``,
        ``observed``, ``n``.
    metrics : dict of str to float or None
        The model's metrics (:data:`~churnml.evaluation.METRIC_NAMES`; None where undefined).
    """

    gains: pd.DataFrame
    buyers_gains: pd.DataFrame
    calibration: pd.DataFrame
    metrics: dict[str, float | None] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """Return the curves as lists (JSON-ready).

        Returns
        -------
        dict
            ``gains``, ``buyers_gains`` and ``calibration`` as column name to list, and
            ``metrics``.
        """

        def columns(frame: pd.DataFrame) -> dict[str, list[Any]]:
            return {c: frame[c].tolist() for c in frame.columns}

        return {
            "gains": columns(self.gains),
            "buyers_gains": columns(self.buyers_gains),
            "calibration": columns(self.calibration),
            "metrics": dict(self.metrics),
        }

    @classmethod
    def from_dict(cls, payload: Mapping[str, Any]) -> ModelCurves:
        """Rebuild the curves from :meth:`to_dict`'s output.

        Parameters
        ----------
        payload : mapping
            A dictionary written by :meth:`to_dict`.

        Returns
        -------
        ModelCurves
            The same curves.
        """
        calibration = pd.DataFrame(payload["calibration"])
        if not calibration.empty:
            calibration = calibration.astype({"bin": "int64", "n": "int64"})
        return cls(
            gains=pd.DataFrame(payload["gains"], dtype=float),
            buyers_gains=pd.DataFrame(payload["buyers_gains"], dtype=float),
            calibration=calibration,
            metrics=dict(payload.get("metrics", {})),
        )


@dataclass(frozen=True)
class EvaluationCurves:
    """Gains, calibration and metrics of every model of one evaluation.

    Attributes
    ----------
    cutoff : pandas.Timestamp
        Last day of the fitting data.
    horizon_days : int
        Length of the holdout window (cutoff, cutoff + horizon].
    n_customers : int
        Customers seen by the cutoff.
    buyers : int
        Of those, customers who bought in the window.
    revenue : float
        Their revenue in the window.
    models : dict of str to ModelCurves
        Curves per model, in the evaluation's order.
    champion : str or None
        The family the champion rule picked, when the evaluation reported one.
    failed : dict of str to str
        Models that could not be fitted, with the error.
    """

    cutoff: pd.Timestamp
    horizon_days: int
    n_customers: int
    buyers: int
    revenue: float
    models: dict[str, ModelCurves] = field(default_factory=dict)
    champion: str | None = None
    failed: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dictionary (``curves.json``).

        Returns
        -------
        dict
            ``version``, ``cutoff`` (ISO date), ``horizon_days``, ``n_customers``, ``buyers``,
            ``revenue``, ``champion``, ``failed`` and ``models`` (:meth:`ModelCurves.to_dict`
            per model).
        """
        return {
            "version": CURVES_VERSION,
            "cutoff": str(self.cutoff.date()),
            "horizon_days": self.horizon_days,
            "n_customers": self.n_customers,
            "buyers": self.buyers,
            "revenue": self.revenue,
            "champion": self.champion,
            "failed": dict(self.failed),
            "models": {name: curves.to_dict() for name, curves in self.models.items()},
        }

    @classmethod
    def from_dict(cls, payload: Mapping[str, Any]) -> EvaluationCurves:
        """Rebuild the curves from :meth:`to_dict`'s output (a ``curves.json``).

        Parameters
        ----------
        payload : mapping
            A dictionary written by :meth:`to_dict`.

        Returns
        -------
        EvaluationCurves
            The same curves.

        Raises
        ------
        ConfigError
            The payload was written by a newer layout version.
        """
        version = int(payload.get("version", CURVES_VERSION))
        if version > CURVES_VERSION:
            raise ConfigError(
                f"curves layout version {version} is newer than this churnml reads "
                f"({CURVES_VERSION}); upgrade churnml"
            )
        return cls(
            cutoff=parse_day(payload["cutoff"], "cutoff"),
            horizon_days=int(payload["horizon_days"]),
            n_customers=int(payload["n_customers"]),
            buyers=int(payload["buyers"]),
            revenue=float(payload["revenue"]),
            models={k: ModelCurves.from_dict(v) for k, v in payload["models"].items()},
            champion=payload.get("champion"),
            failed=dict(payload.get("failed", {})),
        )


def evaluation_curves(
    evaluation: Evaluation, models: Sequence[str] | None = None, points: int = 101
) -> EvaluationCurves:
    """Summarise an evaluation as gains and calibration curves per model.

    Parameters
    ----------
    evaluation : Evaluation
        An out-of-time evaluation (:func:`churnml.evaluation.evaluate`).
    models : sequence of str, optional
        Models to keep (default: every model with predictions; ``champion`` repeats one of
        them and is recorded as :attr:`EvaluationCurves.champion` instead).
    points : int
        About how many points each gains curve keeps (both ends always).

    Returns
    -------
    EvaluationCurves
        Per model: revenue and buyers gains, calibration by decile of ``p_repurchase`` and
        the metrics.

    Raises
    ------
    ConfigError
        A requested model has no predictions in the evaluation; the message lists those
        that do.
    """
    available = [name for name in evaluation.predictions if name != "champion"]
    chosen = available if models is None else list(dict.fromkeys(models))
    unknown = [name for name in chosen if name not in evaluation.predictions]
    if unknown:
        raise ConfigError(
            f"no predictions for model(s) {', '.join(map(repr, unknown))} in this evaluation "
            f"(it has {', '.join(map(repr, available)) or 'none'})"
        )
    labels = evaluation.labels
    out: dict[str, ModelCurves] = {}
    for name in chosen:
        pred = evaluation.predictions[name]
        seen = labels.loc[pred.index]
        share, revenue = _thin(
            *gains_curve(seen["revenue"].to_numpy(float), pred["expected_revenue"].to_numpy(float)),
            points,
        )
        buyer_share, buyers = _thin(
            *gains_curve(seen["bought"].to_numpy(float), pred["p_repurchase"].to_numpy(float)),
            points,
        )
        metrics = evaluation.metrics.get(name, {})
        out[name] = ModelCurves(
            gains=pd.DataFrame({"share_customers": share, "share_revenue": revenue}),
            buyers_gains=pd.DataFrame({"share_customers": buyer_share, "share_buyers": buyers}),
            calibration=calibration_bins(
                seen["bought"].to_numpy(int), pred["p_repurchase"].to_numpy(float)
            ),
            metrics={k: _number(metrics.get(k)) for k in METRIC_NAMES},
        )
    champion = evaluation.metrics.get("champion", {}).get("family")
    return EvaluationCurves(
        cutoff=evaluation.cutoff,
        horizon_days=int(evaluation.horizon_days),
        n_customers=len(labels),
        buyers=int(labels["bought"].sum()),
        revenue=float(labels["revenue"].sum()),
        models=out,
        champion=str(champion) if champion is not None else None,
        failed={name: str(m["error"]) for name, m in evaluation.metrics.items() if "error" in m},
    )
