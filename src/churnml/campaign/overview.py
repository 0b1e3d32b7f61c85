"""Segment and value-tier tables of a score table, with the suggested action per segment."""

from __future__ import annotations

import pandas as pd

from churnml.exceptions import DataValidationError
from churnml.segments import SEGMENT_ACTIONS, SEGMENTS, VALUE_TIERS

__all__ = ["segment_overview", "value_tier_overview"]


def _check(scores: pd.DataFrame, needed: tuple[str, ...], what: str) -> None:
    missing = [c for c in needed if c not in scores.columns]
    if missing:
        raise DataValidationError(
            "scores", f"missing column(s) {', '.join(map(repr, missing))} for {what}"
        )


def _table(scores: pd.DataFrame, by: str, order: tuple[str, ...]) -> pd.DataFrame:
    frame = scores.assign(
        expected_revenue=pd.to_numeric(scores["expected_revenue"], errors="coerce"),
        clv=pd.to_numeric(scores["clv"], errors="coerce"),
        p_repurchase=pd.to_numeric(scores["p_repurchase"], errors="coerce"),
    )
    # a value outside the known ones (a hand-edited file) keeps a row of its own, so the
    # shares are of every customer and none goes missing
    labels = frame[by].astype(object).where(frame[by].notna(), "").astype(str)
    labels = labels.where(labels.str.strip() != "", "(missing)")
    grouped = frame.groupby(labels, sort=False)
    out = pd.DataFrame(
        {
            "customers": grouped.size(),
            "expected_revenue": grouped["expected_revenue"].sum(),
            "clv": grouped["clv"].sum(),
            "mean_p_repurchase": grouped["p_repurchase"].mean(),
        }
    )
    extra = [label for label in out.index if label not in order]
    out = out.reindex([*order, *extra])
    out["customers"] = out["customers"].fillna(0).astype(int)
    out[["expected_revenue", "clv"]] = out[["expected_revenue", "clv"]].fillna(0.0)
    n, clv = out["customers"].sum(), out["clv"].sum()
    out.insert(1, "share", out["customers"] / n if n else 0.0)
    out["clv_share"] = out["clv"] / clv if clv else 0.0
    out.index.name = by
    return out


def segment_overview(scores: pd.DataFrame) -> pd.DataFrame:
    """Size, value and suggested action of each lifecycle segment.

    Parameters
    ----------
    scores : pandas.DataFrame
        A score table with ``segment``, ``expected_revenue``, ``clv`` and ``p_repurchase``.

    Returns
    -------
    pandas.DataFrame
        Indexed by segment (all of :data:`churnml.segments.SEGMENTS`, in order, then any
        other value found, ``(missing)`` for an empty one): ``customers``,
        ``share`` of customers, ``expected_revenue`` and ``clv`` summed, ``mean_p_repurchase``,
        ``clv_share`` and ``action`` (:data:`churnml.segments.SEGMENT_ACTIONS`).

    Raises
    ------
    DataValidationError
        A needed column is missing.

    Examples
    --------
    >>> import pandas as pd
    >>> scores = pd.DataFrame({"segment": ["new", "warm", "warm"],
    ...                        "expected_revenue": [5.0, 3.0, 1.0], "clv": [20.0, 10.0, 10.0],
    ...                        "p_repurchase": [0.5, 0.4, 0.2]})
    >>> overview = segment_overview(scores)
    >>> int(overview.loc["warm", "customers"]), float(overview.loc["warm", "clv_share"])
    (2, 0.5)
    """
    _check(scores, ("segment", "expected_revenue", "clv", "p_repurchase"), "segment sizes")
    out = _table(scores, "segment", SEGMENTS)
    out["action"] = [SEGMENT_ACTIONS.get(s, "not a churnml segment") for s in out.index]
    return out


def value_tier_overview(scores: pd.DataFrame) -> pd.DataFrame:
    """Size and value of each value tier (gold, silver, bronze).

    Parameters
    ----------
    scores : pandas.DataFrame
        A score table with ``value_tier``, ``expected_revenue``, ``clv`` and ``p_repurchase``.

    Returns
    -------
    pandas.DataFrame
        Indexed by tier (gold, silver, bronze, then any other value found): ``customers``,
        ``share``, ``expected_revenue``, ``clv``, ``mean_p_repurchase`` and ``clv_share``.

    Raises
    ------
    DataValidationError
        A needed column is missing.
    """
    _check(scores, ("value_tier", "expected_revenue", "clv", "p_repurchase"), "value tiers")
    return _table(scores, "value_tier", VALUE_TIERS)
