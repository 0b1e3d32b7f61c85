"""The champion and promotion rules: which model wins a backtest, and when it replaces another.

Rules over backtest metrics only; nothing here fits a model.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from churnml.evaluation.result import Evaluation
from churnml.models.catalog import FAMILIES

__all__ = [
    "AGGREGATE_TOLERANCE",
    "CHAMPION_RULE",
    "PROMOTION_RULE",
    "beats",
    "select_champion",
]

#: Aggregate tolerance of the champion rule.
AGGREGATE_TOLERANCE = 0.20
CHAMPION_RULE = (
    "highest AUC + normalized revenue Gini on the backtest, among models whose predicted "
    f"buyers and revenue are within +-{AGGREGATE_TOLERANCE:.0%} of actual; if none is, the "
    "highest AUC + Gini overall (with a warning)"
)
PROMOTION_RULE = (
    "a new version becomes champion if there is none yet, or if on this run's backtest it beats "
    "the champion's configuration refitted on the same data: within the aggregate tolerance "
    f"(+-{AGGREGATE_TOLERANCE:.0%} buyers and revenue) when the champion is not, else a strictly "
    "higher AUC + Gini; ties keep the champion. The champion's own configuration refitted on "
    "different data replaces it (a refresh: same family, freq and seed, newer or other data). "
    "--force promotes regardless"
)


def _rank(metrics: dict[str, Any]) -> tuple[bool, float] | None:
    """Return (within the aggregate tolerance, AUC + Gini), or None for unusable metrics."""
    if not metrics or "error" in metrics:
        return None
    score = metrics["auc"] + metrics["revenue_gini"]
    if not math.isfinite(score):
        return None
    within = all(
        math.isfinite(metrics[k]) and abs(metrics[k] - 1) <= AGGREGATE_TOLERANCE
        for k in ("buyers_ratio", "revenue_ratio")
    )
    return within, score


def select_champion(evaluation: Evaluation, families: Sequence[str] = FAMILIES) -> tuple[str, str]:
    """Apply :data:`CHAMPION_RULE` to a backtest.

    Parameters
    ----------
    evaluation : Evaluation
        Backtest results.
    families : sequence of str
        Candidates.

    Returns
    -------
    name : str
        The winning model key.
    reason : str
        Why, in words.

    Examples
    --------
    >>> import pandas as pd
    >>> from churnml.evaluation import Evaluation, select_champion
    >>> good = {"auc": 0.8, "revenue_gini": 0.7, "buyers_ratio": 1.05, "revenue_ratio": 0.9}
    >>> biased = {"auc": 0.9, "revenue_gini": 0.8, "buyers_ratio": 1.5, "revenue_ratio": 1.4}
    >>> ev = Evaluation(pd.Timestamp("1997-12-31"), 90, pd.DataFrame(), pd.DataFrame(),
    ...                 metrics={"bgnbd": good, "gbm": biased})
    >>> select_champion(ev)[0]
    'bgnbd'
    """
    scored = {}
    for name in families:
        rank = _rank(evaluation.metrics.get(name, {}))
        if rank is not None:
            scored[name] = rank
    if not scored:
        return "bgnbd", "no family could be backtested; BG/NBD + Gamma-Gamma by default"
    eligible = {k: v for k, v in scored.items() if v[0]} or scored
    best = max(eligible, key=lambda k: eligible[k][1])
    note = "" if scored[best][0] else " (no model was within the aggregate tolerance)"
    return best, f"AUC + Gini = {scored[best][1]:.4f} on the backtest{note}"


def beats(new: dict[str, Any], champion: dict[str, Any]) -> tuple[bool, str]:
    """Apply :data:`PROMOTION_RULE` to two models' metrics on the same backtest.

    Parameters
    ----------
    new, champion : dict
        Backtest metrics of the new version and of the champion's configuration.

    Returns
    -------
    promote : bool
        Whether the new version wins.
    reason : str
        Both scores, in words.

    Examples
    --------
    >>> from churnml.evaluation import beats
    >>> new = {"auc": 0.81, "revenue_gini": 0.75, "buyers_ratio": 1.0, "revenue_ratio": 1.1}
    >>> old = {"auc": 0.80, "revenue_gini": 0.75, "buyers_ratio": 1.0, "revenue_ratio": 1.1}
    >>> beats(new, old)[0], beats(old, old)[0]
    (True, False)
    """
    mine, theirs = _rank(new), _rank(champion)
    if mine is None:
        return False, "the new version has no usable backtest metrics"
    if theirs is None:
        return True, "the champion's configuration could not be backtested on this data"
    text = f"AUC + Gini {mine[1]:.4f} vs champion {theirs[1]:.4f}"
    if mine[0] != theirs[0]:
        side = "new version" if mine[0] else "champion"
        return mine[0], f"only the {side} is within the aggregate tolerance ({text})"
    return mine[1] > theirs[1], text
