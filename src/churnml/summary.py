"""A data summary for people deciding whether and how to model a transaction log."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from churnml.campaign.rates import (
    REPEAT_RATE_RANGE,
    REPEAT_RATE_TARGET,
    CohortRetention,
    RepeatRates,
    cohort_retention,
    monthly_repeat_rates,
    repeat_purchase_rates,
)
from churnml.config import parse_day
from churnml.data.validation import ValidatedTransactions, ValidationReport
from churnml.features.rfm import history_until
from churnml.segments.lifecycle import SEGMENTS, SegmentRules, lifecycle_segment

__all__ = ["DataSummary", "SummaryCounts", "describe", "summary_from", "top_share_count"]


@dataclass
class DataSummary:
    """What a transaction log holds, at an as-of date.

    Attributes
    ----------
    report : ValidationReport
        What validation kept and excluded.
    as_of : pandas.Timestamp
        Summary date.
    stats : dict
        Customers, purchases, orders, revenue, repeat-purchase rates, purchase cycle.
        ``customers_seen`` counts the distinct customer ids in the input, before any exclusion
        and whatever the as-of date; ``customers`` (and its explicit alias
        ``customers_with_purchase``) those with at least one purchase (customer-period with a
        positive net amount) on or before as-of. ``purchase_cycle_days_*`` are in days for
        daily and weekly purchase periods alike.
    segments : pandas.DataFrame
        Per lifecycle segment: ``customers``, ``share`` of customers, ``revenue_share``.
    rates : RepeatRates or None
        Repeat-purchase rates over the window (both definitions) with the purchase cycle.
    monthly : pandas.DataFrame
        Rates by calendar month (:func:`churnml.campaign.monthly_repeat_rates`).
    cohorts : CohortRetention or None
        First-purchase cohort retention (:func:`churnml.campaign.cohort_retention`).
    warnings : list of str
        What the reader should know before trusting the rates (a window shorter than the
        purchase cycle).
    """

    report: ValidationReport
    as_of: pd.Timestamp
    stats: dict[str, Any] = field(default_factory=dict)
    segments: pd.DataFrame = field(default_factory=pd.DataFrame)
    rates: RepeatRates | None = None
    monthly: pd.DataFrame = field(default_factory=pd.DataFrame)
    cohorts: CohortRetention | None = None
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dictionary.

        Returns
        -------
        dict
            ``as_of`` (ISO date), ``validation`` (the report's dictionary), ``stats``,
            ``segments`` (per segment: ``customers``, ``share``, ``revenue_share``),
            ``repeat_rates`` (the window's counts and rates), ``monthly`` (per month, NaN as
            None), ``cohorts`` (the retention matrix) and ``warnings``.
        """
        monthly = self.monthly.astype(object).where(self.monthly.notna(), None)
        return _finite(
            {
                "as_of": str(self.as_of.date()),
                "validation": self.report.to_dict(),
                "stats": self.stats,
                "segments": {
                    str(k): {c: _py(v) for c, v in row.items()}
                    for k, row in self.segments.to_dict(orient="index").items()
                },
                "repeat_rates": None if self.rates is None else self.rates.to_dict(),
                "monthly": {
                    str(k): {c: _py(v) for c, v in row.items()}
                    for k, row in monthly.to_dict(orient="index").items()
                },
                "cohorts": None if self.cohorts is None else self.cohorts.to_dict(),
                "warnings": list(self.warnings),
            }
        )


def _finite(value: Any) -> Any:
    # JSON has no NaN (json.dumps would write one other readers refuse): an empty window's
    # rates become None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    if isinstance(value, float | np.floating) and not np.isfinite(value):
        return None
    return value


def _py(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    return value


def describe(
    tx: ValidatedTransactions,
    as_of: str | pd.Timestamp | None = None,
    rules: SegmentRules | None = None,
    since: str | pd.Timestamp | None = None,
) -> DataSummary:
    """Summarise validated transactions up to as-of.

    Parameters
    ----------
    tx : ValidatedTransactions
        Output of :func:`churnml.data.load_transactions`.
    as_of : str or pandas.Timestamp, optional
        Summary date (default: the last date in the data).
    rules : SegmentRules, optional
        Lifecycle thresholds.
    since : str or pandas.Timestamp, optional
        First day of the window of the repeat-purchase rates (default: the first day of the
        log); the window ends at as-of.

    Returns
    -------
    DataSummary
        Counts, revenue, repeat-purchase rates by two definitions, the repeat buyers' share of
        customers and revenue, the purchase cycle and lifecycle segment sizes; the rates by
        month, the first-purchase cohorts and a warning when the window is shorter than the
        purchase cycle.

    Notes
    -----
    Repeat-purchase rate has two common definitions and both are given, over the window from
    ``since`` to as-of (:func:`churnml.campaign.repeat_purchase_rates`): by buyers,
    ``repeat_customer_rate`` is the share of the window's buyers with two or more purchases in
    it; by transactions, ``repeat_purchase_share`` the share of its purchases beyond each
    buyer's first (``repeat_buyers_purchase_share``: the repeat buyers' purchases over all).
    The usual e-commerce range by buyers is 20-40 %, 27 % a common target. Because
    young customers have had less time to come back, ``repurchase_within_90d`` restricts to
    customers first seen at least 90 days before as-of and asks whether they bought again within
    90 days of their first purchase.
    """
    lines = tx.lines
    as_of_ts = parse_day(as_of if as_of is not None else lines["date"].max(), "as_of")
    hist = history_until(tx, as_of_ts, tx.policy.freq)
    p = hist.purchases
    who = hist.position
    n_cust = hist.customer_ids.size
    n_purch = len(p)
    cust_revenue = np.bincount(who, weights=p.amount, minlength=n_cust)
    repeat = hist.count >= 2
    second = np.where(
        repeat, p.day[np.minimum(hist.start + 1, n_purch - 1)], np.iinfo(np.int64).max
    )
    old_enough = hist.first_day <= hist.as_of_day - 90
    back_in_90 = (second - hist.first_day <= 90) & old_enough
    sorted_rev = np.sort(cust_revenue)[::-1]
    counts = SummaryCounts(
        first_date=lines["date"].min(),
        last_date=lines["date"].max(),
        first_date_to_as_of=hist.lines["date"].min(),
        customers=int(n_cust),
        purchases=int(n_purch),
        orders=int(lines.loc[lines["amount"] > 0, "order_id"].nunique())
        if "order_id" in lines.columns
        else None,
        revenue=float(p.amount.sum()),
        net_revenue_incl_returns=float(
            lines.loc[lines["date"] < as_of_ts + pd.Timedelta(days=1), "amount"].sum()
        ),
        old_enough=int(old_enough.sum()),
        back_in_90=int(back_in_90.sum()),
        top_20pct_revenue=float(sorted_rev[: top_share_count(n_cust)].sum()),
    )
    days_since = pd.Series(hist.as_of_day - hist.last_day)
    seg = lifecycle_segment(days_since, pd.Series(hist.count), rules)
    by_seg = (
        pd.DataFrame({"segment": seg, "revenue": cust_revenue})
        .groupby("segment", observed=False)["revenue"]
        .agg(["size", "sum"])
    )
    return summary_from(
        tx.report,
        as_of_ts,
        counts,
        by_seg,
        repeat_purchase_rates(tx, since, as_of_ts, freq=tx.policy.freq),
        monthly_repeat_rates(tx, as_of_ts),
        cohort_retention(tx, as_of_ts),
    )


def top_share_count(n_customers: int) -> int:
    """Return how many customers the top 20 % by revenue holds (at least one)."""
    return max(1, int(np.ceil(0.2 * n_customers)))


@dataclass(frozen=True)
class SummaryCounts:
    """The counts :func:`summary_from` turns into :attr:`DataSummary.stats`.

    Attributes
    ----------
    first_date, last_date : pandas.Timestamp
        The first and last kept line.
    first_date_to_as_of : pandas.Timestamp
        The first kept line on or before as-of.
    customers : int
        Customers with a purchase up to as-of.
    purchases : int
        Their purchases (in the policy's unit).
    orders : int or None
        Distinct order ids of the lines with a positive amount (None without the column).
    revenue : float
        The purchases' revenue.
    net_revenue_incl_returns : float
        Every kept line's amount up to as-of.
    old_enough : int
        Customers first buying 90 days or more before as-of.
    back_in_90 : int
        Of those, customers buying again within 90 days of their first purchase.
    top_20pct_revenue : float
        The revenue of the top :func:`top_share_count` customers.
    """

    first_date: pd.Timestamp
    last_date: pd.Timestamp
    first_date_to_as_of: pd.Timestamp
    customers: int
    purchases: int
    orders: int | None
    revenue: float
    net_revenue_incl_returns: float
    old_enough: int
    back_in_90: int
    top_20pct_revenue: float


def summary_from(
    report: ValidationReport,
    as_of: pd.Timestamp,
    counts: SummaryCounts,
    by_segment: pd.DataFrame,
    rates: RepeatRates,
    monthly: pd.DataFrame,
    cohorts: CohortRetention,
) -> DataSummary:
    """Assemble a :class:`DataSummary` from its counts (the pandas and Spark paths' end).

    Parameters
    ----------
    report : ValidationReport
        The validation report.
    as_of : pandas.Timestamp
        Summary date.
    counts : SummaryCounts
        The log's counts up to as-of.
    by_segment : pandas.DataFrame
        Indexed by lifecycle segment: ``size`` (customers) and ``sum`` (their revenue).
    rates, monthly, cohorts
        :func:`~churnml.campaign.repeat_purchase_rates`,
        :func:`~churnml.campaign.monthly_repeat_rates` and
        :func:`~churnml.campaign.cohort_retention` at as-of.

    Returns
    -------
    DataSummary
        As :func:`describe` returns it.
    """
    n_cust, n_purch, revenue = counts.customers, counts.purchases, counts.revenue
    stats: dict[str, Any] = {
        "first_date": str(counts.first_date),
        "last_date": str(counts.last_date),
        "days_covered": int((as_of - counts.first_date_to_as_of.normalize()).days) + 1,
        "customers_seen": int(report.n_customers_input),
        "customers": int(n_cust),
        "customers_with_purchase": int(n_cust),
        "purchases": int(n_purch),
        "orders": int(n_purch) if counts.orders is None else int(counts.orders),
        "revenue": revenue,
        "net_revenue_incl_returns": counts.net_revenue_incl_returns,
        "purchases_per_customer": n_purch / n_cust,
        "avg_purchase_value": revenue / n_purch,
        "rates_window": f"{rates.start.date()} to {rates.end.date()}",
        "repeat_customer_rate": rates.by_buyers,
        "repeat_purchase_share": rates.by_transactions,
        "repeat_buyers_purchase_share": rates.repeat_buyers_purchase_share,
        "repeat_rate_usual_range": f"{REPEAT_RATE_RANGE[0]:.0%}-{REPEAT_RATE_RANGE[1]:.0%}",
        "repeat_rate_target": REPEAT_RATE_TARGET,
        "repurchase_within_90d": float(counts.back_in_90 / counts.old_enough)
        if counts.old_enough
        else None,
        "repeat_buyers_revenue_share": rates.repeat_buyers_revenue_share,
        "top_20pct_customers_revenue_share": float(counts.top_20pct_revenue / revenue),
        # in days for daily and weekly purchase periods alike
        "purchase_cycle_days_median": rates.cycle_days,
        "purchase_cycle_days_p25": rates.cycle_days_p25,
        "purchase_cycle_days_p75": rates.cycle_days_p75,
    }
    by_segment = by_segment.reindex(list(SEGMENTS), fill_value=0)
    segments = pd.DataFrame(
        {
            "customers": by_segment["size"].astype(int),
            "share": by_segment["size"] / n_cust,
            "revenue_share": by_segment["sum"] / revenue,
        }
    )
    return DataSummary(
        report=report,
        as_of=as_of,
        stats=stats,
        segments=segments,
        rates=rates,
        monthly=monthly,
        cohorts=cohorts,
        warnings=[rates.warning] if rates.warning else [],
    )
