"""Repeat-purchase rates (both definitions), the purchase cycle, rates by month and cohorts.

Every rate counts purchases in the modelling unit (a customer-day, or customer-week, with a
positive net amount), read only up to the window's end.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd

from churnml.config import parse_day
from churnml.data.validation import ValidatedTransactions
from churnml.exceptions import ConfigError, InsufficientDataError
from churnml.features.rfm import CustomerHistory, history_until, lines_of

__all__ = [
    "REPEAT_RATE_RANGE",
    "REPEAT_RATE_TARGET",
    "MONTHLY_COUNTS",
    "CohortRetention",
    "RepeatRates",
    "cohort_from_counts",
    "cohort_retention",
    "monthly_from_counts",
    "monthly_repeat_rates",
    "purchase_gaps",
    "repeat_purchase_rates",
    "window_warning",
]

#: The usual e-commerce range of the repeat rate by buyers (share of a period's buyers who
#: buy twice or more), and a common target.
REPEAT_RATE_RANGE = (0.20, 0.40)
REPEAT_RATE_TARGET = 0.27

_NS_PER_DAY = 86_400 * 10**9


@dataclass(frozen=True)
class RepeatRates:
    """Repeat-purchase rates over one window, by buyers and by transactions.

    Attributes
    ----------
    start, end : pandas.Timestamp
        First and last day of the window (both included).
    window_days : int
        Days in the window.
    buyers : int
        Customers with at least one purchase in the window.
    repeat_buyers : int
        Of those, customers with two or more purchases in the window.
    purchases : int
        Purchases in the window.
    repeat_purchases : int
        Purchases beyond each buyer's first in the window (``purchases - buyers``).
    repeat_buyers_purchases : int
        All purchases of the repeat buyers in the window.
    revenue, repeat_buyers_revenue : float
        Revenue of all purchases in the window, and of the repeat buyers' purchases.
    cycle_days : float or None
        The purchase cycle: median days between a customer's consecutive purchases, over every
        purchase up to the window's end (None with no customer who bought twice).
    cycle_days_p25, cycle_days_p75 : float or None
        Quartiles of those gaps.
    warning : str or None
        Set when the window is shorter than the purchase cycle: most customers have not had
        time to come back, so the rates understate repeat buying.
    """

    start: pd.Timestamp
    end: pd.Timestamp
    window_days: int
    buyers: int
    repeat_buyers: int
    purchases: int
    repeat_purchases: int
    repeat_buyers_purchases: int
    revenue: float
    repeat_buyers_revenue: float
    cycle_days: float | None
    cycle_days_p25: float | None
    cycle_days_p75: float | None
    warning: str | None = None

    @property
    def by_buyers(self) -> float:
        """Repeat rate by buyers: ``repeat_buyers / buyers``."""
        return self.repeat_buyers / self.buyers if self.buyers else float("nan")

    @property
    def by_transactions(self) -> float:
        """Repeat rate by transactions: ``repeat_purchases / purchases``."""
        return self.repeat_purchases / self.purchases if self.purchases else float("nan")

    @property
    def repeat_buyers_purchase_share(self) -> float:
        """The other transaction definition: ``repeat_buyers_purchases / purchases``."""
        return self.repeat_buyers_purchases / self.purchases if self.purchases else float("nan")

    @property
    def repeat_buyers_revenue_share(self) -> float:
        """Share of the window's revenue that repeat buyers bring."""
        return self.repeat_buyers_revenue / self.revenue if self.revenue else float("nan")

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dictionary (dates as ISO strings, the rates included).

        Returns
        -------
        dict
            Every attribute and the four rates, with the usual range and target.
        """
        out = asdict(self)
        out["start"], out["end"] = str(self.start.date()), str(self.end.date())
        out.update(
            by_buyers=self.by_buyers,
            by_transactions=self.by_transactions,
            repeat_buyers_purchase_share=self.repeat_buyers_purchase_share,
            repeat_buyers_revenue_share=self.repeat_buyers_revenue_share,
            usual_range=list(REPEAT_RATE_RANGE),
            target=REPEAT_RATE_TARGET,
        )
        # an empty window has no rates: None, since JSON has no NaN
        return {
            k: None if isinstance(v, float) and not math.isfinite(v) else v for k, v in out.items()
        }


def _history(
    tx: ValidatedTransactions | pd.DataFrame,
    end: str | pd.Timestamp | None,
    freq: Literal["D", "W"] | None,
) -> CustomerHistory:
    lines = lines_of(tx)
    if freq is None:
        freq = tx.policy.freq if isinstance(tx, ValidatedTransactions) else "D"
    end_ts = parse_day(end if end is not None else lines["date"].max(), "end")
    return history_until(tx, end_ts, freq)


def purchase_gaps(history: CustomerHistory) -> np.ndarray:
    """Return the days between each customer's consecutive purchases.

    Parameters
    ----------
    history : CustomerHistory
        Purchases up to an as-of date (:func:`churnml.features.history_until`).

    Returns
    -------
    numpy.ndarray of int
        One gap per purchase after a customer's first, in days (weekly purchases too).
    """
    who = history.position
    return np.diff(history.purchases.day)[who[1:] == who[:-1]]


def _quantile(values: np.ndarray, q: float) -> float | None:
    return float(np.percentile(values, q)) if values.size else None


def repeat_purchase_rates(
    tx: ValidatedTransactions | pd.DataFrame,
    start: str | pd.Timestamp | None = None,
    end: str | pd.Timestamp | None = None,
    *,
    freq: Literal["D", "W"] | None = None,
) -> RepeatRates:
    """Repeat-purchase rates over a window, by buyers and by transactions, with the cycle.

    Parameters
    ----------
    tx : ValidatedTransactions or pandas.DataFrame
        Validated transactions (or their lines).
    start, end : str or pandas.Timestamp, optional
        First and last day of the window, both included (default: the whole log).
    freq : {"D", "W"}, optional
        Purchase unit (default: the transactions' policy, else daily).

    Returns
    -------
    RepeatRates
        Counts, the rates and the purchase cycle; ``warning`` is set when the window is
        shorter than the median cycle.

    Raises
    ------
    ConfigError
        ``start`` is after ``end``.
    InsufficientDataError
        No purchase up to ``end``.

    Notes
    -----
    By buyers: customers with two or more purchases in the window over customers with at least
    one. By transactions: purchases beyond each buyer's first in the window over all its
    purchases (:attr:`RepeatRates.repeat_buyers_purchase_share` gives the variant "repeat
    buyers' purchases over all"). A window shorter than the time customers take to come back
    makes both look low, hence the warning. Whole log of CDNOW: 49.0 % of buyers repeat and
    they bring 85.3 % of revenue.

    Examples
    --------
    >>> import pandas as pd
    >>> lines = pd.DataFrame({
    ...     "customer_id": ["a", "a", "b", "c", "c", "c"],
    ...     "date": pd.to_datetime(["2024-01-01", "2024-02-01", "2024-01-05",
    ...                             "2024-01-03", "2024-01-20", "2024-03-01"]),
    ...     "amount": [10.0, 20.0, 5.0, 8.0, 8.0, 8.0],
    ... })
    >>> rates = repeat_purchase_rates(lines)
    >>> rates.buyers, rates.repeat_buyers, round(rates.by_buyers, 3)
    (3, 2, 0.667)
    >>> rates.purchases, rates.repeat_purchases, rates.by_transactions
    (6, 3, 0.5)
    """
    hist = _history(tx, end, freq)
    lines = lines_of(tx)
    start_ts = parse_day(start if start is not None else lines["date"].min(), "start")
    if start_ts > hist.as_of:
        raise ConfigError(
            f"start {start_ts.date()} is after end {hist.as_of.date()}: the window is empty"
        )
    start_day = int(start_ts.value // _NS_PER_DAY)
    # the window's purchases are formed from its own lines, so a week that starts before the
    # window counts with the lines inside it, and nothing before start is read
    inside = lines[lines["date"] >= start_ts]
    try:
        window = history_until(inside, hist.as_of, hist.purchases.freq)  # type: ignore[arg-type]
        counts, revenue = (
            window.count,
            np.bincount(
                window.position, weights=window.purchases.amount, minlength=window.count.size
            ),
        )
    except InsufficientDataError:
        counts, revenue = np.zeros(0, dtype=np.int64), np.zeros(0)
    repeat = counts >= 2
    gaps = purchase_gaps(hist)
    window_days = int(hist.as_of_day - start_day + 1)
    cycle = float(np.median(gaps)) if gaps.size else None
    return RepeatRates(
        start=start_ts,
        end=hist.as_of,
        window_days=window_days,
        buyers=int((counts >= 1).sum()),
        repeat_buyers=int(repeat.sum()),
        purchases=int(counts.sum()),
        repeat_purchases=int(counts.sum() - (counts >= 1).sum()),
        repeat_buyers_purchases=int(counts[repeat].sum()),
        revenue=float(revenue.sum()),
        repeat_buyers_revenue=float(revenue[repeat].sum()),
        cycle_days=cycle,
        cycle_days_p25=_quantile(gaps, 25),
        cycle_days_p75=_quantile(gaps, 75),
        warning=window_warning(window_days, cycle),
    )


def window_warning(window_days: int, cycle_days: float | None) -> str | None:
    """Return the warning of a rates window shorter than the purchase cycle, or None.

    Parameters
    ----------
    window_days : int
        Days in the window.
    cycle_days : float or None
        Median days between a customer's consecutive purchases.

    Returns
    -------
    str or None
        The warning :attr:`RepeatRates.warning` carries.
    """
    if cycle_days is None or window_days >= cycle_days:
        return None
    return (
        f"the window ({window_days} days) is shorter than the purchase cycle (median "
        f"{cycle_days:g} days between purchases): most customers have not had time to buy "
        "again, so these repeat rates understate repeat buying; use a longer window"
    )


def _months(day: np.ndarray) -> np.ndarray:
    return (day * _NS_PER_DAY).astype("datetime64[ns]").astype("datetime64[M]")


def monthly_repeat_rates(
    tx: ValidatedTransactions | pd.DataFrame,
    as_of: str | pd.Timestamp | None = None,
) -> pd.DataFrame:
    """Repeat rates of each calendar month, by buyers and by transactions.

    Parameters
    ----------
    tx : ValidatedTransactions or pandas.DataFrame
        Validated transactions (or their lines).
    as_of : str or pandas.Timestamp, optional
        Last day read (default: the last date in the data).

    Returns
    -------
    pandas.DataFrame
        Indexed by ``month`` (``"YYYY-MM"``), with ``buyers`` (customers with a purchase in
        the month), ``returning_buyers`` (of those, customers who had bought before the month),
        ``repeat_rate_buyers`` (their share), ``purchases``, ``repeat_purchases`` (purchases
        that are not the customer's first ever), ``repeat_rate_transactions`` (their share),
        ``revenue`` and ``returning_revenue_share``; ``cumulative_repeat_rate_buyers`` and
        ``cumulative_repeat_rate_transactions`` are the two repeat rates of
        :func:`repeat_purchase_rates` over the window from the first month to the end of this
        one; ``partial`` is True for a month that as-of cuts short.

    Notes
    -----
    One month is shorter than most purchase cycles, so "two purchases within the month" would
    say little; the monthly rates ask instead whether the month's buyers and purchases come
    from customers who had bought before, which is what a retention dashboard follows. The
    cumulative rates use the brief's definitions over windows that grow month by month, so
    they can be set against the usual 20-40 % range. Months are those of the purchase days,
    whatever the modelling unit (a weekly purchase would date from its Monday).
    """
    hist = _history(tx, as_of, "D")
    p = hist.purchases
    first_day = np.repeat(hist.first_day, hist.count)
    month = _months(p.day)
    first_month = _months(first_day)
    returning = first_month < month
    frame = pd.DataFrame(
        {
            "month": month,
            "cust": hist.position,
            "returning": returning,
            "not_first": p.day > first_day,
            "amount": p.amount,
            "returning_amount": np.where(returning, p.amount, 0.0),
        }
    )
    grouped = frame.groupby("month", sort=True)
    buyers = grouped["cust"].nunique()
    returning_buyers = frame[frame["returning"]].groupby("month")["cust"].nunique()
    second = np.where(hist.count >= 2, p.day[np.minimum(hist.start + 1, len(p) - 1)], -1)
    new_buyers = pd.Series(_months(hist.first_day)).value_counts()
    new_repeat = pd.Series(_months(second[second >= 0])).value_counts()
    counts = pd.DataFrame(
        {
            "buyers": buyers,
            "returning_buyers": returning_buyers.reindex(buyers.index, fill_value=0),
            "purchases": grouped.size(),
            "repeat_purchases": grouped["not_first"].sum(),
            "revenue": grouped["amount"].sum(),
            "returning_revenue": grouped["returning_amount"].sum(),
            # a first or a second purchase falls in a month with a purchase
            "new_buyers": new_buyers.reindex(buyers.index, fill_value=0),
            "new_repeat_buyers": new_repeat.reindex(buyers.index, fill_value=0),
        }
    )
    return monthly_from_counts(counts, hist.as_of)


#: What :func:`monthly_from_counts` reads of each month with a purchase.
MONTHLY_COUNTS = (
    "buyers",
    "returning_buyers",
    "purchases",
    "repeat_purchases",
    "revenue",
    "returning_revenue",
    "new_buyers",
    "new_repeat_buyers",
)


def monthly_from_counts(counts: pd.DataFrame, as_of: pd.Timestamp) -> pd.DataFrame:
    """Build :func:`monthly_repeat_rates`' table from each month's counts.

    Parameters
    ----------
    counts : pandas.DataFrame
        Indexed by the first day of each month with a purchase, columns
        :data:`MONTHLY_COUNTS`: the month's buyers, those of them who bought in an earlier
        month, purchases, purchases that are not the customer's first, revenue, the
        returning buyers' revenue, and the customers whose first and whose second purchase
        fell in the month.
    as_of : pandas.Timestamp
        Last day read.

    Returns
    -------
    pandas.DataFrame
        As :func:`monthly_repeat_rates` returns it.
    """
    out = counts.sort_index()
    # every month of the span, those without a purchase included, so a gap is visible
    span = pd.period_range(out.index.min(), as_of, freq="M").to_timestamp()
    out = out.reindex(span, fill_value=0)
    out["repeat_rate_buyers"] = out["returning_buyers"] / out["buyers"].where(out["buyers"] > 0)
    out["repeat_rate_transactions"] = out["repeat_purchases"] / out["purchases"].where(
        out["purchases"] > 0
    )
    out["returning_revenue_share"] = out["returning_revenue"] / out["revenue"].where(
        out["revenue"] > 0
    )
    # the brief's definitions over the window from the first month to each month's end
    cum_buyers = out["new_buyers"].cumsum().to_numpy(float)
    cum_repeat = out["new_repeat_buyers"].cumsum().to_numpy(float)
    cum_purchases = out["purchases"].cumsum().to_numpy(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        out["cumulative_repeat_rate_buyers"] = np.where(
            cum_buyers > 0, cum_repeat / cum_buyers, np.nan
        )
        out["cumulative_repeat_rate_transactions"] = np.where(
            cum_purchases > 0, (cum_purchases - cum_buyers) / cum_purchases, np.nan
        )
    out["partial"] = False
    if as_of != as_of + pd.offsets.MonthEnd(0):
        out.iloc[-1, out.columns.get_loc("partial")] = True
    out.index = out.index.strftime("%Y-%m")
    out.index.name = "month"
    columns = [
        "buyers",
        "returning_buyers",
        "repeat_rate_buyers",
        "purchases",
        "repeat_purchases",
        "repeat_rate_transactions",
        "revenue",
        "returning_revenue_share",
        "cumulative_repeat_rate_buyers",
        "cumulative_repeat_rate_transactions",
        "partial",
    ]
    return out[columns].astype({c: "int64" for c in columns[:2] + columns[3:5]})


@dataclass(frozen=True)
class CohortRetention:
    """First-purchase cohorts and the share of each still buying, month by month.

    Attributes
    ----------
    as_of : pandas.Timestamp
        Last day read.
    sizes : pandas.Series
        Customers per cohort (month of first purchase, ``"YYYY-MM"``).
    active : pandas.DataFrame
        Cohorts by months since the first purchase (0, 1, ...): customers of the cohort with a
        purchase in that month; NaN where the month is after as-of.
    retention : pandas.DataFrame
        ``active`` over the cohort's size (month 0 is 1.0 by definition).
    partial_last_month : bool
        True when as-of cuts the last calendar month short, so the last diagonal is low.
    """

    as_of: pd.Timestamp
    sizes: pd.Series
    active: pd.DataFrame
    retention: pd.DataFrame
    partial_last_month: bool = False

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dictionary (NaN as None).

        Returns
        -------
        dict
            ``as_of``, ``cohorts`` (labels), ``sizes``, ``months_since_first`` and
            ``retention`` (a list of rows, one per cohort), ``partial_last_month``.
        """

        def rows(frame: pd.DataFrame) -> list[list[float | None]]:
            values = frame.to_numpy(dtype=float)
            return [[None if np.isnan(v) else round(float(v), 6) for v in row] for row in values]

        return {
            "as_of": str(self.as_of.date()),
            "cohorts": [str(c) for c in self.sizes.index],
            "sizes": [int(s) for s in self.sizes],
            "months_since_first": [int(c) for c in self.retention.columns],
            "retention": rows(self.retention),
            "partial_last_month": self.partial_last_month,
        }


def cohort_retention(
    tx: ValidatedTransactions | pd.DataFrame,
    as_of: str | pd.Timestamp | None = None,
) -> CohortRetention:
    """Cohort retention matrix by month of first purchase.

    Parameters
    ----------
    tx : ValidatedTransactions or pandas.DataFrame
        Validated transactions (or their lines).
    as_of : str or pandas.Timestamp, optional
        Last day read (default: the last date in the data).

    Returns
    -------
    CohortRetention
        Cohort sizes, active customers and retention shares by months since the first
        purchase (calendar months of the purchase days, whatever the modelling unit).

    Examples
    --------
    >>> import pandas as pd
    >>> lines = pd.DataFrame({
    ...     "customer_id": ["a", "a", "b", "c"],
    ...     "date": pd.to_datetime(["2024-01-05", "2024-02-10", "2024-01-20", "2024-02-02"]),
    ...     "amount": [10.0, 20.0, 5.0, 8.0],
    ... })
    >>> cohort_retention(lines, "2024-02-29").retention  # doctest: +NORMALIZE_WHITESPACE
    months_since_first    0    1
    cohort
    2024-01             1.0  0.5
    2024-02             1.0  NaN
    """
    hist = _history(tx, as_of, "D")
    month = _months(hist.purchases.day).astype("int64")
    first = _months(hist.first_day).astype("int64")
    who = hist.position
    # one customer counts once per month however many purchases it made in that month
    pairs = pd.DataFrame({"cust": who, "first": first[who], "month": month}).drop_duplicates()
    active = pairs.groupby(["first", "month"]).size().rename("customers").reset_index()
    sizes = pd.Series(first).value_counts().rename_axis("first").rename("customers")
    return cohort_from_counts(active, sizes, hist.as_of)


def cohort_from_counts(
    active: pd.DataFrame, sizes: pd.Series, as_of: pd.Timestamp
) -> CohortRetention:
    """Build :func:`cohort_retention`'s matrices from counts of customers.

    Parameters
    ----------
    active : pandas.DataFrame
        ``first`` (month of the first purchase), ``month`` (a month with a purchase), both
        as months since 1970-01, and ``customers`` of that cohort who bought in that month.
    sizes : pandas.Series
        Customers by ``first`` month.
    as_of : pandas.Timestamp
        Last day read.

    Returns
    -------
    CohortRetention
        As :func:`cohort_retention` returns it.
    """
    start = int(sizes.index.min())
    last_month = int(np.datetime64(as_of.date(), "M").astype("int64"))
    n_months = int(last_month - start + 1)
    matrix = np.zeros((n_months, n_months))
    cohort = active["first"].to_numpy(np.int64) - start
    offset = active["month"].to_numpy(np.int64) - active["first"].to_numpy(np.int64)
    np.add.at(matrix, (cohort, offset), active["customers"].to_numpy(float))
    size = np.zeros(n_months)
    size[sizes.index.to_numpy(np.int64) - start] = sizes.to_numpy(float)
    c_idx, k_idx = np.indices(matrix.shape)
    matrix[c_idx + k_idx > n_months - 1] = np.nan
    labels = pd.period_range(
        pd.Timestamp(np.datetime64(start, "M")), periods=n_months, freq="M"
    ).strftime("%Y-%m")
    keep = size > 0
    index = pd.Index(labels[keep], name="cohort")
    columns = pd.RangeIndex(n_months, name="months_since_first")
    active_df = pd.DataFrame(matrix[keep], index=index, columns=columns)
    retention = active_df.div(size[keep], axis=0)
    return CohortRetention(
        as_of=as_of,
        sizes=pd.Series(size[keep].astype(int), index=index, name="customers"),
        active=active_df,
        retention=retention,
        partial_last_month=bool(as_of != as_of + pd.offsets.MonthEnd(0)),
    )
