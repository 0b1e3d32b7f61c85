"""Customer lifetime value: discounted expected margin over a horizon."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

from churnml.settings import ValueSettings

__all__ = ["ValueSettings", "lifetime_value", "no_value"]

_DAYS_PER_MONTH = 365.25 / 12


def lifetime_value(
    expected_purchases: Callable[[np.ndarray], np.ndarray],
    spend: np.ndarray,
    index: pd.Index,
    settings: ValueSettings | None = None,
) -> pd.DataFrame:
    """Discount expected monthly margin over the CLV horizon.

    Parameters
    ----------
    expected_purchases : callable
        ``expected_purchases(days)`` returns, for an array of horizons in days, each
        customer's expected purchases within each of them of as-of: shape
        ``(len(index), len(days))``, non-decreasing along ``days``.
    spend : numpy.ndarray
        Expected revenue per purchase of each customer.
    index : pandas.Index
        Customer index of the result.
    settings : ValueSettings, optional
        Horizon, margin, discount rate, acquisition cost.

    Returns
    -------
    pandas.DataFrame
        ``clv``; with an acquisition cost also ``net_clv`` and ``payback_days`` (days until
        the discounted margin covers the cost; NaN when not within the horizon).

    Notes
    -----
    The horizon is cut into months (the last one shorter); the purchases expected in month i
    are ``E(t_i) - E(t_{i-1})`` and their margin is discounted by
    ``(1 + annual rate) ** (-t_i / 365.25)``, i.e. paid at the end of the month.
    """
    settings = settings or ValueSettings()
    h = settings.horizon_days
    edges = np.minimum(np.arange(1, int(np.ceil(h / _DAYS_PER_MONTH)) + 1) * _DAYS_PER_MONTH, h)
    cumulative = np.asarray(expected_purchases(edges), dtype=float).reshape(len(index), edges.size)
    monthly = np.diff(np.column_stack([np.zeros(len(index)), cumulative]), axis=1)
    monthly = np.maximum(monthly, 0.0)
    discount = (1.0 + settings.annual_discount_rate) ** (-edges / 365.25)
    margin_flow = monthly * discount * (np.asarray(spend, dtype=float) * settings.margin)[:, None]
    out = pd.DataFrame({"clv": margin_flow.sum(axis=1)}, index=index)
    if settings.acquisition_cost is not None:
        out["net_clv"] = out["clv"] - settings.acquisition_cost
        covered = np.cumsum(margin_flow, axis=1) >= settings.acquisition_cost
        first = np.argmax(covered, axis=1)
        out["payback_days"] = np.where(covered.any(axis=1), edges[first], np.nan)
    return out


def no_value(index: pd.Index) -> pd.DataFrame:
    """Return a ``clv`` column of NaN: CLV not computed (a backtest reads none).

    Parameters
    ----------
    index : pandas.Index
        Customer index of the result.

    Returns
    -------
    pandas.DataFrame
        ``clv``, all NaN.
    """
    return pd.DataFrame({"clv": np.full(len(index), np.nan)}, index=index)
