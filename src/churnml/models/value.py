"""Customer lifetime value: discounted expected margin over a horizon."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from churnml.exceptions import ConfigError

__all__ = ["ValueSettings", "lifetime_value"]

_DAYS_PER_MONTH = 365.25 / 12


@dataclass(frozen=True)
class ValueSettings:
    """How CLV is computed.

    Parameters
    ----------
    horizon_days : int
        CLV horizon (default one year).
    margin : float
        Share of revenue that is margin, in (0, 1]. The default 1.0 makes CLV discounted
        revenue; set your gross margin.
    annual_discount_rate : float
        Yearly discount rate (default 10 %).
    acquisition_cost : float, optional
        Cost of acquiring a customer; gives net CLV and the payback time.
    """

    horizon_days: int = 365
    margin: float = 1.0
    annual_discount_rate: float = 0.10
    acquisition_cost: float | None = None

    def __post_init__(self) -> None:
        if not (isinstance(self.horizon_days, int) and self.horizon_days > 0):
            raise ConfigError(
                f"ValueSettings.horizon_days must be a positive whole number; "
                f"got {self.horizon_days!r}"
            )
        if not 0 < self.margin <= 1:
            raise ConfigError(f"ValueSettings.margin must be in (0, 1]; got {self.margin!r}")
        if not 0 <= self.annual_discount_rate < 1:
            raise ConfigError(
                "ValueSettings.annual_discount_rate must be in [0, 1); "
                f"got {self.annual_discount_rate!r}"
            )
        if self.acquisition_cost is not None and self.acquisition_cost < 0:
            raise ConfigError(
                f"ValueSettings.acquisition_cost must be >= 0; got {self.acquisition_cost!r}"
            )


def lifetime_value(
    expected_purchases: Callable[[float], np.ndarray],
    spend: np.ndarray,
    index: pd.Index,
    settings: ValueSettings | None = None,
) -> pd.DataFrame:
    """Discount expected monthly margin over the CLV horizon.

    Parameters
    ----------
    expected_purchases : callable
        ``expected_purchases(days)`` returns each customer's expected purchases within
        ``days`` of as-of (non-decreasing in ``days``).
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
    cumulative = np.column_stack([expected_purchases(float(t)) for t in edges])
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
