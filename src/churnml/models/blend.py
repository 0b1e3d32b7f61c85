"""``blend``: the mean of ``gbm`` and ``hybrid``: of their logits, and of their revenue.

The two LightGBM families read the same snapshots but differ in what they start from (the
feature table alone, or BG/NBD's prediction), and their errors differ. Out of time at the seven
settings of ``bench_models.py``, the mean of their P(repurchase) logits ranked buyers at least
as well as the better of the two in every setting (AUC +0.000 to +0.005 above it), which
neither member does alone.

Both members take their level from the same BG/NBD at the scoring date, so the blend keeps
it: P(repurchase) is shifted back to the members' mean total, and revenue and purchases are
scaled to theirs. In a backtest window or an evaluation where gbm and hybrid were fitted
already, the members are those same fits (:meth:`GBMScorer.fit` shares them), so the blend
costs no training there.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from churnml.data.validation import ValidatedTransactions
from churnml.exceptions import ConfigError
from churnml.models.base import BaseScorer
from churnml.models.gbm import GBMScorer, floor_scale, logit_shift, scaled_above, shifted
from churnml.models.pipeline import _finish
from churnml.settings import ValueSettings

__all__ = ["BlendScorer"]

_MEMBERS = ("gbm", "hybrid")
_EPS = 1e-6


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, _EPS, 1 - _EPS)
    return np.log(p / (1 - p))


def _mean(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (np.maximum(a, 0.0) + np.maximum(b, 0.0)) / 2


def _mix(p_a: np.ndarray, p_b: np.ndarray) -> np.ndarray:
    """Return the probability at the mean of two logits."""
    return 1.0 / (1.0 + np.exp(-(_logit(p_a) + _logit(p_b)) / 2))


def _own_inputs(a: pd.DataFrame, b: pd.DataFrame) -> pd.DataFrame:
    """Return the members' scores the blend's anchors are solved from."""
    return pd.DataFrame(
        {
            "p_gbm": a["p_repurchase"].to_numpy(),
            "p_hybrid": b["p_repurchase"].to_numpy(),
            "n_gbm": a["expected_purchases"].to_numpy(),
            "n_hybrid": b["expected_purchases"].to_numpy(),
        },
        index=a.index,
    )


def _member_population(population: Mapping[str, Any], name: str) -> dict[str, Any]:
    """Return what a member reads of the population: the first line and its anchors."""
    out = {k: v for k, v in population.items() if k == "first_date"}
    members = population.get("members", {})
    if name in members:
        out["anchors"] = members[name]
    return out


class BlendScorer(BaseScorer):
    """The mean of a ``gbm`` and a ``hybrid`` :class:`~churnml.models.gbm.GBMScorer`.

    Parameters
    ----------
    value : ValueSettings, optional
        CLV settings.
    seed : int
        Random seed of both members.
    freq : {"D", "W"}
        Purchase period.
    penalizer : float or "auto"
        Penalizer of the members' BG/NBD at as-of (see ``GBMScorer``).
    explain : bool
        Give every scored customer the top drivers of P(repurchase) in words: the ``gbm``
        member's (the hybrid's trees start from BG/NBD, whose part has no reason to give).
    n_jobs : int, optional
        LightGBM threads of both members.
    clv : bool
        Compute CLV (both members' and the blend's); backtests switch it off. Off, ``clv`` is
        NaN and ``net_clv`` and ``payback_days`` are not returned.
    timing : bool
        Compute the timing columns (both members' and the blend's); backtests of ``train``
        switch it off. Off, they are NaN.

    Attributes
    ----------
    members_ : dict of str to GBMScorer
        ``gbm`` and ``hybrid``, fitted.
    diagnostics_ : dict
        Each member's diagnostics under ``members``; notes and warnings of both; the
        ``gbm`` member's BG/NBD penalizer search and the members' seasonal factors (the
        same BG/NBD's), where a backtest and the level learning read them.

    Notes
    -----
    Per customer: P(repurchase) is the sigmoid of the mean of the members' logits, shifted by
    one constant so that the total is the mean of theirs; expected revenue and CLV are the
    mean of the members' (a mean of two forecasts of an expectation; the geometric mean it
    replaced ranked revenue worse in five of the seven settings of ``bench_models.py``,
    normalized Gini -0.0003 to +0.0042); expected purchases
    likewise, but never below P(repurchase); P(buy within 7, 30, 90 days) keep the ``gbm``
    member's shape over time at the blended P(repurchase); the days to the next purchase
    are the ``gbm`` member's (both read BG/NBD's distribution unless ``timing_models``).
    ``payback_days`` is the mean of the members' where both pay back, else the one that does.
    """

    def __init__(
        self,
        *,
        value: ValueSettings | None = None,
        seed: int = 0,
        freq: Literal["D", "W"] = "D",
        penalizer: float | Literal["auto"] = "auto",
        explain: bool = True,
        n_jobs: int | None = None,
        clv: bool = True,
        timing: bool = True,
    ) -> None:
        self.value = value
        self.seed = seed
        self.freq = freq
        self.penalizer = penalizer
        self.explain = explain
        self.n_jobs = n_jobs
        self.clv = clv
        self.timing = timing

    @property
    def name(self) -> str:
        """Model key in evaluation tables."""
        return "blend"

    def _member(self, name: str) -> GBMScorer:
        return GBMScorer(
            hybrid=name == "hybrid",
            value=self.value,
            seed=self.seed,
            freq=self.freq,
            penalizer=self.penalizer,
            # one set of reasons is enough, and the trees of gbm always give them
            explain=self.explain and name == "gbm",
            n_jobs=self.n_jobs,
            clv=self.clv,
            timing=self.timing,
        )

    def fit(
        self, tx: ValidatedTransactions | pd.DataFrame, as_of: Any, horizon_days: int = 90
    ) -> BlendScorer:
        """Fit both members on the data up to as-of.

        Parameters
        ----------
        tx : ValidatedTransactions or pandas.DataFrame
            Validated transactions (rows after as-of are never read).
        as_of : str or pandas.Timestamp
            Training as-of.
        horizon_days : int
            Prediction horizon.

        Returns
        -------
        BlendScorer
            ``self``, fitted.

        Raises
        ------
        InsufficientDataError
            A member cannot be fitted (see :meth:`GBMScorer.fit`).
        """
        self._start_fit()
        members = {name: self._member(name).fit(tx, as_of, horizon_days) for name in _MEMBERS}
        self.members_ = members
        self.diagnostics_ = self._diagnostics()
        self.as_of_ = members["gbm"].as_of_
        return self

    def _diagnostics(self) -> dict[str, Any]:
        members = self.members_
        diag: dict[str, Any] = {
            "model": self.name,
            "members": {name: m.diagnostics_ for name, m in members.items()},
            "notes": [
                f"{n}: {note}" for n, m in members.items() for note in m.diagnostics_["notes"]
            ],
            "warnings": sorted({w for m in members.values() for w in m.diagnostics_["warnings"]}),
        }
        first = members["gbm"].diagnostics_
        for key in ("penalizer_search", "btyd_penalizer", "seasonality"):
            if key in first:
                diag[key] = first[key]
        fell_back = {m.diagnostics_.get("fell_back_to") for m in members.values()}
        if len(fell_back) == 1 and None not in fell_back:
            # both members repeat one family's scores, and so does their mean
            diag["fell_back_to"] = fell_back.pop()
        return diag

    def predict(
        self,
        tx: ValidatedTransactions | pd.DataFrame,
        as_of: Any,
        horizon_days: int,
        *,
        population: Mapping[str, Any] | None = None,
    ) -> pd.DataFrame:
        """Score every customer with a purchase on or before as-of.

        Parameters
        ----------
        tx : ValidatedTransactions or pandas.DataFrame
            Validated transactions (rows after as-of are ignored).
        as_of : str or pandas.Timestamp
            Scoring date.
        horizon_days : int
            Prediction horizon.
        population : dict, optional
            As in :meth:`churnml.models.base.BaseScorer.predict`: the members' anchors and
            the blend's own, when ``tx`` holds part of the customers (see
            :meth:`population_inputs`).

        Returns
        -------
        pandas.DataFrame
            :data:`~churnml.models.pipeline.SCORE_COLUMNS` (plus ``net_clv`` and
            ``payback_days`` with an acquisition cost, and ``reasons`` when ``explain``).
        """
        self.check_fitted()
        a, b = self._members_predict(tx, as_of, horizon_days, population)
        p_a, p_b = a["p_repurchase"].to_numpy(), b["p_repurchase"].to_numpy()
        if population is None or "anchors" not in population:  # tx is everyone
            solved = self.solve_population(_own_inputs(a, b), population or {})
        else:
            solved = dict(population)
        anchors = solved["anchors"]
        p = shifted(_mix(p_a, p_b), anchors["shift"])
        out = pd.DataFrame(index=a.index)
        out["p_repurchase"] = p
        alive = (a["p_alive"].to_numpy() + b["p_alive"].to_numpy()) / 2
        out["p_alive"] = np.maximum(alive, p)
        for column in ("expected_purchases", "expected_revenue", "clv"):
            mean = _mean(a[column].to_numpy(), b[column].to_numpy())
            if column == "expected_purchases":
                out[column] = scaled_above(mean, p, anchors["purchases_scale"])
            else:
                out[column] = mean
        for t in (7, 30, 90):
            shape = np.where(p_a > _EPS, a[f"p_buy_{t}d"].to_numpy() / np.maximum(p_a, _EPS), 0)
            out[f"p_buy_{t}d"] = np.clip(p * shape, 0.0, 1.0)
        for column in (
            "expected_days_to_next_purchase",
            "median_days_to_next_purchase",
            "days_to_next_purchase_p10",
            "days_to_next_purchase_p90",
        ):
            out[column] = a[column]
        cost = (self.value or ValueSettings()).acquisition_cost
        if cost is not None and "net_clv" in a.columns:
            out["net_clv"] = out["clv"] - cost
            both = a["payback_days"].where(
                b["payback_days"].isna(), (a["payback_days"] + b["payback_days"]) / 2
            )
            either = both.fillna(b["payback_days"])
            out["payback_days"] = either.where(out["clv"] >= cost)
        out = _finish(out, pd.Timestamp(as_of), horizon_days)
        if "reasons" in a.columns:
            out["reasons"] = a["reasons"]
        return out

    def population_inputs(
        self,
        tx: ValidatedTransactions | pd.DataFrame,
        as_of: Any,
        horizon_days: int,
        population: Mapping[str, Any],
    ) -> pd.DataFrame | None:
        """Two rounds: the members' anchors, then the blend's own.

        The members anchor their levels as a lone :class:`~churnml.models.gbm.GBMScorer`
        does; the blend then shifts the mean of their logits to the mean of their buyers and
        scales the mean of their purchases, both over everyone.

        Parameters
        ----------
        tx, as_of, horizon_days, population
            As in :meth:`churnml.models.base.BaseScorer.population_inputs`.

        Returns
        -------
        pandas.DataFrame or None
            First the members' numbers, their columns prefixed ``gbm.`` and ``hybrid.``;
            then ``p_gbm``, ``p_hybrid``, ``n_gbm``, ``n_hybrid`` (the members' scored
            P(repurchase) and expected purchases); None when both rounds are solved.
        """
        self.check_fitted()
        if "members" not in population:
            frames = [
                found.add_prefix(f"{name}.")
                for name, member in self.members_.items()
                if (
                    found := member.population_inputs(
                        tx, as_of, horizon_days, _member_population(population, name)
                    )
                )
                is not None
            ]
            if frames:
                return pd.concat(frames, axis=1)
            population = {**population, "members": {}}  # neither member anchors anything
        if "anchors" in population:
            return None
        return _own_inputs(*self._members_predict(tx, as_of, horizon_days, population))

    def solve_population(
        self, inputs: pd.DataFrame, population: Mapping[str, Any]
    ) -> dict[str, Any]:
        """Solve the round :meth:`population_inputs` gave (told apart by its columns).

        Parameters
        ----------
        inputs, population
            As in :meth:`churnml.models.base.BaseScorer.solve_population`.

        Returns
        -------
        dict
            ``population`` with ``members`` (each member's anchors) after the first round,
            and ``anchors`` (``shift``, ``purchases_scale``) after the second.
        """
        if any("." in str(c) for c in inputs.columns):
            members = {}
            for name, member in self.members_.items():
                prefix = f"{name}."
                mine = [c for c in inputs.columns if str(c).startswith(prefix)]
                if mine:
                    own = inputs[mine].set_axis([c[len(prefix) :] for c in mine], axis=1)
                    solved = member.solve_population(own, _member_population(population, name))
                    members[name] = solved["anchors"]
            return {**population, "members": members}
        if not inputs.index.is_monotonic_increasing:  # the parts, gathered in any order
            inputs = inputs.sort_index(kind="stable")
        p_a, p_b = inputs["p_gbm"].to_numpy(dtype=float), inputs["p_hybrid"].to_numpy(dtype=float)
        shift = logit_shift(_mix(p_a, p_b), (p_a.sum() + p_b.sum()) / 2)
        p = shifted(_mix(p_a, p_b), shift)
        mean = _mean(
            inputs["n_gbm"].to_numpy(dtype=float), inputs["n_hybrid"].to_numpy(dtype=float)
        )
        anchors = {"shift": shift, "purchases_scale": floor_scale(mean, p, float(mean.sum()))}
        return {"members": {}, **population, "anchors": anchors}

    def _members_predict(
        self,
        tx: ValidatedTransactions | pd.DataFrame,
        as_of: Any,
        horizon_days: int,
        population: Mapping[str, Any] | None,
    ) -> tuple[pd.DataFrame, pd.DataFrame]:
        # reasons are a scoring choice: one switched off after the fit (the level step of
        # train reads only totals) must not cost the SHAP pass (2.2 s of a CDNOW train)
        gbm = self.members_["gbm"]
        fitted_with = gbm.explain
        gbm.set_params(explain=self.explain)

        def mine(name: str) -> Mapping[str, Any] | None:
            return None if population is None else _member_population(population, name)

        try:
            a = gbm.predict(tx, as_of, horizon_days, population=mine("gbm"))
        finally:
            gbm.set_params(explain=fitted_with)  # a saved blend keeps its members as fitted
        hybrid = self.members_["hybrid"]
        b = hybrid.predict(tx, as_of, horizon_days, population=mine("hybrid")).loc[a.index]
        return a, b

    def predict_yet_to_buy(
        self, first_day: pd.Series, as_of: Any, horizon_days: int
    ) -> pd.DataFrame:
        """Score customers without a purchase with the members' BG/NBD (the same for both).

        Parameters
        ----------
        first_day, as_of, horizon_days
            As in :meth:`churnml.models.base.BaseScorer.predict_yet_to_buy`.

        Returns
        -------
        pandas.DataFrame
            The model columns, indexed like ``first_day``.
        """
        self.check_fitted()
        return self.members_["gbm"].predict_yet_to_buy(first_day, as_of, horizon_days)

    # -- persistence -------------------------------------------------------------------------
    def _get_state(self, folder: Path | None) -> dict[str, Any]:
        if folder is None:
            return {"members": {n: json.loads(m.to_json()) for n, m in self.members_.items()}}
        # each member in a folder of its own: their booster files have the same names
        for name, member in self.members_.items():
            member.save(folder / name)
        return {"member_folders": list(_MEMBERS)}

    def _set_state(self, state: dict[str, Any], folder: Path | None) -> None:
        if "members" in state:
            self.members_ = {
                name: GBMScorer.from_json(json.dumps(state["members"][name])) for name in _MEMBERS
            }
            return
        if folder is None:
            raise ConfigError("BlendScorer: member folders need the folder they were saved in")
        # fixed names, never a path read from the file
        self.members_ = {name: GBMScorer.load(folder / name) for name in _MEMBERS}
