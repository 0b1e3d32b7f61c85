"""Metrics of out-of-time predictions against what customers then did (contract section 4)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import spearmanr
from sklearn.metrics import average_precision_score, brier_score_loss, log_loss, roc_auc_score

__all__ = [
    "METRIC_NAMES",
    "expected_calibration_error",
    "model_metrics",
    "normalized_gini",
    "top_share",
]

#: Metrics :func:`model_metrics` returns, in table order.
METRIC_NAMES = (
    "auc",
    "pr_auc",
    "brier",
    "log_loss",
    "ece",
    "buyers_ratio",
    "purchases_mae",
    "purchases_ratio",
    "revenue_gini",
    "revenue_spearman",
    "revenue_ratio",
    "top_decile_revenue_share",
    "days_to_next_mae",
    "timing_calibration_error",
)

_EPS = 1e-6


def _lorenz_area(actual: np.ndarray, score: np.ndarray) -> float:
    """2 * area under the cumulative-actual curve, customers ordered by descending score, - 1.

    Tied scores form one segment of the curve (linear in between), which equals the average
    over all orders of the tied customers, so ties neither help nor hurt.

    Returns
    -------
    float
        The normalized area, in [-1, 1].
    """
    frame = (
        pd.DataFrame({"a": actual, "s": score}).groupby("s", sort=True)["a"].agg(["sum", "size"])
    )
    frame = frame.iloc[::-1]
    total = actual.sum()
    y = np.concatenate([[0.0], np.cumsum(frame["sum"].to_numpy()) / total])
    x = np.concatenate([[0.0], np.cumsum(frame["size"].to_numpy()) / actual.size])
    return float(2.0 * np.trapezoid(y, x) - 1.0)


def normalized_gini(actual: np.ndarray, predicted: np.ndarray) -> float:
    """Return the normalized Gini of ``predicted`` as a ranking of ``actual``.

    Parameters
    ----------
    actual, predicted : numpy.ndarray
        Actual values (non-negative, not all zero) and predictions.

    Returns
    -------
    float
        Gini of the prediction ordering divided by the Gini of the perfect ordering: 1 is a
        perfect ranking, 0 a random one. NaN when ``actual`` sums to zero.
    """
    actual = np.asarray(actual, dtype=float)
    if actual.sum() <= 0:
        return float("nan")
    return _lorenz_area(actual, np.asarray(predicted, dtype=float)) / _lorenz_area(actual, actual)


def top_share(actual: np.ndarray, predicted: np.ndarray, fraction: float = 0.1) -> float:
    """Return the share of the actual total held by the top ``fraction`` of customers.

    Parameters
    ----------
    actual : numpy.ndarray
        What each customer did (revenue), non-negative.
    predicted : numpy.ndarray
        The score customers are ranked by, highest first.
    fraction : float
        Share of customers taken: the top ``ceil(fraction * n)`` (at least one).

    Returns
    -------
    float
        Their share of ``actual.sum()``; NaN when that is not positive.

    Notes
    -----
    Customers tied on the score at the cut-off share the slots left in proportion: each
    holds ``slots / tied`` of its value, the expected share over every order of the tied
    customers. The share is the gains curve's (:func:`~churnml.evaluation.gains_curve`) at
    ``k`` customers, so a model that cannot tell customers apart gets neither credit nor blame
    from their ids or row order.

    Examples
    --------
    >>> top_share(np.array([30.0, 10.0, 0.0, 0.0]), np.array([1.0, 1.0, 0.0, 0.0]), 0.25)
    0.5
    """
    actual = np.asarray(actual, dtype=float)
    score = np.asarray(predicted, dtype=float)
    total = actual.sum()
    if not total > 0:
        return float("nan")
    k = max(1, int(np.ceil(fraction * actual.size)))
    order = np.argsort(-score, kind="stable")
    ranked = score[order]
    # cumulative value at the end of each run of equal scores, linear within a run
    ends = np.flatnonzero(np.append(ranked[1:] != ranked[:-1], True)) + 1
    cumulative = np.cumsum(actual[order])
    x = np.concatenate([[0], ends])
    y = np.concatenate([[0.0], cumulative[ends - 1]])
    return float(np.interp(k, x, y) / total)


def expected_calibration_error(y: np.ndarray, p: np.ndarray, n_bins: int = 10) -> float:
    """Return the expected calibration error over equal-width probability bins.

    Parameters
    ----------
    y : numpy.ndarray
        Outcomes (0/1).
    p : numpy.ndarray
        Predicted probabilities.
    n_bins : int
        Number of bins on [0, 1].

    Returns
    -------
    float
        ``sum_b (n_b / n) * |mean(p in b) - mean(y in b)|``.
    """
    y = np.asarray(y, dtype=float)
    p = np.asarray(p, dtype=float)
    bins = np.minimum((p * n_bins).astype(int), n_bins - 1)
    gap = np.abs(
        np.bincount(bins, weights=p, minlength=n_bins)
        - np.bincount(bins, weights=y, minlength=n_bins)
    )
    return float(gap.sum() / y.size)


def _timing_metric(
    predictions: pd.DataFrame, labels: pd.DataFrame, horizon_days: float | None
) -> dict[str, float]:
    """Mean |predicted - observed| share buying within 7, 30 and 90 days (those <= horizon).

    Returns
    -------
    dict
        ``timing_calibration_error``; NaN when no window fits in the horizon.
    """
    days = labels["days_to_next"].to_numpy(float)
    if horizon_days is None:
        horizon_days = labels.attrs.get("horizon_days")
    if horizon_days is None:
        # labels of unknown origin: the latest first purchase is all we know of the window
        horizon_days = np.nanmax(days) if np.isfinite(days).any() else 0.0
    gaps = []
    for t in (7, 30, 90):
        column = f"p_buy_{t}d"
        if column in predictions and t <= horizon_days:
            observed = float(np.mean(np.nan_to_num(days, nan=np.inf) <= t))
            gaps.append(abs(float(predictions[column].mean()) - observed))
    return {"timing_calibration_error": float(np.mean(gaps)) if gaps else float("nan")}


def model_metrics(
    predictions: pd.DataFrame, labels: pd.DataFrame, horizon_days: float | None = None
) -> dict[str, Any]:
    """Compare one model's predictions with the labels of the same customers.

    Parameters
    ----------
    predictions : pandas.DataFrame
        ``p_repurchase``, ``expected_purchases``, ``expected_revenue``,
        ``expected_days_to_next_purchase``, indexed by customer.
    labels : pandas.DataFrame
        :func:`churnml.features.build_labels` output for the same customers.
    horizon_days : float, optional
        Length of the label window. Default: the ``horizon_days`` that
        :func:`~churnml.features.build_labels` records in ``labels.attrs``, else (labels made
        some other way) the latest ``days_to_next`` observed, which falls short of the window
        when nobody happens to buy near its end.

    Returns
    -------
    dict
        The metrics of :data:`METRIC_NAMES`. Probabilities are clipped to [1e-6, 1 - 1e-6]
        for the log loss. Ranking metrics are NaN when the outcome has one class only.
        ``timing_calibration_error`` compares the mean predicted P(buy within 7, 30, 90 days)
        with the observed shares, for the windows inside the horizon (a 90-day window counts
        when ``horizon_days >= 90``).
    """
    if not labels.index.equals(predictions.index):
        labels = labels.loc[predictions.index]
    y = labels["bought"].to_numpy(dtype=int)
    p = predictions["p_repurchase"].to_numpy(dtype=float)
    both = 0 < y.sum() < y.size
    actual_rev = labels["revenue"].to_numpy(dtype=float)
    pred_rev = predictions["expected_revenue"].to_numpy(dtype=float)
    actual_n = labels["n_purchases"].to_numpy(dtype=float)
    pred_n = predictions["expected_purchases"].to_numpy(dtype=float)
    buyers = y.astype(bool)
    days_mae = (
        float(
            np.mean(
                np.abs(
                    predictions["expected_days_to_next_purchase"].to_numpy(float)[buyers]
                    - labels["days_to_next"].to_numpy(float)[buyers]
                )
            )
        )
        if buyers.any()
        else float("nan")
    )
    return {
        "auc": float(roc_auc_score(y, p)) if both else float("nan"),
        **_timing_metric(predictions, labels, horizon_days),
        "pr_auc": float(average_precision_score(y, p)) if both else float("nan"),
        "brier": float(brier_score_loss(y, p)),
        "log_loss": float(log_loss(y, np.clip(p, _EPS, 1 - _EPS), labels=[0, 1])),
        "ece": expected_calibration_error(y, p),
        "buyers_ratio": float(p.sum() / y.sum()) if y.sum() else float("nan"),
        "purchases_mae": float(np.mean(np.abs(pred_n - actual_n))),
        "purchases_ratio": float(pred_n.sum() / actual_n.sum()) if actual_n.sum() else float("nan"),
        "revenue_gini": normalized_gini(actual_rev, pred_rev),
        "revenue_spearman": float(spearmanr(pred_rev, actual_rev).statistic)
        if np.ptp(pred_rev) > 0 and np.ptp(actual_rev) > 0
        else float("nan"),
        "revenue_ratio": float(pred_rev.sum() / actual_rev.sum())
        if actual_rev.sum()
        else float("nan"),
        "top_decile_revenue_share": top_share(actual_rev, pred_rev, 0.1),
        "days_to_next_mae": days_mae,
    }
