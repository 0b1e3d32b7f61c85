"""A fitted model and transactions in, the contract's score table out (section 3); no I/O."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from churnml.campaign.cycles import customer_cycles
from churnml.config import parse_day
from churnml.data.purchases import day_number, period_start_day
from churnml.data.validation import ValidatedTransactions
from churnml.features.rfm import CustomerHistory, history_until, lines_of
from churnml.models.base import BaseScorer
from churnml.models.level import LevelAdjusted, apply_level
from churnml.models.pipeline import BTYDScorer, RateBaselineScorer
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
    every day, has made no purchase yet and is scored as a customer yet to buy:

    - BTYD models (and LightGBM models through the BG/NBD model they wrap, ``btyd_``, and
      wrappers through the scorer they wrap, ``inner_``):
      the transaction model at ``frequency = 0``, ``recency = 0`` and ``T`` = the time since
      their first line (as if that line had been a first purchase, with none since), which
      gives ``p_alive``, ``p_repurchase``, ``expected_purchases`` and the timing columns;
      spend is the population mean (Gamma-Gamma's, or the mean spend of the fallback),
      which gives ``expected_revenue`` and ``clv``.
    - The rate baseline (and any model without a BTYD part): no purchase, so a rate of 0:
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
    scores = scorer.predict(tx, as_of, horizon_days)
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
            extra = _yet_to_buy(scorer, tx, first, hist.as_of_day, as_of, horizon_days)
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


def _levels(scorer: BaseScorer) -> list[LevelAdjusted]:
    """Return the level adjustments a scorer is or wraps, innermost first."""
    found: list[LevelAdjusted] = []
    current: Any = scorer
    while current is not None:
        if isinstance(current, LevelAdjusted):
            found.insert(0, current)
        current = getattr(current, "inner_", None)
    return found


def _btyd_part(scorer: BaseScorer) -> BTYDScorer | None:
    """Return the BTYD model a scorer is or wraps, if any.

    LightGBM scorers wrap BG/NBD as ``btyd_``; a wrapper around a whole scorer (such as a
    level adjustment) holds it as ``inner_``.

    Returns
    -------
    BTYDScorer or None
        The fitted BTYD scorer; None for the rate baseline and other models.
    """
    found: Any = scorer
    while found is not None and not isinstance(found, BTYDScorer):
        btyd = getattr(found, "btyd_", None)
        found = btyd if isinstance(btyd, BTYDScorer) else getattr(found, "inner_", None)
    return found


def _yet_to_buy(
    scorer: BaseScorer,
    tx: ValidatedTransactions,
    first_day: pd.Series,
    as_of_day: int,
    as_of: pd.Timestamp,
    horizon_days: int,
) -> pd.DataFrame:
    """Score customers without a purchase as customers yet to buy (see :func:`score_with`).

    Returns
    -------
    pandas.DataFrame
        The model columns, indexed like ``first_day``.
    """
    # the rate baseline: no purchase is a rate of 0
    features = pd.DataFrame(
        {
            "n_purchases": 0.0,
            "tenure_days": (as_of_day - first_day).to_numpy(float),
            "avg_purchase_value": 0.0,
        },
        index=first_day.index,
    )
    btyd = _btyd_part(scorer)
    value = getattr(scorer if btyd is None else btyd, "value", None)
    zero = (
        RateBaselineScorer(value=value)
        .fit(tx, as_of)
        .predict_features(features, as_of, horizon_days)
    )
    if btyd is None:
        return zero
    unit = 7 if btyd.freq == "W" else 1
    start = period_start_day(first_day.to_numpy(), btyd.freq)  # type: ignore[arg-type]
    # T runs to the as-of day, as in btyd_summary
    summary = pd.DataFrame(
        {"frequency": 0.0, "recency": 0.0, "T": (as_of_day - start) / unit, "monetary_value": 0.0},
        index=first_day.index,
    )
    out = btyd.predict_summary(summary, as_of, horizon_days)
    # as BTYD scoring does: a row that overflowed takes the baseline's numbers
    numbers = out.drop(columns=["next_purchase_date", "payback_days"], errors="ignore")
    bad = ~np.isfinite(numbers.to_numpy(dtype=float)).all(axis=1)
    if bad.any():
        shared = [c for c in zero.columns if c in out.columns]
        out.loc[bad, shared] = zero.loc[bad, shared].to_numpy()
    # the level the model applies to everyone else, with its fixed shift (a customer's score
    # never depends on who else is scored)
    for level in _levels(scorer):
        out = apply_level(out, level.factors_, level.value, shift=level.shift_)
    return out


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
    seen = set(lines.loc[lines["date"] < end, "customer_id"])
    zero = getattr(tx, "zero_only", None)
    if zero is not None and not zero.empty:
        seen |= set(zero.loc[zero["date"] < end, "customer_id"])
    return len(seen - set(scores["customer_id"]))
