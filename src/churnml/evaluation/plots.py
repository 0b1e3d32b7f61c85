"""Evaluation plots: calibration, gains, the classic BTYD frequency plot, feature importance.

Each ``*_figure`` function returns a :class:`matplotlib.figure.Figure` (a notebook shows it);
:func:`save_plots` writes them all as PNG files. Figures are built without ``pyplot``, so
importing churnml never changes the process's matplotlib backend.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from churnml.evaluation.curves import calibration_bins, gains_curve
from churnml.evaluation.result import Evaluation

__all__ = [
    "calibration_figure",
    "feature_importance_figure",
    "frequency_figure",
    "gains_figure",
    "save_plots",
]


def _title(evaluation: Evaluation) -> str:
    return f"cutoff {evaluation.cutoff.date()}, horizon {evaluation.horizon_days} d"


def _models(evaluation: Evaluation) -> dict[str, pd.DataFrame]:
    # "champion" repeats one of the others
    return {k: v for k, v in evaluation.predictions.items() if k != "champion"}


def calibration_figure(evaluation: Evaluation) -> Figure:
    """Plot predicted P(repurchase) against the observed share who bought, by decile.

    Parameters
    ----------
    evaluation : Evaluation
        An out-of-time evaluation.

    Returns
    -------
    matplotlib.figure.Figure
        One curve per model and the diagonal.
    """
    fig = Figure(figsize=(6, 5))
    ax = fig.subplots()
    ax.plot([0, 1], [0, 1], ls="--", c="grey", lw=1, label="perfect")
    for name, pred in _models(evaluation).items():
        y = evaluation.labels.loc[pred.index, "bought"].to_numpy(int)
        bins = calibration_bins(y, pred["p_repurchase"].to_numpy(float))
        ax.plot(bins["mean_predicted"], bins["observed"], marker="o", ms=3, label=name)
    ax.set(
        xlabel="predicted P(repurchase)",
        ylabel="observed share who bought",
        title=f"Calibration ({_title(evaluation)})",
    )
    ax.legend()
    fig.tight_layout()
    return fig


def gains_figure(evaluation: Evaluation) -> Figure:
    """Plot the share of actual revenue captured by customers ranked by predicted revenue.

    Parameters
    ----------
    evaluation : Evaluation
        An out-of-time evaluation.

    Returns
    -------
    matplotlib.figure.Figure
        One gains curve per model and the random line.
    """
    fig = Figure(figsize=(6, 5))
    ax = fig.subplots()
    ax.plot([0, 1], [0, 1], ls="--", c="grey", lw=1, label="random")
    for name, pred in _models(evaluation).items():
        actual = evaluation.labels.loc[pred.index, "revenue"].to_numpy(float)
        x, y = gains_curve(actual, pred["expected_revenue"].to_numpy(float))
        ax.plot(x, y, label=name)
    ax.set(
        xlabel="share of customers, by predicted revenue",
        ylabel="share of actual revenue",
        title=f"Gains ({_title(evaluation)})",
    )
    ax.legend()
    fig.tight_layout()
    return fig


def frequency_figure(evaluation: Evaluation) -> Figure:
    """Plot mean predicted and actual holdout purchases by calibration-period frequency.

    The classic BTYD check (Fader, Hardie and Lee 2005, figure 3): customers grouped by their
    repeat purchases before the cutoff (7 and more together).

    Parameters
    ----------
    evaluation : Evaluation
        An out-of-time evaluation.

    Returns
    -------
    matplotlib.figure.Figure
        Bars of actual and of each model's expected purchases per group.
    """
    fig = Figure(figsize=(7, 5))
    ax = fig.subplots()
    shown = _models(evaluation)
    index = evaluation.summary.index
    bucket = np.minimum(evaluation.summary["frequency"].to_numpy(int), 7)
    names = ["0", "1", "2", "3", "4", "5", "6", "7+"]
    actual = pd.Series(evaluation.labels.loc[index, "n_purchases"].to_numpy()).groupby(bucket)
    width = 0.8 / (len(shown) + 1)
    mean = actual.mean()
    ax.bar(mean.index - 0.4 + width / 2, mean.to_numpy(), width, label="actual", color="k")
    for i, (name, pred) in enumerate(shown.items(), start=1):
        mean = pd.Series(pred.loc[index, "expected_purchases"].to_numpy()).groupby(bucket).mean()
        ax.bar(mean.index - 0.4 + width * (i + 0.5), mean.to_numpy(), width, label=name)
    ax.set_xticks(range(8), names)
    ax.set(
        xlabel="repeat purchases before the cutoff",
        ylabel=f"mean purchases in the {evaluation.horizon_days} days after",
        title="Predicted vs actual purchases by calibration frequency",
    )
    ax.legend()
    fig.tight_layout()
    return fig


def feature_importance_figure(evaluation: Evaluation) -> Figure | None:
    """Plot the top features of each gradient-boosted model's P(repurchase) model.

    Parameters
    ----------
    evaluation : Evaluation
        An out-of-time evaluation.

    Returns
    -------
    matplotlib.figure.Figure or None
        One panel per LightGBM model; None when none was evaluated.
    """
    importance = {
        name: diag["feature_importance"]
        for name, diag in evaluation.diagnostics.items()
        if diag.get("feature_importance")
    }
    if not importance:
        return None
    fig = Figure(figsize=(5.5 * len(importance), 4.5))
    axes = fig.subplots(1, len(importance), squeeze=False)
    for ax, (name, gains) in zip(axes[0], importance.items(), strict=True):
        names = list(gains)[::-1]
        total = sum(gains.values()) or 1.0
        ax.barh(names, [gains[n] / total for n in names])
        ax.set(xlabel="share of the top features' gain", title=f"{name}: P(repurchase) model")
    fig.tight_layout()
    return fig


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
    figures = {
        "calibration": calibration_figure(evaluation),
        "gains": gains_figure(evaluation),
        "frequency": frequency_figure(evaluation),
        "feature_importance": feature_importance_figure(evaluation),
    }
    written = []
    for name, fig in figures.items():
        if fig is not None:
            path = folder / f"{name}.png"
            fig.savefig(path, dpi=110)
            written.append(path)
    return written
