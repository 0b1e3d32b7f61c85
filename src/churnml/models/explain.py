"""Per-customer reasons in plain words, from LightGBM's SHAP contributions (``pred_contrib``)."""

from __future__ import annotations

import lightgbm as lgb
import numpy as np
import pandas as pd

__all__ = ["describe_feature", "top_reasons"]

_PHRASES = {
    "days_since_last": "last purchase {v:.0f} days ago",
    "cycle_ratio": "{v:.1f}x their usual gap since the last purchase",
    "n_purchases": "{v:.0f} purchases so far",
    "frequency": "{v:.0f} repeat purchases",
    "purchases_30d": "{v:.0f} purchases in the last 30 days",
    "purchases_90d": "{v:.0f} purchases in the last 90 days",
    "purchases_180d": "{v:.0f} purchases in the last 180 days",
    "purchases_365d": "{v:.0f} purchases in the last year",
    "revenue_30d": "spent {v:,.0f} in the last 30 days",
    "revenue_90d": "spent {v:,.0f} in the last 90 days",
    "revenue_180d": "spent {v:,.0f} in the last 180 days",
    "revenue_365d": "spent {v:,.0f} in the last year",
    "total_revenue": "spent {v:,.0f} in total",
    "avg_purchase_value": "average purchase {v:,.0f}",
    "ipi_mean": "buys every {v:.0f} days on average",
    "ipi_last": "last gap between purchases {v:.0f} days",
    "purchase_rate_per_30d": "{v:.2f} purchases a month",
    "trend_purchases": "recent purchases {v:.1f}x the quarter before",
    "return_share": "returns {v:.0%} of purchases",
    "btyd_p_alive": "{v:.0%} likely still active (BG/NBD)",
    "btyd_p_repurchase": "BG/NBD gives {v:.0%} chance to buy",
    "btyd_expected_purchases": "BG/NBD expects {v:.1f} purchases",
    "last_year_lines": "{v:.0f} order lines in the same season last year",
}


def describe_feature(name: str, value: float) -> str:
    """Return a feature value in words (missing values as 'no <name> yet')."""
    if value is None or not np.isfinite(value):
        if name.startswith("ipi_") or name == "cycle_ratio":
            return "no repeat purchase yet"
        if name.startswith("last_year_"):
            return "no history a year ago"
        return f"no {name.replace('_', ' ')} yet"
    template = _PHRASES.get(name)
    return template.format(v=value) if template else f"{name.replace('_', ' ')} {value:.3g}"


def top_reasons(booster: lgb.Booster, X: pd.DataFrame, k: int = 3) -> pd.Series:
    """Return, per customer, the ``k`` features that move P(repurchase) most, in words.

    Parameters
    ----------
    booster : lightgbm.Booster
        The repurchase classifier.
    X : pandas.DataFrame
        Its feature table, in model column order.
    k : int
        Reasons per customer.

    Returns
    -------
    pandas.Series
        Text such as ``"last purchase 12 days ago (raises); 1 purchases so far (lowers)"``.
    """
    contrib = booster.predict(X, pred_contrib=True)[:, :-1]  # last column: the bias
    order = np.argsort(-np.abs(contrib), axis=1)[:, :k]
    values = X.to_numpy(dtype=float)
    names = list(X.columns)
    texts = []
    for i in range(len(X)):
        parts = []
        for j in order[i]:
            direction = "raises" if contrib[i, j] > 0 else "lowers"
            parts.append(f"{describe_feature(names[j], values[i, j])} ({direction})")
        texts.append("; ".join(parts))
    return pd.Series(texts, index=X.index, name="reasons")
