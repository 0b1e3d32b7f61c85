"""Score customers with a saved model into the contract's score table (section 3)."""

from __future__ import annotations

from typing import Any

import pandas as pd

from churnml.config import REGISTERED_MODEL, parse_day
from churnml.data.validation import ValidatedTransactions
from churnml.features.rfm import history_until
from churnml.models.bundle import load_bundle
from churnml.segments.lifecycle import SegmentRules, lifecycle_segment, value_tier

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
    model_name: str = REGISTERED_MODEL,
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Load a model from the MLflow registry (or a folder) and score.

    Parameters
    ----------
    tx : ValidatedTransactions
        Validated transactions up to as-of.
    as_of : str or pandas.Timestamp
        Scoring date.
    horizon_days : int, optional
        Horizon (default: the model's).
    model : str
        ``champion`` (default), ``challenger``, a version (``3``), an MLflow URI
        (``models:/churnml@champion``, ``runs:/<id>/model``), a bundle folder or a downloaded
        MLflow model folder.
    model_name : str
        Registered model name.

    Returns
    -------
    scores : pandas.DataFrame
        The score table; ``model_version`` is ``<name>/<version>`` for registry models.
    meta : dict
        The bundle's metadata (family, training as-of, backtest) plus ``model_version``,
        ``registry_version`` and ``model_uri``.
    """
    from churnml.tracking.registry import resolved_model

    with resolved_model(model, model_name) as found:
        scorer, meta = load_bundle(found.bundle_dir)
    meta.update(model_version=found.label, registry_version=found.version, model_uri=found.uri)
    horizon = int(horizon_days or meta["horizon_days"])
    return score_with(scorer, tx, as_of, horizon, found.label), meta
