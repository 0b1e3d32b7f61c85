"""BTYD summaries (frequency, recency, T, monetary value) at an explicit as-of date.

The definitions are those of ``lifetimes.utils.summary_data_from_transaction_data``: a purchase
is a customer-period with positive net amount; frequency counts repeat purchase periods,
recency is the age of the customer at the last purchase, T the age at as-of, and monetary value
the mean net amount of repeat purchases (0 for one-time buyers).
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass, fields
from functools import cached_property
from typing import Any, Literal

import numpy as np
import pandas as pd

from churnml.config import parse_day
from churnml.data.purchases import Purchases, day_number, select_lines, to_purchases
from churnml.data.validation import ValidatedTransactions
from churnml.exceptions import InsufficientDataError

__all__ = ["CustomerHistory", "btyd_summary", "history_until", "lines_of", "parse_as_of"]

_UNIT_DAYS = {"D": 1, "W": 7}


class _LastCut:
    """The last history :func:`history_until` made, for the next call with the same arguments.

    Fitting and scoring a model ask for one cut several times in a row (the BTYD fit, the
    feature table, the BTYD features of a snapshot): 58 of the 87 cuts of a CDNOW ``train``
    repeated the one before, and each cut at 200,000 customers is about 0.1 s. One entry keeps
    at most one extra history alive. Its arrays are read-only, so that no caller can change
    what the next one reads.
    """

    entry: tuple[Any, pd.Timestamp, str, CustomerHistory] | None = None


def _read_only(hist: CustomerHistory) -> CustomerHistory:
    for holder in (hist, hist.purchases):
        for field in fields(holder):
            value = getattr(holder, field.name)
            if isinstance(value, np.ndarray):
                value.flags.writeable = False
    return hist


def parse_as_of(as_of: str | pd.Timestamp) -> pd.Timestamp:
    """Return as-of as midnight of its day; the whole as-of day counts as observed."""
    return parse_day(as_of, "as_of")


def lines_of(tx: ValidatedTransactions | pd.DataFrame) -> pd.DataFrame:
    """Return the validated lines of ``tx`` (a DataFrame is taken as validated lines)."""
    return tx.lines if isinstance(tx, ValidatedTransactions) else tx


@dataclass
class CustomerHistory:
    """Per-customer purchase history up to as-of, as arrays aligned with ``customer_ids``.

    Attributes
    ----------
    as_of : pandas.Timestamp
        Last observed day.
    as_of_day : int
        ``as_of`` as days since 1970-01-01.
    purchases : Purchases
        Purchases dated on or before as-of, sorted by customer and period.
    customer_ids : numpy.ndarray of str
        Customers with at least one purchase, sorted.
    start, count : numpy.ndarray of int
        Position of each customer's first purchase in ``purchases`` and its number of purchases.
    lines : pandas.DataFrame
        The lines dated on or before as-of.
    line_position : numpy.ndarray of int
        Per line, the index of its customer in ``customer_ids``; -1 for customers without a
        purchase (all their days net to zero or less).
    """

    as_of: pd.Timestamp
    as_of_day: int
    purchases: Purchases
    customer_ids: np.ndarray
    start: np.ndarray
    count: np.ndarray
    lines: pd.DataFrame
    line_position: np.ndarray

    @cached_property
    def index(self) -> pd.Index:
        """``customer_ids`` as a text index named ``customer_id``, made once per cut.

        Frames built on views of it (:func:`btyd_summary`) share its hash table: aligning
        them is a lookup of identity, not a hashing of 200,000 ids each time.
        """
        return pd.Index(self.customer_ids, name="customer_id", dtype="str")

    @property
    def first_day(self) -> np.ndarray:
        """Day of each customer's first purchase."""
        return self.purchases.day[self.start]

    @property
    def last_day(self) -> np.ndarray:
        """Day of each customer's last purchase."""
        return self.purchases.day[self.start + self.count - 1]

    @property
    def position(self) -> np.ndarray:
        """Per purchase, the index of its customer in ``customer_ids``."""
        return np.repeat(np.arange(self.count.size), self.count)


def history_until(
    tx: ValidatedTransactions | pd.DataFrame,
    as_of: str | pd.Timestamp,
    freq: Literal["D", "W"] = "D",
) -> CustomerHistory:
    """Cut lines at as-of, then form purchases; nothing dated after as-of is ever read.

    Parameters
    ----------
    tx : ValidatedTransactions or pandas.DataFrame
        Validated transactions (or their ``lines``).
    as_of : str or pandas.Timestamp
        Last observed day, included whole.
    freq : {"D", "W"}
        Purchase period.

    Returns
    -------
    CustomerHistory
        Purchases up to as-of grouped by customer.

    Raises
    ------
    InsufficientDataError
        No purchase is dated on or before as-of.
    """
    as_of = parse_as_of(as_of)
    source = lines_of(tx)
    last = _LastCut.entry
    if last is not None and last[0]() is source and last[1] == as_of and last[2] == freq:
        return last[3]
    lines = select_lines(source, source["date"] < as_of + pd.Timedelta(days=1))
    purchases, _ = to_purchases(lines, freq)
    if len(purchases) == 0:
        raise InsufficientDataError(
            f"no purchase (customer-{'day' if freq == 'D' else 'week'} with positive net amount) "
            f"is dated on or before as-of {as_of.date()}"
        )
    # purchases are sorted by customer: each customer's run starts where the code changes
    start = np.flatnonzero(np.diff(purchases.cust, prepend=-1))
    count = np.diff(start, append=purchases.cust.size)
    present = purchases.cust[start]
    position_of_code = np.full(purchases.customer_ids.size, -1, dtype=np.int64)
    position_of_code[present] = np.arange(present.size)
    hist = _read_only(
        CustomerHistory(
            as_of=as_of,
            as_of_day=int(day_number(as_of)[()]),
            purchases=purchases,
            customer_ids=purchases.customer_ids[present],
            start=start,
            count=count,
            lines=lines,
            line_position=position_of_code[purchases.line_cust],
        )
    )
    _LastCut.entry = (weakref.ref(source), as_of, freq, hist)
    return hist


def btyd_summary(
    tx: ValidatedTransactions | pd.DataFrame | CustomerHistory,
    as_of: str | pd.Timestamp | None = None,
    freq: Literal["D", "W"] = "D",
) -> pd.DataFrame:
    """Return the BTYD summary of every customer with a purchase on or before as-of.

    Parameters
    ----------
    tx : ValidatedTransactions, pandas.DataFrame or CustomerHistory
        Validated transactions, their lines, or a history already cut at as-of.
    as_of : str or pandas.Timestamp, optional
        Observation end (``observation_period_end`` in ``lifetimes``); required unless ``tx``
        is a :class:`CustomerHistory`.
    freq : {"D", "W"}
        Time unit of recency and T, and purchase period.

    Returns
    -------
    pandas.DataFrame
        Indexed by ``customer_id``: ``frequency``, ``recency``, ``T`` (in ``freq`` units) and
        ``monetary_value``, all float, as ``lifetimes.utils.summary_data_from_transaction_data``
        — except that with weeks ``T`` runs to the as-of day (fractional), where ``lifetimes``
        stops at the Monday of the as-of week: labels start the day after as-of, and the days
        in between belong to the observed past. With an as-of on a Monday both agree.

    Raises
    ------
    TypeError
        ``as_of`` is missing while ``tx`` is not a :class:`CustomerHistory`.

    References
    ----------
    .. [1] Fader, P. S., Hardie, B. G. S. and Lee, K. L. (2005). Marketing Science 24(2).
    """
    if isinstance(tx, CustomerHistory):
        hist = tx
        freq = hist.purchases.freq  # type: ignore[assignment]
    else:
        if as_of is None:
            raise TypeError("btyd_summary() needs as_of unless given a CustomerHistory")
        hist = history_until(tx, as_of, freq)
    unit = _UNIT_DAYS[freq]
    # T runs to the as-of day itself, as with days: labels start the day after as-of, so a
    # weekly T stopped at the Monday of the as-of week would leave up to six days in neither
    # the observed past nor the predicted future. Purchases sit at the start of their period.
    first, last = hist.first_day, hist.last_day
    # Sum repeat purchases directly: total minus first would cancel small amounts to zero.
    repeat_amount = hist.purchases.amount.copy()
    repeat_amount[hist.start] = 0.0
    repeat_total = np.add.reduceat(repeat_amount, hist.start)
    frequency = (hist.count - 1).astype(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        monetary = np.where(frequency > 0, repeat_total / frequency, 0.0)
    return pd.DataFrame(
        {
            "frequency": frequency,
            "recency": (last - first) / unit,
            "T": (hist.as_of_day - first) / unit,
            "monetary_value": monetary,
        },
        # a view: the cut's lookups are shared, and a caller renaming it renames only its own
        index=hist.index.view(),
    )
