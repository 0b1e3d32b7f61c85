"""Purchase-cycle reminders: when each customer is due to buy again, and who is due soon.

A customer's cycle is their own typical gap between purchases, shrunk toward the population's
cycle in proportion to how few gaps they have shown (a customer with one purchase gets the
population cycle). Their reminder date is the last purchase plus that cycle.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import pandas as pd

from churnml.campaign.rates import purchase_gaps
from churnml.config import parse_day
from churnml.exceptions import ConfigError, DataValidationError
from churnml.features.rfm import CustomerHistory

__all__ = [
    "CYCLE_COLUMNS",
    "DEFAULT_PRIOR_GAPS",
    "REMINDER_COLUMNS",
    "customer_cycles",
    "reminders",
    "scores_as_of",
]

#: Weight of the population cycle, counted in gaps: a customer's own gaps outweigh it once
#: they have shown more than this many.
DEFAULT_PRIOR_GAPS = 2.0
#: Per-customer columns :func:`customer_cycles` adds to a score table.
CYCLE_COLUMNS = (
    "n_purchases",
    "last_purchase_date",
    "days_since_last_purchase",
    "purchase_cycle_days",
    "reminder_date",
)
#: Columns of :func:`reminders`, in order.
REMINDER_COLUMNS = (
    "customer_id",
    "reminder_date",
    "days_until_due",
    "segment",
    "value_tier",
    "n_purchases",
    "last_purchase_date",
    "days_since_last_purchase",
    "purchase_cycle_days",
    "next_purchase_date",
    "p_repurchase",
    "expected_revenue",
)
_NS_PER_DAY = 86_400 * 10**9


def customer_cycles(
    history: CustomerHistory,
    *,
    population_cycle_days: float | None = None,
    prior_gaps: float = DEFAULT_PRIOR_GAPS,
) -> pd.DataFrame:
    """Compute each customer's purchase cycle and reminder date.

    Parameters
    ----------
    history : CustomerHistory
        Purchases up to as-of (:func:`churnml.features.history_until`).
    population_cycle_days : float, optional
        The population's cycle (default: the median gap between consecutive purchases in
        ``history``). A server scoring a handful of customers passes the training data's; NaN
        means unknown.
    prior_gaps : float
        Weight of the population cycle, in gaps (default :data:`DEFAULT_PRIOR_GAPS`).

    Returns
    -------
    pandas.DataFrame
        Indexed by ``customer_id``, the columns of :data:`CYCLE_COLUMNS`:
        ``purchase_cycle_days`` is ``exp((k log C + sum log g) / (k + m))`` for a customer
        with gaps ``g`` (``m`` of them), population cycle ``C`` and ``k = prior_gaps``, a
        geometric mean because gaps are skewed; ``reminder_date`` is the last purchase plus
        the cycle rounded to whole days. Without a population cycle (nobody bought twice, and
        none given) a customer with one purchase has neither (NaN, NaT).

    Raises
    ------
    ConfigError
        ``prior_gaps`` is negative or ``population_cycle_days`` is not positive.

    Examples
    --------
    >>> import pandas as pd
    >>> from churnml.features import history_until
    >>> lines = pd.DataFrame({
    ...     "customer_id": ["a", "a", "a", "b"],
    ...     "date": pd.to_datetime(["2024-01-01", "2024-01-11", "2024-01-21", "2024-01-15"]),
    ...     "amount": [10.0, 20.0, 5.0, 8.0],
    ... })
    >>> cycles = customer_cycles(history_until(lines, "2024-01-31"), population_cycle_days=40)
    >>> cycles["purchase_cycle_days"].round(1).tolist()
    [20.0, 40.0]
    """
    if not prior_gaps >= 0:
        raise ConfigError(f"prior_gaps must be at least 0; got {prior_gaps!r}")
    gaps = purchase_gaps(history).astype(float)
    if population_cycle_days is None:
        # with nobody who bought twice there is no cycle to go by: no reminder date either
        population_cycle_days = float(np.median(gaps)) if gaps.size else float("nan")
    if not (np.isnan(population_cycle_days) or population_cycle_days > 0):
        raise ConfigError(
            f"population_cycle_days must be a positive number; got {population_cycle_days!r}"
        )
    # gap j belongs to the customer of purchase j + 1 (gaps only between a customer's own)
    who = history.position
    same = who[1:] == who[:-1]
    owner = who[1:][same]
    n = history.customer_ids.size
    m = np.bincount(owner, minlength=n).astype(float)
    log_sum = np.bincount(owner, weights=np.log(np.maximum(gaps, 1.0)), minlength=n)
    k = float(prior_gaps)
    with np.errstate(invalid="ignore", divide="ignore"):
        cycle = np.exp((k * np.log(population_cycle_days) + log_sum) / (k + m))
    cycle = np.where(k + m > 0, cycle, population_cycle_days)
    last = history.last_day
    known = np.isfinite(cycle)
    due = last + np.rint(np.where(known, cycle, 0)).astype(np.int64)
    return pd.DataFrame(
        {
            "n_purchases": history.count.astype(np.int64),
            "last_purchase_date": pd.to_datetime(last * _NS_PER_DAY),
            "days_since_last_purchase": (history.as_of_day - last).astype(np.int64),
            "purchase_cycle_days": cycle,
            "reminder_date": pd.to_datetime(due * _NS_PER_DAY).where(known),
        },
        index=pd.Index(history.customer_ids, name="customer_id"),
    )


def scores_as_of(scores: pd.DataFrame) -> pd.Timestamp:
    """Return the as-of date of a score table, from its last purchase dates and days since.

    Parameters
    ----------
    scores : pandas.DataFrame
        A score table with ``last_purchase_date`` and ``days_since_last_purchase``.

    Returns
    -------
    pandas.Timestamp
        The scoring date.

    Raises
    ------
    DataValidationError
        The columns are missing, empty, or disagree on the date.
    """
    need = ["last_purchase_date", "days_since_last_purchase"]
    missing = [c for c in need if c not in scores.columns]
    if missing:
        raise DataValidationError(
            "scores",
            f"missing column(s) {', '.join(map(repr, missing))}: scores written by churnml "
            "before 0.7 lack them; score again, or give the as-of date",
        )
    last = pd.to_datetime(scores["last_purchase_date"], errors="coerce")
    days = pd.to_numeric(scores["days_since_last_purchase"], errors="coerce")
    dates = (last + pd.to_timedelta(days, unit="D")).dropna().unique()
    if len(dates) != 1:
        raise DataValidationError(
            "scores",
            "last_purchase_date + days_since_last_purchase should give one as-of date for "
            f"every row; found {len(dates)}",
        )
    return pd.Timestamp(dates[0])


def reminders(
    scores: pd.DataFrame,
    within_days: int,
    *,
    as_of: str | pd.Timestamp | None = None,
    basis: Literal["cycle", "model"] = "cycle",
) -> pd.DataFrame:
    """List the customers due to buy again in the next ``within_days`` days, soonest first.

    Parameters
    ----------
    scores : pandas.DataFrame
        A score table (``churnml.score`` output or ``scores.csv``).
    within_days : int
        Days ahead of as-of to look (at least 1).
    as_of : str or pandas.Timestamp, optional
        Scoring date (default: read from the table, see :func:`scores_as_of`).
    basis : {"cycle", "model"}
        ``"cycle"`` (default): due on ``reminder_date``, the last purchase plus the customer's
        own cycle shrunk toward the population's (:func:`customer_cycles`): it needs only the
        customer's history and is the same whatever the model. ``"model"``: due on the model's
        ``next_purchase_date`` (its expected next purchase, given one in the horizon).

    Returns
    -------
    pandas.DataFrame
        The columns of :data:`REMINDER_COLUMNS` that the table has, one row per customer
        whose due date is after as-of and at most ``within_days`` later, sorted by due date
        then by expected revenue (highest first). Customers already past their date are not
        listed: they are due a recall, not a reminder (:func:`recall_list`).

    Raises
    ------
    ConfigError
        ``within_days`` is not a positive whole number or ``basis`` is unknown.
    DataValidationError
        A needed column is missing.
    """
    if isinstance(within_days, bool) or not isinstance(within_days, int | np.integer):
        raise ConfigError(f"within_days must be a whole number of days; got {within_days!r}")
    if within_days < 1:
        raise ConfigError(f"within_days must be at least 1; got {within_days}")
    if basis not in ("cycle", "model"):
        raise ConfigError(f"basis must be 'cycle' or 'model'; got {basis!r}")
    due_col = "reminder_date" if basis == "cycle" else "next_purchase_date"
    if due_col not in scores.columns or "customer_id" not in scores.columns:
        raise DataValidationError(
            "scores",
            f"missing column {due_col!r} (or 'customer_id') for reminders by {basis}"
            + (
                ": scores written by churnml before 0.7 lack it; score again"
                if basis == "cycle"
                else ""
            ),
        )
    day = parse_day(as_of, "as_of") if as_of is not None else scores_as_of(scores)
    due = pd.to_datetime(scores[due_col], errors="coerce")
    until = (due - day).dt.days
    keep = (until >= 1) & (until <= within_days)
    out = scores.loc[keep].copy()
    out["reminder_date"] = due[keep].dt.strftime("%Y-%m-%d")
    out["days_until_due"] = until[keep].astype(int)
    sort_by = ["days_until_due"] + (["expected_revenue"] if "expected_revenue" in out else [])
    out = out.sort_values(
        [*sort_by, "customer_id"],
        ascending=[*[True, False][: len(sort_by)], True],
        kind="mergesort",
    )
    return out[[c for c in REMINDER_COLUMNS if c in out.columns]].reset_index(drop=True)
