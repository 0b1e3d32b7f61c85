"""Simulate transaction logs from the BG/NBD purchase process and Gamma-Gamma spend.

Used by tests that must recover known parameters, and by benchmarks that need logs of any size.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

__all__ = ["BGNBDParams", "GammaGammaParams", "simulate_transactions"]


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

    cust = np.concatenate(who)
    days = np.concatenate(when)
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
    truth = pd.DataFrame(
        {
            "customer_id": ids,
            "lambda_": lam * time_unit_days,
            "p_dropout": p_drop,
            "nu": nu,
            "mean_spend": spend.p / nu,
            "alive": alive,
            "first_purchase": origin + pd.to_timedelta(np.floor(birth * 86400.0), unit="s"),
        }
    )
    return transactions, truth
