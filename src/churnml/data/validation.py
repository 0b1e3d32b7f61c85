"""Validate raw transactions: parse, check, and count every excluded or altered row by reason.

Each input row gets at most one exclusion reason, the first check it fails in the order of
:data:`REASONS`, so that ``n_kept + sum(excluded.values()) == n_input`` always holds.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from pandas.tseries.api import guess_datetime_format

from churnml.config import ColumnMap, ValidationPolicy, parse_day
from churnml.data.io import RawTransactions, from_frame, read_sources
from churnml.data.purchases import Purchases, remember_customer_codes, to_purchases
from churnml.exceptions import DataValidationError

__all__ = [
    "FLAGS",
    "REASONS",
    "REASON_CODES",
    "ParsedRows",
    "ValidatedTransactions",
    "ValidationReport",
    "date_format_of",
    "load_transactions",
    "parse_rows",
    "validate_transactions",
]

#: Exclusion reasons, in the order checks run, with the text users see.
REASONS: dict[str, str] = {
    "missing_customer_id": "missing customer id",
    "unparseable_date": "unparseable date",
    "date_out_of_range": "date out of range (before 1677-09-22 or after 2262-04-10)",
    "non_numeric_amount": "non-numeric or infinite amount",
    "after_as_of": "dated after as-of",
    "excluded_customer": "excluded customer (test account filter)",
    "exact_duplicate": "exact duplicate line",
    "zero_amount": "zero amount",
    "return": "return / negative amount (returns='drop')",
    "outlier_customer": "outlier customer (total revenue above max_customer_revenue)",
}

#: Rows kept but changed or flagged, with the text users see.
FLAGS: dict[str, str] = {
    "return_netted": "returns kept and netted against purchases of the same day",
    "duplicate_kept": "exact duplicate lines kept (no order id to tell them apart)",
    "customer_id_stripped": "customer ids with surrounding spaces removed",
    "timezone_dropped": "timestamps with a time zone, read as local wall time",
    "not_a_purchase": "lines whose customer-day nets to <= 0 (no purchase that day)",
    "quantity_not_numeric": "quantities that are not numbers, kept as missing",
}

_N_EXAMPLES = 10


@dataclass
class ValidationReport:
    """What validation kept, excluded and altered, with counts per named reason.

    Attributes
    ----------
    source : str
        File or ``"<DataFrame>"``.
    n_input : int
        Rows read.
    n_kept : int
        Rows that passed every check (``n_input - sum(excluded.values())``).
    excluded : dict of str to int
        Rows excluded per reason (keys of :data:`REASONS`), zero counts included.
    examples : dict of str to list of int or str
        Up to ten line (text files) or row numbers per reason, for the user to look at
        (``file:line`` when several files were read together).
    flags : dict of str to int
        Rows kept but altered or worth knowing about (keys of :data:`FLAGS`).
    row_word : str
        ``"line"`` or ``"row"``: what the numbers in ``examples`` count.
    date_format : str or None
        The date format used (given or inferred); None when dates were already timestamps.
    n_customers_input : int
        Distinct non-empty customer ids in the input, before any exclusion.
    n_customers, n_purchases : int
        Distinct customers and purchases (customer-periods with positive net) among kept rows.
    n_customers_without_purchase : int
        Kept customers none of whose periods nets to a positive amount (they get no score).
    first_date, last_date : pandas.Timestamp or None
        Date range of kept rows.
    revenue : float
        Net amount of kept rows.
    freq : str
        Purchase period.
    as_of : pandas.Timestamp or None
        The as-of day rows were cut at, if one was given.
    """

    source: str
    n_input: int
    n_kept: int
    excluded: dict[str, int]
    examples: dict[str, list[int | str]]
    flags: dict[str, int]
    row_word: str = "row"
    date_format: str | None = None
    n_customers_input: int = 0
    n_customers: int = 0
    n_purchases: int = 0
    n_customers_without_purchase: int = 0
    first_date: pd.Timestamp | None = None
    last_date: pd.Timestamp | None = None
    revenue: float = 0.0
    freq: str = "D"
    as_of: pd.Timestamp | None = None

    @property
    def n_excluded(self) -> int:
        """Total rows excluded, over all reasons."""
        return int(sum(self.excluded.values()))

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dictionary (for ``--json`` output and run tracking).

        Returns
        -------
        dict
            Every attribute plus ``n_excluded``, dates as ISO text, examples only for
            non-zero reasons.
        """
        return {
            "source": self.source,
            "n_input": self.n_input,
            "n_kept": self.n_kept,
            "n_excluded": self.n_excluded,
            "excluded": dict(self.excluded),
            "examples": {k: list(v) for k, v in self.examples.items() if v},
            "flags": dict(self.flags),
            "row_word": self.row_word,
            "date_format": self.date_format,
            "n_customers_input": self.n_customers_input,
            "n_customers": self.n_customers,
            "n_purchases": self.n_purchases,
            "n_customers_without_purchase": self.n_customers_without_purchase,
            "first_date": None if self.first_date is None else str(self.first_date),
            "last_date": None if self.last_date is None else str(self.last_date),
            "revenue": self.revenue,
            "freq": self.freq,
            "as_of": None if self.as_of is None else str(self.as_of.date()),
        }

    def excluded_lines(self) -> list[str]:
        """Return one human-readable line per non-zero exclusion reason.

        Returns
        -------
        list of str
            ``"<reason text>: <count> (lines 3, 5 ...)"`` per reason with a non-zero count.
        """
        out = []
        for reason, count in self.excluded.items():
            if count:
                ex = ", ".join(map(str, self.examples.get(reason, [])))
                more = " ..." if count > len(self.examples.get(reason, [])) else ""
                out.append(f"{REASONS[reason]}: {count} ({self.row_word}s {ex}{more})")
        return out

    def __str__(self) -> str:
        lines = [
            f"{self.source}: {self.n_input} rows read, {self.n_kept} kept, "
            f"{self.n_excluded} excluded"
        ]
        lines += ["  " + line for line in self.excluded_lines()]
        return "\n".join(lines)


@dataclass
class ValidatedTransactions:
    """Validated lines plus the report of what was excluded.

    Attributes
    ----------
    lines : pandas.DataFrame
        Kept rows: ``customer_id`` (str), ``date`` (datetime64, naive), ``amount`` (float), the
        optional columns present in the input, and ``row`` (0-based input position).
    report : ValidationReport
        Counts per reason.
    policy : ValidationPolicy
        The policy applied.
    zero_only : pandas.DataFrame
        ``customer_id`` and ``date`` of the zero-amount rows (excluded: they are no purchase)
        of the customers who have no kept row at all. They were seen, so scoring gives them a
        row as customers yet to buy (68 in CDNOW).
    """

    lines: pd.DataFrame
    report: ValidationReport
    policy: ValidationPolicy = field(default_factory=ValidationPolicy)
    zero_only: pd.DataFrame = field(
        default_factory=lambda: pd.DataFrame(
            {"customer_id": pd.Series([], dtype="str"), "date": pd.Series([], dtype="M8[ns]")}
        )
    )

    @property
    def has_column(self) -> dict[str, bool]:
        """Which optional columns the input had."""
        return {c: c in self.lines.columns for c in ColumnMap.OPTIONAL}

    def purchases(self) -> Purchases:
        """Return purchases (customer-periods with positive net amount) over all kept lines.

        Returns
        -------
        Purchases
            Purchases at ``policy.freq``, sorted by customer then period.
        """
        return to_purchases(self.lines, self.policy.freq)[0]


def _infer_date_format(values: pd.Series) -> str | None:
    sample = values[values != ""].drop_duplicates().head(200)
    guesses = [guess_datetime_format(v) for v in sample]
    guesses = [g for g in guesses if g]
    if not guesses:
        return None
    return pd.Series(guesses).mode().iloc[0]


#: A numeric UTC offset (or ``Z``) right after a time of day, at the end of a timestamp.
_OFFSET = re.compile(r"\d{1,2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?\s*(Z|[+-]\d{2}(?::?\d{2})?)$", re.I)

#: Whole days a naive ``datetime64[ns]`` holds: dates before or after cannot be used.
FIRST_DAY = pd.Timestamp("1677-09-22")
LAST_DAY = pd.Timestamp("2262-04-10")


def date_format_of(text: pd.Series, fmt: str | None = None) -> str | None:
    """Return the format validation parses a column of date text with.

    Parameters
    ----------
    text : pandas.Series
        Date text (stripped), in row order: the first 200 distinct values are read.
    fmt : str, optional
        The policy's format, used as given.

    Returns
    -------
    str or None
        A ``strftime`` format, ``"ISO8601"``, or None (each value parsed on its own).
    """
    used = fmt or _infer_date_format(text)
    if used is not None and fmt is None and used.startswith("%Y-%m-%d"):
        # ISO dates with and without a time (or zone) often mix in one column.
        used = "ISO8601"
    return used


def _to_datetime(text: pd.Series, fmt: str | None, used: str | None) -> pd.Series:
    """Parse text with one format (NaT where it fails); raises ValueError on mixed zones."""
    if used is None:
        return pd.to_datetime(text, errors="coerce", format="mixed")
    parsed = pd.to_datetime(text, errors="coerce", format=used)
    if fmt is None and used != "ISO8601":
        failed = parsed.isna() & (text != "")
        if failed.any():
            retry = pd.to_datetime(text[failed], errors="coerce", format="ISO8601")
            if retry.notna().any() and parsed.dt.tz is None and retry.dt.tz is None:
                parsed = parsed.copy()
                parsed[failed] = retry
    return parsed


def _one_by_one(text: pd.Series, used: str | None) -> tuple[pd.Series, int]:
    """Parse each value on its own, keeping its wall time (slow; for zones pandas won't mix).

    Returns
    -------
    parsed : pandas.Series
        Naive ``datetime64[us]`` timestamps, NaT where a value does not parse.
    n_tz : int
        Values that carried a zone.
    """
    values = []
    n_tz = 0
    for value in text:
        try:
            ts = pd.to_datetime(value, format=used or "mixed")
        except (ValueError, TypeError, OverflowError):
            ts = pd.NaT
        if ts is not pd.NaT and ts.tzinfo is not None:
            ts = ts.tz_localize(None)
            n_tz += 1
        values.append(ts)
    return pd.Series(values, index=text.index, dtype="datetime64[us]"), n_tz


def _naive(parsed: pd.Series) -> tuple[pd.Series, int]:
    """Drop the zone of tz-aware timestamps, keeping wall time; return rows that had one."""
    if isinstance(parsed.dtype, pd.DatetimeTZDtype):
        return parsed.dt.tz_localize(None), int(parsed.notna().sum())
    return parsed, 0


def _parse_text_dates(
    text: pd.Series, fmt: str | None, used: str | None = None
) -> tuple[pd.Series, str | None, int]:
    """Parse date text to naive wall-time timestamps (any unit), the format, rows with a zone.

    pandas refuses to parse different UTC offsets into one column, so such a column is parsed
    in groups of the same written offset (``+01:00``, ``-05:00``, ``Z``, none); each group's
    zone is dropped keeping the local wall time, and the groups are put back in row order.

    Returns
    -------
    parsed : pandas.Series
        Naive timestamps (any unit; possibly beyond ``datetime64[ns]``), NaT where unparseable.
    used : str or None
        The format given or inferred.
    n_tz : int
        Rows that carried a zone.
    """
    used = used or date_format_of(text, fmt)
    try:
        parsed, n_tz = _naive(_to_datetime(text, fmt, used))
        return parsed, used, n_tz
    except ValueError:  # "Mixed timezones detected"
        pass
    offset = text.str.extract(_OFFSET, expand=False).fillna("")
    parts = []
    n_tz = 0
    for key in offset.unique():
        group = text[offset == key]
        try:
            parsed, n = _naive(_to_datetime(group, fmt, used))
        except ValueError:  # zones pandas will not put in one column (named zones, say)
            parsed, n = _one_by_one(group, used)
        n_tz += n
        parts.append(parsed.astype("datetime64[us]"))
    return pd.concat(parts).reindex(text.index), used, n_tz


def _parse_dates(
    col: pd.Series, fmt: str | None, used: str | None = None
) -> tuple[pd.Series, str | None, int, np.ndarray]:
    """Parse a date column to naive ``datetime64[ns]`` timestamps.

    ``used`` is the format inferred from the whole column when ``col`` is a part of it.

    Returns
    -------
    parsed : pandas.Series
        Naive ``datetime64[ns]`` timestamps, NaT where unparseable or out of range.
    used : str or None
        The format used (None for a column of timestamps).
    n_tz : int
        Rows that carried a time zone (read as local wall time).
    out_of_range : numpy.ndarray of bool
        Rows whose date lies outside ``FIRST_DAY`` .. ``LAST_DAY``.
    """
    if pd.api.types.is_datetime64_any_dtype(col):
        parsed, n_tz = _naive(col)
        used = None
    else:
        parsed, used, n_tz = _parse_text_dates(col.astype(str).str.strip(), fmt, used)
    out_of_range = (
        parsed.notna() & ((parsed < FIRST_DAY) | (parsed >= LAST_DAY + pd.Timedelta(days=1)))
    ).to_numpy(dtype=bool)
    parsed = parsed.where(~out_of_range)
    return parsed.astype("datetime64[ns]"), used, n_tz, out_of_range


def _customer_ids(col: pd.Series) -> tuple[pd.Series, int]:
    """Return ids as text (integers from Parquet without a trailing '.0') and rows stripped."""
    if pd.api.types.is_float_dtype(col):
        whole = col.dropna()
        if (whole == np.floor(whole)).all():
            col = col.astype("Int64")
    if not pd.api.types.is_string_dtype(col) or col.dtype == object:
        col = col.astype("string").astype(str).where(col.notna(), "")
    else:
        # pandas' str dtype keeps NaN for None: a missing id must count as missing, not pass
        col = col.fillna("")
    stripped = col.str.strip()
    n_stripped = int((stripped != col).sum())
    return stripped, n_stripped


def _duplicated(
    parsed: pd.DataFrame, codes: np.ndarray, dates: pd.Series, amount: pd.Series
) -> np.ndarray:
    """Return ``parsed.duplicated(keep="first")``, comparing text only where it can matter.

    Two equal lines share their customer, date and amount: only lines whose hash of those
    repeats can be duplicates, and only they are compared whole (pandas' ``duplicated`` over
    every text column of 10M lines took 19 s).

    Returns
    -------
    numpy.ndarray of bool
        Per line, whether an earlier line equals it in every column.
    """
    key = pd.util.hash_array(codes.astype(np.int64))
    # pandas hashes -0.0 as 0.0, as duplicated compares them
    for part in (dates.to_numpy().view(np.int64), amount.to_numpy(dtype=float)):
        # equal lines, equal keys; a collision only adds a line to compare whole
        key = (key * np.uint64(0x9E3779B97F4A7C15)) ^ pd.util.hash_array(part)
    candidate = pd.Series(key).duplicated(keep=False).to_numpy()
    out = np.zeros(len(parsed), dtype=bool)
    if candidate.any():
        out[candidate] = parsed[candidate].duplicated(keep="first").to_numpy()
    return out


def _parse_amounts(col: pd.Series) -> pd.Series:
    if pd.api.types.is_numeric_dtype(col) and not pd.api.types.is_bool_dtype(col):
        values = col.astype(float)
    else:
        values = pd.to_numeric(col.astype(str).str.strip(), errors="coerce")
    return values.where(np.isfinite(values))


@dataclass
class ParsedRows:
    """The checks that read one row at a time: parsed columns, a reason per row, flag counts.

    Attributes
    ----------
    parsed : pandas.DataFrame
        ``customer_id`` (stripped text), ``date`` (naive ``datetime64[ns]``), ``amount``
        (float) and the optional columns present (``quantity`` as float).
    reason : numpy.ndarray of int8
        Per row, 0 when kept so far, else the position in :data:`REASONS` plus one.
    flags : dict of str to int
        ``customer_id_stripped``, ``timezone_dropped`` and ``quantity_not_numeric`` counts.
    date_format : str or None
        The date format used.
    """

    parsed: pd.DataFrame
    reason: np.ndarray
    flags: dict[str, int]
    date_format: str | None


#: Reason codes: 0 is kept, the k-th reason of :data:`REASONS` is k.
REASON_CODES: dict[str, int] = {name: i + 1 for i, name in enumerate(REASONS)}


def parse_rows(
    frame: pd.DataFrame,
    *,
    as_of: pd.Timestamp | None,
    policy: ValidationPolicy,
    date_format: str | None = None,
) -> ParsedRows:
    """Parse the columns and find the reasons that need no other row.

    The reasons, in order: missing customer id, unparseable or out-of-range date, non-numeric
    amount, dated after as-of, excluded customer. :func:`validate_transactions` applies them
    to a whole log; the Spark engine to each batch of one, with the date format found on the
    whole column.

    Parameters
    ----------
    frame : pandas.DataFrame
        Raw rows with the contract's column names.
    as_of : pandas.Timestamp or None
        Rows dated after this day are excluded.
    policy : ValidationPolicy
        The validation policy.
    date_format : str, optional
        The format of the date text, when it was inferred from more rows than ``frame``.

    Returns
    -------
    ParsedRows
        Parsed columns, reasons and flag counts.
    """
    n = len(frame)
    reason = np.zeros(n, dtype=np.int8)
    flags: dict[str, int] = {}

    def exclude(name: str, mask: np.ndarray) -> None:
        reason[(reason == 0) & mask] = REASON_CODES[name]

    customer, flags["customer_id_stripped"] = _customer_ids(frame["customer_id"])
    exclude("missing_customer_id", (customer == "").to_numpy())
    dates, used, flags["timezone_dropped"], out_of_range = _parse_dates(
        frame["date"], policy.date_format, date_format
    )
    exclude("unparseable_date", dates.isna().to_numpy() & ~out_of_range)
    exclude("date_out_of_range", out_of_range)
    amount = _parse_amounts(frame["amount"])
    exclude("non_numeric_amount", amount.isna().to_numpy())
    if as_of is not None:
        exclude("after_as_of", (dates >= as_of + pd.Timedelta(days=1)).to_numpy())
    excluded_ids = np.zeros(n, dtype=bool)
    if policy.exclude_customers:
        excluded_ids |= customer.isin(policy.exclude_customers).to_numpy()
    if policy.exclude_customer_pattern:
        pattern = re.compile(policy.exclude_customer_pattern)
        excluded_ids |= customer.str.fullmatch(pattern).fillna(False).to_numpy(dtype=bool)
    exclude("excluded_customer", excluded_ids)

    optional = [c for c in ColumnMap.OPTIONAL if c in frame.columns]
    parsed = pd.DataFrame({"customer_id": customer, "date": dates, "amount": amount})
    for c in optional:
        parsed[c] = frame[c]
    flags["quantity_not_numeric"] = 0
    if "quantity" in parsed.columns:
        # parsed once here, not by every feature table built from these lines
        given = parsed["quantity"]
        quantity = pd.to_numeric(given, errors="coerce").astype(float)
        blank = given.isna() | given.astype(str).str.strip().eq("")
        flags["quantity_not_numeric"] = int((quantity.isna() & ~blank).sum())
        parsed["quantity"] = quantity
    return ParsedRows(parsed, reason, flags, used)


def validate_transactions(
    raw: RawTransactions | pd.DataFrame,
    *,
    as_of: str | pd.Timestamp | None = None,
    policy: ValidationPolicy | None = None,
    columns: ColumnMap | None = None,
) -> ValidatedTransactions:
    """Parse and check raw transactions, excluding unusable rows by named reason.

    Parameters
    ----------
    raw : RawTransactions or pandas.DataFrame
        Output of :func:`~churnml.data.io.read_transactions`, or a DataFrame.
    as_of : str or pandas.Timestamp, optional
        Rows dated after this day (the whole day is included) are excluded as ``after_as_of``.
    policy : ValidationPolicy, optional
        Treatment of returns, duplicates, test customers; strictness; purchase period.
    columns : ColumnMap, optional
        Input column names, when ``raw`` is a DataFrame.

    Returns
    -------
    ValidatedTransactions
        Kept lines and the report.

    Raises
    ------
    DataValidationError
        ``policy.strict`` is set and a row was excluded, or no row is left.

    Notes
    -----
    Timestamps carrying a time zone or UTC offset are read as local wall time: the zone is
    dropped, not converted, so ``2020-06-01T23:30:00+02:00`` is 1 June 23:30 (the customer's
    day), and rows with different offsets in one column are each read at their own wall time.
    Such rows are counted in the ``timezone_dropped`` flag. Dates pandas cannot hold as
    nanosecond timestamps (before 1677-09-22 or after 2262-04-10, such as ``0201-01-01`` or
    ``9999-12-31``) are excluded as ``date_out_of_range``, with their line numbers.
    """
    policy = policy or ValidationPolicy()
    if isinstance(raw, pd.DataFrame):
        raw = from_frame(raw, columns)
    frame = raw.frame
    n = len(frame)
    as_of_ts = None if as_of is None else parse_day(as_of, "as_of")
    rows = parse_rows(frame, as_of=as_of_ts, policy=policy)
    parsed, reason, date_format = rows.parsed, rows.reason, rows.date_format
    customer, dates, amount = parsed["customer_id"], parsed["date"], parsed["amount"]
    codes = REASON_CODES
    flags = {**dict.fromkeys(FLAGS, 0), **rows.flags}

    def exclude(name: str, mask: np.ndarray) -> None:
        reason[(reason == 0) & mask] = codes[name]

    # sorted, as purchases want them; coded once for every count below and for purchases
    who, ids = pd.factorize(customer, sort=True)
    ids = np.asarray(ids, dtype=object)
    alive = reason == 0
    dup = np.zeros(n, dtype=bool)
    dup[alive] = _duplicated(parsed[alive], who[alive], dates[alive], amount[alive])
    drop_dups = policy.duplicates == "drop" or (
        policy.duplicates == "auto" and "order_id" in frame.columns
    )
    if drop_dups:
        exclude("exact_duplicate", dup)
    else:
        flags["duplicate_kept"] = int(dup.sum())

    amount_np = amount.to_numpy(dtype=float, na_value=np.nan)
    exclude("zero_amount", amount_np == 0)
    negative = amount_np < 0
    if policy.returns == "drop":
        exclude("return", negative)

    if policy.max_customer_revenue is not None:
        alive = reason == 0
        totals = pd.Series(amount_np[alive]).groupby(customer[alive].to_numpy()).sum()
        outliers = totals.index[totals > policy.max_customer_revenue]
        exclude("outlier_customer", customer.isin(outliers).to_numpy())

    kept = reason == 0
    if policy.returns == "net":
        flags["return_netted"] = int((kept & negative).sum())

    excluded = {}
    examples = {}
    for name, code in codes.items():
        positions = np.flatnonzero(reason == code)
        excluded[name] = int(positions.size)
        examples[name] = raw.locate(positions[:_N_EXAMPLES])

    lines = parsed[kept].copy()
    lines["row"] = np.flatnonzero(kept)
    lines = lines.reset_index(drop=True)
    remember_customer_codes(lines, ids, who[kept])
    report = ValidationReport(
        source=raw.source,
        n_input=n,
        n_kept=int(kept.sum()),
        excluded=excluded,
        examples=examples,
        flags=flags,
        row_word=raw.row_word,
        date_format=date_format,
        freq=policy.freq,
        as_of=as_of_ts,
    )
    if policy.strict and report.n_excluded:
        raise DataValidationError(
            raw.source,
            f"strict validation: {report.n_excluded} of {n} rows would be excluded:\n  "
            + "\n  ".join(report.excluded_lines()),
        )
    if lines.empty:
        detail = "\n  ".join(report.excluded_lines())
        raise DataValidationError(
            raw.source, f"no usable rows: all {n} rows were excluded:\n  {detail}"
        )
    purchases, not_purchase = to_purchases(lines, policy.freq)
    report.flags["not_a_purchase"] = int(not_purchase.sum())
    present = np.zeros(ids.size, dtype=bool)
    present[who] = True
    report.n_customers_input = int(present.sum()) - int(present[ids == ""].sum())
    report.n_customers = len(purchases.customer_ids)
    report.n_purchases = len(purchases)
    # purchases come sorted by customer: one count per change of customer
    cust = purchases.cust
    buying = int(cust.size > 0) + int(np.count_nonzero(cust[1:] != cust[:-1]))
    report.n_customers_without_purchase = report.n_customers - buying
    report.first_date = lines["date"].min()
    report.last_date = lines["date"].max()
    report.revenue = float(lines["amount"].sum())
    zero = reason == codes["zero_amount"]
    zero_only = parsed.loc[zero, ["customer_id", "date"]]
    kept_customer = np.zeros(ids.size, dtype=bool)
    kept_customer[who[kept]] = True
    unseen = ~kept_customer[who[zero]]
    zero_only = zero_only.loc[unseen]  # a mask, also when empty (an empty list picks columns)
    return ValidatedTransactions(
        lines=lines, report=report, policy=policy, zero_only=zero_only.reset_index(drop=True)
    )


def load_transactions(
    source: str | Path | pd.DataFrame | Sequence[str | Path | pd.DataFrame],
    *,
    columns: ColumnMap | None = None,
    as_of: str | pd.Timestamp | None = None,
    policy: ValidationPolicy | None = None,
    sep: str = ",",
    encoding: str = "utf-8",
    progress: bool = False,
) -> ValidatedTransactions:
    r"""Read and validate a transaction log in one call.

    Parameters
    ----------
    source : str, pathlib.Path, pandas.DataFrame, or a sequence of them
        A CSV, CSV.gz or Parquet file, or a DataFrame; or several files and/or DataFrames read
        as one history, in order, as ``churnml ... -t a.csv -t b.csv`` does. Rows present in
        two sources (an overlap between exports) are then exact duplicates, counted and, with
        an order id, excluded; the report names rows ``file:line`` (``<DataFrame k>:row`` for
        the k-th source when it is a frame).
    columns : ColumnMap, optional
        Input column names.
    as_of : str or pandas.Timestamp, optional
        Exclude rows dated after this day.
    policy : ValidationPolicy, optional
        Validation policy.
    sep : str
        Delimiter of text files; ``r"\t"`` (a backslash and a t, as typed in a shell) or
        ``"tab"`` mean a tab.
    encoding : str
        Encoding of text files.
    progress : bool
        Show a progress bar (bytes read) on standard error for each text file.

    Returns
    -------
    ValidatedTransactions
        Kept lines and the validation report.

    Raises
    ------
    ConfigError
        ``source`` is an empty sequence.
    TypeError
        A source is neither a path nor a DataFrame.

    See Also
    --------
    validate_transactions : The checks, and how time zones and impossible dates are treated.

    Notes
    -----
    Reading and validation errors propagate: :class:`~churnml.exceptions.DataFileError` when a
    file cannot be read or a source lacks a required column or has no rows (the message names
    the file and column), :class:`~churnml.exceptions.DataValidationError` when
    ``policy.strict`` is set and a row would be excluded, or when no row is left.

    Examples
    --------
    >>> from churnml.data import load_cdnow, load_transactions
    >>> cdnow = load_cdnow()
    >>> tx = load_transactions(cdnow)
    >>> tx.report.n_input
    69659
    >>> tx.report.n_customers_input
    23570

    Two parts of a log read as one history give the same counts:

    >>> both = load_transactions([cdnow.iloc[:30000], cdnow.iloc[30000:]])
    >>> both.report.n_input, both.report.n_kept == tx.report.n_kept
    (69659, True)
    """
    sep = "\t" if sep in ("\\t", "tab") else sep
    # read_sources checks the sources (none given, wrong type) and names what is wrong
    sources = [source] if isinstance(source, (str, Path, pd.DataFrame)) else list(source)
    raw = read_sources(sources, columns, sep=sep, encoding=encoding, progress=progress)
    return validate_transactions(raw, as_of=as_of, policy=policy)
