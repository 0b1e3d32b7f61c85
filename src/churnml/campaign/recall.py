"""A recall list: customers ranked by the expected profit of contacting them, cut at a budget.

The expected profit of a contact is what it adds, not what the customer would have brought
anyway::

    expected_profit = uplift * p_alive * (1 - p_repurchase) * margin * order_value - cost

``uplift`` is the response uplift of a contact (the share of customers who would not have
bought on their own and buy because of it), applied in proportion to P(alive) since a customer
who has left reads no message; ``1 - p_repurchase`` is the probability they would not return on
their own within the horizon; ``margin * order_value`` is the margin of the return purchase
(``order_value`` is the model's expected spend per purchase, ``expected_revenue /
expected_purchases``; without ``expected_purchases``, ``expected_revenue / p_repurchase``, the
revenue expected given a return).
"""

from __future__ import annotations

import math
import numbers
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import numpy as np
import pandas as pd

from churnml.exceptions import ConfigError, DataValidationError
from churnml.segments import SEGMENTS

__all__ = [
    "DEFAULT_LIKELY_BUYER",
    "DEFAULT_MARGIN",
    "DEFAULT_UPLIFT",
    "RECALL_COLUMNS",
    "RECALL_SEGMENTS",
    "RecallPlan",
    "plan_recall",
    "recall_list",
]

#: Segments recalled by default: customers past their active window but not yet lost.
RECALL_SEGMENTS = ("warm", "high_recall", "low_recall")
#: Default response uplift of one contact: 5 in 100 reachable customers who would not have
#: bought on their own buy because of it (the low end of reported win-back e-mail and SMS
#: campaigns; measure yours with a hold-out group and pass it).
DEFAULT_UPLIFT = 0.05
#: Default margin on revenue: 1.0 counts revenue as profit, as the scores' CLV does by
#: default; pass your gross margin.
DEFAULT_MARGIN = 1.0
#: Customers at least this likely to buy on their own are left out unless asked for.
DEFAULT_LIKELY_BUYER = 0.7
#: Columns of :func:`recall_list`, in order.
RECALL_COLUMNS = (
    "rank",
    "customer_id",
    "segment",
    "value_tier",
    "p_alive",
    "p_repurchase",
    "expected_revenue",
    "order_value",
    "p_won_back",
    "expected_margin",
    "expected_profit",
    "expected_value",
    "cost",
    "cumulative_cost",
    "cumulative_profit",
    "days_since_last_purchase",
    "purchase_cycle_days",
    "reason",
)
_NEEDED = ("customer_id", "segment", "value_tier", "p_alive", "p_repurchase", "expected_revenue")
_DRIVERS = 2


def _number(value: object, name: str, *, low: float, high: float | None = None) -> float:
    ok = isinstance(value, numbers.Real) and not isinstance(value, bool)
    number = float(value) if ok else math.nan  # type: ignore[arg-type]
    if math.isfinite(number) and number >= low and (high is None or number <= high):
        if not (name == "cost_per_contact" and number == 0):
            return number
    if name == "cost_per_contact":
        bound = "a positive number"
    elif high is None:
        bound = f"a number of at least {low:g}"
    else:
        bound = f"a number from {low:g} to {high:g}"
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


@dataclass
class RecallPlan:
    """A recall list under a budget, with its expected return and the profit curve.

    Attributes
    ----------
    contacts : pandas.DataFrame
        The customers to contact, best first (columns :data:`RECALL_COLUMNS`).
    curve : pandas.DataFrame
        Expected profit against the number contacted, over every candidate in rank order
        (budget or not): ``contacted`` (0, 1, ...), ``cost``, ``expected_margin``,
        ``expected_profit``, ``within_budget``.
    budget, cost_per_contact, uplift, margin : float
        The plan's inputs.
    candidates : int
        Customers eligible for the list (in the chosen segments and not left out).
    excluded : dict of str to int
        Customers of the score table not eligible, by reason.
    peak_contacts : int
        Number of contacts where the expected profit peaks: each contact beyond it is expected
        to cost more than it brings back, even where the budget would pay for it.
    peak_profit : float
        Expected profit at that peak.
    """

    contacts: pd.DataFrame
    curve: pd.DataFrame
    budget: float
    cost_per_contact: float
    uplift: float
    margin: float
    candidates: int
    excluded: dict[str, int] = field(default_factory=dict)
    peak_contacts: int = 0
    peak_profit: float = 0.0

    @property
    def cost(self) -> float:
        """Cost of contacting the list."""
        return float(self.contacts["cumulative_cost"].iloc[-1]) if len(self.contacts) else 0.0

    @property
    def expected_margin(self) -> float:
        """Expected margin the contacts bring back (beyond what would come anyway)."""
        return float(self.contacts["expected_margin"].sum())

    @property
    def expected_profit(self) -> float:
        """Expected margin less cost."""
        return self.expected_margin - self.cost

    @property
    def roi(self) -> float:
        """Return on the money spent: expected profit over cost (NaN for an empty list)."""
        return self.expected_profit / self.cost if self.cost else float("nan")

    def to_dict(self) -> dict[str, Any]:
        """Return the plan's figures (not the rows) as a JSON-ready dictionary.

        Returns
        -------
        dict
            Inputs, ``contacted``, ``cost``, ``expected_margin``, ``expected_profit``, ``roi``
            (None for an empty list), ``candidates``, ``excluded``, ``peak_contacts``,
            ``peak_cost`` and ``peak_profit``.
        """
        roi = self.roi
        return {
            "budget": self.budget,
            "cost_per_contact": self.cost_per_contact,
            "uplift": self.uplift,
            "margin": self.margin,
            "contacted": len(self.contacts),
            "cost": self.cost,
            "expected_margin": self.expected_margin,
            "expected_profit": self.expected_profit,
            "roi": roi if math.isfinite(roi) else None,
            "candidates": self.candidates,
            "excluded": dict(self.excluded),
            "peak_contacts": self.peak_contacts,
            "peak_cost": float(_cumulative_cost(self.peak_contacts, self.cost_per_contact)[-1])
            if self.peak_contacts
            else 0.0,
            "peak_profit": self.peak_profit,
        }


def _cumulative_cost(n: int, cost: float) -> np.ndarray:
    # rounded to ten significant digits of the cost, so that 3 x 0.1 is 0.3 (not
    # 0.30000000000000004, which a budget of 0.3 would not pay) and a tiny cost stays non-zero
    decimals = max(10, 10 - int(np.floor(np.log10(cost))))
    total = np.arange(1, n + 1) * cost
    # past 300 decimals 10**decimals overflows: such costs are too small for float noise to show
    return total if decimals > 300 else np.round(total, decimals)


def _order_value(pool: pd.DataFrame) -> np.ndarray:
    revenue = pool["expected_revenue"].to_numpy(dtype=float)
    if "expected_purchases" in pool.columns:
        per = pd.to_numeric(pool["expected_purchases"], errors="coerce").to_numpy(float)
    else:
        per = np.full(revenue.size, np.nan)
    p_buy = pool["p_repurchase"].to_numpy(dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        value = np.where(per > 1e-9, revenue / per, np.nan)
        # without the model's purchases, the revenue expected given a return (E[rev] / P(buy))
        value = np.where(np.isfinite(value), value, np.where(p_buy > 1e-9, revenue / p_buy, np.nan))
    known = value[np.isfinite(value)]
    # where neither is known, the typical order value among the candidates stands in
    fallback = float(np.median(known)) if known.size else 0.0
    return np.where(np.isfinite(value), value, fallback)


def _drivers(text: object) -> str:
    if not isinstance(text, str) or not text.strip():
        return ""
    parts = [p.strip() for p in text.split(";") if p.strip()][:_DRIVERS]
    return "; model: " + "; ".join(parts) if parts else ""


def _reasons(top: pd.DataFrame, horizon: int | None) -> list[str]:
    # plain Python over columns (not itertuples with getattr): 100,000 rows in well under 1 s
    within = f" in {horizon} d" if horizon else ""
    days = top["days_since_last_purchase"].to_numpy(dtype=float)
    cycle = top["purchase_cycle_days"].to_numpy(dtype=float)
    drivers = top["reasons"].tolist() if "reasons" in top.columns else [None] * len(top)
    reasons = []
    for segment, d, c, p_rep, p_alive, worth, model in zip(
        top["segment"].astype(str).tolist(),
        days.tolist(),
        cycle.tolist(),
        top["p_repurchase"].tolist(),
        top["p_alive"].tolist(),
        top["margin_value"].tolist(),
        drivers,
        strict=True,
    ):
        text = segment
        if d == d:  # not NaN
            text += f", {int(d)} days since last purchase"
            if c == c and c > 0:
                text += f", {d / c:.1f}x their {c:.0f}-day cycle"
        text += (
            f", buys on their own {p_rep:.0%}{within}, P(alive) {p_alive:.2f}, "
            f"a return is worth {worth:.2f}"
        )
        reasons.append(text + _drivers(model))
    return reasons


def plan_recall(
    scores: pd.DataFrame,
    *,
    budget: float,
    cost_per_contact: float,
    segment: str | Sequence[str] | None = None,
    limit: int | None = None,
    horizon_days: int | None = None,
    uplift: float = DEFAULT_UPLIFT,
    margin: float = DEFAULT_MARGIN,
    include_likely_buyers: bool = False,
    likely_buyer: float = DEFAULT_LIKELY_BUYER,
    stop_at_peak: bool = False,
) -> RecallPlan:
    """Rank customers by the expected profit of a contact and keep what the budget pays for.

    Parameters
    ----------
    scores : pandas.DataFrame
        A score table (``churnml.score`` output, a snapshot's rows or ``scores.csv``) with at
        least ``customer_id``, ``segment``, ``value_tier``, ``p_alive``, ``p_repurchase`` and
        ``expected_revenue``; ``expected_purchases``, ``days_since_last_purchase``,
        ``purchase_cycle_days`` and ``reasons`` are used where present.
    budget : float
        Money available for the contacts, at least 0.
    cost_per_contact : float
        Cost of contacting one customer, more than 0 (e.g. 0.05 for an SMS).
    segment : str or sequence of str, optional
        Segment(s) to recall instead of ``warm``, ``high_recall`` and ``low_recall``.
    limit : int, optional
        Most customers to list, whatever the budget.
    horizon_days : int, optional
        The scores' horizon, quoted in the reasons when given.
    uplift : float
        Response uplift of a contact, from 0 to 1 (default :data:`DEFAULT_UPLIFT`).
    margin : float
        Margin on revenue, from 0 to 1 (default :data:`DEFAULT_MARGIN`).
    include_likely_buyers : bool
        Keep customers with ``p_repurchase >= likely_buyer`` (left out by default: they are
        expected to buy without a contact).
    likely_buyer : float
        That threshold (default :data:`DEFAULT_LIKELY_BUYER`).
    stop_at_peak : bool
        Cut the list where the expected profit peaks when that comes before the budget.

    Returns
    -------
    RecallPlan
        The list, the profit curve, its peak, the ROI and who was left out and why.

    Raises
    ------
    ConfigError
        A parameter is out of range or of the wrong type; the message names it.
    DataValidationError
        ``scores`` lacks a needed column.

    Notes
    -----
    Per candidate: ``p_won_back = uplift * p_alive * (1 - p_repurchase)``,
    ``expected_margin = p_won_back * margin * order_value`` and ``expected_profit =
    expected_margin - cost_per_contact``. Candidates are ranked by expected profit (ties:
    higher ``p_won_back``, then ``customer_id``) and the first ``floor(budget / cost)`` are
    kept (decimal arithmetic, so the cost never exceeds the budget), or ``limit`` if fewer.
    The list can hold contacts with a negative expected profit when the budget reaches them;
    ``peak_contacts`` says where to stop instead.
    """
    budget = _number(budget, "budget", low=0)
    cost = _number(cost_per_contact, "cost_per_contact", low=0)
    uplift = _number(uplift, "uplift", low=0, high=1)
    margin = _number(margin, "margin", low=0, high=1)
    likely_buyer = _number(likely_buyer, "likely_buyer", low=0, high=1)
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

    ids = scores["customer_id"]
    duplicated = ids[ids.duplicated(keep=False) & ids.notna()]
    if len(duplicated):
        shown = ", ".join(map(repr, duplicated.astype(str).unique()[:5]))
        raise DataValidationError(
            "scores",
            f"customer_id must be unique; {duplicated.nunique()} id(s) appear more than once "
            f"(e.g. {shown})",
        )
    in_segment = scores["segment"].isin(chosen).to_numpy() & ids.notna().to_numpy()
    p_rep = pd.to_numeric(scores["p_repurchase"], errors="coerce").to_numpy(dtype=float)
    likely = in_segment & (p_rep >= likely_buyer) & (not include_likely_buyers)
    excluded = {"segment not recalled": int((~scores["segment"].isin(chosen)).sum())}
    if ids.isna().any():
        excluded["missing customer_id"] = int((ids.isna() & scores["segment"].isin(chosen)).sum())
    if likely.any():
        excluded[f"likely to buy anyway (p_repurchase >= {likely_buyer:g})"] = int(likely.sum())
    extra = [
        c
        for c in ("expected_purchases", "days_since_last_purchase", "purchase_cycle_days")
        if c in scores.columns
    ]
    pool = scores.loc[in_segment & ~likely, [*_NEEDED, *extra]].copy()
    if "reasons" in scores.columns:
        pool["reasons"] = scores.loc[pool.index, "reasons"]
    pool["customer_id"] = pool["customer_id"].astype(str)
    for name in ("p_alive", "p_repurchase", "expected_revenue", *extra):
        pool[name] = pd.to_numeric(pool[name], errors="coerce").astype(float)
    unscorable = pool[["p_alive", "p_repurchase", "expected_revenue"]].isna().any(axis=1)
    if unscorable.any():
        excluded["missing score"] = int(unscorable.sum())
        pool = pool.loc[~unscorable]
    pool["order_value"] = _order_value(pool)
    pool["margin_value"] = margin * pool["order_value"]
    pool["p_won_back"] = uplift * pool["p_alive"].clip(0, 1) * (1 - pool["p_repurchase"].clip(0, 1))
    pool["expected_margin"] = pool["p_won_back"] * pool["margin_value"]
    pool["expected_profit"] = pool["expected_margin"] - cost
    pool = pool.sort_values(
        ["expected_profit", "p_won_back", "customer_id"],
        ascending=[False, False, True],
        kind="mergesort",
    ).reset_index(drop=True)

    n_all = len(pool)
    curve_profit = np.concatenate([[0.0], np.cumsum(pool["expected_margin"].to_numpy())])
    curve_cost = np.concatenate([[0.0], _cumulative_cost(n_all, cost)])
    profit = curve_profit - curve_cost
    peak = int(np.argmax(profit))  # the first maximum: no contact that adds nothing
    n = min(n_all, _affordable(budget, cost), n_all if most is None else most)
    while n and curve_cost[n] > budget:  # a float product just above the budget
        n -= 1
    if stop_at_peak:
        n = min(n, peak)
    curve = pd.DataFrame(
        {
            "contacted": np.arange(n_all + 1),
            "cost": curve_cost,
            "expected_margin": curve_profit,
            "expected_profit": profit,
            "within_budget": curve_cost <= budget,
        }
    )
    top = pool.iloc[:n].copy()
    top.insert(0, "rank", np.arange(1, n + 1))
    top["expected_value"] = top["expected_profit"]  # the 0.6 name, kept for one release
    top["cost"] = cost
    top["cumulative_cost"] = curve_cost[1 : n + 1]
    top["cumulative_profit"] = profit[1 : n + 1]
    for name in ("days_since_last_purchase", "purchase_cycle_days"):
        if name not in top.columns:
            top[name] = np.nan
    top["reason"] = _reasons(top, horizon)
    return RecallPlan(
        contacts=top[list(RECALL_COLUMNS)].reset_index(drop=True),
        curve=curve,
        budget=budget,
        cost_per_contact=cost,
        uplift=uplift,
        margin=margin,
        candidates=n_all,
        excluded=excluded,
        peak_contacts=peak,
        peak_profit=float(profit[peak]),
    )


def recall_list(
    scores: pd.DataFrame,
    *,
    budget: float,
    cost_per_contact: float,
    segment: str | Sequence[str] | None = None,
    limit: int | None = None,
    horizon_days: int | None = None,
    uplift: float = DEFAULT_UPLIFT,
    margin: float = DEFAULT_MARGIN,
    include_likely_buyers: bool = False,
    stop_at_peak: bool = False,
) -> pd.DataFrame:
    """List the customers to contact under a budget, best first (:func:`plan_recall`'s list).

    Parameters
    ----------
    scores : pandas.DataFrame
        A score table with at least ``customer_id``, ``segment``, ``value_tier``,
        ``p_alive``, ``p_repurchase`` and ``expected_revenue``.
    budget : float
        Money available for the contacts, at least 0.
    cost_per_contact : float
        Cost of contacting one customer, more than 0.
    segment : str or sequence of str, optional
        Segment(s) to recall instead of ``warm``, ``high_recall`` and ``low_recall``.
    limit : int, optional
        Most customers to list, whatever the budget.
    horizon_days : int, optional
        The scores' horizon, quoted in the reasons when given.
    uplift : float
        Response uplift of a contact (default :data:`DEFAULT_UPLIFT`).
    margin : float
        Margin on revenue (default :data:`DEFAULT_MARGIN`).
    include_likely_buyers : bool
        Keep customers very likely to buy on their own.
    stop_at_peak : bool
        Cut where the expected profit peaks when that comes before the budget.

    Returns
    -------
    pandas.DataFrame
        Columns :data:`RECALL_COLUMNS`: ``rank`` (from 1), the customer's scores,
        ``order_value``, ``p_won_back``, ``expected_margin``, ``expected_profit`` (and its
        former name ``expected_value``), ``cost``, ``cumulative_cost`` (never above
        ``budget``), ``cumulative_profit`` and ``reason`` in plain words.

    Raises
    ------
    ConfigError
        A parameter is out of range or of the wrong type.
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
    ...     "expected_purchases": [1.0, 0.5, 2.0, 0.1],
    ... })
    >>> recall_list(scores, budget=0.2, cost_per_contact=0.1)[["rank", "customer_id", "cost"]]
       rank customer_id  cost
    0     1           a   0.1
    1     2           b   0.1
    """
    return plan_recall(
        scores,
        budget=budget,
        cost_per_contact=cost_per_contact,
        segment=segment,
        limit=limit,
        horizon_days=horizon_days,
        uplift=uplift,
        margin=margin,
        include_likely_buyers=include_likely_buyers,
        stop_at_peak=stop_at_peak,
    ).contacts
