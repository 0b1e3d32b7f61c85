"""A recall list: at-risk customers ranked by what a contact is expected to bring back.

Provisional ranking (issue 12 replaces it, keeping :func:`recall_list`'s signature): among the
at-risk segments, customers are ranked by their expected revenue over the horizon, and the
list is cut where the contacts would exceed the budget.
"""

from __future__ import annotations

import math
import numbers
import sys
from collections.abc import Sequence
from decimal import Decimal

import numpy as np
import pandas as pd

from churnml.exceptions import ConfigError, DataValidationError
from churnml.segments import SEGMENTS

__all__ = ["RECALL_COLUMNS", "RECALL_SEGMENTS", "recall_list"]

#: Segments recalled by default: customers past their active window but not yet lost.
RECALL_SEGMENTS = ("warm", "high_recall", "low_recall")
#: Columns of :func:`recall_list`, in order.
RECALL_COLUMNS = (
    "rank",
    "customer_id",
    "segment",
    "value_tier",
    "p_alive",
    "p_repurchase",
    "expected_revenue",
    "expected_value",
    "cost",
    "cumulative_cost",
    "reason",
)
_NEEDED = ("customer_id", "segment", "value_tier", "p_alive", "p_repurchase", "expected_revenue")


def _number(value: object, name: str, *, positive: bool) -> float:
    ok = isinstance(value, numbers.Real) and not isinstance(value, bool)
    if ok and math.isfinite(float(value)) and (float(value) > 0 if positive else value >= 0):
        return float(value)
    bound = "a positive number" if positive else "a number of at least 0"
    raise ConfigError(f"{name} must be {bound}; got {value!r}")


def _count(value: object, name: str, minimum: int) -> int | None:
    if value is None:
        return None
    if isinstance(value, numbers.Integral) and not isinstance(value, bool) and value >= minimum:
        return int(value)
    raise ConfigError(f"{name} must be a whole number of at least {minimum}; got {value!r}")


def _segments(segment: str | Sequence[str] | None) -> tuple[str, ...]:
    if segment is None:
        return RECALL_SEGMENTS
    chosen = (segment,) if isinstance(segment, str) else tuple(segment)
    unknown = [s for s in chosen if s not in SEGMENTS]
    if unknown or not chosen:
        raise ConfigError(
            f"segment must be one or more of {', '.join(SEGMENTS)}; got {list(chosen)!r}"
        )
    return tuple(dict.fromkeys(chosen))


def _affordable(budget: float, cost: float) -> int:
    # A budget of 1e15 contacts or more buys every customer there is; decimal division of
    # such numbers would run out of precision (DivisionImpossible) for nothing.
    if budget / cost >= 1e15:
        return sys.maxsize
    # In decimal, as people write prices: a budget of 0.3 buys three contacts at 0.1, which
    # binary floating point (0.3 / 0.1 = 2.9999...) would make two.
    return int(Decimal(repr(budget)) // Decimal(repr(cost)))


def recall_list(
    scores: pd.DataFrame,
    *,
    budget: float,
    cost_per_contact: float,
    segment: str | Sequence[str] | None = None,
    limit: int | None = None,
    horizon_days: int | None = None,
) -> pd.DataFrame:
    """Rank at-risk customers for a recall campaign and keep as many as the budget pays for.

    Candidates are the customers in the recall segments (``warm``, ``high_recall`` and
    ``low_recall`` unless ``segment`` says otherwise). Each is valued by the expected value
    of a contact, ``expected_value = expected_revenue - cost_per_contact``: the revenue the
    customer is expected to bring over the scores' horizon (P(alive)-weighted expected
    purchases times expected spend, the contract's ``expected_revenue``), less what the
    contact costs, as if the contact did not change the customer's behaviour. Candidates are
    ranked by it (ties: higher ``p_repurchase`` first, then ``customer_id``), and the list
    keeps the first ``floor(budget / cost_per_contact)`` of them, or ``limit`` if fewer.
    Customers whose expected value is negative are still listed when the budget reaches them;
    the column shows it.

    Parameters
    ----------
    scores : pandas.DataFrame
        A score table (``churnml.score`` output, a snapshot's rows or ``scores.csv``) with
        at least ``customer_id``, ``segment``, ``value_tier``, ``p_alive``, ``p_repurchase``
        and ``expected_revenue``.
    budget : float
        Money available for the contacts, at least 0.
    cost_per_contact : float
        Cost of contacting one customer, more than 0.
    segment : str or sequence of str, optional
        Segment(s) to recall instead of the default at-risk ones (any of ``new``, ``active``,
        ``warm``, ``high_recall``, ``low_recall``, ``lost``).
    limit : int, optional
        Most customers to list, whatever the budget.
    horizon_days : int, optional
        The scores' horizon, quoted in the reasons (``... in 90 d``) when given.

    Returns
    -------
    pandas.DataFrame
        One row per customer to contact, best first, with the columns of
        :data:`RECALL_COLUMNS`: ``rank`` (from 1), the customer's scores, ``expected_value``,
        ``cost`` (per contact), ``cumulative_cost`` (never above ``budget``) and ``reason`` in
        plain words (``high_recall: P(alive) 0.41, expected revenue 23.10 in 90 d``).

    Raises
    ------
    ConfigError
        ``budget`` is negative or not a number, ``cost_per_contact`` is not positive,
        ``limit`` or ``horizon_days`` is not a whole number, or a segment is unknown; the
        message names the parameter.
    DataValidationError
        ``scores`` lacks a needed column.

    Examples
    --------
    >>> import pandas as pd
    >>> scores = pd.DataFrame({
    ...     "customer_id": ["a", "b", "c", "d"],
    ...     "segment": ["warm", "high_recall", "active", "low_recall"],
    ...     "value_tier": ["gold", "silver", "gold", "bronze"],
    ...     "p_alive": [0.8, 0.4, 0.9, 0.2],
    ...     "p_repurchase": [0.5, 0.3, 0.7, 0.1],
    ...     "expected_revenue": [40.0, 25.0, 90.0, 5.0],
    ... })
    >>> recall_list(scores, budget=5, cost_per_contact=2)[["rank", "customer_id", "cost"]]
       rank customer_id  cost
    0     1           a   2.0
    1     2           b   2.0
    """
    budget = _number(budget, "budget", positive=False)
    cost = _number(cost_per_contact, "cost_per_contact", positive=True)
    most = _count(limit, "limit", 0)
    horizon = _count(horizon_days, "horizon_days", 1)
    chosen = _segments(segment)
    if not isinstance(scores, pd.DataFrame):
        raise ConfigError(f"scores must be a pandas DataFrame; got {type(scores).__name__}")
    missing = [c for c in _NEEDED if c not in scores.columns]
    if missing:
        raise DataValidationError(
            "scores", f"missing column(s) {', '.join(map(repr, missing))} for a recall list"
        )

    pool = scores.loc[scores["segment"].isin(chosen), list(_NEEDED)].copy()
    pool["customer_id"] = pool["customer_id"].astype(str)
    for name in ("p_alive", "p_repurchase", "expected_revenue"):
        pool[name] = pd.to_numeric(pool[name], errors="coerce").astype(float)
    pool["expected_value"] = pool["expected_revenue"] - cost
    pool = pool.sort_values(
        ["expected_value", "p_repurchase", "customer_id"],
        ascending=[False, False, True],
        na_position="last",
        kind="mergesort",
    )
    n = min(len(pool), _affordable(budget, cost), len(pool) if most is None else most)
    cumulative = np.round(np.arange(1, n + 1) * cost, 10)
    while n and cumulative[n - 1] > budget:  # a float product just above the budget
        n -= 1
    top = pool.iloc[:n].reset_index(drop=True)
    top.insert(0, "rank", np.arange(1, n + 1))
    top["cost"] = cost
    top["cumulative_cost"] = cumulative[:n]
    within = f" in {horizon} d" if horizon else ""
    top["reason"] = [
        f"{seg}: P(alive) {alive:.2f}, expected revenue {revenue:.2f}{within}"
        for seg, alive, revenue in zip(
            top["segment"], top["p_alive"], top["expected_revenue"], strict=True
        )
    ]
    return top[list(RECALL_COLUMNS)]
