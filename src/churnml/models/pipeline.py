"""BTYD scoring from transactions: a transaction model plus Gamma-Gamma spend, end to end.

This is what ``churnml evaluate`` and (later) ``churnml train`` / ``score`` run for the BTYD
families. It owns the choices users should not have to make: the penalizer (chosen out of time),
the spend fallback, the eligibility gates, and the guarantee that no score is NaN or infinite.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from churnml.config import parse_day
from churnml.data.frames import side_by_side
from churnml.data.purchases import day_number, period_start_day
from churnml.data.validation import ValidatedTransactions
from churnml.exceptions import ChurnmlWarning, ConfigError, InsufficientDataError, ModelFitError
from churnml.features.rfm import btyd_summary
from churnml.features.windows import build_features, build_labels
from churnml.models.base import BaseScorer
from churnml.models.baseline import rate_baseline
from churnml.models.btyd import (
    KINDS,
    PARETO_MAX_S,
    RFM_COLUMNS,
    GammaGammaModel,
    TransactionModel,
    distinct_rfm,
)
from churnml.models.timing import TIMING_COLUMNS, no_timing, timing_from_cdf
from churnml.models.value import lifetime_value, no_value
from churnml.settings import ValueSettings

__all__ = [
    "MIN_CUSTOMERS",
    "MIN_HISTORY_DAYS",
    "MIN_REPEAT_CUSTOMERS",
    "PARETO_PENALIZER",
    "PENALIZER_GRID",
    "SCORE_COLUMNS",
    "BTYDScorer",
    "RateBaselineScorer",
]

#: Columns every scorer's ``predict`` returns, in this order (contract section 3, model part).
SCORE_COLUMNS = (
    "p_alive",
    "p_repurchase",
    "expected_purchases",
    "expected_revenue",
    "clv",
    *TIMING_COLUMNS,
    "next_purchase_date",
)
#: Penalizers tried out of time when ``penalizer="auto"``.
PENALIZER_GRID = (0.0, 1e-5, 1e-4, 1e-3, 1e-2)
#: Pareto/NBD's ``"auto"`` penalizer (no search, see ``BTYDScorer``).
PARETO_PENALIZER = 1e-3
#: Eligibility gates of the BTYD transaction models.
MIN_CUSTOMERS = 30
MIN_REPEAT_CUSTOMERS = 10
MIN_HISTORY_DAYS = 28
#: Distinct customers per timing block: a block holds about a dozen (rows x 99) float arrays
#: (Pareto/NBD's terms), 450 MB at 20,000 rows
_TIMING_CHUNK = 4_000
_UNIT_DAYS = {"D": 1, "W": 7}


def _finish(out: pd.DataFrame, as_of: pd.Timestamp, horizon_days: int) -> pd.DataFrame:
    out["next_purchase_date"] = (
        as_of + pd.to_timedelta(np.round(out["expected_days_to_next_purchase"]), unit="D")
    ).dt.date
    extra = [c for c in ("net_clv", "payback_days") if c in out.columns]
    return out[[*SCORE_COLUMNS, *extra]]


def _rate_timing(rate: np.ndarray, horizon_days: int, index: pd.Index) -> pd.DataFrame:
    """Return the timing columns of purchases at a constant daily rate, per distinct rate.

    ``timing_from_cdf`` holds a few customers x 99 arrays; the rate (purchases over a floored
    tenure) takes few distinct values, and those go in chunks of ``_TIMING_CHUNK``.

    Returns
    -------
    pandas.DataFrame
        :data:`~churnml.models.timing.TIMING_COLUMNS`, indexed by ``index``.
    """
    codes, distinct = pd.factorize(np.asarray(rate, dtype=float))
    parts = [
        timing_from_cdf(
            lambda days, r=distinct[start : start + _TIMING_CHUNK]: (
                -np.expm1(-r[:, None] * days[None, :])
            ),
            horizon_days,
            pd.RangeIndex(min(_TIMING_CHUNK, distinct.size - start)),
        ).to_numpy()
        for start in range(0, distinct.size, _TIMING_CHUNK)
    ]
    timing = np.concatenate(parts)[codes] if parts else np.empty((0, len(TIMING_COLUMNS)))
    return pd.DataFrame(timing, index=index, columns=list(TIMING_COLUMNS))


class RateBaselineScorer(BaseScorer):
    """The naive RFM baseline: past purchase rate continues, nobody churns.

    Parameters
    ----------
    value : ValueSettings, optional
        CLV settings.
    clv : bool
        Compute CLV (``clv``, and ``net_clv`` and ``payback_days`` with an acquisition cost).
        Backtests switch it off: no metric reads it. Off, ``clv`` is NaN and ``net_clv`` and
        ``payback_days`` are not returned.
    timing : bool
        Compute the timing columns (expected, median, 10th and 90th percentile days to the
        next purchase, ``p_buy_7d/30d/90d``). Backtests of ``train`` switch it off: its
        champion and level rules read none of them. Off, they are NaN.

    Attributes
    ----------
    as_of_ : pandas.Timestamp
        The as-of date of the fit.
    diagnostics_ : dict
        ``{"model": "rate baseline"}``.

    Examples
    --------
    >>> from churnml import RateBaselineScorer, load_cdnow, load_transactions
    >>> tx = load_transactions(load_cdnow())
    >>> scores = RateBaselineScorer().fit(tx, "1997-12-31").predict(tx, "1997-12-31", 90)
    >>> len(scores), bool(scores["p_alive"].eq(1.0).all())
    (23502, True)
    """

    def __init__(
        self, *, value: ValueSettings | None = None, clv: bool = True, timing: bool = True
    ) -> None:
        self.value = value
        self.clv = clv
        self.timing = timing

    @property
    def name(self) -> str:
        """Model key in evaluation tables."""
        return "baseline"

    def fit(
        self, tx: ValidatedTransactions | pd.DataFrame, as_of: Any, horizon_days: int = 90
    ) -> RateBaselineScorer:
        """Nothing to learn; kept for a uniform interface.

        Parameters
        ----------
        tx : ValidatedTransactions or pandas.DataFrame
            Unused.
        as_of : str or pandas.Timestamp
            Recorded as ``as_of_``.
        horizon_days : int
            Unused.

        Returns
        -------
        RateBaselineScorer
            ``self``.
        """
        self.as_of_ = parse_day(as_of)
        self.diagnostics_: dict[str, Any] = {"model": "rate baseline"}
        return self

    def predict(
        self,
        tx: ValidatedTransactions | pd.DataFrame,
        as_of: Any,
        horizon_days: int,
        *,
        population: Mapping[str, Any] | None = None,
    ) -> pd.DataFrame:
        """Score every customer with a purchase on or before as-of (see :data:`SCORE_COLUMNS`).

        Parameters
        ----------
        tx : ValidatedTransactions or pandas.DataFrame
            Validated transactions (rows after as-of are ignored).
        as_of : str or pandas.Timestamp
            Scoring date.
        horizon_days : int
            Horizon of the probabilities and expectations.
        population : dict, optional
            Not read: each row comes from its customer's lines alone.

        Returns
        -------
        pandas.DataFrame
            Indexed by ``customer_id``, columns :data:`SCORE_COLUMNS`.
        """
        self.check_fitted()
        as_of = parse_day(as_of)
        feats = build_features(tx, as_of)
        return self.predict_features(feats, as_of, horizon_days)

    def predict_yet_to_buy(
        self, first_day: pd.Series, as_of: Any, horizon_days: int
    ) -> pd.DataFrame:
        """Score customers without a purchase: no purchase is a rate of 0.

        ``p_repurchase``, ``expected_purchases``, ``expected_revenue`` and ``clv`` are 0,
        ``p_alive`` is 1 and the days to the next purchase are the horizon. Nothing is
        learnt, so no fit is needed.

        Parameters
        ----------
        first_day, as_of, horizon_days
            As in :meth:`churnml.models.base.BaseScorer.predict_yet_to_buy`.

        Returns
        -------
        pandas.DataFrame
            As :meth:`predict`, indexed like ``first_day``.
        """
        as_of = parse_day(as_of)
        features = pd.DataFrame(
            {
                "n_purchases": 0.0,
                "tenure_days": (int(day_number(as_of)[()]) - first_day).to_numpy(float),
                "avg_purchase_value": 0.0,
            },
            index=first_day.index,
        )
        return self.predict_features(features, as_of, horizon_days)

    def predict_features(
        self, feats: pd.DataFrame, as_of: pd.Timestamp, horizon_days: int
    ) -> pd.DataFrame:
        """Score from a feature table already built at as-of.

        Parameters
        ----------
        feats : pandas.DataFrame
            :func:`~churnml.features.build_features` output at ``as_of``.
        as_of : pandas.Timestamp
            Scoring date.
        horizon_days : int
            Horizon of the probabilities and expectations.

        Returns
        -------
        pandas.DataFrame
            As :meth:`predict`.
        """
        rate, spend = rate_baseline(feats)
        h = float(horizon_days)
        out = pd.DataFrame(index=feats.index)
        out["p_alive"] = 1.0
        out["expected_purchases"] = rate * h
        out["p_repurchase"] = -np.expm1(-rate * h)
        out["expected_revenue"] = out["expected_purchases"] * spend
        out = side_by_side(
            out,
            lifetime_value(
                lambda days: np.asarray(rate)[:, None] * days, spend, feats.index, self.value
            )
            if self.clv
            else no_value(feats.index),
        )
        timing = (
            _rate_timing(rate, horizon_days, feats.index) if self.timing else no_timing(feats.index)
        )
        return _finish(side_by_side(out, timing), as_of, horizon_days)

    def _get_state(self, folder: Path | None) -> dict[str, Any]:
        return {}

    def _set_state(self, state: dict[str, Any], folder: Path | None) -> None:
        """Nothing is learned."""


class BTYDScorer(BaseScorer):
    """A BTYD transaction model with Gamma-Gamma spend, fitted from transactions at as-of.

    Parameters
    ----------
    kind : {"bgnbd", "pareto", "mbgnbd"}
        Transaction model family.
    penalizer : float or "auto"
        L2 penalty of the transaction model; ``"auto"`` picks from :data:`PENALIZER_GRID` the
        one with the lowest log loss of P(repurchase) on the last part of the history (see
        Notes). Pareto/NBD's ``"auto"`` is :data:`PARETO_PENALIZER` without a search: its log
        loss moved by under 0.001 across the grid wherever it was measured, each fit costs
        seconds, and unpenalised fits on young histories walk a ridge for tens of seconds.
    spend_penalizer : float
        L2 penalty of Gamma-Gamma.
    value : ValueSettings, optional
        CLV settings.
    freq : {"D", "W"}
        Purchase period and time unit of the model.
    max_customers : int, optional
        Customers above which the transaction model's parameters (and the penalizer search)
        are fitted on a sample of this many: four parameters need no more, and a Pareto/NBD
        fit on 200,000 customers took 15-40 s. The sample is drawn by a hash of the customer
        id, so it is the same customers at every cutoff. Every customer is still scored.
        ``diagnostics_["fitted_customers"]`` says how many were used. None: all.
    start : dict of str to float, optional
        Transaction model parameters to start the Pareto/NBD search from (a fit at an earlier
        cutoff: ``diagnostics_["params"]``); see :class:`~churnml.models.btyd.TransactionModel`.
        The fit starts there.
    clv : bool
        Compute CLV (``clv``, and ``net_clv`` and ``payback_days`` with an acquisition cost).
        Backtests switch it off: no metric reads it. Off, ``clv`` is NaN and ``net_clv`` and
        ``payback_days`` are not returned.
    timing : bool
        Compute the timing columns (expected, median, 10th and 90th percentile days to the
        next purchase, ``p_buy_7d/30d/90d``). Backtests of ``train`` switch it off: its
        champion and level rules read none of them. Off, they are NaN.

    Attributes
    ----------
    transaction_ : TransactionModel
        The fitted transaction model.
    spend_ : GammaGammaModel or None
        The fitted spend model; None when the fallback was used.
    penalizer_ : float
        The penalizer used.
    diagnostics_ : dict
        Penalizer search scores, convergence, spend model used and why, customer counts,
        warnings raised.

    Notes
    -----
    Penalizer choice: the model is fitted on data up to ``as_of - V`` (V = a quarter of the
    history, between 30 and 180 days) for every grid value and scored on what customers did in
    ``(as_of - V, as_of]``; only data up to as-of is used. With too little history for that,
    the penalizer is 0.001 and the diagnostics say so.

    Fallbacks, all recorded in ``diagnostics_``: a transaction fit that does not converge is
    refitted with the next larger penalizer; a Gamma-Gamma fit that is impossible (under 10
    repeat buyers, no spread in spend, failed optimisation) is replaced by each customer's
    mean spend shrunk towards the population mean with one pseudo-purchase; any score that is
    still not finite is replaced by the rate baseline's.
    """

    def __init__(
        self,
        *,
        kind: str = "bgnbd",
        penalizer: float | Literal["auto"] = "auto",
        spend_penalizer: float = 0.0,
        value: ValueSettings | None = None,
        freq: Literal["D", "W"] = "D",
        max_customers: int | None = 50_000,
        start: dict[str, float] | None = None,
        clv: bool = True,
        timing: bool = True,
    ) -> None:
        self.kind = kind
        self.penalizer = penalizer
        self.spend_penalizer = spend_penalizer
        self.value = value
        self.freq = freq
        self.max_customers = max_customers
        self.start = start
        self.clv = clv
        self.timing = timing

    @property
    def name(self) -> str:
        """Model key in evaluation tables."""
        return self.kind

    # -- fitting ---------------------------------------------------------------------------
    def fit(
        self, tx: ValidatedTransactions | pd.DataFrame, as_of: Any, horizon_days: int = 90
    ) -> BTYDScorer:
        """Fit on purchases dated on or before as-of.

        Parameters
        ----------
        tx : ValidatedTransactions or pandas.DataFrame
            Validated transactions (rows after as-of are ignored).
        as_of : str or pandas.Timestamp
            End of the fitting window.
        horizon_days : int
            Unused (BTYD models predict any horizon); accepted for a uniform interface.

        Returns
        -------
        BTYDScorer
            ``self``, fitted.

        Raises
        ------
        InsufficientDataError
            Fewer than 30 customers or 10 repeat customers on or before as-of.
        ModelFitError
            No penalizer made the transaction model converge.
        ConfigError
            ``kind`` is not a BTYD family.
        """
        self._start_fit()
        if self.kind not in KINDS:
            raise ConfigError(
                f"BTYDScorer.kind must be one of {', '.join(KINDS)}; got {self.kind!r}"
            )
        as_of = parse_day(as_of)
        summary = btyd_summary(tx, as_of, self.freq)
        self._gate(summary, as_of)
        diag: dict[str, Any] = {
            "model": self.kind,
            "as_of": str(as_of.date()),
            "n_customers": len(summary),
            "n_repeat_customers": int((summary["frequency"] > 0).sum()),
            "warnings": [],
        }
        if self.penalizer == "auto":
            # the summary in days is the one just made, when the model works in days
            chosen, search = self._select_penalizer(
                tx, as_of, summary if self.freq == "D" else None
            )
            diag["penalizer_search"] = search
        else:
            chosen = float(self.penalizer)
        sample = self._sample(summary)
        diag["fitted_customers"] = len(sample)
        self.transaction_ = self._fit_transaction(sample, chosen, diag)
        self.penalizer_ = float(self.transaction_.penalizer)
        bound = self.transaction_.at_bound_
        if bound == ["s"]:
            diag["notes"] = [
                f"Pareto/NBD's drop-out shape s at its limit ({PARETO_MAX_S:g}): customers "
                "drop out at one common rate in this history (no spread between them to fit)"
            ]
        elif bound:
            diag["notes"] = [
                f"parameters {', '.join(bound)} at their limit: no "
                "drop-out is visible in this history, so the model behaves as the NBD "
                "(every customer stays active, buying at their own rate)"
            ]
        diag["penalizer"] = self.penalizer_
        diag["params"] = dict(self.transaction_.params_)
        self.spend_, self.population_spend_ = self._fit_spend(summary, diag)
        self.as_of_ = as_of
        self.diagnostics_ = diag
        return self

    def _sample(self, summary: pd.DataFrame) -> pd.DataFrame:
        """Return the customers the parameters are fitted on (see ``max_customers``)."""
        if self.max_customers is None or len(summary) <= self.max_customers:
            return summary
        # the hash of each id as text, as hash_pandas_object gives it, without its factorising
        # of ids that are unique anyway (0.12 s a fit at 200,000 customers, 28 fits a train)
        hashed = pd.util.hash_array(summary.index.to_numpy(dtype=object), categorize=False)
        uniform = (hashed >> np.uint64(11)).astype(float) / 2.0**53
        return summary[uniform < self.max_customers / len(summary)]

    def _gate(self, summary: pd.DataFrame, as_of: pd.Timestamp) -> None:
        history = float(summary["T"].max()) * _UNIT_DAYS[self.freq]
        if history < MIN_HISTORY_DAYS:
            raise InsufficientDataError(
                f"{self.kind}: the history before {as_of.date()} spans {history:.0f} days; "
                f"BTYD models need at least {MIN_HISTORY_DAYS} to see anyone come back"
            )
        n, repeat = len(summary), int((summary["frequency"] > 0).sum())
        if n < MIN_CUSTOMERS or repeat < MIN_REPEAT_CUSTOMERS:
            raise InsufficientDataError(
                f"{self.kind}: too little data up to {as_of.date()} to fit a BTYD model: "
                f"{n} customers ({MIN_CUSTOMERS} needed) of whom {repeat} bought again "
                f"({MIN_REPEAT_CUSTOMERS} needed). Use a longer history or a later as-of."
            )

    def _fit_transaction(
        self, summary: pd.DataFrame, first: float, diag: dict[str, Any]
    ) -> TransactionModel:
        tried = []
        candidates = [first] + [p for p in PENALIZER_GRID if p > first] + [0.1]
        for pen in dict.fromkeys(candidates):
            start = self.start if self.kind == "pareto" else None
            try:
                model = TransactionModel(kind=self.kind, penalizer=pen, start=start).fit(summary)
            except ModelFitError as exc:
                tried.append(f"penalizer {pen}: {exc}".splitlines()[0])
                continue
            if model.converged_:
                if tried:
                    self._warn(diag, f"{self.kind} did not converge with " + "; ".join(tried))
                return model
            tried.append(f"penalizer {pen}: {model.fit_message_}")
        raise ModelFitError(f"{self.kind} did not converge with any penalizer: " + "; ".join(tried))

    def _select_penalizer(
        self,
        tx: ValidatedTransactions | pd.DataFrame,
        as_of: pd.Timestamp,
        daily: pd.DataFrame | None = None,
    ) -> tuple[float, dict[str, Any]]:
        if self.kind == "pareto":
            # Out-of-time log loss over the grid, first windows of CDNOW (1997-10-31,
            # 1998-01-31) and the UCI logs (four cutoffs): under 0.00001 apart in five, 0.0007
            # in the sixth (both logs), while two more fits cost 4-30 s there. Not 0: on a
            # young history (CDNOW at 1997-03-06) the unpenalised fit walks the ridge to the
            # wall on s for 23 s, and the next window, started there, for 25 s more.
            return PARETO_PENALIZER, {
                "skipped": f"Pareto/NBD: {PARETO_PENALIZER:g}, its log loss barely moves with "
                "the penalizer"
            }
        daily = btyd_summary(tx, as_of, "D") if daily is None else daily
        history_days = int(daily["T"].max())
        val_days = int(np.clip(history_days // 4, 30, 180))
        fit_as_of = as_of - pd.Timedelta(days=val_days)
        unit = _UNIT_DAYS[self.freq]
        try:
            summary = btyd_summary(tx, fit_as_of, self.freq)
            self._gate(summary, fit_as_of)
        except InsufficientDataError as exc:
            return 1e-3, {"skipped": f"not enough history before {fit_as_of.date()}: {exc}"}
        summary = self._sample(summary)
        labels = build_labels(tx, fit_as_of, val_days, customers=summary.index, data_end=as_of)
        # identical customers get identical predictions: fit and score the distinct rows
        rows = (
            summary[RFM_COLUMNS]
            .astype(float)
            .assign(n=1.0, bought=labels["bought"].to_numpy(float))
            .groupby(RFM_COLUMNS, sort=False)[["n", "bought"]]
            .sum()
            .reset_index()
        )
        scores: dict[str, float] = {}
        start: dict[str, float] | None = None
        for pen in PENALIZER_GRID:
            try:
                # each fit starts at the last one's optimum, which a small change of
                # penalizer moves little (a third fewer iterations)
                model = TransactionModel(kind=self.kind, penalizer=pen, start=start).fit(
                    rows, sample_weight=rows["n"].to_numpy()
                )
            except ModelFitError:
                continue
            if not model.converged_:
                continue
            start = dict(model.params_)
            p = model.p_repurchase(rows, val_days / unit).to_numpy()
            if not np.isfinite(p).all():
                continue
            p = np.clip(p, 1e-6, 1 - 1e-6)
            # the log loss over customers (sklearn's log_loss, whose input checks cost as
            # much as the fit here)
            scores[str(pen)] = float(
                -(rows["bought"] * np.log(p) + (rows["n"] - rows["bought"]) * np.log1p(-p)).sum()
                / rows["n"].sum()
            )
        if not scores:
            return 1e-3, {"skipped": "no penalizer converged on the validation window"}
        best = min(scores, key=scores.__getitem__)
        return float(best), {
            "validation_as_of": str(fit_as_of.date()),
            "validation_days": val_days,
            "log_loss": scores,
            "chosen": float(best),
        }

    def _fit_spend(
        self, summary: pd.DataFrame, diag: dict[str, Any]
    ) -> tuple[GammaGammaModel | None, float]:
        repeat = summary["monetary_value"].to_numpy(float)[summary["frequency"].to_numpy() > 0]
        population = float(repeat.mean()) if repeat.size else float("nan")
        try:
            model = GammaGammaModel(penalizer=self.spend_penalizer).fit(summary)
        except (InsufficientDataError, ModelFitError) as exc:
            diag["spend_model"] = "shrunk mean spend (fallback)"
            diag["spend_fallback_reason"] = str(exc).splitlines()[0]
            self._warn(diag, f"Gamma-Gamma not used: {diag['spend_fallback_reason']}")
            return None, population
        diag["spend_model"] = "gamma_gamma"
        diag["spend_params"] = dict(model.params_)
        diag["spend_fitted_customers"] = model.n_fitted_
        diag["spend_excluded_customers"] = model.n_excluded_  # one-time buyers
        diag["spend_frequency_corr"] = model.spend_frequency_corr_
        if abs(model.spend_frequency_corr_) > 0.3:
            self._warn(
                diag,
                f"frequency and spend are correlated (r = {model.spend_frequency_corr_:.2f}); "
                "Gamma-Gamma assumes they are independent, so spend predictions may be biased",
            )
        return model, population

    def _get_state(self, folder: Path | None) -> dict[str, Any]:
        return {
            "transaction": json.loads(self.transaction_.to_json()),
            "spend": None if self.spend_ is None else json.loads(self.spend_.to_json()),
            "population_spend": self.population_spend_,
        }

    def _set_state(self, state: dict[str, Any], folder: Path | None) -> None:
        self.transaction_ = TransactionModel.from_json(json.dumps(state["transaction"]))
        self.penalizer_ = float(self.transaction_.penalizer)
        spend = state["spend"]
        self.spend_ = None if spend is None else GammaGammaModel.from_json(json.dumps(spend))
        self.population_spend_ = float(state["population_spend"])

    @staticmethod
    def _warn(diag: dict[str, Any], message: str) -> None:
        diag["warnings"].append(message)
        warnings.warn(message, ChurnmlWarning, stacklevel=3)

    # -- prediction ------------------------------------------------------------------------
    def expected_spend(self, summary: pd.DataFrame) -> np.ndarray:
        """Return expected revenue per purchase (Gamma-Gamma, or the shrunk-mean fallback).

        Parameters
        ----------
        summary : pandas.DataFrame
            BTYD summary (``frequency``, ``monetary_value``).

        Returns
        -------
        numpy.ndarray
            One expected spend per row of ``summary``.
        """
        if self.spend_ is not None:
            return self.spend_.expected_spend(summary).to_numpy()
        x = summary["frequency"].to_numpy(float)
        m = summary["monetary_value"].to_numpy(float)
        pop = self.population_spend_
        return (x * m + pop) / (x + 1.0)

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
            Horizon of ``p_repurchase``, ``expected_purchases``, ``expected_revenue`` and the
            timing columns.
        population : dict, optional
            Not read: each row comes from its customer's lines alone.

        Returns
        -------
        pandas.DataFrame
            Indexed by ``customer_id``, columns :data:`SCORE_COLUMNS` (plus ``net_clv`` and
            ``payback_days`` when an acquisition cost is set), no NaN or infinity except
            ``payback_days`` where the cost is not recovered within the CLV horizon.
        """
        self.check_fitted()
        as_of = parse_day(as_of)
        out = self.predict_summary(btyd_summary(tx, as_of, self.freq), as_of, horizon_days)
        baseline = RateBaselineScorer(value=self.value or ValueSettings()).fit(tx, as_of)
        return self._fill_nonfinite(out, lambda: baseline.predict(tx, as_of, horizon_days))

    def predict_yet_to_buy(
        self, first_day: pd.Series, as_of: Any, horizon_days: int
    ) -> pd.DataFrame:
        """Score customers without a purchase as if their first line had been one.

        Each is a customer at ``frequency = recency = 0`` whose age runs from the period of
        their first line to as-of (as in :func:`~churnml.features.btyd_summary`), which gives
        ``p_alive``, ``p_repurchase``, ``expected_purchases`` and the timing columns; spend is
        the population's (Gamma-Gamma's, or the fallback's mean), which gives
        ``expected_revenue`` and ``clv``. A row that overflows takes the rate baseline's
        numbers, as in :meth:`predict`.

        Parameters
        ----------
        first_day, as_of, horizon_days
            As in :meth:`churnml.models.base.BaseScorer.predict_yet_to_buy`.

        Returns
        -------
        pandas.DataFrame
            As :meth:`predict`, indexed like ``first_day``.
        """
        self.check_fitted()
        as_of = parse_day(as_of)
        start = period_start_day(first_day.to_numpy(), self.freq)  # type: ignore[arg-type]
        summary = pd.DataFrame(
            {
                "frequency": 0.0,
                "recency": 0.0,
                "T": (int(day_number(as_of)[()]) - start) / _UNIT_DAYS[self.freq],
                "monetary_value": 0.0,
            },
            index=first_day.index,
        )
        out = self.predict_summary(summary, as_of, horizon_days)
        numbers = out.drop(columns=["next_purchase_date", "payback_days"], errors="ignore")
        bad = ~np.isfinite(numbers.to_numpy(dtype=float)).all(axis=1)
        if bad.any():
            zero = RateBaselineScorer(value=self.value).predict_yet_to_buy(
                first_day, as_of, horizon_days
            )
            shared = [c for c in zero.columns if c in out.columns]
            out.loc[bad, shared] = zero.loc[bad, shared].to_numpy()
        return out

    def predict_summary(self, summary: pd.DataFrame, as_of: Any, horizon_days: int) -> pd.DataFrame:
        """Score the customers of a BTYD summary made at as-of, in this model's ``freq``.

        :meth:`predict` is this on the summary of the transactions, with non-finite rows
        (numerical overflow) replaced by the rate baseline's. Here nothing is replaced, so
        that a summary no transactions stand behind (such as a customer yet to buy, at
        ``frequency = recency = 0``) can be scored.

        Parameters
        ----------
        summary : pandas.DataFrame
            ``frequency``, ``recency``, ``T`` (in ``freq`` units) and ``monetary_value``,
            indexed by customer, as :func:`~churnml.features.btyd_summary` returns.
        as_of : str or pandas.Timestamp
            Scoring date (for ``next_purchase_date``).
        horizon_days : int
            Horizon of the probabilities and expectations.

        Returns
        -------
        pandas.DataFrame
            As :meth:`predict`, for the rows of ``summary``.
        """
        self.check_fitted()
        as_of = parse_day(as_of)
        unit = _UNIT_DAYS[self.freq]
        tm = self.transaction_
        spend = self.expected_spend(summary)
        out = pd.DataFrame(index=summary.index)
        out["p_alive"] = tm.p_alive(summary).to_numpy()
        out["expected_purchases"] = tm.expected_purchases(summary, horizon_days / unit).to_numpy()
        out["p_repurchase"] = tm.p_repurchase(summary, horizon_days / unit).to_numpy()
        out["expected_revenue"] = out["expected_purchases"] * spend
        out = side_by_side(
            out,
            lifetime_value(
                lambda days: tm.expected_purchases_curve(summary, days / unit),
                spend,
                summary.index,
                self.value,
            )
            if self.clv
            else no_value(summary.index),
            self._timing(summary, horizon_days, unit) if self.timing else no_timing(summary.index),
        )
        return _finish(out, as_of, horizon_days)

    def _timing(self, summary: pd.DataFrame, horizon_days: int, unit: int) -> pd.DataFrame:
        # a MultiIndex factorisation of the triples was 4.2 of 84 s of a train at 200,000
        codes, distinct = distinct_rfm(summary)
        parts = []
        for start in range(0, len(distinct), _TIMING_CHUNK):
            chunk = distinct.iloc[start : start + _TIMING_CHUNK]
            parts.append(
                timing_from_cdf(
                    lambda days, c=chunk: self.transaction_.purchase_cdf(c, days / unit),
                    horizon_days,
                    chunk.index,
                )
            )
        timing = pd.concat(parts).to_numpy()[codes]
        return pd.DataFrame(timing, index=summary.index, columns=list(TIMING_COLUMNS))
