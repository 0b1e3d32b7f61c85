"""Next-purchase timing as a distribution, from any model's P(first purchase within t).

Given ``F(t)`` = P(at least one purchase within t days of as-of), the day of the next purchase
``D`` (1 = the day after as-of) has ``P(D <= d) = F(d)``. Conditional on a purchase within the
horizon H, ``P(D <= d | D <= H) = F(d) / F(H)``; its mean, median and quantiles are what the
score table reports.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

__all__ = ["TIMING_COLUMNS", "no_timing", "timing_from_cdf"]

#: Columns :func:`timing_from_cdf` returns.
TIMING_COLUMNS = (
    "expected_days_to_next_purchase",
    "median_days_to_next_purchase",
    "days_to_next_purchase_p10",
    "days_to_next_purchase_p90",
    "p_buy_7d",
    "p_buy_30d",
    "p_buy_90d",
)

_MAX_GRID = 96


def timing_from_cdf(
    cdf: Callable[[np.ndarray], np.ndarray],
    horizon_days: int,
    index: pd.Index,
) -> pd.DataFrame:
    """Summarise the next-purchase day distribution of every customer.

    Parameters
    ----------
    cdf : callable
        ``cdf(days)`` returns an array of shape ``(n_customers, len(days))`` with
        P(at least one purchase within ``days``); ``days`` are whole days from as-of.
    horizon_days : int
        Horizon H the expectation and quantiles are conditioned on.
    index : pandas.Index
        Customer index of the result.

    Returns
    -------
    pandas.DataFrame
        ``expected_days_to_next_purchase`` (mean day given a purchase within H), the median and
        the 10th and 90th percentiles (an 80 % interval) of that day, and ``p_buy_7d``,
        ``p_buy_30d``, ``p_buy_90d`` (unconditional).

    Notes
    -----
    The cdf is evaluated on at most 96 days spread over [0, H] and interpolated linearly in
    between, which keeps the cost independent of H; F is smooth, so the error is far below a
    day. The mean and the quantiles are read off the interpolated daily values in closed form
    per segment, without building them (the daily customers x (H + 1) array took 80 % of the
    time at 90 days and 96 % at 1,000).
    """
    h = int(horizon_days)
    grid = np.unique(np.round(np.linspace(0, h, min(h + 1, _MAX_GRID))).astype(int))
    extra = np.array([7, 30, 90])
    values = cdf(np.concatenate([grid, extra]).astype(float))
    on_grid, at_extra = values[:, : grid.size], values[:, grid.size :]
    on_grid = np.maximum.accumulate(np.clip(on_grid, 0.0, 1.0), axis=1)
    total = on_grid[:, -1]
    safe = np.where(total > 0, total, 1.0)
    cond = on_grid / safe[:, None]
    # Between grid points the conditional CDF is linear in the day, so every daily sum and
    # first crossing has a closed form per segment: no customers x (H + 1) array is built.
    # E[D | D <= H] = sum_{d=0..H-1} (1 - cond(d)); over a segment [g_k, g_k + s) the days sum
    # to s * c_k + (c_{k+1} - c_k) * (s - 1) / 2.
    step = np.diff(grid).astype(float)
    weight = np.zeros(grid.size)
    weight[:-1] += (step + 1.0) / 2.0
    weight[1:] += (step - 1.0) / 2.0
    expected = h - cond @ weight if grid.size > 1 else np.zeros(len(cond))

    def quantile(q: float) -> np.ndarray:
        # first whole day whose interpolated conditional CDF reaches q
        level = q - 1e-12
        above = cond >= level
        k = np.argmax(above, axis=1)  # first grid point at or above q (0: none, or day 0)
        lo = np.maximum(k - 1, 0)
        rows = np.arange(len(cond))
        c_lo, c_hi = cond[rows, lo], cond[rows, k]
        rise = np.where(c_hi > c_lo, c_hi - c_lo, 1.0)
        inside = np.ceil((level - c_lo) / rise * (grid[k] - grid[lo]) - 1e-9)
        day = grid[lo] + np.clip(inside, 1.0, grid[k] - grid[lo])
        return np.where(k == 0, 0.0, day).astype(float)

    out = pd.DataFrame(
        {
            "expected_days_to_next_purchase": expected,
            "median_days_to_next_purchase": quantile(0.5),
            "days_to_next_purchase_p10": quantile(0.1),
            "days_to_next_purchase_p90": quantile(0.9),
            "p_buy_7d": np.clip(at_extra[:, 0], 0, 1),
            "p_buy_30d": np.clip(at_extra[:, 1], 0, 1),
            "p_buy_90d": np.clip(at_extra[:, 2], 0, 1),
        },
        index=index,
    )
    # Nobody expected to buy: the conditional distribution is undefined; report the horizon.
    none = total <= 0
    out.loc[none, list(TIMING_COLUMNS[:4])] = float(h)
    for col in TIMING_COLUMNS[1:4]:
        out[col] = out[col].clip(lower=1.0)
    return out


def no_timing(index: pd.Index) -> pd.DataFrame:
    """Return the timing columns all NaN: timing not computed (a backtest of ``train``).

    Parameters
    ----------
    index : pandas.Index
        Customer index of the result.

    Returns
    -------
    pandas.DataFrame
        :data:`TIMING_COLUMNS`, all NaN.
    """
    return pd.DataFrame(np.nan, index=index, columns=list(TIMING_COLUMNS))
