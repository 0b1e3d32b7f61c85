"""A fitted model and transactions in, the contract's score table out (section 3); no I/O."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from churnml.campaign.cycles import customer_cycles
from churnml.config import parse_day
from churnml.data.frames import positions
from churnml.data.purchases import customer_codes, day_number
from churnml.data.validation import ValidatedTransactions
from churnml.features.rfm import CustomerHistory, history_until, lines_of
from churnml.models.base import BaseScorer
from churnml.segments.lifecycle import lifecycle_segment, value_tier
from churnml.settings import SegmentRules

__all__ = ["CONTRACT_COLUMNS", "NO_PURCHASE_NOTE", "score_with", "unscored_customers"]

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

NO_PURCHASE_NOTE = "no purchase with a positive net amount up to as-of: scored as yet to buy"
"""The ``note`` of a customer seen up to as-of without a purchase (see :func:`score_with`)."""


def score_with(
    scorer: BaseScorer,
    tx: ValidatedTransactions,
    as_of: Any,
    horizon_days: int,
    model_version: str,
    rules: SegmentRules | None = None,
    population_cycle_days: float | None = None,
    *,
    include_no_purchase: bool = True,
    population: Mapping[str, Any] | None = None,
) -> pd.DataFrame:
    """Score every customer seen up to as-of, with segments and tiers.

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
    include_no_purchase : bool
        Also score the customers with a line up to as-of but no purchase (see Notes; the
        default). False leaves them out (the former behaviour).
    population : dict, optional
        When ``tx`` holds some of the customers: what their rows read of everyone (the
        scorer's :meth:`~churnml.models.base.BaseScorer.solve_population` result). The
        value tiers then rank this part only; the caller ranks everyone's CLV.

    Returns
    -------
    pandas.DataFrame
        One row per customer with a line on or before as-of: :data:`CONTRACT_COLUMNS` first,
        then the timing quantiles, ``p_buy_*d`` and any other model columns (``reasons`` for
        GBM models), then the purchase-cycle columns of
        :func:`churnml.campaign.customer_cycles` (``n_purchases``, ``last_purchase_date``,
        ``days_since_last_purchase``, ``purchase_cycle_days``, ``reminder_date``), then
        ``note``: :data:`NO_PURCHASE_NOTE` for a customer without a purchase, else empty.

    Raises
    ------
    InsufficientDataError
        Nobody has a purchase up to as-of (the scorer has no one to score).

    Notes
    -----
    A purchase is a customer-day (or -week, the model's ``freq``) with a positive net
    amount. A customer whose lines up to as-of are all returns, or net to zero or less on
    every day, has made no purchase yet and is scored as a customer yet to buy, by the
    model's :meth:`~churnml.models.base.BaseScorer.predict_yet_to_buy`:

    - BTYD models (and LightGBM models through the BG/NBD model they start from):
      the transaction model at ``frequency = 0``, ``recency = 0`` and ``T`` = the time since
      their first line (as if that line had been a first purchase, with none since), which
      gives ``p_alive``, ``p_repurchase``, ``expected_purchases`` and the timing columns;
      spend is the population mean (Gamma-Gamma's, or the mean spend of the fallback),
      which gives ``expected_revenue`` and ``clv``.
    - The rate baseline: no purchase, so a rate of 0:
      ``p_repurchase``, ``expected_purchases``, ``expected_revenue`` and ``clv`` are 0,
      ``p_alive`` is 1 and the days to the next purchase are the horizon.

    A level adjustment around the model (:class:`~churnml.models.level.LevelAdjusted`, what
    ``churnml train`` registers when its backtests teach one) rescales their rows as it does
    everyone's: the same factors and the same logit shift.

    Their segment follows the usual rules with 0 purchases and the days since their last
    line; their value tier ranks their CLV with everyone's. ``n_purchases`` is 0, and
    ``last_purchase_date``, ``days_since_last_purchase``, ``purchase_cycle_days`` and
    ``reminder_date`` are empty. A customer whose only rows had a zero amount (excluded by
    validation, which keeps them in ``tx.zero_only``) is seen too, from those rows' dates.
    """
    as_of = parse_day(as_of)
    scores = scorer.predict(tx, as_of, horizon_days, population=population)
    hist = history_until(tx, as_of)
    days = pd.Series(hist.as_of_day - hist.last_day, index=hist.customer_ids)
    count = pd.Series(hist.count, index=hist.customer_ids)
    cycles = customer_cycles(hist, population_cycle_days=population_cycle_days)
    cycles = cycles.loc[scores.index]
    for name in ("last_purchase_date", "reminder_date"):
        cycles[name] = cycles[name].dt.strftime("%Y-%m-%d")
    days, count = days.loc[scores.index], count.loc[scores.index]
    scores = scores.join(cycles)
    note = pd.Series(None, index=scores.index, dtype="str")
    if include_no_purchase:
        first, last = _lines_without_score(hist, scores.index)
        first, last = _with_zero_only(tx, hist.as_of_day, scores.index, first, last)
        if len(first):
            extra = scorer.predict_yet_to_buy(first, as_of, horizon_days)
            extra["n_purchases"] = 0
            extra["days_since_last_purchase"] = pd.NA
            extra["purchase_cycle_days"] = np.nan
            dtypes = scores.dtypes
            scores = pd.concat([scores, extra.reindex(columns=scores.columns)]).sort_index()
            for name, dtype in dtypes.items():
                if isinstance(dtype, pd.StringDtype):  # text stays text, missing or not
                    scores[name] = scores[name].astype(dtype)
            scores["n_purchases"] = scores["n_purchases"].astype(np.int64)
            # whole days, and none for a customer without a purchase
            scores["days_since_last_purchase"] = scores["days_since_last_purchase"].astype("Int64")
            days = pd.concat([days, hist.as_of_day - last]).loc[scores.index]
            count = pd.concat([count, pd.Series(0, index=first.index)]).loc[scores.index]
            note = pd.Series(None, index=scores.index, dtype="str")
            note[first.index] = NO_PURCHASE_NOTE
    scores["segment"] = lifecycle_segment(days, count, rules).to_numpy()
    scores["value_tier"] = value_tier(scores["clv"], rules).to_numpy()
    scores["model_version"] = model_version
    scores["note"] = note
    out = scores.reset_index()
    rest = [c for c in out.columns if c not in CONTRACT_COLUMNS]
    return out[[*CONTRACT_COLUMNS, *rest]]


def _lines_without_score(hist: CustomerHistory, scored: pd.Index) -> tuple[pd.Series, pd.Series]:
    """First and last line day of the customers with lines up to as-of but no score row.

    Returns
    -------
    first, last : pandas.Series
        Day numbers, indexed by ``customer_id``.
    """
    ids = hist.purchases.customer_ids  # every customer with a line, bought or not
    missing = scored.get_indexer(ids) < 0
    mine = missing[hist.purchases.line_cust]
    if not mine.any():
        empty = pd.Series([], index=pd.Index([], name="customer_id", dtype="str"), dtype="int64")
        return empty, empty
    day = pd.Series(day_number(hist.lines["date"].to_numpy()[mine]))
    who = hist.purchases.line_cust[mine]
    index = pd.Index(ids[np.unique(who)], name="customer_id", dtype="str")
    grouped = day.groupby(who, sort=True)
    return (
        pd.Series(grouped.min().to_numpy(), index=index),
        pd.Series(grouped.max().to_numpy(), index=index),
    )


def _with_zero_only(
    tx: ValidatedTransactions,
    as_of_day: int,
    scored: pd.Index,
    first: pd.Series,
    last: pd.Series,
) -> tuple[pd.Series, pd.Series]:
    """Add the customers seen only through zero-amount rows (excluded by validation).

    Returns
    -------
    first, last : pandas.Series
        As :func:`_lines_without_score`, with those customers' first and last row days up to
        as-of.
    """
    rows = getattr(tx, "zero_only", None)
    if rows is None or rows.empty:
        return first, last
    day = pd.Series(day_number(rows["date"].to_numpy()), index=rows["customer_id"].to_numpy())
    day = day[(day <= as_of_day) & ~day.index.isin(scored) & ~day.index.isin(first.index)]
    if day.empty:
        return first, last
    grouped = day.groupby(level=0, sort=True)
    index = pd.Index(grouped.min().index, name="customer_id", dtype="str")
    more_first = pd.Series(grouped.min().to_numpy(), index=index)
    more_last = pd.Series(grouped.max().to_numpy(), index=index)
    return pd.concat([first, more_first]), pd.concat([last, more_last])


def unscored_customers(tx: ValidatedTransactions, as_of: Any, scores: pd.DataFrame) -> int:
    """Count customers seen up to as-of who get no score.

    :func:`score_with` scores every customer with a line up to as-of, a purchase or not, so
    this is 0 unless its ``include_no_purchase`` was False.

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
        Customers with a kept line (or only zero-amount rows) on or before as-of and no row in
        ``scores``.
    """
    end = parse_day(as_of) + pd.Timedelta(days=1)
    lines = lines_of(tx)
    # the log's customer codes, not its text again (2.5 s at 10M lines); hash tables of Arrow
    # text, not Python sets of a million strings nor Index.isin, which makes Python strings
    known, codes = customer_codes(lines)
    present = np.zeros(known.size, dtype=bool)
    present[codes[(lines["date"] < end).to_numpy()]] = True
    seen = pd.Index(known[present], dtype="str")  # distinct already
    zero = getattr(tx, "zero_only", None)
    if zero is not None and not zero.empty:
        more = zero.loc[zero["date"] < end, "customer_id"]
        seen = pd.Index(pd.concat([seen.to_series(), more]).unique())
    return int((positions(pd.Index(scores["customer_id"]), seen) < 0).sum())
