"""Simulate transaction logs from the BG/NBD purchase process and Gamma-Gamma spend.

Used by tests that must recover known parameters, and by benchmarks that need logs of any size:
:func:`simulate_transactions` gives one row per purchase; :func:`simulate_retail_log` gives order
lines as a shop exports them (orders of several products, quantities, channels, returns, a
yearly and a weekly season).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

__all__ = ["BGNBDParams", "GammaGammaParams", "simulate_retail_log", "simulate_transactions"]


@dataclass(frozen=True)
class BGNBDParams:
    """BG/NBD parameters, rates per ``time_unit_days``.

    Parameters
    ----------
    r, alpha : float
        Purchase rate heterogeneity: lambda ~ Gamma(shape r, rate alpha).
    a, b : float
        Drop-out heterogeneity: p ~ Beta(a, b), drop-out chance after each repeat purchase.
    """

    r: float = 0.243
    alpha: float = 4.414
    a: float = 0.793
    b: float = 2.426


@dataclass(frozen=True)
class GammaGammaParams:
    """Gamma-Gamma spend parameters: value ~ Gamma(p, rate nu), nu ~ Gamma(q, rate v)."""

    p: float = 6.25
    q: float = 3.74
    v: float = 15.44


def simulate_transactions(
    n_customers: int,
    *,
    bgnbd: BGNBDParams | None = None,
    spend: GammaGammaParams | None = None,
    start: str = "2020-01-01",
    acquisition_days: int = 84,
    observation_days: int = 546,
    time_unit_days: float = 7.0,
    seed: int = 0,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Simulate a transaction log whose customers follow BG/NBD with Gamma-Gamma spend.

    Customers make their first purchase at a uniform time in the acquisition window, then buy
    at Poisson rate lambda while alive; after each repeat purchase they drop out with chance p.
    Defaults are the published CDNOW estimates (weekly rates), so a default log looks like CDNOW.

    Parameters
    ----------
    n_customers : int
        Number of customers.
    bgnbd : BGNBDParams, optional
        Purchase process parameters, rates per ``time_unit_days``.
    spend : GammaGammaParams, optional
        Spend parameters.
    start : str
        Date of the first possible purchase.
    acquisition_days : int
        First purchases are spread uniformly over this many days after ``start``.
    observation_days : int
        Length of the log from ``start``; no purchase falls after it.
    time_unit_days : float
        Days per time unit of the rates (7 for weekly parameters).
    seed : int
        Random seed; the same seed gives the same log.

    Returns
    -------
    transactions : pandas.DataFrame
        ``customer_id`` (zero-padded text), ``date``, ``amount``; one row per purchase.
    truth : pandas.DataFrame
        Per customer: ``customer_id``, ``lambda_`` (per time unit), ``p_dropout``, ``nu``,
        ``mean_spend`` (= p / nu), ``alive`` at the end of the log, ``first_purchase``.

    References
    ----------
    .. [1] Fader, Hardie and Lee (2005), Marketing Science 24(2), 275-284 (BG/NBD).
    .. [2] Fader, Hardie and Lee (2005), "RFM and CLV: using iso-value curves for customer base
       analysis", Journal of Marketing Research 42(4), 415-430 (Gamma-Gamma).
    """
    bgnbd = bgnbd or BGNBDParams()
    spend = spend or GammaGammaParams()
    rng = np.random.default_rng(seed)
    lam, p_drop, nu, birth, alive, cust, days = _purchase_process(
        n_customers, bgnbd, spend, acquisition_days, observation_days, time_unit_days, rng
    )
    amount = rng.gamma(spend.p, 1.0 / nu[cust])
    width = len(str(n_customers))
    ids = np.char.zfill(np.arange(1, n_customers + 1).astype(str), width)
    origin = pd.Timestamp(start)
    transactions = pd.DataFrame(
        {
            "customer_id": ids[cust],
            "date": origin + pd.to_timedelta(np.floor(days * 86400.0), unit="s"),
            "amount": np.round(amount, 2),
        }
    ).sort_values(["date", "customer_id"], kind="stable", ignore_index=True)
    first = origin + pd.to_timedelta(np.floor(birth * 86400.0), unit="s")
    truth = _truth(ids, lam, p_drop, nu, alive, first, spend, time_unit_days)
    return transactions, truth


def _truth(
    ids: np.ndarray,
    lam: np.ndarray,
    p_drop: np.ndarray,
    nu: np.ndarray,
    alive: np.ndarray,
    first_purchase: pd.DatetimeIndex,
    spend: GammaGammaParams,
    time_unit_days: float,
) -> pd.DataFrame:
    """Return each simulated customer's true parameters (rates per ``time_unit_days``)."""
    return pd.DataFrame(
        {
            "customer_id": ids,
            "lambda_": lam * time_unit_days,
            "p_dropout": p_drop,
            "nu": nu,
            "mean_spend": spend.p / nu,
            "alive": alive,
            "first_purchase": first_purchase,
        }
    )


def _purchase_process(
    n_customers: int,
    bgnbd: BGNBDParams,
    spend: GammaGammaParams,
    acquisition_days: float,
    observation_days: float,
    time_unit_days: float,
    rng: np.random.Generator,
) -> tuple[np.ndarray, ...]:
    """Draw every customer's BG/NBD purchase times, in days from the start.

    Returns
    -------
    tuple of numpy.ndarray
        ``lam`` (per day), ``p_drop``, ``nu``, ``birth``, ``alive`` per customer, then the
        purchases' customer positions and days, in rounds (every first purchase, then every
        second one, ...).
    """
    lam = rng.gamma(bgnbd.r, 1.0 / bgnbd.alpha, n_customers) / time_unit_days  # per day
    p_drop = rng.beta(bgnbd.a, bgnbd.b, n_customers)
    nu = rng.gamma(spend.q, 1.0 / spend.v, n_customers)
    birth = rng.uniform(0.0, acquisition_days, n_customers)

    who = [np.arange(n_customers)]
    when = [birth]
    t = birth.copy()
    alive = np.ones(n_customers, dtype=bool)
    active = np.arange(n_customers)  # alive and not yet past the end of the log
    while active.size:
        t_next = t[active] + rng.exponential(1.0, active.size) / lam[active]
        inside = t_next < observation_days
        buyers = active[inside]
        t[buyers] = t_next[inside]
        who.append(buyers)
        when.append(t_next[inside])
        dies = rng.random(buyers.size) < p_drop[buyers]
        alive[buyers[dies]] = False
        active = buyers[~dies]

    return lam, p_drop, nu, birth, alive, np.concatenate(who), np.concatenate(when)


#: Day of the year on which the yearly season peaks (10 December: the run-up to Christmas).
_PEAK_DAY = 344


def _season_clock(
    days: float, yearly: float, weekly: float, origin: pd.Timestamp
) -> tuple[np.ndarray, np.ndarray]:
    """Return calendar hours and the season's cumulative intensity at each, mean rate 1.

    Returns
    -------
    hours, clock : numpy.ndarray
        ``clock[i]`` is the operational time (in days) at calendar day ``hours[i] / 24``: the
        integral of ``(1 + yearly * cos(year angle)) * (1 + weekly * weekday factor)``, scaled
        so that it reaches ``days`` at the end. A purchase process in operational time, mapped
        back through the clock, buys more often in the peak season and on busy weekdays.
    """
    hours = np.arange(0.0, days * 24.0 + 1.0)
    stamp = origin + pd.to_timedelta(hours, unit="h")
    angle = 2.0 * np.pi * (stamp.day_of_year.to_numpy() - _PEAK_DAY) / 365.25
    # Sunday and Monday busiest, Thursday quietest (as in online retail)
    weekday = np.cos(2.0 * np.pi * (stamp.day_of_week.to_numpy() - 6.5) / 7.0)
    rate = (1.0 + yearly * np.cos(angle)) * (1.0 + weekly * weekday)
    clock = np.concatenate([[0.0], np.cumsum(rate[:-1])])
    return hours, clock * days / clock[-1]


def simulate_retail_log(
    n_customers: int,
    *,
    bgnbd: BGNBDParams | None = None,
    spend: GammaGammaParams | None = None,
    start: str = "2020-01-01",
    acquisition_days: int = 365,
    observation_days: int = 730,
    time_unit_days: float = 7.0,
    lines_per_order: float = 2.5,
    n_products: int = 5_000,
    return_share: float = 0.03,
    yearly: float = 0.35,
    weekly: float = 0.15,
    channels: tuple[str, ...] = ("web", "store", "app"),
    seed: int = 0,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Simulate the order lines of a shop whose customers follow BG/NBD with Gamma-Gamma spend.

    Orders follow :func:`simulate_transactions`'s process in an operational time that runs
    faster in the peak season (early December) and on busy weekdays, so that purchase counts
    have a yearly and a weekly cycle while each customer's process stays BG/NBD. Each order
    has ``1 + Poisson(lines_per_order - 1)`` lines of products drawn by a power law of
    popularity (a few best sellers, a long tail); the order's Gamma-Gamma value is split over
    its lines. A share of lines is returned a few days later: a line of negative quantity and
    amount under its own order id (``R...``), on the same product. Each customer has a usual
    channel and uses it for four orders in five.

    Parameters
    ----------
    n_customers : int
        Number of customers (about ``7 * n_customers`` lines with the defaults).
    bgnbd, spend : optional
        As in :func:`simulate_transactions` (rates per ``time_unit_days``).
    start : str
        Date of the first possible order.
    acquisition_days, observation_days : int
        First orders spread over the first ``acquisition_days``; the log ends after
        ``observation_days``.
    time_unit_days : float
        Days per time unit of the rates.
    lines_per_order : float
        Mean lines per order (at least 1).
    n_products : int
        Size of the catalogue.
    return_share : float
        Chance that a line is returned.
    yearly, weekly : float
        Amplitudes of the yearly and weekly cycles of the purchase rate (0: none).
    channels : tuple of str
        Sales channels, the first the most used.
    seed : int
        Random seed; the same seed gives the same log.

    Returns
    -------
    lines : pandas.DataFrame
        ``customer_id``, ``order_id``, ``date``, ``product_id``, ``quantity``, ``amount``,
        ``channel``; sorted by date, then order id. Lines of one order share their timestamp.
    truth : pandas.DataFrame
        As :func:`simulate_transactions`'s, plus each customer's ``channel``.

    Raises
    ------
    ValueError
        ``lines_per_order`` below 1.

    Examples
    --------
    >>> lines, truth = simulate_retail_log(200, seed=1)
    >>> list(lines.columns)
    ['customer_id', 'order_id', 'date', 'product_id', 'quantity', 'amount', 'channel']
    >>> bool((lines["amount"] < 0).any()), len(truth)
    (True, 200)
    """
    if lines_per_order < 1:
        raise ValueError(f"lines_per_order must be at least 1, got {lines_per_order}")
    bgnbd = bgnbd or BGNBDParams()
    spend = spend or GammaGammaParams()
    rng = np.random.default_rng(seed)
    origin = pd.Timestamp(start)
    lam, p_drop, nu, birth, alive, cust, op_days = _purchase_process(
        n_customers, bgnbd, spend, acquisition_days, observation_days, time_unit_days, rng
    )
    hours, clock = _season_clock(observation_days, yearly, weekly, origin)
    days = np.interp(op_days, clock, hours) / 24.0  # operational time back to the calendar
    seconds = np.floor(days * 86400.0).astype(np.int64)
    order = np.lexsort((cust, seconds))
    cust, seconds = cust[order], seconds[order]
    n_orders = cust.size
    value = rng.gamma(spend.p, 1.0 / nu[cust])

    n_lines = 1 + rng.poisson(lines_per_order - 1.0, n_orders)
    of = np.repeat(np.arange(n_orders), n_lines)
    share = rng.gamma(1.0, 1.0, of.size)
    share /= np.bincount(of, weights=share)[of]
    popularity = 1.0 / np.arange(1, n_products + 1) ** 1.1
    product = rng.choice(n_products, of.size, p=popularity / popularity.sum())
    quantity = rng.geometric(0.6, of.size)
    amount = np.maximum(np.round(value[of] * share, 2), 0.01)  # no line is free

    usual = rng.choice(len(channels), n_customers, p=_channel_shares(len(channels)))
    switch = rng.random(n_orders) < 0.2
    used = np.where(switch, rng.integers(0, len(channels), n_orders), usual[cust])

    width = len(str(n_customers))
    ids = np.char.zfill(np.arange(1, n_customers + 1).astype(str), width)
    order_ids = np.char.add("O", np.char.zfill(np.arange(1, n_orders + 1).astype(str), 9))
    products = np.char.add("P", np.char.zfill(np.arange(n_products).astype(str), 5))
    names = np.asarray(channels, dtype=object)

    back = rng.random(of.size) < return_share
    later = seconds[of[back]] + np.ceil(rng.exponential(10.0, back.sum()) * 86400).astype(np.int64)
    kept = later < observation_days * 86400  # a return after the log ends is not in it
    ret = np.flatnonzero(back)[kept]
    frame = pd.DataFrame(
        {
            "customer_id": np.concatenate([ids[cust[of]], ids[cust[of[ret]]]]),
            "order_id": np.concatenate(
                [order_ids[of], np.char.replace(order_ids[of[ret]], "O", "R")]
            ),
            "date": origin + pd.to_timedelta(np.concatenate([seconds[of], later[kept]]), unit="s"),
            "product_id": np.concatenate([products[product], products[product[ret]]]),
            "quantity": np.concatenate([quantity, -quantity[ret]]),
            "amount": np.concatenate([amount, -amount[ret]]),
            "channel": np.concatenate([names[used[of]], names[used[of[ret]]]]),
        }
    )
    frame = frame.sort_values(["date", "order_id"], kind="stable", ignore_index=True)
    first = origin + pd.to_timedelta(np.floor(np.interp(birth, clock, hours) * 3600.0), unit="s")
    truth = _truth(ids, lam, p_drop, nu, alive, first, spend, time_unit_days)
    truth["channel"] = names[usual]
    return frame, truth


def _channel_shares(n: int) -> np.ndarray:
    """Return channel shares falling by half from one channel to the next."""
    shares = 0.5 ** np.arange(n)
    return shares / shares.sum()
