"""The level a family misses by, learned from its backtest windows, and the range of its totals.

A family's totals (how many customers buy, how often, how much) drift between the histories it
is fitted on and the scoring date. Every backtest window measures that miss as actual /
predicted. :func:`learn_levels` turns the rolling-origin windows, and the same calendar window
one year earlier where the history has it, into the factors
:class:`~churnml.models.level.LevelAdjusted` applies, and into an interval for the totals.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from churnml.evaluation.result import Evaluation, _json_ready
from churnml.models.level import LEVEL_CLIP, learn_level

__all__ = [
    "LEVEL_RULE",
    "ROLLING_WEIGHT",
    "SEASON_MIN_HISTORY_DAYS",
    "LevelFit",
    "corrected_ratios",
    "learn_levels",
    "own_season",
    "window_ratios",
]

#: History a year-ago fit needs before its miss is read as the season's: a model fitted on a
#: few months misses for reasons of its own (young customers), which would pass for seasonality.
SEASON_MIN_HISTORY_DAYS = 180
#: How much of the rolling windows' mean miss is applied (in log terms): half. Measured on the
#: BG/NBD miss of 90-day windows (mean |log(actual / corrected)| of the buyers total), the full
#: geometric mean brought CDNOW from 0.074 to 0.054 but UCI Online Retail 2009-2011 from 0.156
#: to 0.248 (its windows' misses are the season they fall in); half of it keeps CDNOW's gain
#: (0.054) and halves UCI's loss (0.195). The year-ago window is applied whole (0.137 to 0.029).
ROLLING_WEIGHT = 0.5
#: Which ratio each level factor reads (actual / predicted of the metric's total).
_RATIO_OF = {"buyers": "buyers_ratio", "purchases": "purchases_ratio", "revenue": "revenue_ratio"}

LEVEL_RULE = (
    "level factors = actual / predicted totals (buyers = sum of P(repurchase), purchases, "
    "revenue) of the champion family in the backtest windows: none when the family set its "
    "own seasonal level (LightGBM families: BG/NBD's level times its miss a year earlier), "
    "else the same calendar window one year earlier when the history has it (with "
    f"{SEASON_MIN_HISTORY_DAYS} days before it), else the geometric mean over the rolling "
    f"windows with {SEASON_MIN_HISTORY_DAYS} days of history before them, raised to "
    f"{ROLLING_WEIGHT} (half of their miss, in log terms) when there are at "
    "least 2, else 1 (no correction); clipped to "
    f"[{LEVEL_CLIP[0]}, {LEVEL_CLIP[1]}]. CLV is rescaled by the geometric mean of every "
    "window's revenue ratio once the windows' label periods cover the CLV horizon, else not. "
    "The interval of a total is the corrected total times the range of the windows' "
    "corrected ratios, widened to +-2 standard deviations of their logarithms"
)


def _history_days(evaluation: Evaluation) -> float:
    """Longest customer history at a window's cutoff.

    ``T`` is in the window's purchase unit; in weeks this under-counts, so weekly windows are
    kept out of the rolling level unless long, which leaves the totals uncorrected: the safe
    side.

    Returns
    -------
    float
        The largest ``T`` of the window's summary; infinity when the window carries none.
    """
    summary = evaluation.summary
    if summary is None or summary.empty or "T" not in summary.columns:
        return math.inf
    return float(summary["T"].max())


def window_ratios(evaluation: Evaluation, family: str) -> dict[str, float]:
    """Return a family's actual / predicted totals in one backtest window.

    Parameters
    ----------
    evaluation : Evaluation
        One backtest window.
    family : str
        Model key.

    Returns
    -------
    dict of str to float
        ``buyers``, ``purchases``, ``revenue``: actual / predicted (NaN where the family
        failed in the window or nothing was predicted or bought).

    Examples
    --------
    >>> import pandas as pd
    >>> from churnml.evaluation import Evaluation
    >>> from churnml.evaluation.level import window_ratios
    >>> ev = Evaluation(pd.Timestamp("1997-12-31"), 90, pd.DataFrame(), pd.DataFrame(),
    ...                 metrics={"bgnbd": {"buyers_ratio": 1.25, "purchases_ratio": 0.5,
    ...                                    "revenue_ratio": 2.0}})
    >>> window_ratios(ev, "bgnbd")
    {'buyers': 0.8, 'purchases': 2.0, 'revenue': 0.5}
    """
    metrics = evaluation.metrics.get(family) or {}
    out = {}
    for key, metric in _RATIO_OF.items():
        predicted_over_actual = metrics.get(metric, float("nan"))
        try:
            value = float(predicted_over_actual)
        except (TypeError, ValueError):
            value = float("nan")
        out[key] = 1.0 / value if math.isfinite(value) and value > 0 else float("nan")
    return out


def corrected_ratios(ratios: Sequence[float]) -> list[float]:
    """Each window's actual / predicted ratio after the level the *other* windows teach.

    Leave-one-out: window ``w`` is divided by the rolling factor the others teach
    (:func:`~churnml.models.level.learn_level` with :data:`ROLLING_WEIGHT`), so a window never
    corrects itself (which would make every level look right). With a single usable window
    there is nothing to learn from and its ratio is returned as is.

    Parameters
    ----------
    ratios : sequence of float
        Actual / predicted totals, one per window (NaN for a window the family failed).

    Returns
    -------
    list of float
        The corrected ratios, NaN where the input is.

    Examples
    --------
    >>> from churnml.evaluation.level import corrected_ratios
    >>> [round(r, 3) for r in corrected_ratios([1.44, 1.44, 1.44])]
    [1.2, 1.2, 1.2]
    >>> corrected_ratios([0.7])
    [0.7]
    """
    values = [float(r) for r in ratios]
    usable = [i for i, r in enumerate(values) if math.isfinite(r) and r > 0]
    if len(usable) < 2:
        return values
    out = []
    for i, r in enumerate(values):
        if i not in usable:
            out.append(r)
            continue
        others = [values[j] for j in usable if j != i]
        out.append(r / learn_level(others, ROLLING_WEIGHT))
    return out


@dataclass
class LevelFit:
    """The level factors of one family, where they came from, and the range of its totals.

    Attributes
    ----------
    family : str
        The family the factors are for.
    factors : dict of str to float
        ``buyers``, ``purchases``, ``revenue``, ``clv``: what
        :class:`~churnml.models.level.LevelAdjusted` multiplies the totals by.
    method : str
        ``seasonal`` (the same window a year earlier), ``rolling`` (geometric mean of the
        rolling windows), ``own`` (the family set its own seasonal level: no factor) or
        ``none`` (fewer than 2 windows: no correction).
    windows : list of dict
        One row per window used: ``cutoff``, ``kind`` (``rolling`` or ``seasonal``) and the
        actual / predicted ``buyers``, ``purchases`` and ``revenue``.
    interval : dict of str to list of float
        ``buyers``, ``purchases``, ``revenue``: ``[low, high]`` multipliers of the corrected
        predicted total (None where no window had a usable ratio).
    notes : list of str
        What was not possible and why.
    """

    family: str
    factors: dict[str, float]
    method: str
    windows: list[dict[str, Any]] = field(default_factory=list)
    interval: dict[str, list[float] | None] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """Return the fit as JSON-ready data (NaN written as None).

        Returns
        -------
        dict
            ``family``, ``factors``, ``method``, ``windows``, ``interval``, ``notes``, ``rule``.
        """
        return _json_ready(
            {
                "family": self.family,
                "factors": self.factors,
                "method": self.method,
                "windows": self.windows,
                "interval": self.interval,
                "notes": self.notes,
                "rule": LEVEL_RULE,
            }
        )

    def totals(self, predicted: Mapping[str, float]) -> dict[str, dict[str, float | None]]:
        """Predicted totals with their interval.

        Parameters
        ----------
        predicted : mapping of str to float
            Totals of the level-adjusted model by ``buyers``, ``purchases``, ``revenue``
            (:attr:`~churnml.models.level.LevelAdjusted.totals_` ``["adjusted"]``).

        Returns
        -------
        dict
            ``buyers``, ``purchases``, ``revenue``: ``{"predicted", "low", "high"}`` (low and
            high are None without an interval).
        """
        out: dict[str, dict[str, float | None]] = {}
        for key in _RATIO_OF:
            total = float(predicted[key])
            band = self.interval.get(key)
            out[key] = {
                "predicted": total,
                "low": None if band is None else total * band[0],
                "high": None if band is None else total * band[1],
            }
        return out


def _interval(ratios: Sequence[float], factor: float) -> list[float] | None:
    usable = np.array([r for r in ratios if math.isfinite(r) and r > 0], dtype=float)
    if usable.size == 0:
        return None
    corrected = np.log(usable / factor)
    sd = float(np.std(corrected, ddof=1)) if usable.size >= 2 else 0.0
    # the windows overlap and are few, so their range alone would be too narrow: the wider of
    # the range and +-2 standard deviations, always holding the corrected total itself
    low = min(1.0, float(np.exp(corrected.min())), math.exp(-2 * sd))
    high = max(1.0, float(np.exp(corrected.max())), math.exp(2 * sd))
    return [low, high]


def _covered_days(cutoffs: Sequence[pd.Timestamp], horizon_days: int) -> int:
    """Days in the union of the windows' label periods (cutoff, cutoff + horizon]."""
    spans = sorted((c, c + pd.Timedelta(days=int(horizon_days))) for c in cutoffs)
    total, end = 0, None
    for start, stop in spans:
        if end is None or start >= end:
            total += (stop - start).days
        elif stop > end:
            total += (stop - end).days
        end = stop if end is None else max(end, stop)
    return total


def own_season(diagnostics: Mapping[str, Any]) -> bool:
    """Whether a fitted family corrected its level for the season itself.

    LightGBM families take their level from BG/NBD at the scoring date times BG/NBD's miss in
    the same window a year earlier (``seasonality`` in their diagnostics). Their backtest
    windows, fitted on shorter histories, mostly lacked that correction, so the windows' misses
    would correct the season a second time.

    Parameters
    ----------
    diagnostics : mapping
        A fitted scorer's ``diagnostics_``.

    Returns
    -------
    bool
        True when the fit applied a seasonal level of its own.
    """
    return bool(diagnostics.get("seasonality"))


def learn_levels(
    evaluations: Sequence[Evaluation],
    family: str,
    seasonal: Evaluation | None = None,
    *,
    clv_horizon_days: int = 365,
    own_level: str | None = None,
) -> LevelFit:
    """Learn a family's level factors from its backtest windows (see :data:`LEVEL_RULE`).

    Parameters
    ----------
    evaluations : sequence of Evaluation
        The rolling-origin windows, newest first.
    family : str
        The family (the champion).
    seasonal : Evaluation, optional
        The same calendar window one year before the scoring window, with ``family`` in it.
    clv_horizon_days : int
        CLV horizon: CLV is rescaled only when the windows' label periods together cover it.
    own_level : str, optional
        Set when the fitted family corrected its level for the season itself (what it did, in
        words; see :func:`own_season`): the factors are then 1 (method ``own``), and the
        windows still give the interval.

    Returns
    -------
    LevelFit
        Factors, method, per-window ratios, interval and notes.

    Examples
    --------
    >>> import pandas as pd
    >>> from churnml.evaluation import Evaluation
    >>> from churnml.evaluation.level import learn_levels
    >>> def window(cutoff, ratio):
    ...     metrics = {"buyers_ratio": ratio, "purchases_ratio": ratio, "revenue_ratio": ratio}
    ...     return Evaluation(pd.Timestamp(cutoff), 90, pd.DataFrame(), pd.DataFrame(),
    ...                       metrics={"gbm": metrics})
    >>> fit = learn_levels([window("1998-04-01", 1.5625), window("1998-03-02", 1.5625)], "gbm")
    >>> fit.method, fit.factors["buyers"], fit.factors["clv"]
    ('rolling', 0.8, 1.0)
    """
    rolling = [(ev, window_ratios(ev, family)) for ev in evaluations]
    rolling = [(ev, r) for ev, r in rolling if any(math.isfinite(v) for v in r.values())]
    rows = [{"cutoff": str(ev.cutoff.date()), "kind": "rolling", **r} for ev, r in rolling]
    notes: list[str] = []
    young = [ev for ev, _ in rolling if _history_days(ev) < SEASON_MIN_HISTORY_DAYS]
    if young:
        # A model fitted on a few months misses for reasons of its own (young customers), not
        # the scoring window's: UCI 2009-10 at 2010-06-01 learned +35 % from windows with 2-4
        # months of history and over-predicted buyers by 34 % (1.04 uncorrected).
        notes.append(
            f"level: {len(young)} backtest window(s) had under {SEASON_MIN_HISTORY_DAYS} days "
            "of history before them; their misses are not used to learn the level"
        )
        rolling = [(ev, r) for ev, r in rolling if ev not in young]
    season = None
    if seasonal is not None:
        season = window_ratios(seasonal, family)
        if not any(math.isfinite(v) for v in season.values()):
            notes.append(
                f"level: {family} could not be backtested one year earlier "
                f"({seasonal.cutoff.date()}), so the season is not known"
            )
            season = None
        else:
            rows.append({"cutoff": str(seasonal.cutoff.date()), "kind": "seasonal", **season})
    factors: dict[str, float] = {}
    if own_level is not None:
        method = "own"
        factors = dict.fromkeys(_RATIO_OF, 1.0)
        notes.append(
            f"level: {family} sets its own level ({own_level}); a factor learned from "
            "windows fitted without that correction would correct the season twice, so none "
            "is applied"
        )
    elif season is not None:
        method = "seasonal"
        for key in _RATIO_OF:
            factors[key] = learn_level([season[key]])
    elif len(rolling) >= 2:
        method = "rolling"
        for key in _RATIO_OF:
            factors[key] = learn_level([r[key] for _, r in rolling], ROLLING_WEIGHT)
    else:
        method = "none"
        factors = dict.fromkeys(_RATIO_OF, 1.0)
        notes.append(
            f"level: {len(rolling)} backtest window(s) for {family}, 2 needed to learn a "
            "level, so its totals are not corrected"
        )
    cutoffs = [ev.cutoff for ev, _ in rolling] + ([seasonal.cutoff] if season is not None else [])
    horizon = int(evaluations[0].horizon_days) if evaluations else 0
    covered = _covered_days(cutoffs, horizon) if cutoffs else 0
    if method not in ("none", "own") and covered >= clv_horizon_days:
        factors["clv"] = learn_level([row["revenue"] for row in rows])
    else:
        factors["clv"] = 1.0
        if method not in ("none", "own"):
            notes.append(
                f"level: the backtest windows cover {covered} days, under the CLV horizon "
                f"({clv_horizon_days} d), so CLV is not rescaled (a window's miss is not a "
                "year's)"
            )
    interval = {key: _interval([row[key] for row in rows], factors[key]) for key in _RATIO_OF}
    return LevelFit(family, factors, method, rows, interval, notes)
