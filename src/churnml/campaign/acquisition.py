"""Acquisition against retention: when a new customer pays back what it cost to win them."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from churnml.exceptions import ConfigError, DataValidationError

__all__ = ["Breakeven", "cac_breakeven"]


@dataclass(frozen=True)
class Breakeven:
    """What a new customer has earned back of their acquisition cost.

    Attributes
    ----------
    acquisition_cost, order_value, margin, repeat_order_value : float
        The inputs (``repeat_order_value`` defaults to ``order_value``).
    after_first_order : float
        ``order_value * margin - acquisition_cost``: negative while the customer has not paid
        back (cost 50, order 100, margin 20 % gives -30).
    repeat_purchases_to_break_even : int or None
        Repeat purchases needed to pay back the rest (0 when the first order does; None when a
        repeat purchase earns nothing).
    customers : int
        Customers of the score table used (0 without one).
    share_paying_back : float or None
        Share of those whose CLV (expected discounted margin over the CLV horizon) covers what
        is left after the first order.
    clv_mean, clv_median : float or None
        Their mean and median CLV, as margin at ``margin``.
    by_tier : dict of str to float
        ``share_paying_back`` per value tier.
    """

    acquisition_cost: float
    order_value: float
    margin: float
    repeat_order_value: float
    after_first_order: float
    repeat_purchases_to_break_even: int | None
    customers: int = 0
    share_paying_back: float | None = None
    clv_mean: float | None = None
    clv_median: float | None = None
    by_tier: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """Return the figures as a JSON-ready dictionary.

        Returns
        -------
        dict
            Every attribute.
        """
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


def _positive(value: object, name: str, *, upper: float | None = None) -> float:
    number = (
        float(value) if isinstance(value, int | float) and not isinstance(value, bool) else math.nan
    )
    if math.isfinite(number) and number >= 0 and (upper is None or number <= upper):
        return number
    bound = f"from 0 to {upper:g}" if upper is not None else "of at least 0"
    raise ConfigError(f"{name} must be a number {bound}; got {value!r}")


def cac_breakeven(
    acquisition_cost: float,
    order_value: float,
    margin: float,
    *,
    repeat_order_value: float | None = None,
    scores: pd.DataFrame | None = None,
    clv_margin: float = 1.0,
) -> Breakeven:
    """Break-even of the customer acquisition cost (CAC), and who in the scores reaches it.

    Parameters
    ----------
    acquisition_cost : float
        Cost of winning one customer.
    order_value : float
        Revenue of the first order.
    margin : float
        Margin on revenue, from 0 to 1.
    repeat_order_value : float, optional
        Revenue of a repeat order (default: ``order_value``).
    scores : pandas.DataFrame, optional
        A score table: its ``clv`` (and ``value_tier``) say which share of customers is
        expected to pay back the rest.
    clv_margin : float
        The margin the scores' CLV was computed with (``ValueSettings.margin`` of the model;
        1.0, the default, means the CLV is revenue). Each CLV is turned into margin at
        ``margin`` (``clv / clv_margin * margin``) before it is set against what is left to
        pay back, which is margin.

    Returns
    -------
    Breakeven
        The balance after the first order, the repeat purchases needed and, with scores, the
        share of customers whose CLV covers the rest.

    Raises
    ------
    ConfigError
        A number is negative or the margin above 1.
    DataValidationError
        ``scores`` has no ``clv`` column.

    Examples
    --------
    >>> b = cac_breakeven(50, 100, 0.2)
    >>> round(b.after_first_order, 2), b.repeat_purchases_to_break_even
    (-30.0, 2)
    """
    cac = _positive(acquisition_cost, "acquisition_cost")
    value = _positive(order_value, "order_value")
    margin = _positive(margin, "margin", upper=1.0)
    repeat = (
        value if repeat_order_value is None else _positive(repeat_order_value, "repeat_order_value")
    )
    after = value * margin - cac
    per_repeat = repeat * margin
    if after >= 0:
        needed: int | None = 0
    elif per_repeat > 0:
        # a small tolerance so that 30 / 20 * 20 == 30 exactly is not one purchase too many
        needed = math.ceil(-after / per_repeat - 1e-9)
    else:
        needed = None
    if scores is None:
        return Breakeven(cac, value, margin, repeat, after, needed)
    if "clv" not in scores.columns:
        raise DataValidationError("scores", "missing column 'clv' for the CAC break-even")
    clv_margin = _positive(clv_margin, "clv_margin", upper=1.0)
    if clv_margin == 0:
        raise ConfigError("clv_margin must be above 0: a CLV computed at no margin is 0")
    clv = pd.to_numeric(scores["clv"], errors="coerce") / clv_margin * margin
    known = clv.notna()
    covers = clv >= -min(after, 0.0)
    by_tier: dict[str, float] = {}
    if "value_tier" in scores.columns:
        tiers = scores["value_tier"].astype(str)
        for tier, part in covers[known].groupby(tiers[known], sort=False):
            by_tier[str(tier)] = float(part.mean())
    n = int(known.sum())
    return Breakeven(
        cac,
        value,
        margin,
        repeat,
        after,
        needed,
        customers=n,
        share_paying_back=float(covers[known].mean()) if n else None,
        clv_mean=float(clv[known].mean()) if n else None,
        clv_median=float(np.median(clv[known])) if n else None,
        by_tier=by_tier,
    )
