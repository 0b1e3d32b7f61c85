"""A fitted model and transactions in, the contract's score table out (section 3); no I/O."""

from __future__ import annotations

from typing import Any

import pandas as pd

from churnml.campaign.cycles import customer_cycles
from churnml.config import parse_day
from churnml.data.validation import ValidatedTransactions
from churnml.features.rfm import history_until, lines_of
from churnml.models.base import BaseScorer
from churnml.segments.lifecycle import lifecycle_segment, value_tier
from churnml.settings import SegmentRules

__all__ = ["CONTRACT_COLUMNS", "score_with", "unscored_customers"]

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
"""Score columns every consumer can rely on, in order (contract section 3; extras follow)."""


def score_with(
    scorer: BaseScorer,
    tx: ValidatedTransactions,
    as_of: Any,
    horizon_days: int,
    model_version: str,
    rules: SegmentRules | None = None,
    population_cycle_days: float | None = None,
) -> pd.DataFrame:
    """Score every customer with a purchase on or before as-of, with segments and tiers.

    Parameters
    ----------
    scorer : BaseScorer
        A fitted scorer.
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
    population_cycle_days : float, optional
        The population's purchase cycle the personal cycles shrink toward (default: the
        median gap of ``tx``; a model scores with its training data's).

    Returns
    -------
    pandas.DataFrame
        :data:`CONTRACT_COLUMNS` first, then the timing quantiles, ``p_buy_*d`` and any other
        model columns (``reasons`` for GBM models), then the purchase-cycle columns of
        :func:`churnml.campaign.customer_cycles` (``n_purchases``, ``last_purchase_date``,
        ``days_since_last_purchase``, ``purchase_cycle_days``, ``reminder_date``).
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
    cycles = customer_cycles(hist, population_cycle_days=population_cycle_days)
    cycles = cycles.loc[scores.index]
    for name in ("last_purchase_date", "reminder_date"):
        cycles[name] = cycles[name].dt.strftime("%Y-%m-%d")
    scores = scores.join(cycles)
    out = scores.reset_index()
    rest = [c for c in out.columns if c not in CONTRACT_COLUMNS]
    return out[[*CONTRACT_COLUMNS, *rest]]


def unscored_customers(tx: ValidatedTransactions, as_of: Any, scores: pd.DataFrame) -> int:
    """Count customers seen up to as-of who get no score.

    A customer is scored once they have a purchase with a positive net amount; one whose
    lines up to as-of are all returns or net to zero is seen but not scored.

    Parameters
    ----------
    tx : ValidatedTransactions
        The transactions that were scored.
    as_of : str or pandas.Timestamp
        Scoring date.
    scores : pandas.DataFrame
        :func:`score_with` output.

    Returns
    -------
    int
        Customers with a kept line on or before as-of and no row in ``scores``.
    """
    lines = lines_of(tx)
    seen = lines.loc[lines["date"] < parse_day(as_of) + pd.Timedelta(days=1), "customer_id"]
    return int(seen.nunique()) - len(scores)
