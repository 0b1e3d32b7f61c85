"""Lifecycle segments and value tiers (thresholds from the business brief, configurable)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from churnml.settings import SegmentRules

__all__ = [
    "SEGMENTS",
    "SEGMENT_ACTIONS",
    "VALUE_TIERS",
    "SegmentRules",
    "lifecycle_segment",
    "value_tier",
]

#: Lifecycle segments, from most to least engaged.
SEGMENTS = ("new", "active", "warm", "high_recall", "low_recall", "lost")
#: The suggested action for each segment (from the business brief).
SEGMENT_ACTIONS = {
    "new": "push a second purchase (welcome series, second-order offer)",
    "active": "reward loyalty: perks, trials, early access; no discount needed",
    "warm": "light reminders at their usual purchase cycle",
    "high_recall": "regular offers plus care messages",
    "low_recall": "care messages plus the big promotions",
    "lost": "only in big win-back pushes",
}
#: Value tiers, best first.
VALUE_TIERS = ("gold", "silver", "bronze")


def lifecycle_segment(
    days_since_last: pd.Series, n_purchases: pd.Series, rules: SegmentRules | None = None
) -> pd.Series:
    """Assign each customer a lifecycle segment.

    Parameters
    ----------
    days_since_last : pandas.Series
        Days from the last purchase to as-of.
    n_purchases : pandas.Series
        Purchases up to as-of (aligned with ``days_since_last``).
    rules : SegmentRules, optional
        Thresholds.

    Returns
    -------
    pandas.Series
        Categorical with categories :data:`SEGMENTS`: ``new`` (one purchase, within
        ``active_days``), ``active`` (two or more, within ``active_days``), ``warm``,
        ``high_recall``, ``low_recall``, ``lost``; each upper bound inclusive.
    """
    rules = rules or SegmentRules()
    d = np.asarray(days_since_last, dtype=float)
    n = np.asarray(n_purchases, dtype=float)
    choice = np.select(
        [
            (d <= rules.active_days) & (n <= 1),
            d <= rules.active_days,
            d <= rules.warm_days,
            d <= rules.high_recall_days,
            d <= rules.low_recall_days,
        ],
        list(SEGMENTS[:5]),
        default="lost",
    )
    return pd.Series(
        pd.Categorical(choice, categories=SEGMENTS),
        index=getattr(days_since_last, "index", None),
        name="segment",
    )


def value_tier(value: pd.Series, rules: SegmentRules | None = None) -> pd.Series:
    """Assign gold / silver / bronze by rank of ``value`` (e.g. CLV), best first.

    Ties share the better tier's rank order as given by a stable sort, so the tier sizes are
    exactly ``gold_share`` and ``silver_share`` of customers (rounded down).

    Parameters
    ----------
    value : pandas.Series
        Value per customer.
    rules : SegmentRules, optional
        Tier shares.

    Returns
    -------
    pandas.Series
        Categorical with categories :data:`VALUE_TIERS`.
    """
    rules = rules or SegmentRules()
    v = np.asarray(value, dtype=float)
    order = np.argsort(-np.nan_to_num(v, nan=-np.inf), kind="stable")
    rank = np.empty(v.size, dtype=np.int64)
    rank[order] = np.arange(v.size)
    n_gold = int(np.floor(rules.gold_share * v.size))
    n_silver = int(np.floor(rules.silver_share * v.size))
    tiers = np.where(rank < n_gold, "gold", np.where(rank < n_gold + n_silver, "silver", "bronze"))
    return pd.Series(
        pd.Categorical(tiers, categories=VALUE_TIERS),
        index=getattr(value, "index", None),
        name="value_tier",
    )
