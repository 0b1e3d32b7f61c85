"""A data summary for people deciding whether and how to model a transaction log."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from churnml.config import parse_day
from churnml.data.validation import ValidatedTransactions, ValidationReport
from churnml.features.rfm import history_until
from churnml.segments.lifecycle import SEGMENTS, SegmentRules, lifecycle_segment

__all__ = ["DataSummary", "describe"]


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
    """

    report: ValidationReport
    as_of: pd.Timestamp
    stats: dict[str, Any] = field(default_factory=dict)
    segments: pd.DataFrame = field(default_factory=pd.DataFrame)

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dictionary.

        Returns
        -------
        dict
            ``as_of`` (ISO date), ``validation`` (the report's dictionary), ``stats`` and
            ``segments`` (per segment: ``customers``, ``share``, ``revenue_share``).
        """
        return {
            "as_of": str(self.as_of.date()),
            "validation": self.report.to_dict(),
            "stats": self.stats,
            "segments": {
                str(k): {c: _py(v) for c, v in row.items()}
                for k, row in self.segments.to_dict(orient="index").items()
            },
        }


def _py(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    return value


def describe(
    tx: ValidatedTransactions,
    as_of: str | pd.Timestamp | None = None,
    rules: SegmentRules | None = None,
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

    Returns
    -------
    DataSummary
        Counts, revenue, repeat-purchase rates by two definitions, the repeat buyers' share of
        customers and revenue, the purchase cycle and lifecycle segment sizes.

    Notes
    -----
    Repeat-purchase rate has two common definitions and both are given:
    ``repeat_customer_rate`` is the share of customers with two or more purchases;
    ``repeat_purchase_share`` the share of purchases that are not a customer's first. Because
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
    revenue = float(p.amount.sum())
    cust_revenue = np.bincount(who, weights=p.amount, minlength=n_cust)
    repeat = hist.count >= 2

    # p.day is the first day (a day number) of each purchase's period, for weeks too, so the
    # gaps are in days whatever the purchase period: no scaling by 7 for weekly purchases.
    gaps = np.diff(p.day)[who[1:] == who[:-1]]
    second = np.where(
        repeat, p.day[np.minimum(hist.start + 1, n_purch - 1)], np.iinfo(np.int64).max
    )
    old_enough = hist.first_day <= hist.as_of_day - 90
    back_in_90 = (second - hist.first_day <= 90) & old_enough
    sorted_rev = np.sort(cust_revenue)[::-1]
    top20 = sorted_rev[: max(1, int(np.ceil(0.2 * n_cust)))].sum()
    stats: dict[str, Any] = {
        "first_date": str(lines["date"].min()),
        "last_date": str(lines["date"].max()),
        "days_covered": int((as_of_ts - hist.lines["date"].min().normalize()).days) + 1,
        "customers_seen": int(tx.report.n_customers_input),
        "customers": int(n_cust),
        "customers_with_purchase": int(n_cust),
        "purchases": int(n_purch),
        "orders": int(lines.loc[lines["amount"] > 0, "order_id"].nunique())
        if "order_id" in lines.columns
        else int(n_purch),
        "revenue": revenue,
        "net_revenue_incl_returns": float(
            lines.loc[lines["date"] < as_of_ts + pd.Timedelta(days=1), "amount"].sum()
        ),
        "purchases_per_customer": n_purch / n_cust,
        "avg_purchase_value": revenue / n_purch,
        "repeat_customer_rate": float(repeat.mean()),
        "repeat_purchase_share": float((n_purch - n_cust) / n_purch),
        "repurchase_within_90d": float(back_in_90.sum() / old_enough.sum())
        if old_enough.any()
        else None,
        "repeat_buyers_revenue_share": float(cust_revenue[repeat].sum() / revenue),
        "top_20pct_customers_revenue_share": float(top20 / revenue),
        "purchase_cycle_days_median": float(np.median(gaps)) if gaps.size else None,
        "purchase_cycle_days_p25": float(np.percentile(gaps, 25)) if gaps.size else None,
        "purchase_cycle_days_p75": float(np.percentile(gaps, 75)) if gaps.size else None,
    }
    days_since = pd.Series(hist.as_of_day - hist.last_day)
    seg = lifecycle_segment(days_since, pd.Series(hist.count), rules)
    by_seg = (
        pd.DataFrame({"segment": seg, "revenue": cust_revenue})
        .groupby("segment", observed=False)["revenue"]
        .agg(["size", "sum"])
    )
    segments = pd.DataFrame(
        {
            "customers": by_seg["size"].astype(int),
            "share": by_seg["size"] / n_cust,
            "revenue_share": by_seg["sum"] / revenue,
        }
    ).reindex(list(SEGMENTS))
    return DataSummary(report=tx.report, as_of=as_of_ts, stats=stats, segments=segments)
