"""BTYD models (BG/NBD, Pareto/NBD, MBG/NBD, Gamma-Gamma) as scikit-learn-style estimators.

BG/NBD, MBG/NBD and Gamma-Gamma are fitted with churnml's own likelihoods
(:mod:`churnml.models.likelihood`, the objectives ``lifetimes`` uses, with exact gradients);
Pareto/NBD with ``lifetimes``. All fit on distinct rows with counts as weights; all conditional
predictions use ``lifetimes``' formulas (credited below) except
:meth:`TransactionModel.purchase_cdf`, whose BG/NBD form is derived here. Parameters persist as
JSON (no pickle).

References
----------
.. [1] Fader, P. S., Hardie, B. G. S. and Lee, K. L. (2005). "Counting your customers the easy
   way: an alternative to the Pareto/NBD model". Marketing Science 24(2), 275-284.
.. [2] Schmittlein, D. C., Morrison, D. G. and Colombo, R. (1987). "Counting your customers:
   who are they and what will they do next?" Management Science 33(1), 1-24.
.. [3] Batislam, E. P., Denizel, M. and Filiztekin, A. (2007). "Empirical validation and
   comparison of models for customer base analysis". IJRM 24(3), 201-209 (MBG/NBD).
.. [4] Fader, P. S., Hardie, B. G. S. and Lee, K. L. (2005). "RFM and CLV: using iso-value
   curves for customer base analysis". Journal of Marketing Research 42(4), 415-430.
.. [5] Fader, P. S. and Hardie, B. G. S. (2014). "Deriving the conditional PMF of the
   Pareto/NBD model", http://brucehardie.com/notes/028/ (Pareto/NBD P(N=0), via lifetimes).
"""

from __future__ import annotations

import json
import warnings
import weakref
from collections.abc import Callable
from typing import Any, ClassVar

import numpy as np
import pandas as pd
from lifetimes import BetaGeoFitter, ModifiedBetaGeoFitter, ParetoNBDFitter
from scipy.optimize import minimize
from scipy.special import betaln, gammaln, hyp2f1

from churnml.exceptions import ConfigError, InsufficientDataError, ModelFitError, NotFittedError
from churnml.models.base import Params
from churnml.models.likelihood import (
    ParetoRows,
    fit_beta_geometric,
    fit_gamma_gamma,
    pareto_log_a0,
    pareto_log_likelihood,
    pareto_negative_log_likelihood,
)

__all__ = [
    "KINDS",
    "RFM_COLUMNS",
    "GammaGammaModel",
    "TransactionModel",
    "distinct_rfm",
    "pareto_no_purchase",
]

_FITTERS: dict[str, type] = {
    "bgnbd": BetaGeoFitter,
    "pareto": ParetoNBDFitter,
    "mbgnbd": ModifiedBetaGeoFitter,
}
#: Transaction model families.
KINDS = tuple(_FITTERS)
#: The summary columns a transaction model reads.
RFM_COLUMNS = ["frequency", "recency", "T"]
_PARETO_PARAMS = ("r", "alpha", "s", "beta")
_BETA_GEOMETRIC_PARAMS = ("r", "alpha", "a", "b")


def _check_summary(summary: pd.DataFrame, needed: list[str], owner: str) -> None:
    missing = [c for c in needed if c not in summary.columns]
    if missing:
        raise ConfigError(
            f"{owner} needs a customer summary with columns {', '.join(needed)} "
            f"(see churnml.features.btyd_summary); missing: {', '.join(missing)}"
        )
    if summary.empty:
        raise InsufficientDataError(f"{owner} got an empty customer summary")
    values = summary[needed].to_numpy(dtype=float)
    if not np.isfinite(values).all():
        raise ConfigError(f"{owner}: the summary holds NaN or infinite values")


def _distinct_rows(
    summary: pd.DataFrame, columns: list[str], weight: np.ndarray | None = None
) -> pd.DataFrame:
    """Distinct rows of ``columns`` with a ``weight`` column counting the customers behind each.

    The likelihood of identical customers is identical, so fitting on distinct rows with
    weights gives the same optimum for a fraction of the work. With ``weight``, each row of
    ``summary`` already stands for that many customers, and the weights are summed.

    Returns
    -------
    pandas.DataFrame
        The distinct rows and their ``weight``.
    """
    frame = summary[columns].astype(float)
    if weight is None:
        return frame.value_counts(sort=False).rename("weight").reset_index()
    return (
        frame.assign(weight=np.asarray(weight, dtype=float))
        .groupby(columns, sort=False)["weight"]
        .sum()
        .reset_index()
    )


def distinct_rfm(summary: pd.DataFrame) -> tuple[np.ndarray, pd.DataFrame]:
    """Return the distinct (frequency, recency, T) rows of a summary and each row's code.

    Parameters
    ----------
    summary : pandas.DataFrame
        Customer summary with ``frequency``, ``recency`` and ``T``.

    Returns
    -------
    codes : numpy.ndarray
        For every summary row, the position of its triple in ``distinct``.
    distinct : pandas.DataFrame
        The distinct triples, in order of first appearance, with a fresh range index.
    """
    keys = summary[RFM_COLUMNS].to_numpy(dtype=float)
    # P(alive), the expected purchases and P(repurchase) of one summary each ask for its
    # triples (1.3 s of a 200,000-customer train): the last answer is kept, for the same
    # frame holding the same values (compared, so a frame changed since is factorised again)
    last = _LastDistinct.entry
    if last is not None and last[0]() is summary and np.array_equal(last[1], keys):
        return last[2], last[3].copy()
    # Hash-factorise each column, then the combined integer key: linear time. (MultiIndex
    # factorisation took 60 % of scoring time, a row-wise np.unique sort 40 %.)
    combined = np.zeros(len(keys), dtype=np.int64)
    for j in range(keys.shape[1]):
        column_codes, column_values = pd.factorize(keys[:, j])
        combined = combined * len(column_values) + column_codes
    codes, uniques = pd.factorize(combined)
    first = np.empty(len(uniques), dtype=np.int64)
    first[codes[::-1]] = np.arange(len(codes))[::-1]
    distinct = pd.DataFrame(keys[first], columns=RFM_COLUMNS)
    codes.flags.writeable = False  # shared with the next caller
    try:
        # a copy: ``keys`` is a view of the frame's block, which an edit in place would change
        _LastDistinct.entry = (weakref.ref(summary), keys.copy(), codes, distinct.copy())
    except TypeError:  # not weak-referenceable: nothing kept
        _LastDistinct.entry = None
    return codes, distinct


class _LastDistinct:
    """The last summary :func:`distinct_rfm` factorised, its values and the answer."""

    entry: tuple[Any, np.ndarray, np.ndarray, pd.DataFrame] | None = None


def _on_distinct(summary: pd.DataFrame, func: Callable[[pd.DataFrame], np.ndarray]) -> np.ndarray:
    """Evaluate ``func`` once per distinct (frequency, recency, T) and spread it to customers."""
    codes, distinct = distinct_rfm(summary)
    return np.asarray(func(distinct))[codes]


class _Persisted(Params):
    """JSON round trip of the constructor arguments and fitted parameters."""

    _kind_name: ClassVar[str]
    params_: dict[str, float]

    def _require_fitted(self) -> None:
        if not hasattr(self, "params_"):
            raise NotFittedError(f"{type(self).__name__} is not fitted; call fit() first")

    def _fitted_note(self) -> str:
        if not hasattr(self, "params_"):
            return " [not fitted]"
        return " [" + ", ".join(f"{k}={v:.4g}" for k, v in self.params_.items()) + "]"

    def to_json(self) -> str:
        """Return the model as JSON: its class, settings and fitted parameters."""
        self._require_fitted()
        return json.dumps(
            {"model": self._kind_name, "settings": self.get_params(), "params": self.params_},
            indent=2,
        )

    @classmethod
    def from_json(cls, text: str) -> Any:
        """Rebuild a fitted model from :meth:`to_json` output."""
        payload = json.loads(text)
        if payload.get("model") != cls._kind_name:
            raise ConfigError(
                f"{cls.__name__}.from_json: expected model {cls._kind_name!r}; "
                f"got {payload.get('model')!r}"
            )
        model = cls(**payload["settings"])
        model.params_ = {k: float(v) for k, v in payload["params"].items()}
        return model


class TransactionModel(_Persisted):
    """A BTYD purchase-count model: BG/NBD, Pareto/NBD or MBG/NBD.

    Parameters
    ----------
    kind : {"bgnbd", "pareto", "mbgnbd"}
        Model family.
    penalizer : float
        L2 penalty on the parameters (``lifetimes``' ``penalizer_coef``), >= 0.
    max_iter : int
        Iteration limit of the optimiser (L-BFGS-B for BG/NBD and MBG/NBD, Nelder-Mead for
        Pareto/NBD, as in ``lifetimes``), >= 1.
    start : dict of str to float, optional
        The parameters (``r, alpha, s, beta`` or ``r, alpha, a, b``, in the summary's time
        unit) the search starts from, e.g. a fit at an earlier cutoff or with another
        penalizer. From a neighbour's optimum Pareto/NBD's Nelder-Mead needs about a quarter of
        the likelihood evaluations (CDNOW: 119 instead of 435), BG/NBD's L-BFGS-B about two
        thirds, and both land on the same optimum within the tolerance.

    Attributes
    ----------
    params_ : dict of str to float
        Fitted parameters (``r, alpha, a, b`` or ``r, alpha, s, beta``), in the time unit of the
        summary it was fitted on.
    n_customers_ : int
        Customers in the summary.
    n_unique_rows_ : int
        Distinct (frequency, recency, T) rows the likelihood was evaluated on.
    converged_ : bool
        Whether the optimiser reached a finite optimum; False when it stopped at its iteration
        limit, whatever the parameters look like.
    fit_message_ : str
        The optimiser's message (saying so when it stopped at the limit).
    at_bound_ : list of str
        Parameters at their limit: a degenerate but valid optimum (for example ``a`` near 0
        or ``s`` near 0: no drop-out is seen, and the model reduces to the NBD).

    Examples
    --------
    >>> from lifetimes.datasets import load_cdnow_summary
    >>> model = TransactionModel(kind="bgnbd").fit(load_cdnow_summary())
    >>> round(model.params_["r"], 3)
    0.243
    """

    _kind_name = "transaction"

    def __init__(
        self,
        *,
        kind: str = "bgnbd",
        penalizer: float = 0.0,
        max_iter: int = 2000,
        start: dict[str, float] | None = None,
    ) -> None:
        self.kind = kind
        self.penalizer = penalizer
        self.max_iter = max_iter
        self.start = start

    def _validate_params(self) -> None:
        if self.kind not in _FITTERS:
            raise ConfigError(
                f"TransactionModel.kind must be one of {', '.join(map(repr, _FITTERS))}; "
                f"got {self.kind!r}"
            )
        if not (isinstance(self.penalizer, int | float) and self.penalizer >= 0):
            raise ConfigError(
                f"TransactionModel.penalizer must be a number >= 0; got {self.penalizer!r}"
            )
        if not (isinstance(self.max_iter, int | np.integer) and self.max_iter >= 1):
            raise ConfigError(
                f"TransactionModel.max_iter must be a whole number >= 1; got {self.max_iter!r}"
            )
        if self.start is not None:
            names = _PARETO_PARAMS if self.kind == "pareto" else _BETA_GEOMETRIC_PARAMS
            values = [self.start.get(k) for k in names]
            if not all(isinstance(v, int | float) and np.isfinite(v) and v > 0 for v in values):
                raise ConfigError(
                    f"TransactionModel.start must give {', '.join(names)} as numbers > 0; "
                    f"got {self.start!r}"
                )

    def fit(
        self, summary: pd.DataFrame, sample_weight: np.ndarray | None = None
    ) -> TransactionModel:
        """Fit on a customer summary (``frequency``, ``recency``, ``T``).

        Parameters
        ----------
        summary : pandas.DataFrame
            One row per customer, as :func:`churnml.features.btyd_summary` returns.
        sample_weight : numpy.ndarray, optional
            Customers behind each row (default one each), e.g. for a summary already reduced
            to its distinct rows.

        Returns
        -------
        TransactionModel
            ``self``, fitted.

        Raises
        ------
        ModelFitError
            The optimiser failed outright (Pareto/NBD); see the message for remedies.
        """
        self._validate_params()
        _check_summary(summary, RFM_COLUMNS, "TransactionModel.fit")
        rows = _distinct_rows(summary, RFM_COLUMNS, sample_weight)
        x, t_x, T, w = (rows[c].to_numpy() for c in (*RFM_COLUMNS, "weight"))
        if self.kind in ("bgnbd", "mbgnbd"):
            initial = (
                None
                if self.start is None
                else np.log([self.start[k] for k in _BETA_GEOMETRIC_PARAMS])
            )
            result = fit_beta_geometric(
                x,
                t_x,
                T,
                w,
                penalizer=float(self.penalizer),
                modified=self.kind == "mbgnbd",
                initial=initial,
                max_iter=self.max_iter,
            )
            self.params_ = result.params
            self.converged_ = result.converged
            self.fit_message_ = result.message
            self.at_bound_ = result.at_bound
        else:
            self.params_, self.converged_, self.fit_message_ = _fit_pareto(
                x, t_x, T, w, float(self.penalizer), self.max_iter, self.start
            )
            self.at_bound_ = [k for k, v in self.params_.items() if v < 1e-6 or v > 1e6]
            if self.params_["s"] >= PARETO_MAX_S * (1 - 1e-3):
                self.at_bound_.append("s")
        self.n_customers_ = round(float(w.sum()))
        self.n_unique_rows_ = len(rows)
        return self

    def _fitter(self) -> Any:
        self._require_fitted()
        fitter = _FITTERS[self.kind](penalizer_coef=float(self.penalizer))
        fitter.params_ = pd.Series(self.params_)
        return fitter

    def p_alive(self, summary: pd.DataFrame) -> pd.Series:
        """Return P(customer still active at the end of the summary period).

        Parameters
        ----------
        summary : pandas.DataFrame
            Customer summary.

        Returns
        -------
        pandas.Series
            Probabilities indexed like ``summary``; non-finite values (numerical overflow) are
            replaced by 1 for customers seen recently relative to their age, see Notes.

        Notes
        -----
        Overflow only occurs for extreme rows; such a customer is scored as the limit the
        formula tends to (alive when ``recency == T``), never NaN.
        """
        _check_summary(summary, RFM_COLUMNS, "TransactionModel.p_alive")
        fitter = self._fitter()

        def compute(d: pd.DataFrame) -> np.ndarray:
            x, t_x, T = (d[c].to_numpy(dtype=float) for c in RFM_COLUMNS)
            with np.errstate(all="ignore"), warnings.catch_warnings():
                warnings.simplefilter("ignore")
                if self.kind == "pareto":
                    values = _pareto_p_alive(self.params_, x, t_x, T)
                else:
                    values = np.asarray(fitter.conditional_probability_alive(x, t_x, T), float)
            limit = (d["recency"] == d["T"]).to_numpy(dtype=float)
            return np.clip(np.where(np.isfinite(values), values, limit), 0.0, 1.0)

        return pd.Series(_on_distinct(summary, compute), index=summary.index, name="p_alive")

    def expected_purchases(self, summary: pd.DataFrame, t: float) -> pd.Series:
        """Return the expected number of purchases in the next ``t`` time units.

        Parameters
        ----------
        summary : pandas.DataFrame
            Customer summary.
        t : float
            Horizon, in the summary's time unit.

        Returns
        -------
        pandas.Series
            Expected purchases indexed like ``summary``. Where ``lifetimes``' hypergeometric
            form overflows, the value falls back to ``P(alive) * E[lambda | alive] * t``
            (an upper bound that ignores later drop-out).
        """
        values = self.expected_purchases_curve(summary, np.array([float(t)]))[:, 0]
        return pd.Series(values, index=summary.index, name="expected_purchases")

    def expected_purchases_curve(self, summary: pd.DataFrame, times: np.ndarray) -> np.ndarray:
        """Return :meth:`expected_purchases` at several horizons at once.

        The distinct customer rows are found once for every horizon (a CLV reads twelve).

        Parameters
        ----------
        summary : pandas.DataFrame
            Customer summary.
        times : numpy.ndarray
            Horizons, in the summary's time unit.

        Returns
        -------
        numpy.ndarray
            Shape ``(len(summary), len(times))``; column j equals
            ``expected_purchases(summary, times[j])``.
        """
        _check_summary(summary, RFM_COLUMNS, "TransactionModel")
        times = np.atleast_1d(np.asarray(times, dtype=float))
        fitter = self._fitter()

        def compute(d: pd.DataFrame) -> np.ndarray:
            x, t_x, T = (d[c].to_numpy(dtype=float) for c in RFM_COLUMNS)
            with np.errstate(all="ignore"), warnings.catch_warnings():
                warnings.simplefilter("ignore")
                if self.kind == "pareto":
                    values = _pareto_expected_purchases(self.params_, x, t_x, T, times)
                else:
                    values = np.column_stack(
                        [
                            np.asarray(
                                fitter.conditional_expected_number_of_purchases_up_to_time(
                                    t, x, t_x, T
                                ),
                                dtype=float,
                            )
                            for t in times
                        ]
                    )
            bad = ~np.isfinite(values) | (values < 0)
            if bad.any():
                alive = self.p_alive(d).to_numpy()
                r, alpha = self.params_["r"], self.params_["alpha"]
                bound = (alive * (r + x) / (alpha + T))[:, None] * times[None, :]
                values[bad] = bound[bad]
            return values

        return _on_distinct(summary, compute)

    def purchase_cdf(self, summary: pd.DataFrame, t: np.ndarray | float) -> np.ndarray:
        """Return P(at least one purchase within ``t``) for every customer and every ``t``.

        Parameters
        ----------
        summary : pandas.DataFrame
            Customer summary.
        t : float or array-like of float
            Times from the end of the summary period, in the summary's time unit.

        Returns
        -------
        numpy.ndarray
            Shape ``(len(summary), len(t))``, non-decreasing in ``t``, in [0, P(alive)].

        Notes
        -----
        BG/NBD and MBG/NBD: a customer alive at T drops out only right after a purchase, so
        the first purchase after T comes at rate lambda, and lambda given alive and the history
        is Gamma(r + x, alpha + T). Hence ``P(alive) * (1 - ((alpha+T)/(alpha+T+t))**(r+x))``.
        Pareto/NBD: ``1 - P(N(t) = 0)`` from the conditional PMF of [5]_ (``lifetimes``).
        """
        _check_summary(summary, RFM_COLUMNS, "TransactionModel")
        times = np.atleast_1d(np.asarray(t, dtype=float))

        def compute(d: pd.DataFrame) -> np.ndarray:
            x, _, T = (d[c].to_numpy() for c in RFM_COLUMNS)
            alive = self.p_alive(d).to_numpy()
            if self.kind in ("bgnbd", "mbgnbd"):
                r, alpha = self.params_["r"], self.params_["alpha"]
                log_ratio = np.log(alpha + T)[:, None] - np.log(alpha + T[:, None] + times)
                out = alive[:, None] * -np.expm1((r + x)[:, None] * log_ratio)
            else:
                with np.errstate(all="ignore"), warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    p0 = pareto_no_purchase(self.params_, x, d["recency"].to_numpy(), T, times)
                out = np.where(times > 0, 1.0 - p0, 0.0)
                out = np.where(np.isfinite(out), out, np.nan)
                # overflowed rows: the BG-style bound with the posterior purchase rate
                rate = (self.params_["r"] + x) / (self.params_["alpha"] + T)
                fallback = alive[:, None] * -np.expm1(-rate[:, None] * times)
                out = np.where(np.isnan(out), fallback, out)
                # monotone in t, whatever order the times were asked in
                order = np.argsort(times, kind="stable")
                out = np.clip(out, 0.0, alive[:, None])
                out[:, order] = np.maximum.accumulate(out[:, order], axis=1)
            return out

        return _on_distinct(summary, compute)

    def p_repurchase(self, summary: pd.DataFrame, t: float) -> pd.Series:
        """Return P(at least one purchase in the next ``t`` time units).

        Parameters
        ----------
        summary : pandas.DataFrame
            Customer summary.
        t : float
            Horizon, in the summary's time unit.

        Returns
        -------
        pandas.Series
            Probabilities indexed like ``summary``.
        """
        values = self.purchase_cdf(summary, [t])[:, 0]
        return pd.Series(values, index=summary.index, name="p_repurchase")


#: Largest Pareto/NBD drop-out shape s searched. The drop-out rates' coefficient of variation
#: is 1 / sqrt(s): at 100 they differ by 10 %, which is a single rate for every purpose, and
#: past it the likelihood gains nothing but time (see ``_pareto_objective``).
PARETO_MAX_S = 100.0


def _pareto_p_alive(
    params: dict[str, float], x: np.ndarray, t_x: np.ndarray, T: np.ndarray
) -> np.ndarray:
    """``ParetoNBDFitter.conditional_probability_alive``, with ``A_0`` computed per pair."""
    r, alpha, s, beta = (float(params[k]) for k in _PARETO_PARAMS)
    log_a0 = pareto_log_a0(np.array([r, alpha, s, beta]), ParetoRows.of(x, t_x, T))
    exponent = (
        np.log(s) - np.log(r + s + x) + (r + x) * np.log(alpha + T) + s * np.log(beta + T) + log_a0
    )
    return 1.0 / (1.0 + np.exp(exponent))


def _pareto_expected_purchases(
    params: dict[str, float], x: np.ndarray, t_x: np.ndarray, T: np.ndarray, times: np.ndarray
) -> np.ndarray:
    """``ParetoNBDFitter.conditional_expected_number_of_purchases_up_to_time`` at every time.

    Eq. (41) of Fader and Hardie's derivations, term for term as ``lifetimes``, with the
    likelihood computed once for all the times.

    Returns
    -------
    numpy.ndarray
        Shape ``(len(x), len(times))``.
    """
    r, alpha, s, beta = (float(params[k]) for k in _PARETO_PARAMS)
    likelihood = pareto_log_likelihood(np.array([r, alpha, s, beta]), ParetoRows.of(x, t_x, T))
    first = (
        gammaln(r + x)
        - gammaln(r)
        + r * np.log(alpha)
        + s * np.log(beta)
        - (r + x) * np.log(alpha + T)
        - s * np.log(beta + T)
    )
    second = np.log(r + x) + np.log(beta + T) - np.log(alpha + T)
    bT = (beta + T)[:, None]
    third = np.log((1 - (bT / (bT + np.asarray(times, dtype=float)[None, :])) ** (s - 1)) / (s - 1))
    return np.exp((first + second - likelihood)[:, None] + third)


def pareto_no_purchase(
    params: dict[str, float],
    x: np.ndarray,
    t_x: np.ndarray,
    T: np.ndarray,
    times: np.ndarray,
) -> np.ndarray:
    """Return Pareto/NBD's P(no purchase within ``t``) for every customer and every ``t``.

    ``lifetimes``' ``conditional_probability_of_n_purchases_up_to_time`` at ``n = 0``
    (eq. (41)-(43) of Fader, Hardie and Shang's derivations), term for term, with the
    customer's likelihood and the terms that do not depend on ``t`` computed once instead of
    once per ``t`` (on CDNOW the timing of 96 days took 1.9 s that way and takes a tenth now),
    and the terms that do not depend on the recency once per (frequency, age) pair.

    Parameters
    ----------
    params : dict of str to float
        ``r, alpha, s, beta``.
    x, t_x, T : numpy.ndarray
        Frequency, recency and age of each customer.
    times : numpy.ndarray
        Times from the end of the history (> 0), in the same unit.

    Returns
    -------
    numpy.ndarray
        Shape ``(len(x), len(times))``.
    """
    r, alpha, s, beta = (float(params[k]) for k in _PARETO_PARAMS)
    rows = ParetoRows.of(x, t_x, T)
    log_l = pareto_log_likelihood(np.array([r, alpha, s, beta]), rows)
    # Apart from the likelihood, every term depends on the frequency and the age only: it is
    # computed per distinct (frequency, age) pair (a tenth of the rows of a daily summary,
    # and the hypergeometric function over the time grid was most of the cost).
    xs, ages, pair = rows.age_pairs
    if alpha < beta:
        low, high, p = alpha, beta, r + xs
    else:
        low, high, p = beta, alpha, np.full_like(xs, s + 1)
    gap = high - low
    head = r * np.log(alpha) + s * np.log(beta) - gammaln(r)
    log_p_zero = head + gammaln(r + xs) - (r + xs) * np.log(alpha + ages) - s * np.log(beta + ages)
    log_p_zero = log_p_zero[pair] - log_l
    mixed = head + gammaln(r + s + xs) + betaln(r + xs, s + 1) - gammaln(s)
    log_b_two = (
        mixed
        + np.log(hyp2f1(r + s + xs, p, r + s + xs + 1, gap / (high + ages)))
        - (r + s + xs) * np.log(high + ages)
    )[pair]
    Tt = ages[:, None] + np.asarray(times, dtype=float)[None, :]
    rx, rsx = (r + xs)[:, None], (r + s + xs)[:, None]
    log_b_one = (head + gammaln(r + xs)[:, None] - rx * np.log(alpha + Tt) - s * np.log(beta + Tt))[
        pair
    ]
    log_b_three = (
        mixed[:, None]
        + np.log(hyp2f1(rsx, p[:, None], rsx + 1, gap / (high + Tt)))
        - rsx * np.log(high + Tt)
    )[pair]
    one = log_b_one - log_l[:, None]
    two = (log_b_two - log_l)[:, None]
    three = log_b_three - log_l[:, None]
    # log|B1 + B2 - B3| as lifetimes' signed logsumexp (its rounding can make the sum
    # slightly < 0, hence the absolute value), without building the stacked terms
    top = np.maximum(np.maximum(one, two), three)
    top = np.where(np.isfinite(top), top, 0.0)
    total = np.exp(one - top) + np.exp(two - top) - np.exp(three - top)
    return (1 - np.exp(log_p_zero))[:, None] + np.abs(total) * np.exp(top)


def _fit_pareto(
    x: np.ndarray,
    t_x: np.ndarray,
    T: np.ndarray,
    w: np.ndarray,
    penalizer: float,
    max_iter: int,
    start: dict[str, float] | None = None,
) -> tuple[dict[str, float], bool, str]:
    """Fit Pareto/NBD as ``ParetoNBDFitter.fit`` does, keeping the optimiser's verdict.

    ``lifetimes`` minimises its likelihood with Nelder-Mead on ages scaled to a maximum of 1
    and returns the end point without looking at whether the optimiser converged; the same
    minimisation here returns that too.

    Returns
    -------
    params : dict of str to float
        ``r, alpha, s, beta`` in the summary's time unit.
    converged : bool
        A finite optimum, reached before the iteration limit.
    message : str
        The optimiser's message.

    Raises
    ------
    ModelFitError
        The optimisation failed outright.
    """
    scale = 1.0 / float(T.max())
    args = (ParetoRows.of(x, t_x * scale, T * scale), w, penalizer)
    # lifetimes draws its start from the global NumPy generator (normal around 1); starting at
    # its centre makes fits reproducible. A warm start outside the region where the likelihood
    # is defined (a neighbour's optimum on the ridge) is no start at all.
    x0 = np.ones(4)
    if start is not None:
        warm = np.array([start["r"], start["alpha"] * scale, start["s"], start["beta"] * scale])
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if np.isfinite(_pareto_objective(warm, *args)):
                x0 = warm
    try:
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            # tol as ParetoNBDFitter.fit's
            out = minimize(
                _pareto_objective,
                x0=x0,
                args=args,
                method="Nelder-Mead",
                tol=1e-4,
                options={"maxiter": max_iter},
            )
    except Exception as exc:  # numpy errors from extreme rows
        raise ModelFitError(_fit_failure("Pareto/NBD", exc)) from None
    r, alpha, s, beta = (float(v) for v in out.x)
    params = {"r": r, "alpha": alpha / scale, "s": s, "beta": beta / scale}
    finite = bool(np.isfinite(out.fun) and np.all(np.isfinite(out.x)))
    message = str(out.message)
    if out.status in (1, 2):  # Nelder-Mead: evaluation or iteration limit
        message = f"stopped at the iteration limit ({max_iter}) before converging: {message}"
    return params, finite and bool(out.success), message


def _pareto_objective(params: np.ndarray, *args: Any) -> float:
    """``lifetimes``' Pareto/NBD negative log-likelihood, walled at ``s <= PARETO_MAX_S``.

    Where drop-out shows no heterogeneity the likelihood keeps rising, ever more slowly, along
    a ridge (s and beta growing together, s / beta fixed), each evaluation slower as hyp2f1
    converges more slowly, and far along it hyp2f1 overflows and the likelihood is NaN.
    Nelder-Mead compares with ``<``, so a NaN vertex is never replaced: the simplex stalled
    there for minutes (UCI 2009-2011 at 2011-05-12, warm-started on the ridge, did not finish
    in 20 minutes). Beyond the wall, and wherever the likelihood is not finite, the value is
    +inf, which sends the simplex back; elsewhere it is lifetimes' own (computed once per
    distinct pair: :func:`~churnml.models.likelihood.pareto_negative_log_likelihood`).

    Returns
    -------
    float
        The penalised negative log-likelihood, or +inf.
    """
    if params[2] > PARETO_MAX_S:
        return np.inf
    value = pareto_negative_log_likelihood(params, *args)
    return float(value) if np.isfinite(value) else np.inf


def _fit_failure(model: str, exc: BaseException) -> str:
    return (
        f"{model} did not converge ({type(exc).__name__}: {exc}). Things to check:\n"
        "  1. Too few repeat buyers, or a history shorter than the purchase cycle: "
        "use more data or an earlier as-of.\n"
        "  2. Extreme customers (wholesale accounts with hundreds of purchases): consider "
        "--max-customer-revenue or excluding them.\n"
        "  3. A degenerate optimum (nobody ever drops out): add a penalizer, e.g. 0.001.\n"
        "  4. Otherwise use kind='bgnbd', whose fit is the most robust."
    )


class GammaGammaModel(_Persisted):
    """Gamma-Gamma model of the mean spend per purchase, fitted on repeat customers only.

    Parameters
    ----------
    penalizer : float
        L2 penalty on the parameters, >= 0.

    Attributes
    ----------
    params_ : dict of str to float
        ``p``, ``q``, ``v``.
    n_fitted_ : int
        Repeat customers (frequency > 0, positive spend) it was fitted on.
    n_excluded_ : int
        Customers left out of the fit (one-time buyers, non-positive spend).
    spend_frequency_corr_ : float
        Pearson correlation of frequency and mean spend among repeat customers; the model
        assumes independence, so a large value deserves a look.
    """

    _kind_name = "gamma_gamma"

    def __init__(self, *, penalizer: float = 0.0) -> None:
        self.penalizer = penalizer

    def fit(self, summary: pd.DataFrame) -> GammaGammaModel:
        """Fit on the repeat customers of a summary (``frequency``, ``monetary_value``).

        Parameters
        ----------
        summary : pandas.DataFrame
            Customer summary with ``frequency`` and ``monetary_value``.

        Returns
        -------
        GammaGammaModel
            ``self``, fitted.

        Raises
        ------
        InsufficientDataError
            Fewer than 10 repeat customers.
        ModelFitError
            The spend values have no spread, or the optimiser failed.
        """
        _check_summary(summary, ["frequency", "monetary_value"], "GammaGammaModel.fit")
        frequency = summary["frequency"].to_numpy(float)
        value = summary["monetary_value"].to_numpy(float)
        keep = (frequency > 0) & (value > 0)
        # the two columns read, without the customer ids: a text index taken row by row was
        # 60 ms a fit at 200,000 customers
        repeat = pd.DataFrame({"frequency": frequency[keep], "monetary_value": value[keep]})
        if len(repeat) < 10:
            raise InsufficientDataError(
                f"GammaGammaModel needs at least 10 repeat customers to fit; got {len(repeat)}"
            )
        spend = repeat["monetary_value"].to_numpy(float)
        if np.std(spend) <= 1e-9 * max(1.0, float(np.mean(spend))):
            raise ModelFitError(
                "GammaGammaModel: every repeat customer has the same mean spend; the spread "
                "the model estimates does not exist (use the mean spend instead)"
            )
        rows = _distinct_rows(repeat, ["frequency", "monetary_value"])
        try:
            with np.errstate(all="ignore"):
                result = fit_gamma_gamma(
                    rows["frequency"].to_numpy(),
                    rows["monetary_value"].to_numpy(),
                    rows["weight"].to_numpy(),
                    penalizer=float(self.penalizer),
                )
        except (ValueError, FloatingPointError) as exc:
            raise ModelFitError(_fit_failure("Gamma-Gamma", exc)) from None
        if not result.converged:
            raise ModelFitError(_fit_failure("Gamma-Gamma", RuntimeError(result.message)))
        self.params_ = dict(result.params)
        if not np.all(np.isfinite(list(self.params_.values()))) or self.params_["q"] <= 1:
            raise ModelFitError(
                f"Gamma-Gamma fitted parameters are unusable ({self.params_}); "
                "q must exceed 1 for a finite mean spend"
            )
        self.n_fitted_ = len(repeat)
        self.n_excluded_ = len(summary) - len(repeat)
        freq = repeat["frequency"].to_numpy(float)
        self.spend_frequency_corr_ = (
            float(np.corrcoef(freq, spend)[0, 1]) if np.std(freq) > 0 else 0.0
        )
        return self

    def expected_spend(self, summary: pd.DataFrame) -> pd.Series:
        """Return the expected mean spend per purchase of each customer.

        One-time buyers get the population mean ``p * v / (q - 1)``.

        Parameters
        ----------
        summary : pandas.DataFrame
            Customer summary with ``frequency`` and ``monetary_value``.

        Returns
        -------
        pandas.Series
            Expected spend indexed like ``summary``.
        """
        _check_summary(summary, ["frequency", "monetary_value"], "GammaGammaModel")
        self._require_fitted()
        p, q, v = self.params_["p"], self.params_["q"], self.params_["v"]
        x = summary["frequency"].to_numpy(float)
        m = np.where(x > 0, summary["monetary_value"].to_numpy(float), 0.0)
        # Fader, Hardie & Lee (2005b), eq. 5: a weighted mean of population and customer means.
        spend = (p * (v + x * m)) / (p * x + q - 1)
        return pd.Series(spend, index=summary.index, name="expected_spend")
