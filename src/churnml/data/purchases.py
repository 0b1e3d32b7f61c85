"""The modelling unit: one purchase = one customer-period (day or week) with positive net amount.

Everything downstream works on integer customer codes and integer day numbers, which keeps
feature building vectorised (one sort, then ``bincount``) for millions of lines.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

__all__ = [
    "Purchases",
    "column_codes",
    "customer_codes",
    "day_number",
    "period_start_day",
    "remember_customer_codes",
    "select_lines",
    "to_purchases",
]

_NS_PER_DAY = 86_400 * 10**9


@dataclass(frozen=True)
class _CustomerCodes:
    """Integer customer codes of a lines frame.

    ``ids`` is sorted and may hold customers the frame lacks (a frame selected from another
    shares its parent's ``ids``); ``codes`` indexes into it, one per line. ``column`` is the
    Arrow array of the frame's ``customer_id`` the codes were read from.
    """

    ids: np.ndarray
    codes: np.ndarray
    column: object


# Codes by id() of the lines frame they belong to; an entry goes with its frame. Sorting and
# hashing text ids was most of a purchase table's cost (0.14 of 0.2 s at 553,000 lines), and a
# training run forms purchases about 200 times from cuts of one log: the cuts made with
# select_lines inherit their parent's codes instead. An entry holds only while the frame's
# customer_id column is the same Arrow array: pandas replaces that array whenever the column
# changes (a value set, an in-place sort, a new column), so a modified frame is read again.
# Columns of Python objects, which change in place, are never remembered.
_CODES: dict[int, _CustomerCodes] = {}


def _arrow_of(values: pd.Series) -> object | None:
    """Return the immutable Arrow array behind a column (None for other storage)."""
    to_arrow = getattr(values.array, "__arrow_array__", None)
    return to_arrow() if to_arrow is not None else None


def _arrow_column(lines: pd.DataFrame) -> object | None:
    return _arrow_of(lines["customer_id"])


def _remember(lines: pd.DataFrame, entry: _CustomerCodes) -> _CustomerCodes:
    if entry.column is None:
        return entry
    try:
        weakref.finalize(lines, _CODES.pop, id(lines), None)
    except TypeError:  # not weak-referenceable: nothing can be remembered safely
        return entry
    _CODES[id(lines)] = entry
    return entry


def _customer_codes(lines: pd.DataFrame) -> _CustomerCodes:
    column = _arrow_column(lines)
    entry = _CODES.get(id(lines))
    if entry is not None and column is not None and entry.column is column:
        return entry
    codes, uniques = pd.factorize(lines["customer_id"], sort=True)
    return _remember(
        lines,
        _CustomerCodes(
            np.asarray(uniques, dtype=object),
            codes.astype(np.int32 if uniques.size < 2**31 else np.int64),
            column,
        ),
    )


def customer_codes(lines: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Return the sorted customer ids a lines frame is coded against, and each line's code.

    Parameters
    ----------
    lines : pandas.DataFrame
        Validated lines, or a cut of them made with :func:`select_lines`.

    Returns
    -------
    ids : numpy.ndarray of object
        Sorted customer ids. A cut shares its parent's, so some may have no line in ``lines``.
    codes : numpy.ndarray of int
        Per line, the position of its customer in ``ids``.

    Examples
    --------
    >>> ids, codes = customer_codes(pd.DataFrame({"customer_id": ["b", "a", "b"]}))
    >>> ids.tolist(), codes.tolist()
    (['a', 'b'], [1, 0, 1])
    """
    coded = _customer_codes(lines)
    return coded.ids, coded.codes


def remember_customer_codes(lines: pd.DataFrame, ids: np.ndarray, codes: np.ndarray) -> None:
    """Tell :func:`to_purchases` and :func:`customer_codes` the codes of a frame's customers.

    For the maker of a frame that coded its ids already (validation), so that they are not
    hashed again. Nothing is remembered unless the ids are stored as Arrow strings.

    Parameters
    ----------
    lines : pandas.DataFrame
        A lines frame whose ``customer_id`` column equals ``ids[codes]``.
    ids : numpy.ndarray of object
        Sorted distinct ids (may hold ids the frame lacks).
    codes : numpy.ndarray of int
        Per line, the position of its customer in ``ids``.

    Raises
    ------
    ValueError
        ``codes`` has not one entry per line.
    """
    if len(codes) != len(lines):
        raise ValueError(f"{len(codes)} customer codes for {len(lines)} lines")
    _remember(lines, _CustomerCodes(ids, codes, _arrow_column(lines)))


# Integer codes of other text columns (order, product, channel), by id() of the frame and
# column name, each with the Arrow array it was read from; cuts made with select_lines inherit
# them as customer codes are. Distinct products per customer hashed the product ids of every
# snapshot's history again: 7 of 51 s of a train on 1M order lines.
_COLUMN_CODES: dict[int, dict[str, tuple[np.ndarray, object]]] = {}
_CODED = ("order_id", "product_id", "channel")


def column_codes(lines: pd.DataFrame, name: str) -> np.ndarray:
    """Return integer codes of a text column of a lines frame: equal values, equal codes.

    Parameters
    ----------
    lines : pandas.DataFrame
        Validated lines, or a cut of them made with :func:`select_lines`.
    name : str
        A column of ``lines`` (``order_id``, ``product_id``, ``channel``).

    Returns
    -------
    numpy.ndarray of int32 (int64 past 2**31 distinct values)
        One code per line, ``-1`` for a missing value. Codes are only comparable within one
        call's answer: a cut shares its parent's codes, which need not start at 0 or be
        consecutive.

    Examples
    --------
    >>> lines = pd.DataFrame({"customer_id": ["a", "a", "b"], "product_id": ["x", "y", "x"]})
    >>> column_codes(lines, "product_id").tolist()
    [0, 1, 0]
    """
    column = _arrow_of(lines[name])
    known = _COLUMN_CODES.get(id(lines), {}).get(name)
    if known is not None and column is not None and known[1] is column:
        return known[0]
    codes, uniques = pd.factorize(lines[name])
    # 4 bytes a line: every cut keeps its own slice (7 snapshot cuts of 10M lines alive)
    codes = codes.astype(np.int32 if uniques.size < 2**31 - 1 else np.int64)
    if column is not None:
        _remember_column(lines, name, codes, column)
    return codes


def _remember_column(lines: pd.DataFrame, name: str, codes: np.ndarray, column: object) -> None:
    if id(lines) not in _COLUMN_CODES:
        try:
            weakref.finalize(lines, _COLUMN_CODES.pop, id(lines), None)
        except TypeError:  # not weak-referenceable: nothing can be remembered safely
            return
        _COLUMN_CODES[id(lines)] = {}
    codes.setflags(write=False)  # shared with every cut
    _COLUMN_CODES[id(lines)][name] = (codes, column)


def select_lines(lines: pd.DataFrame, mask: pd.Series | np.ndarray) -> pd.DataFrame:
    """Return ``lines[mask]``, whose purchases then form without reading the text ids again.

    Parameters
    ----------
    lines : pandas.DataFrame
        Validated lines.
    mask : pandas.Series or numpy.ndarray of bool
        Lines to keep, aligned with ``lines``.

    Returns
    -------
    pandas.DataFrame
        The selected lines (:func:`to_purchases` on them reuses ``lines``' customer codes
        when their ids are stored as Arrow strings, as validated lines' are).
    """
    keep = np.asarray(mask, dtype=bool)
    out = lines[keep]
    if _arrow_column(lines) is not None:
        parent = _customer_codes(lines)
        _remember(out, _CustomerCodes(parent.ids, parent.codes[keep], _arrow_column(out)))
    for name in _CODED:
        if name in lines.columns and _arrow_of(lines[name]) is not None:
            # coded once on the log, the codes of every cut are a slice (see _COLUMN_CODES)
            codes = column_codes(lines, name)
            child = _arrow_of(out[name])
            if child is not None:
                _remember_column(out, name, codes[keep], child)
    return out


def day_number(dates: pd.Series | pd.Timestamp | np.ndarray) -> np.ndarray:
    """Return whole days since 1970-01-01 of naive timestamps (time of day dropped)."""
    values = np.asarray(pd.to_datetime(dates), dtype="datetime64[ns]").astype("int64")
    return np.floor_divide(values, _NS_PER_DAY)


def period_start_day(day: np.ndarray, freq: Literal["D", "W"] = "D") -> np.ndarray:
    """Return the day number starting each day's period: itself, or its week's Monday.

    Weeks run Monday to Sunday, as pandas' ``W`` period that ``lifetimes`` uses. Day 0
    (1970-01-01) is a Thursday, hence the shift by 3.

    Parameters
    ----------
    day : numpy.ndarray of int
        Day numbers (days since 1970-01-01).
    freq : {"D", "W"}
        Purchase period.

    Returns
    -------
    numpy.ndarray of int
        The first day of each day's period, as a day number.
    """
    if freq == "D":
        return day
    return np.floor_divide(day + 3, 7) * 7 - 3


@dataclass
class Purchases:
    """Purchases as parallel arrays, sorted by customer then period.

    Attributes
    ----------
    customer_ids : numpy.ndarray of str
        Sorted distinct customer ids of the lines given (customers with no purchase included).
    cust : numpy.ndarray of int
        Index into ``customer_ids`` of each purchase.
    day : numpy.ndarray of int
        First day (days since 1970-01-01) of each purchase's period.
    amount : numpy.ndarray of float
        Net amount of each purchase (> 0).
    n_lines : numpy.ndarray of int
        Lines netted into each purchase.
    freq : str
        Period: ``"D"`` or ``"W"``.
    line_cust : numpy.ndarray of int
        Index into ``customer_ids`` of each line the purchases were formed from, in line order.
    """

    customer_ids: np.ndarray
    cust: np.ndarray
    day: np.ndarray
    amount: np.ndarray
    n_lines: np.ndarray
    freq: str = "D"
    line_cust: np.ndarray | None = None

    def __len__(self) -> int:
        return int(self.cust.size)

    def to_frame(self) -> pd.DataFrame:
        """Return ``customer_id``, ``period`` (timestamp), ``amount``, ``n_lines``."""
        return pd.DataFrame(
            {
                "customer_id": self.customer_ids[self.cust],
                "period": pd.to_datetime(self.day * _NS_PER_DAY),
                "amount": self.amount,
                "n_lines": self.n_lines,
            }
        )


def to_purchases(
    lines: pd.DataFrame, freq: Literal["D", "W"] = "D"
) -> tuple[Purchases, np.ndarray]:
    """Net lines per customer-period and keep the periods with a positive net amount.

    Parameters
    ----------
    lines : pandas.DataFrame
        Validated lines with ``customer_id``, ``date`` and ``amount``.
    freq : {"D", "W"}
        Purchase period.

    Returns
    -------
    purchases : Purchases
        Positive customer-periods, sorted by customer and period.
    not_purchase : numpy.ndarray of bool
        Per input line, True where its customer-period nets to zero or less (a return without a
        purchase that day, or a purchase cancelled the same day): such lines form no purchase.
    """
    coded = _customer_codes(lines)
    # the frame's own customers, in the order of the ids (sorted): as a sorted factorize
    seen = np.zeros(coded.ids.size, dtype=bool)
    seen[coded.codes] = True
    codes = (np.cumsum(seen) - 1)[coded.codes]
    customer_ids = coded.ids[seen]
    if codes.size == 0:
        empty = np.array([], dtype=np.int64)
        return (
            Purchases(customer_ids, empty, empty, np.array([], dtype=float), empty, freq, empty),
            np.array([], dtype=bool),
        )
    day = period_start_day(day_number(lines["date"]), freq)
    first = day.min()
    span = int(day.max() - first + 1)
    key = codes.astype(np.int64) * span + (day - first)
    unique_keys, inverse = np.unique(key, return_inverse=True)
    net = np.bincount(inverse, weights=lines["amount"].to_numpy(dtype=float))
    n_lines = np.bincount(inverse)
    positive = net > 0
    unique_keys = unique_keys[positive]
    purchases = Purchases(
        customer_ids=customer_ids,
        cust=unique_keys // span,
        day=unique_keys % span + first,
        amount=net[positive],
        n_lines=n_lines[positive],
        freq=freq,
        line_cust=codes,
    )
    return purchases, ~positive[inverse]
