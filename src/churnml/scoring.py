"""Score customers with a saved model into the contract's score table (section 3)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from churnml.config import parse_day
from churnml.data.validation import ValidatedTransactions
from churnml.features.rfm import history_until
from churnml.segments.lifecycle import SegmentRules, lifecycle_segment, value_tier
from churnml.training import load_bundle, resolve_bundle

__all__ = ["CONTRACT_COLUMNS", "score", "score_with"]

#: Score columns every consumer can rely on, in order (extra columns follow them).
CONTRACT_COLUMNS = (
    "customer_id",
    "p_alive",
    "p_repurchase",
    "expected_purchases",
    "expected_revenue",
    "clv",
    "expected_days_to_next_purchase",
    "next_purchase_date",
    "segment",
    "value_tier",
    "model_version",
)


def score_with(
    scorer: Any,
    tx: ValidatedTransactions,
    as_of: Any,
    horizon_days: int,
    model_version: str,
    rules: SegmentRules | None = None,
) -> pd.DataFrame:
    """Score every customer with a purchase on or before as-of, with segments and tiers.

    Parameters
    ----------
    scorer : object
        A fitted scorer (``predict(tx, as_of, horizon_days)``).
    tx : ValidatedTransactions
        Validated transactions.
    as_of : str or pandas.Timestamp
        Scoring date.
    horizon_days : int
        Horizon of the probabilities and expectations.
    model_version : str
        Written into every row.
    rules : SegmentRules, optional
        Lifecycle thresholds and tier shares.

    Returns
    -------
    pandas.DataFrame
        :data:`CONTRACT_COLUMNS` first, then the timing quantiles, ``p_buy_*d`` and any other
        model columns (``reasons`` for GBM models).
    """
    as_of = parse_day(as_of)
    scores = scorer.predict(tx, as_of, horizon_days)
    hist = history_until(tx, as_of)
    days = pd.Series(hist.as_of_day - hist.last_day, index=hist.customer_ids)
    count = pd.Series(hist.count, index=hist.customer_ids)
    scores["segment"] = lifecycle_segment(
        days.loc[scores.index], count.loc[scores.index], rules
    ).to_numpy()
    scores["value_tier"] = value_tier(scores["clv"], rules).to_numpy()
    scores["model_version"] = model_version
    out = scores.reset_index()
    rest = [c for c in out.columns if c not in CONTRACT_COLUMNS]
    return out[[*CONTRACT_COLUMNS, *rest]]


def score(
    tx: ValidatedTransactions,
    as_of: Any,
    *,
    horizon_days: int | None = None,
    model: str = "champion",
    models_folder: str | Path | None = None,
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Load a saved model (``champion``, a version or a bundle path) and score.

    Returns
    -------
    scores : pandas.DataFrame
        The score table.
    meta : dict
        The bundle's metadata (version, family, training as-of, backtest).
    """
    path = resolve_bundle(model, models_folder)
    scorer, meta = load_bundle(path)
    horizon = int(horizon_days or meta["horizon_days"])
    return score_with(scorer, tx, as_of, horizon, meta["version"]), meta
