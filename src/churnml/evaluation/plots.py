"""Evaluation plots: calibration, gains, and the classic BTYD frequency plot."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only; never needs a display

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from sklearn.calibration import calibration_curve

from churnml.evaluation.backtest import Evaluation

__all__ = ["save_plots"]


def _gains(actual: np.ndarray, score: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    order = np.argsort(-score, kind="stable")
    captured = np.cumsum(actual[order]) / max(actual.sum(), 1e-12)
    share = np.arange(1, actual.size + 1) / actual.size
    return np.concatenate([[0], share]), np.concatenate([[0], captured])


def save_plots(evaluation: Evaluation, folder: str | Path) -> list[Path]:
    """Write calibration, gains and frequency plots as PNG files.

    Parameters
    ----------
    evaluation : Evaluation
        Output of :func:`churnml.evaluation.evaluate`.
    folder : str or pathlib.Path
        Output folder (created).

    Returns
    -------
    list of pathlib.Path
        The files written: ``calibration.png``, ``gains.png``, ``frequency.png`` and, when a
        gradient-boosted model was evaluated, ``feature_importance.png``.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    labels = evaluation.labels
    title = f"cutoff {evaluation.cutoff.date()}, horizon {evaluation.horizon_days} d"
    written = []

    fig, ax = plt.subplots(figsize=(6, 5))
    ax.plot([0, 1], [0, 1], ls="--", c="grey", lw=1, label="perfect")
    shown = {k: v for k, v in evaluation.predictions.items() if k != "champion"}
    for name, pred in shown.items():
        y = labels.loc[pred.index, "bought"].to_numpy(int)
        frac, mean = calibration_curve(y, pred["p_repurchase"], n_bins=10, strategy="quantile")
        ax.plot(mean, frac, marker="o", ms=3, label=name)
    ax.set(
        xlabel="predicted P(repurchase)",
        ylabel="observed share who bought",
        title=f"Calibration ({title})",
    )
    ax.legend()
    written.append(_save(fig, folder / "calibration.png"))

    fig, ax = plt.subplots(figsize=(6, 5))
    ax.plot([0, 1], [0, 1], ls="--", c="grey", lw=1, label="random")
    for name, pred in shown.items():
        actual = labels.loc[pred.index, "revenue"].to_numpy(float)
        x, y = _gains(actual, pred["expected_revenue"].to_numpy(float))
        ax.plot(x, y, label=name)
    ax.set(
        xlabel="share of customers, by predicted revenue",
        ylabel="share of actual revenue",
        title=f"Gains ({title})",
    )
    ax.legend()
    written.append(_save(fig, folder / "gains.png"))

    fig, ax = plt.subplots(figsize=(7, 5))
    bucket = np.minimum(evaluation.summary["frequency"].to_numpy(int), 7)
    names = ["0", "1", "2", "3", "4", "5", "6", "7+"]
    actual = (
        pd.Series(labels.loc[evaluation.summary.index, "n_purchases"].to_numpy())
        .groupby(bucket)
        .mean()
    )
    width = 0.8 / (len(shown) + 1)
    ax.bar(actual.index - 0.4 + width / 2, actual.to_numpy(), width, label="actual", color="k")
    for i, (name, pred) in enumerate(shown.items(), start=1):
        mean = (
            pd.Series(pred.loc[evaluation.summary.index, "expected_purchases"].to_numpy())
            .groupby(bucket)
            .mean()
        )
        ax.bar(mean.index - 0.4 + width * (i + 0.5), mean.to_numpy(), width, label=name)
    ax.set_xticks(range(8), names)
    ax.set(
        xlabel="repeat purchases before the cutoff",
        ylabel=f"mean purchases in the {evaluation.horizon_days} days after",
        title="Predicted vs actual purchases by calibration frequency",
    )
    ax.legend()
    written.append(_save(fig, folder / "frequency.png"))

    importance = {
        name: diag["feature_importance"]
        for name, diag in evaluation.diagnostics.items()
        if diag.get("feature_importance")
    }
    if importance:
        fig, axes = plt.subplots(
            1, len(importance), figsize=(5.5 * len(importance), 4.5), squeeze=False
        )
        for ax, (name, gains) in zip(axes[0], importance.items(), strict=True):
            names = list(gains)[::-1]
            total = sum(gains.values()) or 1.0
            ax.barh(names, [gains[n] / total for n in names])
            ax.set(xlabel="share of the top features' gain", title=f"{name}: P(repurchase) model")
        written.append(_save(fig, folder / "feature_importance.png"))
    return written


def _save(fig: plt.Figure, path: Path) -> Path:
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
