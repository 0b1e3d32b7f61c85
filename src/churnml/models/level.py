"""A level learned from backtests: a family's scores rescaled so its totals match past windows.

A model fitted on a younger history misjudges how many customers will buy, and how much, at
the scoring date; backtests show by how much. :func:`learn_level` turns the actual / predicted
ratios of past windows into one factor, and :class:`LevelAdjusted` wraps a family's scorer so
that its totals are multiplied by those factors while each customer's ranking is kept.
:func:`apply_level` is the rescaling itself, shared by the wrapper and the evaluation of
``champion``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy.optimize import brentq

from churnml.config import parse_day
from churnml.data.validation import ValidatedTransactions
from churnml.exceptions import ConfigError
from churnml.models.base import BaseScorer
from churnml.models.catalog import CATALOGUE, check_keys, make_scorer
from churnml.settings import ValueSettings

__all__ = [
    "LEVEL_CLIP",
    "LEVEL_KEYS",
    "LevelAdjusted",
    "apply_level",
    "learn_level",
    "logit_shift",
]

#: The range a level factor is clipped to: a past miss beyond a halving or a doubling says more
#: about that window than about the next one.
LEVEL_CLIP = (0.5, 2.0)
#: What a level factor can rescale: the sum of P(repurchase), expected purchases, expected
#: revenue, and CLV.
LEVEL_KEYS = ("buyers", "purchases", "revenue", "clv")
_EPS = 1e-9
_P_EPS = 1e-9


def learn_level(ratios: Sequence[float], weight: float = 1.0) -> float:
    """Return the level factor that past actual / predicted ratios teach.

    The geometric mean, because a ratio is a multiplicative miss (an over-prediction by 2 and
    an under-prediction by 2 cancel), raised to ``weight`` (``0.5`` goes half way back to no
    correction, in log terms), and clipped to :data:`LEVEL_CLIP`.

    Parameters
    ----------
    ratios : sequence of float
        Actual / predicted totals of past windows; non-finite or non-positive ones are left
        out (a window with no actual buyers says nothing about the level).
    weight : float
        How much of the learned miss to trust, in [0, 1].

    Returns
    -------
    float
        The factor; 1.0 when no ratio is usable.

    Examples
    --------
    >>> from churnml.models.level import learn_level
    >>> round(learn_level([0.8, 0.8, 0.8]), 3), learn_level([]), learn_level([5.0])
    (0.8, 1.0, 2.0)
    >>> round(learn_level([0.64, 0.64], weight=0.5), 3)
    0.8
    """
    usable = [float(r) for r in ratios if math.isfinite(float(r)) and float(r) > 0]
    if not usable:
        return 1.0
    factor = math.exp(weight * sum(math.log(r) for r in usable) / len(usable))
    return float(min(max(factor, LEVEL_CLIP[0]), LEVEL_CLIP[1]))


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, _P_EPS, 1 - _P_EPS)
    return np.log(p) - np.log1p(-p)


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * z))  # no overflow warning for large |z|


def logit_shift(p: np.ndarray, factor: float) -> float:
    """Return the constant added to every logit that multiplies the sum of ``p`` by ``factor``.

    One shift keeps the customers' order (a logit shift is monotone) and never leaves (0, 1),
    where scaling the probabilities themselves would push the likeliest buyers past 1.

    Parameters
    ----------
    p : numpy.ndarray
        Probabilities.
    factor : float
        Wanted ratio of the sums (a sum beyond the number of customers is capped just below it).

    Returns
    -------
    float
        The shift; 0 for a factor of 1 or no probabilities.

    Examples
    --------
    >>> import numpy as np
    >>> from churnml.models.level import logit_shift
    >>> p = np.array([0.1, 0.5, 0.9])
    >>> shift = logit_shift(p, 0.8)
    >>> round(float((1 / (1 + np.exp(-(np.log(p / (1 - p)) + shift)))).sum() / p.sum()), 6)
    0.8
    """
    p = np.asarray(p, dtype=float)
    movable = (p > 0) & (p < 1)
    if factor == 1.0 or not movable.any():
        return 0.0
    z = _logit(p[movable])
    fixed = float(p[~movable].sum())  # certainties stay where they are
    target = float(np.clip(p.sum() * factor - fixed, _P_EPS, movable.sum() * (1 - _P_EPS)))
    return float(brentq(lambda d: float(_sigmoid(z + d).sum()) - target, -60.0, 60.0, xtol=1e-12))


def apply_level(
    scores: pd.DataFrame,
    factors: Mapping[str, float],
    value: ValueSettings | None = None,
    *,
    shift: float | None = None,
) -> pd.DataFrame:
    """Rescale a score table's totals by level factors, keeping every customer's ranking.

    Parameters
    ----------
    scores : pandas.DataFrame
        A scorer's ``predict`` output (``p_alive``, ``p_repurchase``, ``expected_purchases``,
        ``expected_revenue``, ``clv``, ``p_buy_*d``, ...).
    factors : mapping of str to float
        Multipliers by :data:`LEVEL_KEYS` (missing keys are 1): ``buyers`` multiplies the sum
        of P(repurchase) through one logit shift, ``purchases`` and ``revenue`` the
        expectations, ``clv`` the lifetime value.
    value : ValueSettings, optional
        The CLV settings the scores were made with (for ``net_clv``).
    shift : float, optional
        The logit shift of P(repurchase), learned once on a reference population (what
        :class:`LevelAdjusted` does, so that a customer's score never depends on who else is
        in the batch). Default: :func:`logit_shift` of these scores by the ``buyers`` factor.

    Returns
    -------
    pandas.DataFrame
        A rescaled copy: ``p_buy_*d`` keep their share of P(repurchase) (the timing given a
        purchase is unchanged), ``p_alive`` stays at least P(repurchase) and
        ``expected_purchases`` at least P(repurchase); ``net_clv`` follows ``clv``, and
        ``payback_days`` is NaN where the rescaled CLV no longer covers the acquisition cost
        (and the CLV horizon where it newly does: the month is unknown, the horizon bounds it).

    Examples
    --------
    >>> import pandas as pd
    >>> from churnml.models.level import apply_level
    >>> s = pd.DataFrame({"p_alive": [0.9, 0.5], "p_repurchase": [0.6, 0.2],
    ...                   "expected_purchases": [1.0, 0.3], "expected_revenue": [50.0, 9.0],
    ...                   "clv": [120.0, 20.0]})
    >>> out = apply_level(s, {"buyers": 1.2, "revenue": 0.5})
    >>> round(float(out["p_repurchase"].sum() / s["p_repurchase"].sum()), 6)
    1.2
    >>> out["expected_revenue"].tolist()
    [25.0, 4.5]
    """
    f = {k: float(factors.get(k, 1.0)) for k in LEVEL_KEYS}
    out = scores.copy()
    old = out["p_repurchase"].to_numpy(float)
    if shift is None:
        shift = logit_shift(old, f["buyers"])
    movable = (old > 0) & (old < 1)
    new = old if shift == 0.0 else np.where(movable, _sigmoid(_logit(old) + shift), old)
    out["p_repurchase"] = new
    share = np.where(old > _EPS, new / np.maximum(old, _EPS), 1.0)
    for column in [c for c in out.columns if c.startswith("p_buy_") and c.endswith("d")]:
        # P(buy within t) keeps its share of P(repurchase): the timing given a purchase is the
        # inner model's, and a window shorter (longer) than the horizon stays below (above) it
        out[column] = np.clip(out[column].to_numpy(float) * share, 0.0, 1.0)
    if "p_alive" in out.columns:
        out["p_alive"] = np.maximum(out["p_alive"].to_numpy(float), new)
    out["expected_purchases"] = np.maximum(
        out["expected_purchases"].to_numpy(float) * f["purchases"], new
    )
    out["expected_revenue"] = out["expected_revenue"].to_numpy(float) * f["revenue"]
    if f["clv"] != 1.0:
        old_clv = out["clv"].to_numpy(float)
        out["clv"] = old_clv * f["clv"]
        cost = (value or ValueSettings()).acquisition_cost
        if cost is not None and "net_clv" in out.columns:
            out["net_clv"] = out["clv"] - cost
        if cost is not None and "payback_days" in out.columns:
            days = out["payback_days"].to_numpy(float)
            covered = out["clv"].to_numpy(float) >= cost
            horizon = float((value or ValueSettings()).horizon_days)
            out["payback_days"] = np.where(covered, np.where(np.isnan(days), horizon, days), np.nan)
    return out


_TOTAL_COLUMNS = {
    "buyers": "p_repurchase",
    "purchases": "expected_purchases",
    "revenue": "expected_revenue",
}


class LevelAdjusted(BaseScorer):
    """A catalogue family whose totals are rescaled by level factors learned from backtests.

    Parameters
    ----------
    family : str
        The model key of the scorer inside (a competing family or ``baseline``).
    factors : mapping of str to float, optional
        Multipliers by :data:`LEVEL_KEYS` (``buyers``, ``purchases``, ``revenue``, ``clv``);
        missing keys and None mean 1 (no correction).
    value : ValueSettings, optional
        CLV settings of the scorer inside.
    freq : {"D", "W"}
        Purchase period of the scorer inside (BTYD families).
    seed : int
        Random seed of the scorer inside (LightGBM families).

    Attributes
    ----------
    inner_ : BaseScorer
        The family's scorer, fitted at as-of.
    factors_ : dict of str to float
        The factors applied, one per :data:`LEVEL_KEYS`.
    shift_ : float
        The logit shift of P(repurchase), solved at the fit so that the customers known at
        as-of sum to ``buyers`` times the family's total; applied unchanged afterwards, so a
        customer's score never depends on who else is scored with them.
    totals_ : dict
        Totals over the horizon after as-of, for the customers known at as-of: ``model``
        (the family's) and ``adjusted`` (rescaled), each by ``buyers``, ``purchases`` and
        ``revenue``.
    horizon_days_ : int
        The horizon of ``shift_`` and ``totals_``.
    as_of_ : pandas.Timestamp
        The as-of date of the fit.
    diagnostics_ : dict
        The inner scorer's diagnostics plus ``level`` (factors and shift).

    See Also
    --------
    apply_level : the rescaling.
    learn_level : a factor from past actual / predicted ratios.

    Notes
    -----
    The shift is solved for the training horizon; scoring another horizon applies the same
    shift, which keeps the level correction approximately, not exactly.

    Examples
    --------
    >>> from churnml import load_cdnow, load_transactions
    >>> from churnml.models import LevelAdjusted
    >>> tx = load_transactions(load_cdnow())
    >>> scaled = LevelAdjusted(family="bgnbd", factors={"buyers": 0.9}).fit(tx, "1997-12-31")
    >>> totals = scaled.totals_
    >>> round(totals["adjusted"]["buyers"] / totals["model"]["buyers"], 6), scaled.name
    (0.9, 'bgnbd')
    """

    def __init__(
        self,
        *,
        family: str = "bgnbd",
        factors: Mapping[str, float] | None = None,
        value: ValueSettings | None = None,
        freq: str = "D",
        seed: int = 0,
    ) -> None:
        self.family = family
        self.factors = factors
        self.value = value
        self.freq = freq
        self.seed = seed

    @property
    def name(self) -> str:
        """Model key in evaluation tables: the family's."""
        return self.family

    def _checked_factors(self) -> dict[str, float]:
        given = dict(self.factors or {})
        unknown = sorted(set(given) - set(LEVEL_KEYS))
        if unknown:
            raise ConfigError(
                f"LevelAdjusted.factors: unknown key(s) {', '.join(map(repr, unknown))}; "
                f"allowed: {', '.join(LEVEL_KEYS)}"
            )
        out = {}
        for key in LEVEL_KEYS:
            factor = given.get(key, 1.0)
            try:
                factor = float(factor if factor is not None else 1.0)
            except (TypeError, ValueError):
                factor = float("nan")
            if not math.isfinite(factor) or factor <= 0:
                raise ConfigError(
                    f"LevelAdjusted.factors[{key!r}] must be a positive finite number; "
                    f"got {given.get(key)!r}"
                )
            out[key] = factor
        return out

    def fit(
        self, tx: ValidatedTransactions | pd.DataFrame, as_of: Any, horizon_days: int = 90
    ) -> LevelAdjusted:
        """Fit the family's scorer at as-of and solve the logit shift (the factors are given).

        Parameters
        ----------
        tx, as_of
            As in :meth:`churnml.models.base.BaseScorer.fit`.
        horizon_days : int
            Prediction horizon the scorer inside is trained for, and of the shift.

        Returns
        -------
        LevelAdjusted
            ``self``, fitted.

        Raises
        ------
        ConfigError
            ``family`` is not a catalogue key, or a factor is not a positive number.
        """
        self._start_fit()
        (family,) = check_keys([self.family])
        factors = self._checked_factors()
        inner = make_scorer(family, self.value, self.freq, self.seed)
        inner.fit(tx, as_of, horizon_days=horizon_days)
        self._settle(inner, factors, tx, horizon_days)
        return self

    @classmethod
    def around(
        cls,
        inner: BaseScorer,
        factors: Mapping[str, float] | None,
        tx: ValidatedTransactions | pd.DataFrame,
        horizon_days: int,
    ) -> LevelAdjusted:
        """Wrap a scorer already fitted, without fitting it again.

        ``churnml train`` fits the champion family first (a failed fit moves on to the next
        family) and learns its factors after, so the fit is not repeated.

        Parameters
        ----------
        inner : BaseScorer
            A fitted scorer of a catalogue family (its ``name`` is the family key).
        factors : mapping of str to float or None
            As the ``factors`` parameter.
        tx : ValidatedTransactions or pandas.DataFrame
            The transactions it was fitted on (the shift is solved on its customers).
        horizon_days : int
            The horizon of the shift.

        Returns
        -------
        LevelAdjusted
            The fitted wrapper; its parameters are the inner scorer's ``value``, ``freq`` and
            ``seed`` where it has them.

        Raises
        ------
        ConfigError
            ``inner`` is not a catalogue family's scorer, or a factor is not a positive number.
        NotFittedError
            ``inner`` is not fitted.
        """
        inner.check_fitted()
        (family,) = check_keys([inner.name])
        if type(inner) is not CATALOGUE[family].scorer:
            raise ConfigError(
                f"LevelAdjusted.around: a {type(inner).__name__} is not a {family} scorer"
            )
        params = inner.get_params()
        wrapper = cls(
            family=family,
            factors=factors,
            value=params.get("value"),
            freq=params.get("freq", "D"),
            seed=params.get("seed", 0),
        )
        wrapper._settle(inner, wrapper._checked_factors(), tx, horizon_days)
        return wrapper

    def _settle(
        self,
        inner: BaseScorer,
        factors: dict[str, float],
        tx: ValidatedTransactions | pd.DataFrame,
        horizon_days: int,
    ) -> None:
        """Score the customers known at as-of once: the shift and the reference totals."""
        as_of = inner.as_of_
        base = _without_reasons(inner, tx, as_of, int(horizon_days))
        shift = logit_shift(base["p_repurchase"].to_numpy(float), factors["buyers"])
        adjusted = apply_level(base, factors, self.value, shift=shift)
        self.inner_ = inner
        self.factors_ = factors
        self.shift_ = float(shift)
        self.horizon_days_ = int(horizon_days)
        self.totals_ = {
            "model": {k: float(base[c].sum()) for k, c in _TOTAL_COLUMNS.items()},
            "adjusted": {k: float(adjusted[c].sum()) for k, c in _TOTAL_COLUMNS.items()},
        }
        self.diagnostics_ = {
            **inner.diagnostics_,
            "level": {"factors": dict(factors), "logit_shift": self.shift_},
        }
        self.as_of_ = parse_day(as_of)

    def predict(
        self,
        tx: ValidatedTransactions | pd.DataFrame,
        as_of: Any,
        horizon_days: int,
        *,
        population: Mapping[str, Any] | None = None,
    ) -> pd.DataFrame:
        """Score with the family's scorer, then rescale the totals (see :func:`apply_level`).

        Parameters
        ----------
        tx, as_of, horizon_days, population
            As in :meth:`churnml.models.base.BaseScorer.predict`.

        Returns
        -------
        pandas.DataFrame
            The inner scorer's columns, rescaled with the factors and the shift of the fit.
        """
        self.check_fitted()
        scores = self.inner_.predict(tx, as_of, horizon_days, population=population)
        return apply_level(scores, self.factors_, self.value, shift=self.shift_)

    def population_inputs(
        self,
        tx: ValidatedTransactions | pd.DataFrame,
        as_of: Any,
        horizon_days: int,
        population: Mapping[str, Any],
    ) -> pd.DataFrame | None:
        """Return the family's inputs (the level's factors and shift are fixed at the fit).

        Parameters
        ----------
        tx, as_of, horizon_days, population
            As in :meth:`churnml.models.base.BaseScorer.population_inputs`.

        Returns
        -------
        pandas.DataFrame or None
            The inner scorer's.
        """
        self.check_fitted()
        return self.inner_.population_inputs(tx, as_of, horizon_days, population)

    def solve_population(
        self, inputs: pd.DataFrame, population: Mapping[str, Any]
    ) -> dict[str, Any]:
        """Solve as the family does (see :meth:`population_inputs`).

        Parameters
        ----------
        inputs, population
            As in :meth:`churnml.models.base.BaseScorer.solve_population`.

        Returns
        -------
        dict
            The inner scorer's.
        """
        self.check_fitted()
        return self.inner_.solve_population(inputs, population)

    def predict_yet_to_buy(
        self, first_day: pd.Series, as_of: Any, horizon_days: int
    ) -> pd.DataFrame:
        """Score customers without a purchase as the family does, then apply the level.

        The same factors and the same fixed logit shift as everyone's (a customer's score
        never depends on who else is scored).

        Parameters
        ----------
        first_day, as_of, horizon_days
            As in :meth:`churnml.models.base.BaseScorer.predict_yet_to_buy`.

        Returns
        -------
        pandas.DataFrame
            The inner scorer's rows, rescaled.
        """
        self.check_fitted()
        scores = self.inner_.predict_yet_to_buy(first_day, as_of, horizon_days)
        return apply_level(scores, self.factors_, self.value, shift=self.shift_)

    def _get_state(self, folder: Path | None) -> dict[str, Any]:
        # the inner scorer's own payload, nested; its model files (LightGBM) go to the same
        # folder, where its JSON names them
        return {
            "factors": self.factors_,
            "logit_shift": self.shift_,
            "horizon_days": self.horizon_days_,
            "totals": self.totals_,
            "inner": self.inner_._payload(folder),
        }

    def _set_state(self, state: dict[str, Any], folder: Path | None) -> None:
        inner = state["inner"]
        expected = CATALOGUE[check_keys([self.family])[0]].scorer
        # only the family's own class may sit inside: never another wrapper, never a surprise
        if inner.get("scorer") != expected.__name__:
            raise ConfigError(
                f"LevelAdjusted({self.family}): the saved scorer inside is a "
                f"{inner.get('scorer')!r}, not a {expected.__name__}"
            )
        self.inner_ = expected._from_payload(inner, folder)
        self.factors_ = {k: float(state["factors"][k]) for k in LEVEL_KEYS}
        self.shift_ = float(state["logit_shift"])
        self.horizon_days_ = int(state["horizon_days"])
        self.totals_ = state["totals"]


def _without_reasons(
    scorer: BaseScorer, tx: ValidatedTransactions | pd.DataFrame, as_of: Any, horizon_days: int
) -> pd.DataFrame:
    """Predict without per-customer reasons, where the scorer can (only totals are read)."""
    if "explain" not in scorer._param_names():
        return scorer.predict(tx, as_of, horizon_days)
    explain = scorer.get_params()["explain"]
    scorer.set_params(explain=False)
    try:
        return scorer.predict(tx, as_of, horizon_days)
    finally:
        scorer.set_params(explain=explain)
