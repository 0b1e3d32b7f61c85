"""LightGBM and hybrid (BTYD-boosted) scorers trained on point-in-time snapshots.

``gbm`` learns from the feature table only; ``hybrid`` also sees BG/NBD's outputs and boosts
*from* BG/NBD's own prediction (LightGBM ``init_score``: the BTYD logit or log-mean).
Trees model P(repurchase) and revenue; expected purchases are P(repurchase) times BG/NBD's
expected count given a purchase (a hurdle model).

How many trees each model gets is decided out of time: the models are first trained on
snapshots whose label windows end before a held-out snapshot starts (no overlap with its
window), and stopped where the held-out loss stops improving. For the hybrid, a held-out loss
no better than BG/NBD's own means zero trees: it then *is* BG/NBD, so it cannot lose to its
start by more than the noise of one window. The final models are refitted on every snapshot
with those tree counts.

Levels drift: training snapshots are younger than the scoring date and younger customers buy
more, which makes a model trained on them over-predict totals (20-35 % on CDNOW). Both scorers
Platt-scale P(repurchase) on the held-out snapshot, and by default (``anchor_level``) take their
*level* from BG/NBD at the scoring date, which extrapolates customer aging, and their *ranking*
from the trees: calibrated logits are shifted by one constant so that the sum of P(repurchase)
matches BG/NBD's, and revenue and purchase counts are scaled likewise. Where the history covers
the same window one year earlier, the window's level is corrected by how far BG/NBD missed
there (seasonality); CLV, a year long, never takes one window's seasonal factor.
"""

from __future__ import annotations

import copy
import json
import time
import warnings
import weakref
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Literal

import lightgbm as lgb
import numpy as np
import pandas as pd
from scipy.optimize import brentq
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import log_loss, mean_tweedie_deviance

from churnml.config import parse_day
from churnml.data.frames import side_by_side
from churnml.data.purchases import select_lines
from churnml.data.validation import ValidatedTransactions
from churnml.exceptions import ChurnmlError, ConfigError, InsufficientDataError
from churnml.features.rfm import btyd_summary, history_until, lines_of
from churnml.features.snapshots import plan_snapshots
from churnml.features.windows import build_features, build_labels
from churnml.models.base import BaseScorer, free_processors
from churnml.models.explain import top_reasons
from churnml.models.pipeline import BTYDScorer, _finish
from churnml.models.timing import no_timing
from churnml.models.value import lifetime_value, no_value
from churnml.settings import ValueSettings

__all__ = [
    "GBMScorer",
    "floor_scale",
    "floor_scaled",
    "logit_shift",
    "scaled_above",
    "share_btyd",
    "share_prefix",
    "shift_to",
    "shifted",
]

#: Absolute-age features left out: the scoring date is older than every training snapshot,
#: and trees cannot extrapolate them.
_ABSOLUTE_AGE = ("T", "tenure_days", "recency")
_BTYD_FEATURES = ("btyd_p_alive", "btyd_p_repurchase", "btyd_expected_purchases", "btyd_spend")
_EPS = 1e-6
#: History a year-ago BG/NBD fit needs before its miss is read as seasonality.
_MIN_SEASON_HISTORY_DAYS = 180
#: History a snapshot needs before it, and the shortest label window worth training on.
_MIN_HISTORY_DAYS = 60
_MIN_LABEL_DAYS = 30
#: BG/NBD's penalizer at training snapshots. The out-of-time search the scorer runs at as-of
#: chose 0 or 1e-5 at each of 47 dates (CDNOW every 15 days of its first 9 months and 10
#: snapshots later, 10 snapshots of 200,000 simulated customers, 6 of each UCI log), and it
#: cost 0.3 s a snapshot on CDNOW and 0.6 s at 200,000 customers, about ten snapshots a
#: window. 0 made the hybrid lose 0.011 AUC on CDNOW's young history (setting 2 of
#: ``bench_models.py``: unpenalised fits on a few months wander); 1e-5 kept every champion
#: of the seven settings within 0.002 AUC and 0.0025 Gini of the search's. Where it does not
#: converge, the fit moves up the penalizer grid as every BG/NBD fit does.
_SNAPSHOT_PENALIZER = 1e-5
#: Tree count when no held-out window fits (the ``gbm`` only; the hybrid then stays BG/NBD).
_DEFAULT_ROUNDS = 100
_UNIT_DAYS = {"D": 1, "W": 7}
#: (target, LightGBM objective, label column). Expected purchases are not boosted: they are
#: P(repurchase) times BG/NBD's expected count given a purchase (a hurdle model, see
#: ``GBMScorer._counts``). A Poisson booster of its own was the slowest of the three (its
#: held-out loss kept improving past 100 trees at a rate of 0.1) and took 29 % of the CPU
#: time of a CDNOW ``train``; without it, AUC, Gini, Brier and every total of the seven
#: settings of ``bench_models.py`` were unchanged, and the purchases MAE of ``gbm`` moved by
#: -0.052 to +0.039 (the champion's by -0.011 to +0.022: better on CDNOW, worse on UCI).
_TARGETS = (
    ("repurchase", "binary", "bought"),
    ("revenue", "tweedie", "revenue"),
)
_TIMING_TARGETS = (
    ("days", "regression", {}),
    ("days_q10", "quantile", {"alpha": 0.1}),
    ("days_q50", "quantile", {"alpha": 0.5}),
    ("days_q90", "quantile", {"alpha": 0.9}),
)

# Snapshot tables and BTYD fits shared by every GBMScorer fitted on the same input object:
# an evaluation fits gbm and hybrid (and several backtest windows) on one log, and the
# snapshots they need are the same. Entries go when the input object is garbage-collected.
# (fitted models and their scores take one entry each: see GBMScorer.fit and predict)
_SHARED_ENTRIES = 48
# A window's fit reads about ten tables (about 40 MB each at 200,000 customers, and 32 of
# them held 1.3 GB), so their size is bounded too. Train's peak at 200,000 customers by this
# bound: 512 MiB 1.79 GB but the refit 27 s instead of 9.5 (tables made again), 640 MiB
# 2.00 GB and 12.5 s, 768 MiB 2.06 GB and 9.5 s, 1 GiB 2.18 GB.
_SHARED_BYTES = 768 << 20


def _nbytes(value: Any) -> int:
    """Memory of a shared entry's tables (fitted models are small and count as nothing)."""
    if isinstance(value, pd.DataFrame):
        return int(value.memory_usage(index=True, deep=False).sum())
    if isinstance(value, tuple | list):
        return sum(_nbytes(v) for v in value)
    return 0


class _Tables:
    """The shared entries of one input object: an LRU bounded in count and bytes.

    Each entry is keyed with the last day of data it read. A view of a source's rows up to
    ``end`` (:func:`share_prefix`) reads and fills the source's entries that end by then:
    they were computed from the same rows.
    """

    def __init__(self, source: _Tables | None = None, end: pd.Timestamp | None = None) -> None:
        self.entries: OrderedDict[tuple[Any, ...], Any] = OrderedDict()
        self.sizes: dict[tuple[Any, ...], int] = {}
        self.source, self.end = source, end

    def get(self, key: tuple[Any, ...], data_end: pd.Timestamp, make: Callable[[], Any]) -> Any:
        if self.source is not None and self.end is not None and data_end <= self.end:
            return self.source.get(key, data_end, make)
        if key in self.entries:
            self.entries.move_to_end(key)
            return self.entries[key]
        value = make()
        self.entries[key] = value
        self.sizes[key] = _nbytes(value)
        # the newest entry always stays, however large
        while len(self.entries) > 1 and (
            len(self.entries) > _SHARED_ENTRIES or sum(self.sizes.values()) > _SHARED_BYTES
        ):
            oldest, _ = self.entries.popitem(last=False)
            del self.sizes[oldest]
        return value


_SHARED: dict[int, _Tables] = {}


def _register(obj: object, tables: _Tables) -> _Tables:
    try:
        weakref.finalize(obj, _SHARED.pop, id(obj), None)
    except TypeError:  # not weak-referenceable: nothing can be shared safely
        return tables
    _SHARED[id(obj)] = tables
    return tables


def _shared_for(obj: object) -> _Tables:
    return _SHARED.get(id(obj)) or _register(obj, _Tables())


def share_prefix(view: object, source: object, end: Any) -> None:
    """Let fits on ``view`` reuse the snapshot tables and BG/NBD fits made from ``source``.

    Parameters
    ----------
    view : pandas.DataFrame or ValidatedTransactions
        Exactly ``source``'s lines dated on or before ``end`` (an evaluation's data up to its
        cutoff); the caller vouches for that.
    source : pandas.DataFrame or ValidatedTransactions
        The input other fits were (or will be) made on.
    end : str or pandas.Timestamp
        Last day of ``view``.

    Notes
    -----
    Only entries whose data end by ``end`` are shared: a snapshot whose label window runs past
    it would see fewer purchases in ``view`` than in ``source``. ``evaluate``'s champion is
    chosen on windows inside the data up to the cutoff, and this is what lets them reuse the
    tables the evaluation itself built (about 6 s of CDNOW's evaluate).
    """
    _register(view, _Tables(_shared_for(source), parse_day(end)))


def share_btyd(tx: object, scorer: BTYDScorer) -> bool:
    """Let gbm and hybrid fits on ``tx`` at ``scorer``'s as-of use it as their BG/NBD.

    A backtest window fits the ``bgnbd`` family and then gbm and hybrid at the same cutoff,
    whose BG/NBD at as-of is the same model fitted on the same rows (0.3 s of a CDNOW window
    with its penalizer search, about 1 s at 200,000 customers).

    Parameters
    ----------
    tx : pandas.DataFrame or ValidatedTransactions
        The input ``scorer`` was fitted on, and gbm and hybrid will be.
    scorer : BTYDScorer
        A fitted scorer.

    Returns
    -------
    bool
        Whether it was taken: only a BG/NBD made exactly as gbm makes its own (the same
        penalizer, CLV settings and period, every other setting at its default) is.
    """
    if not isinstance(scorer, BTYDScorer) or not scorer.is_fitted:
        return False
    params = scorer.get_params()
    penalizer = params["penalizer"]
    own = BTYDScorer(
        kind="bgnbd",
        penalizer=penalizer,
        value=params["value"],
        freq=params["freq"],
        clv=params["clv"],
        timing=params["timing"],
    )
    if params != own.get_params():
        return False
    if isinstance(penalizer, str) and penalizer == "auto":
        penalizer = None  # the key of a fit that searched its penalizer
    key = _btyd_key(
        scorer.as_of_, penalizer, params["freq"], params["value"], params["clv"], params["timing"]
    )
    # a copy: the caller may fit its scorer again at another date
    _shared_for(tx).get(key, scorer.as_of_, lambda: copy.copy(scorer))
    return True


def _btyd_key(
    day: pd.Timestamp,
    penalizer: float | None,
    freq: str,
    value: Any,
    clv: bool,
    timing: bool = True,
) -> tuple[Any, ...]:
    """Key of a shared BG/NBD fit: one without CLV or timing scores otherwise, so is another."""
    key = ("btyd", day, penalizer, freq, repr(value))
    return (*key, *(() if clv else ("no clv",)), *(() if timing else ("no timing",)))


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, _EPS, 1 - _EPS)
    return np.log(p / (1 - p))


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-z))


def _loss(target: str, y: np.ndarray, raw: np.ndarray) -> float:
    """Held-out loss of a raw score (logit or log-mean), in the objective's own terms."""
    if target == "repurchase":
        return float(log_loss(y, np.clip(_sigmoid(raw), _EPS, 1 - _EPS), labels=[0, 1]))
    mean = np.exp(np.clip(raw, -30, 30))
    return float(mean_tweedie_deviance(np.maximum(y, 0.0), mean, power=1.5))


def floor_scale(n: np.ndarray, floor: np.ndarray, total: float) -> float:
    """Return the factor c with ``sum(max(c * n, floor)) == total`` (0 when none is needed).

    Expected purchases are at least the chance of one purchase; taking that maximum *after*
    scaling to a level would put the total above the level, so the factor is solved for with
    the floor in place.

    Parameters
    ----------
    n : numpy.ndarray
        Expected purchases per customer, at any level.
    floor : numpy.ndarray
        Each customer's least value (P(repurchase)).
    total : float
        The total wanted.

    Returns
    -------
    float
        The factor; 0 when ``total`` is at or below the floor's sum (or ``n`` sums to
        nothing), where the floor alone is the answer.
    """
    if total <= floor.sum() + _EPS or n.sum() <= 0:
        return 0.0

    def gap(c: float) -> float:
        return float(np.maximum(c * n, floor).sum() - total)

    hi = 1.0
    while gap(hi) < 0:
        hi *= 2.0
    return float(brentq(gap, 0.0, hi, xtol=1e-12))


def scaled_above(n: np.ndarray, floor: np.ndarray, factor: float) -> np.ndarray:
    """Return ``max(factor * n, floor)``, :func:`floor_scale`'s factor applied (0: the floor)."""
    if factor <= 0:
        return np.maximum(floor, 0.0)
    return np.maximum(factor * n, floor)


def floor_scaled(n: np.ndarray, floor: np.ndarray, total: float) -> np.ndarray:
    """Scale ``n`` by one factor c so that ``sum(max(c * n, floor)) == total``.

    Parameters
    ----------
    n : numpy.ndarray
        Expected purchases per customer, at any level.
    floor : numpy.ndarray
        Each customer's least value (P(repurchase)).
    total : float
        The total wanted.

    Returns
    -------
    numpy.ndarray
        The scaled counts (the floor itself when ``total`` is below the floor's sum).
    """
    return scaled_above(n, floor, floor_scale(n, floor, total))


def logit_shift(p: np.ndarray, target: float) -> float:
    """Return the constant that, added to the logits of ``p``, makes them sum to ``target``.

    Parameters
    ----------
    p : numpy.ndarray
        Probabilities.
    target : float
        The sum wanted (clipped to what ``p.size`` probabilities can reach).

    Returns
    -------
    float
        The shift, in logits.
    """
    z = _logit(p)
    target = float(np.clip(target, _EPS, p.size * (1 - _EPS)))
    return float(brentq(lambda d: _sigmoid(z + d).sum() - target, -30.0, 30.0))


def shifted(p: np.ndarray, shift: float) -> np.ndarray:
    """Add ``shift`` to the logits of ``p``; return the probabilities."""
    return _sigmoid(_logit(p) + shift)


def shift_to(p: np.ndarray, target: float) -> np.ndarray:
    """Shift logits by one constant so that the probabilities sum to ``target``.

    Parameters
    ----------
    p : numpy.ndarray
        Probabilities.
    target : float
        The sum wanted (clipped to what ``p.size`` probabilities can reach).

    Returns
    -------
    numpy.ndarray
        The shifted probabilities, in the order of ``p``.
    """
    return shifted(p, logit_shift(p, target))


def _early_stopping_plan(
    first: pd.Timestamp, as_of: pd.Timestamp, label_days: int, step_days: int, max_snapshots: int
) -> tuple[int, pd.Timestamp, list[pd.Timestamp]] | None:
    """Held-out snapshot and the training snapshots whose windows end before its window starts.

    The held-out window is the newest full one, ``(as_of - L, as_of]``; training snapshots are
    ``as_of - 2L - k * step``. When the history is too short for that with the model's label
    window, the window is shortened (never below 30 days); tree counts learnt on the shorter
    window are used for the longer one.

    Returns
    -------
    tuple or None
        ``(label_days, held_out_day, training_days)``, or None when nothing fits.
    """
    span = int((as_of - first).days)
    days = min(int(label_days), (span - _MIN_HISTORY_DAYS) // 2)
    if days < _MIN_LABEL_DAYS:
        return None
    valid = as_of - pd.Timedelta(days=days)
    train = []
    for k in range(max_snapshots):
        snap = valid - pd.Timedelta(days=days + k * step_days)
        if (snap - first).days < _MIN_HISTORY_DAYS:
            break
        train.append(snap)
    return (days, valid, train) if train else None


@dataclass(frozen=True)
class _Stage:
    """A part's scoring state before the level anchors (see GBMScorer.population_inputs)."""

    base: pd.DataFrame
    table: pd.DataFrame | None = None
    raw: dict[str, np.ndarray] | None = None
    scale: float = 1.0
    inputs: pd.DataFrame | None = None


class GBMScorer(BaseScorer):
    """LightGBM models for P(repurchase) and revenue (and, if asked, timing).

    Expected purchases are P(repurchase) times BG/NBD's expected count given at least one
    purchase (a hurdle model): the trees decide who buys, BG/NBD how often a buyer buys.

    Parameters
    ----------
    hybrid : bool
        Use BG/NBD outputs as features and as the boosting start, and BG/NBD's level.
    n_estimators : int
        Most trees per model; early stopping on the held-out snapshot picks how many are used.
    learning_rate, num_leaves, min_child_samples : float or int
        LightGBM settings shared by all models. A rate of 0.1 needs under half the trees of
        0.05 for the same held-out loss (out of time on CDNOW and the UCI logs: AUC within
        0.002, 2.7 times faster on CDNOW).
    seed : int
        Random seed; with it, results are reproducible (LightGBM runs deterministic).
    value : ValueSettings, optional
        CLV settings.
    step_days, max_snapshots : int
        Snapshot spacing and count.
    max_rows : int, optional
        Training rows above which rows are sampled, so that a fit costs about the same on a
        million customers as on fifty thousand: buyers' rows are all kept while they fill at
        most half, else half are drawn; non-buyers' rows fill the rest, each weighing the
        ratio of the two shares drawn (every loss and total keeps its expectation).
        ``diagnostics_["sampled"]`` says what was kept. Out of time on CDNOW (140,000 rows)
        50,000 moved AUC and revenue Gini by under 0.002; 30,000 cost 0.006 AUC. A held-out
        snapshot (early stopping, calibration) larger than this is sampled uniformly to it.
        None: every row.
    boost_from_btyd : bool
        Hybrid only: start boosting from BG/NBD's prediction (LightGBM ``init_score``).
    anchor_level : bool
        Take the level (sum of P(repurchase), purchases, revenue) from BG/NBD at the scoring
        date and the ranking from the trees.
    early_stopping_rounds : int
        Rounds without improvement of the held-out loss before training stops. At a rate of
        0.1 the loss is smooth: 10 found the same tree counts as 30 in five of the seven
        settings of ``benchmarks/bench_models.py`` and better ones in the other two (AUC of
        gbm +0.0006 and +0.0034), with 20 fewer rounds per target and fit.
    max_bin : int
        Most bins per feature (LightGBM ``max_bin``). 63 instead of LightGBM's 255 bins a
        table about a third faster and each round 7 % faster; out of time on the seven
        settings the blend's AUC moved by -0.0005 to +0.0024 and its revenue Gini by -0.003
        to +0.003, with no direction.
    timing_models : bool
        Also train LightGBM models of the days to the next purchase (mean and the 10th, 50th
        and 90th percentiles). Off by default: the timing then follows BG/NBD's distribution,
        scaled to the trees' P(repurchase).
    explain : bool
        Give every scored customer the top drivers of P(repurchase) in words (SHAP values).
        Backtests switch it off: nobody reads their reasons, and they cost more than scoring.
    n_jobs : int, optional
        LightGBM threads (default: :func:`~churnml.models.base.free_processors`, the
        processors other processes are not keeping busy).
    freq : {"D", "W"}
        Purchase period: BTYD columns, BG/NBD fits and purchase counts in days or weeks.
    penalizer : float or "auto"
        Penalizer of the BG/NBD fit at as-of (``btyd_``): ``"auto"`` chooses it out of time
        as :class:`~churnml.models.pipeline.BTYDScorer` does. A backtest passes the one chosen
        at its oldest window to the newer ones, as it does for the BTYD families. The
        training snapshots' fits use one fixed penalizer whatever this is.
    clv : bool
        Compute CLV (``clv``, and ``net_clv`` and ``payback_days`` with an acquisition cost).
        Backtests switch it off: no metric reads it. Off, ``clv`` is NaN and ``net_clv`` and
        ``payback_days`` are not returned.
    timing : bool
        Compute the timing columns (days to the next purchase, ``p_buy_7d/30d/90d``). Backtests
        of ``train`` switch it off: its champion and level rules read none of them. Off, they
        are NaN.

    Attributes
    ----------
    btyd_ : BTYDScorer
        BG/NBD + Gamma-Gamma fitted at as-of (level, timing shape and CLV profile).
    boosters_ : dict of str to lightgbm.Booster
        ``repurchase`` and ``revenue`` (a hybrid target with no booster keeps BG/NBD's
        prediction), and with ``timing_models`` ``days``, ``days_q10``, ``days_q50``,
        ``days_q90``.
    rounds_ : dict of str to int
        Trees per target chosen on the held-out snapshot.
    features_ : list of str
        Feature columns, in model order.
    label_days_ : int
        Label window the models were trained on.
    diagnostics_ : dict
        Snapshots, early stopping, calibration and seasonal factors, notes, feature
        importance, timings.
    fallback_ : BTYDScorer or None
        Set when the history is too short for any snapshot: scores are then BG/NBD's.
    """

    # models saved before max_bin existed were binned with LightGBM's default
    _saved_before: ClassVar[dict[str, Any]] = {"max_bin": 255}

    def __init__(
        self,
        *,
        hybrid: bool = False,
        n_estimators: int = 400,
        learning_rate: float = 0.1,
        num_leaves: int = 15,
        min_child_samples: int = 50,
        seed: int = 0,
        value: ValueSettings | None = None,
        step_days: int = 30,
        max_snapshots: int = 6,
        max_rows: int | None = 50_000,
        boost_from_btyd: bool = True,
        anchor_level: bool = True,
        early_stopping_rounds: int = 10,
        max_bin: int = 63,
        timing_models: bool = False,
        explain: bool = True,
        n_jobs: int | None = None,
        freq: Literal["D", "W"] = "D",
        penalizer: float | Literal["auto"] = "auto",
        clv: bool = True,
        timing: bool = True,
    ) -> None:
        self.hybrid = hybrid
        self.boost_from_btyd = boost_from_btyd
        self.anchor_level = anchor_level
        self.n_estimators = n_estimators
        self.learning_rate = learning_rate
        self.num_leaves = num_leaves
        self.min_child_samples = min_child_samples
        self.seed = seed
        self.value = value
        self.step_days = step_days
        self.max_snapshots = max_snapshots
        self.max_rows = max_rows
        self.early_stopping_rounds = early_stopping_rounds
        self.max_bin = max_bin
        self.timing_models = timing_models
        self.explain = explain
        self.n_jobs = n_jobs
        self.freq = freq
        self.penalizer = penalizer
        self.clv = clv
        self.timing = timing

    @property
    def name(self) -> str:
        """Model key in evaluation tables."""
        return "hybrid" if self.hybrid else "gbm"

    # -- features ----------------------------------------------------------------------------
    def _btyd_features(
        self, tx: Any, as_of: pd.Timestamp, label_days: int, btyd: BTYDScorer
    ) -> pd.DataFrame:
        summary = btyd_summary(tx, as_of, self.freq)
        tm = btyd.transaction_
        t = label_days / _UNIT_DAYS[self.freq]
        return pd.DataFrame(
            {
                "btyd_p_alive": tm.p_alive(summary).to_numpy(),
                "btyd_p_repurchase": tm.p_repurchase(summary, t).to_numpy(),
                "btyd_expected_purchases": tm.expected_purchases(summary, t).to_numpy(),
                "btyd_spend": btyd.expected_spend(summary),
            },
            index=summary.index,
        )

    def _table(
        self,
        tx: Any,
        as_of: pd.Timestamp,
        label_days: int,
        btyd: BTYDScorer,
        first_date: pd.Timestamp | None = None,
    ) -> pd.DataFrame:
        feats = build_features(tx, as_of, freq=self.freq)
        feats = feats.drop(columns=[c for c in _ABSOLUTE_AGE if c in feats.columns])
        # same window one year earlier, per customer (NaN where the history does not reach)
        start, end = as_of - pd.Timedelta(days=365), as_of - pd.Timedelta(days=365 - label_days)
        # a horizon over a year would carry the window past as-of, into what the features of
        # this date must not see: it stops at as-of
        end = min(end, as_of)
        # the log's first line, not this part's, when tx holds part of the customers
        first = lines_of(tx)["date"].min() if first_date is None else first_date
        if first <= start:
            # the lines of the cut build_features read (every one is on or before as-of),
            # counted by their customer's position: no grouping or aligning by text id
            hist = history_until(tx, as_of, "D")
            date = hist.lines["date"]
            who = hist.line_position
            inside = (
                (date >= start + pd.Timedelta(days=1)).to_numpy()
                & (date < end + pd.Timedelta(days=1)).to_numpy()
                & (who >= 0)
            )
            n = hist.customer_ids.size
            amount = hist.lines["amount"].to_numpy(dtype=float)[inside]
            revenue = np.bincount(who[inside], weights=amount, minlength=n)
            year = pd.DataFrame(
                {
                    "last_year_lines": np.bincount(who[inside], minlength=n).astype(float),
                    # a purchase and its refund net to zero, not to a residue of 1e-14 whose
                    # sign depends on the order of the sum (and moves a tree's split)
                    "last_year_revenue": np.round(revenue, 6),
                },
                index=hist.index,
            )
            # with weeks, the customers whose only purchase week nets to nothing have no row
            year = year if year.index.equals(feats.index) else year.loc[feats.index]
            feats["last_year_lines"] = year["last_year_lines"].to_numpy()
            feats["last_year_revenue"] = year["last_year_revenue"].to_numpy()
        else:
            feats["last_year_lines"] = np.nan
            feats["last_year_revenue"] = np.nan
        # the calendar: where the scoring window falls in the year (seasonal buying)
        middle = as_of + pd.Timedelta(days=label_days / 2)
        angle = 2 * np.pi * middle.day_of_year / 365.25
        feats["window_season_sin"] = np.sin(angle)
        feats["window_season_cos"] = np.cos(angle)
        # Single precision for the behavioural features: the trees bin them anyway, and a
        # 200,000-customer table shrinks from 62 to 33 MB (a window reads about ten). BG/NBD's
        # columns stay double: the hybrid starts from them exactly.
        return side_by_side(
            feats.astype(np.float32), self._btyd_features(tx, as_of, label_days, btyd)
        )

    def _columns(self, table: pd.DataFrame) -> list[str]:
        return [c for c in table.columns if self.hybrid or c not in _BTYD_FEATURES]

    def _btyd_at(
        self,
        shared: _Tables,
        lines: pd.DataFrame,
        day: pd.Timestamp,
        penalizer: float | None,
        clv: bool = True,
        timing: bool = True,
    ) -> BTYDScorer:
        def fit() -> BTYDScorer:
            return BTYDScorer(
                kind="bgnbd",
                penalizer="auto" if penalizer is None else penalizer,
                value=self.value,
                freq=self.freq,
                clv=clv,
                timing=timing,
            ).fit(lines, day)

        key = _btyd_key(day, penalizer, self.freq, self.value, clv, timing)
        return shared.get(key, day, fit)

    def _snapshot(
        self,
        shared: _Tables,
        lines: pd.DataFrame,
        day: pd.Timestamp,
        label_days: int,
    ) -> tuple[pd.DataFrame, pd.DataFrame]:
        """Feature table at ``day`` and the labels of ``(day, day + label_days]``."""

        # BG/NBD at the snapshot has a penalizer of its own, not the as-of's: the table then
        # does not depend on which as-of (backtest window) asked for it, and every window
        # shares it (with the as-of's penalizer, windows that chose another one built every
        # table again: 40 s a window at 200,000 customers)
        def make() -> tuple[pd.DataFrame, pd.DataFrame]:
            btyd = self._btyd_at(shared, lines, day, _SNAPSHOT_PENALIZER)
            table = self._table(lines, day, label_days, btyd)
            labels = build_labels(
                lines,
                day,
                label_days,
                customers=table.index,
                freq=self.freq,
                data_end=day + pd.Timedelta(days=label_days),
            )
            return table, labels

        return shared.get(
            ("snapshot", day, label_days, self.freq, repr(self.value)),
            day + pd.Timedelta(days=label_days),
            make,
        )

    def _snapshots(
        self,
        shared: _Tables,
        lines: pd.DataFrame,
        days: list[pd.Timestamp],
        label_days: int,
    ) -> tuple[list[pd.DataFrame], list[pd.DataFrame], list[pd.Timestamp]]:
        tables, labels, used = [], [], []
        for day in days:
            try:
                table, label = self._snapshot(shared, lines, day, label_days)
            except ChurnmlError:
                continue  # too thin that far back; older snapshots would be thinner still
            tables.append(table)
            labels.append(label)
            used.append(day)
        return tables, labels, used

    # -- fitting -----------------------------------------------------------------------------
    def fit(
        self, tx: ValidatedTransactions | pd.DataFrame, as_of: Any, horizon_days: int = 90
    ) -> GBMScorer:
        """Train on snapshots whose label windows end by as-of.

        Parameters
        ----------
        tx : ValidatedTransactions or pandas.DataFrame
            Validated transactions (rows after as-of are never read).
        as_of : str or pandas.Timestamp
            Training as-of.
        horizon_days : int
            Prediction horizon the labels should cover.

        Returns
        -------
        GBMScorer
            ``self``, fitted (possibly with a BG/NBD fallback, see ``fallback_``).

        Raises
        ------
        InsufficientDataError
            Nobody bought in any training window (there is nothing to rank by), or BG/NBD
            cannot be fitted at as-of.

        Notes
        -----
        A fit with the same parameters, as-of and horizon on the same input object is made
        once: the second takes the first's fitted state (``diagnostics_["fit_reused"]``). The
        fit is deterministic, so it is the same model; ``blend`` fits gbm and hybrid again in
        every window and evaluation where they were fitted already.
        """
        self._start_fit()
        as_of = parse_day(as_of)
        shared = _shared_for(tx)
        key = ("fitted", as_of, self._params_key(), int(horizon_days))
        made = []

        def make() -> dict[str, Any]:
            made.append(True)
            self._fit_new(tx, as_of, horizon_days, shared)
            return {k: v for k, v in vars(self).items() if k.endswith("_")}

        state = shared.get(key, as_of, make)
        if not made:
            self.__dict__.update(state)
            self.diagnostics_ = copy.deepcopy(state["diagnostics_"])
            self.diagnostics_["fit_reused"] = True
        # scores are shared only on the input the model was fitted on (see predict)
        self._fit_key = key
        self._fit_tables = weakref.ref(shared)
        return self

    def _params_key(self) -> str:
        return json.dumps({k: repr(v) for k, v in sorted(self.get_params().items())})

    def _fit_new(
        self,
        tx: ValidatedTransactions | pd.DataFrame,
        as_of: pd.Timestamp,
        horizon_days: int,
        shared: _Tables,
    ) -> None:
        started = time.perf_counter()
        # read once a fit: the processors' state is sampled (10 ms), and a fit trains up to 7
        self._n_threads = self._threads()
        lines = lines_of(tx)
        lines = select_lines(lines, lines["date"] < as_of + pd.Timedelta(days=1))  # not after
        auto = isinstance(self.penalizer, str) and self.penalizer == "auto"
        self.btyd_ = self._btyd_at(
            shared, lines, as_of, None if auto else float(self.penalizer), self.clv, self.timing
        )
        diag: dict[str, Any] = {
            "model": self.name,
            "as_of": str(as_of.date()),
            "notes": [],
            "warnings": list(self.btyd_.diagnostics_.get("warnings", [])),
        }
        if "penalizer_search" in self.btyd_.diagnostics_:
            # where a backtest reads the choice, to pass it on to its newer windows
            diag["penalizer_search"] = self.btyd_.diagnostics_["penalizer_search"]
        diag["btyd_penalizer"] = self.btyd_.penalizer_
        self.fallback_: BTYDScorer | None = None
        self.as_of_ = as_of
        self.diagnostics_ = diag
        first = lines["date"].min().normalize()
        plan = plan_snapshots(
            first,
            as_of,
            horizon_days,
            step_days=self.step_days,
            max_snapshots=self.max_snapshots,
            min_history_days=_MIN_HISTORY_DAYS,
            min_label_days=_MIN_LABEL_DAYS,
        )
        tables, labels, used = [], [], []
        if plan is not None and plan.dates:
            tables, labels, used = self._snapshots(shared, lines, plan.dates, plan.label_days)
        if not tables:
            self.fallback_ = self.btyd_
            why = (
                "no snapshot had enough data for BG/NBD features"
                if plan and plan.dates
                else (
                    f"history too short for any {self.name} training snapshot before {as_of.date()}"
                )
            )
            diag["notes"].append(f"{why}: scores are BG/NBD + Gamma-Gamma's")
            # the champion rule does not judge a family on a window where it only repeated
            # another's scores (churnml.evaluation.selection)
            diag["fell_back_to"] = "bgnbd"
            return
        assert plan is not None
        if plan.note:
            diag["notes"].append(plan.note)
        bought = sum(int(y["bought"].sum()) for y in labels)
        if bought == 0:
            # LightGBM would stop on "sum of labels is zero"; say it in words instead
            self.__dict__.pop("as_of_", None)
            raise InsufficientDataError(
                f"{self.name}: nobody bought in any of the {len(tables)} training windows "
                f"({plan.label_days} days after {', '.join(str(d.date()) for d in used)}), so "
                "there is nothing to learn a ranking from"
            )
        self.label_days_ = plan.label_days
        self.features_ = self._columns(tables[0])
        held_out = self._early_stop(shared, lines, first, as_of, diag)
        train_x, train_y, weight = self._thin(tables, labels, diag, "refit")
        self.boosters_ = self._train(train_x, train_y, weight)
        diag.update(
            snapshots=[str(s.date()) for s in used],
            label_days=plan.label_days,
            training_rows=len(train_x),
            rounds=dict(self.rounds_),
        )
        self._calibrate(held_out, diag)
        self._seasonality(shared, lines, as_of, plan.label_days, diag)
        if "repurchase" in self.boosters_:
            gain = self.boosters_["repurchase"].feature_importance("gain")
            order = np.argsort(-gain)[:10]
            diag["feature_importance"] = {self.features_[i]: float(gain[i]) for i in order}
        diag["seconds"] = round(time.perf_counter() - started, 2)

    def _threads(self) -> int:
        return int(self.n_jobs) if self.n_jobs is not None else free_processors()

    def _params(self, objective: str, **extra: Any) -> dict[str, Any]:
        return {
            "objective": objective,
            "learning_rate": self.learning_rate,
            "num_leaves": self.num_leaves,
            "min_child_samples": self.min_child_samples,
            "subsample": 0.8,
            "subsample_freq": 1,
            "colsample_bytree": 0.8,
            "reg_lambda": 1.0,
            "seed": self.seed,
            "deterministic": True,
            "force_row_wise": True,
            "num_threads": self._n_threads,
            "verbose": -1,
            **({"tweedie_variance_power": 1.5} if objective == "tweedie" else {}),
            **extra,
        }

    def _init(self, table: pd.DataFrame, target: str) -> np.ndarray | None:
        if not (self.hybrid and self.boost_from_btyd):
            return None
        if target == "repurchase":
            return _logit(table["btyd_p_repurchase"].to_numpy())
        mean = table["btyd_expected_purchases"].to_numpy()
        if target == "revenue":
            mean = mean * table["btyd_spend"].to_numpy()
        return np.log(np.maximum(mean, 1e-4))

    def _binned(
        self,
        table: pd.DataFrame,
        reference: lgb.Dataset | None = None,
        weight: np.ndarray | None = None,
    ) -> lgb.Dataset:
        """Bin a feature table once for every target (binning costs as much as 25 trees)."""
        return lgb.Dataset(
            table[self.features_],
            reference=reference,
            weight=weight,
            free_raw_data=False,
            params={"verbose": -1, "max_bin": self.max_bin},
        ).construct()

    def _thin(
        self,
        tables: list[pd.DataFrame],
        labels: list[pd.DataFrame],
        diag: dict[str, Any],
        what: str,
    ) -> tuple[pd.DataFrame, pd.DataFrame, np.ndarray | None]:
        """Stack snapshot tables, sampled down to ``max_rows``: non-buyers first, weighted.

        Each table is sampled before the stacking, so that the whole stack (500 MB at
        200,000 customers) never exists; the draws are those of one stacked sample.

        Returns
        -------
        x, y : pandas.DataFrame
            The rows kept, in snapshot order.
        weight : numpy.ndarray or None
            Each kept row's weight (None when nothing was sampled).
        """
        n = sum(len(t) for t in tables)
        if self.max_rows is None or n <= self.max_rows:
            return pd.concat(tables), pd.concat(labels), None
        idle = ~np.concatenate([y["bought"].to_numpy(bool) for y in labels])
        n_idle, n_buyers = int(idle.sum()), int((~idle).sum())
        half = self.max_rows / 2
        share_buyers = min(1.0, half / max(n_buyers, 1))
        room = self.max_rows - share_buyers * n_buyers
        share_idle = min(1.0, room / max(n_idle, 1))
        draw = np.random.default_rng(self.seed).random(n)
        keep = np.where(idle, draw < share_idle, draw < share_buyers)
        diag.setdefault("sampled", {})[what] = {
            "rows": n,
            "kept": int(keep.sum()),
            "buyers_share": round(share_buyers, 4),
            "non_buyers_share": round(share_idle, 4),
        }
        weight = np.where(idle, share_buyers / share_idle, 1.0)[keep]
        ends = np.cumsum([len(t) for t in tables])[:-1]
        parts = np.split(keep, ends)
        x = pd.concat([t[k] for t, k in zip(tables, parts, strict=True)])
        y = pd.concat([t[k] for t, k in zip(labels, parts, strict=True)])
        return x, y, weight

    def _labelled(
        self, data: lgb.Dataset, table: pd.DataFrame, y: np.ndarray, target: str
    ) -> lgb.Dataset:
        """Give a binned table the label (and the hybrid's BG/NBD start) of one target."""
        data.set_label(y)
        init = self._init(table, target)
        # every target of the hybrid has a start and no target of gbm has one, so a start is
        # never left behind from the previous target (set_init_score(None) would keep it)
        if init is not None:
            data.set_init_score(init)
        return data

    def _early_stop(
        self,
        shared: _Tables,
        lines: pd.DataFrame,
        first: pd.Timestamp,
        as_of: pd.Timestamp,
        diag: dict[str, Any],
    ) -> dict[str, Any] | None:
        """Choose the tree count of each target on a held-out snapshot (see the module notes).

        Returns
        -------
        dict or None
            The held-out table, labels and the early-stopped models' raw scores on it (for
            calibration), or None when no held-out window fits.
        """
        self.rounds_: dict[str, int] = {}
        plan = _early_stopping_plan(
            first, as_of, self.label_days_, self.step_days, self.max_snapshots
        )
        found = None
        if plan is not None:
            days, valid_day, train_days = plan
            tables, labels, used = self._snapshots(shared, lines, train_days, days)
            held = self._snapshots(shared, lines, [valid_day], days)
            if tables and held[0]:
                found = (days, valid_day, tables, labels, used, held[0][0], held[1][0])
        if found is None:
            rounds = 0 if self._init_only() else _DEFAULT_ROUNDS
            self.rounds_ = {target: rounds for target, _, _ in _TARGETS}
            diag["notes"].append(
                "the history is too short for a held-out window that training windows do not "
                + (
                    "overlap: the hybrid keeps BG/NBD's prediction"
                    if self._init_only()
                    else f"overlap: {_DEFAULT_ROUNDS} trees per model, without early stopping"
                )
            )
            return None
        days, valid_day, tables, labels, used, valid_x, valid_y = found
        if self.max_rows is not None and len(valid_x) > self.max_rows:
            # a uniform sample keeps every mean the stopping rule and the calibration read
            # unbiased; scoring all 200,000 customers every round was 2 s a fit
            keep = np.sort(
                np.random.default_rng(self.seed).choice(len(valid_x), self.max_rows, replace=False)
            )
            diag.setdefault("sampled", {})["held_out"] = {
                "rows": len(valid_x),
                "kept": self.max_rows,
            }
            valid_x, valid_y = valid_x.iloc[keep], valid_y.iloc[keep]
        train_x, train_y, weight = self._thin(tables, labels, diag, "early_stopping")
        binned_train = self._binned(train_x, weight=weight)
        binned_valid = self._binned(valid_x, reference=binned_train)
        raw: dict[str, np.ndarray] = {}
        stopping: dict[str, Any] = {}
        for target, objective, column in _TARGETS:
            y_tr = train_y[column].to_numpy(float)
            y_va = valid_y[column].to_numpy(float)
            init_va = self._init(valid_x, target)
            y_fit = np.maximum(y_tr, 0.0)  # a net refund is no purchase worth
            if y_fit.sum() <= 0:
                self.rounds_[target] = 0 if init_va is not None else _DEFAULT_ROUNDS
                continue
            history: dict[str, Any] = {}
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                dtrain = self._labelled(binned_train, train_x, y_fit, target)
                dvalid = self._labelled(binned_valid, valid_x, np.maximum(y_va, 0.0), target)
                booster = lgb.train(
                    self._params(objective),
                    dtrain,
                    num_boost_round=self.n_estimators,
                    valid_sets=[dvalid],
                    valid_names=["held_out"],
                    callbacks=[
                        lgb.early_stopping(self.early_stopping_rounds, verbose=False),
                        lgb.record_evaluation(history),
                    ],
                )
            best = int(booster.best_iteration or booster.current_iteration())
            scores = booster.predict(valid_x[self.features_], raw_score=True, num_iteration=best)
            if init_va is not None:
                scores = scores + init_va
                start = _loss(target, y_va, init_va)
                trees = _loss(target, y_va, scores)
                if trees >= start:
                    # no gain over BG/NBD out of time: zero trees, BG/NBD's prediction
                    best, scores = 0, init_va
                stopping[target] = {"trees": best, "loss_btyd": start, "loss_trees": trees}
            else:
                stopping[target] = {"trees": best, "loss": _loss(target, y_va, scores)}
            self.rounds_[target] = best
            raw[target] = scores
        if "repurchase" in raw:
            raw["purchases"] = np.log(
                np.maximum(self._counts(_sigmoid(raw["repurchase"]), valid_x), _EPS)
            )
        diag["early_stopping"] = {
            "held_out_snapshot": str(valid_day.date()),
            "label_days": days,
            "training_snapshots": [str(d.date()) for d in used],
            **stopping,
        }
        if days != self.label_days_:
            diag["notes"].append(
                f"tree counts chosen on {days}-day windows (the history is too short for "
                f"non-overlapping {self.label_days_}-day ones)"
            )
        return {
            "table": valid_x,
            "labels": valid_y,
            "raw": raw,
            "days": days,
            "day": str(valid_day.date()),
        }

    def _init_only(self) -> bool:
        return self.hybrid and self.boost_from_btyd

    def _train(
        self, x: pd.DataFrame, y: pd.DataFrame, weight: np.ndarray | None = None
    ) -> dict[str, lgb.Booster]:
        boosters: dict[str, lgb.Booster] = {}
        binned: lgb.Dataset | None = None
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for target, objective, column in _TARGETS:
                rounds = self.rounds_.get(target, 0)
                label = y[column].to_numpy(float)
                if target == "revenue":
                    label = np.maximum(label, 0.0)  # a net refund is no purchase worth
                if rounds <= 0 or label.sum() <= 0:
                    if not self._init_only():
                        raise InsufficientDataError(
                            f"{self.name}: no {column} in the training windows to learn from"
                        )
                    self.rounds_[target] = 0
                    continue
                binned = binned if binned is not None else self._binned(x, weight=weight)
                boosters[target] = lgb.train(
                    self._params(objective), self._labelled(binned, x, label, target), rounds
                )
            buyers = y["bought"].to_numpy(bool)
            if self.timing_models and buyers.sum() >= 50:
                xb = x.loc[buyers, self.features_]
                days = y.loc[buyers, "days_to_next"].to_numpy(float)
                rounds = max(self.rounds_.get("repurchase", 0), _DEFAULT_ROUNDS)
                for key, objective, extra in _TIMING_TARGETS:
                    boosters[key] = lgb.train(
                        self._params(objective, **extra),
                        lgb.Dataset(
                            xb, label=days, params={"verbose": -1, "max_bin": self.max_bin}
                        ),
                        rounds,
                    )
        return boosters

    def _raw(self, table: pd.DataFrame) -> dict[str, np.ndarray]:
        # Features of optional columns (quantity, product, channel) the scoring data lacks are
        # missing values, which LightGBM routes like any unseen missing value.
        X = table.reindex(columns=self.features_)
        out = {k: b.predict(X, raw_score=True) for k, b in self.boosters_.items()}
        # a model saved before purchases became a hurdle has a purchases target of its own
        legacy = ("purchases",) if "purchases" in self.rounds_ else ()
        for target in (*(t for t, _, _ in _TARGETS), *legacy):
            init = self._init(table, target)
            if init is not None:
                out[target] = out.get(target, 0.0) + init
        out["repurchase"] = _sigmoid(out["repurchase"])
        out["revenue"] = np.exp(np.clip(out["revenue"], -30, 30))
        if legacy:
            out["purchases"] = np.exp(np.clip(out["purchases"], -30, 30))
        else:
            out["purchases"] = self._counts(out["repurchase"], table)
        return out

    @staticmethod
    def _counts(p: np.ndarray, table: pd.DataFrame) -> np.ndarray:
        """Return expected purchases: ``p`` times BG/NBD's expected count given one or more.

        BG/NBD's count given a purchase is its expected purchases over its P(repurchase) in
        the same window, at least 1. Where the trees keep BG/NBD's P(repurchase) (a hybrid
        with no tree), this is BG/NBD's own expected purchases.

        Returns
        -------
        numpy.ndarray
            Expected purchases in the table's label window, one per row.
        """
        given = table["btyd_expected_purchases"].to_numpy() / np.maximum(
            table["btyd_p_repurchase"].to_numpy(), _EPS
        )
        return p * np.maximum(given, 1.0)

    def _calibrate(self, held_out: dict[str, Any] | None, diag: dict[str, Any]) -> None:
        """Platt-scale P(repurchase) and set count/revenue levels on the held-out snapshot.

        The models being calibrated are the early-stopped ones, which never saw the held-out
        window; the final models (refitted with it) inherit the calibration. Where the held-out
        window had to be shorter than the labels, its slope still carries over, and the level
        is set at scoring anyway (``anchor_level``).
        """
        self.platt_: tuple[float, float] | None = None
        self.level_ = {"purchases": 1.0, "revenue": 1.0}
        if held_out is None:
            diag["notes"].append("no held-out window: P(repurchase) is not Platt-scaled")
            return
        raw, labels = held_out["raw"], held_out["labels"]
        if "repurchase" not in raw:
            return
        p = _sigmoid(raw["repurchase"])
        y = labels["bought"].to_numpy(int)
        before = float(np.mean((p - y) ** 2))
        if 0 < y.sum() < y.size:
            lr = LogisticRegression(C=1e6).fit(_logit(p)[:, None], y)
            self.platt_ = (float(lr.coef_[0, 0]), float(lr.intercept_[0]))
        after = float(np.mean((self._platt(p) - y) ** 2))
        for key, column in (("purchases", "n_purchases"), ("revenue", "revenue")):
            if key not in raw:
                continue
            total = float(np.exp(np.clip(raw[key], -30, 30)).sum())
            factor = float(labels[column].clip(lower=0).sum()) / total if total > 0 else 1.0
            self.level_[key] = float(np.clip(factor, 0.5, 2.0))
        diag["calibration"] = {
            "held_out_snapshot": held_out["day"],
            "label_days": held_out["days"],
            "brier_before": before,
            "brier_after_in_window": after,
            "platt": self.platt_,
            **{f"{k}_factor": v for k, v in self.level_.items()},
        }

    def _platt(self, p: np.ndarray) -> np.ndarray:
        if self.platt_ is None:
            return p
        slope, intercept = self.platt_
        return _sigmoid(slope * _logit(p) + intercept)

    def _seasonality(
        self,
        shared: _Tables,
        lines: pd.DataFrame,
        as_of: pd.Timestamp,
        label_days: int,
        diag: dict[str, Any],
    ) -> None:
        """How far BG/NBD missed in the same window one year earlier (1.0 when unknown).

        gbm and hybrid at one as-of read the same factors: they are worked out once (the
        year-ago prediction with CLV and timing cost 0.2 s a fit on CDNOW, 8 fits a train).
        """
        penalizer = self.btyd_.penalizer_
        key = ("season", as_of, label_days, penalizer, self.freq, repr(self.value))
        season, note, detail = shared.get(
            key, as_of, lambda: self._season(shared, lines, as_of, label_days, penalizer)
        )
        self.season_ = dict(season)
        if note:
            diag["notes"].append(note)
        if detail:
            diag["seasonality"] = dict(detail)

    def _season(
        self,
        shared: _Tables,
        lines: pd.DataFrame,
        as_of: pd.Timestamp,
        label_days: int,
        penalizer: float,
    ) -> tuple[dict[str, float], str | None, dict[str, Any] | None]:
        season = {"buyers": 1.0, "purchases": 1.0, "revenue": 1.0}
        year_ago = as_of - pd.Timedelta(days=365)
        history = (year_ago - lines["date"].min().normalize()).days
        if history < _MIN_SEASON_HISTORY_DAYS:
            # A model fitted on a few months misses for reasons of its own (young customers),
            # which would be mistaken for seasonality.
            return (
                season,
                f"seasonality: a BG/NBD fit at {year_ago.date()} would see {max(history, 0)} "
                f"days of history ({_MIN_SEASON_HISTORY_DAYS} needed), so the level assumes "
                "no seasonal change",
                None,
            )
        try:
            past = self._btyd_at(shared, lines, year_ago, penalizer)
            # the totals only: the same fit, without the CLV and timing columns
            totals = copy.copy(past).set_params(clv=False, timing=False)
            pred = totals.predict(lines, year_ago, label_days)
            actual = build_labels(
                lines,
                year_ago,
                label_days,
                customers=pred.index,
                freq=self.freq,
                data_end=as_of,
            )
        except ChurnmlError:
            return (
                season,
                f"seasonality: the history does not cover {year_ago.date()} + {label_days} days "
                "with enough data, so the level assumes no seasonal change",
                None,
            )
        for key, p_col, a_col in (
            ("buyers", "p_repurchase", "bought"),
            ("purchases", "expected_purchases", "n_purchases"),
            ("revenue", "expected_revenue", "revenue"),
        ):
            total = float(pred[p_col].sum())
            if total > 0:
                season[key] = float(np.clip(actual[a_col].sum() / total, 0.5, 2.5))
        return season, None, {"window_start": str(year_ago.date()), **season}

    # -- prediction --------------------------------------------------------------------------
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
            What the rows read of the whole population when ``tx`` holds only part of it
            (see :meth:`population_inputs`): ``first_date``, the log's first line, and
            ``anchors``, the level solved over everyone. Default: ``tx`` is everyone.

        Returns
        -------
        pandas.DataFrame
            :data:`~churnml.models.pipeline.SCORE_COLUMNS` plus ``reasons`` (top drivers of
            P(repurchase) in words, when ``explain``), no NaN or infinity.
        """
        self.check_fitted()
        as_of = parse_day(as_of)
        fitted_on = getattr(self, "_fit_tables", None)
        if population is None and fitted_on is not None and fitted_on() is _SHARED.get(id(tx)):
            # the same fit (see fit) scoring the input it was fitted on again: same scores
            # (pandas copies on write, so a caller changing its frame changes no one else's)
            # and what scoring reads of the fitted state, should a caller have changed it
            read = ("platt_", "level_", "season_", "label_days_")
            state = [getattr(self, name, None) for name in read]
            boosters = sorted((k, id(v)) for k, v in getattr(self, "boosters_", {}).items())
            fitted = repr((state, boosters, id(self.btyd_), id(self.fallback_)))
            # (parameters scoring reads, such as explain, may have been set since the fit)
            key = ("scores", as_of, int(horizon_days), self._fit_key, self._params_key(), fitted)
            return _shared_for(tx).get(key, as_of, lambda: self._predict(tx, as_of, horizon_days))
        return self._predict(tx, as_of, horizon_days, population or {})

    def population_inputs(
        self,
        tx: ValidatedTransactions | pd.DataFrame,
        as_of: Any,
        horizon_days: int,
        population: Mapping[str, Any],
    ) -> pd.DataFrame | None:
        """Per-customer numbers the level anchors are solved from, or None when solved.

        The trees' P(repurchase), purchases and revenue are anchored to totals over the
        whole population scored (BG/NBD's, by the seasonal factors): one logit shift and
        one scale factor each, which :meth:`solve_population` finds from these numbers.
        Scoring a population in parts (Spark) collects them from every part, solves on the
        driver, and scores each part with the result.

        Parameters
        ----------
        tx, as_of, horizon_days
            As in :meth:`predict`; ``tx`` may hold part of the customers.
        population : dict
            What is known so far (``first_date``; ``anchors`` once solved).

        Returns
        -------
        pandas.DataFrame or None
            Indexed by ``customer_id``: ``p``, ``purchases``, ``revenue`` (the trees',
            before anchoring) and ``btyd_p``, ``btyd_purchases``, ``btyd_revenue``; None
            when ``anchors`` is known or the model fell back to BG/NBD (nothing to anchor).
        """
        self.check_fitted()
        if "anchors" in population or self.fallback_ is not None:
            return None
        return self._stage(tx, parse_day(as_of), horizon_days, population).inputs

    def solve_population(
        self, inputs: pd.DataFrame, population: Mapping[str, Any]
    ) -> dict[str, Any]:
        """Solve the level anchors over everyone from :meth:`population_inputs`' rows.

        Parameters
        ----------
        inputs : pandas.DataFrame
            Every customer's row (any order: sorted by ``customer_id`` here, so that the
            sums are those of one frame).
        population : dict
            What is known so far.

        Returns
        -------
        dict
            ``population`` with ``anchors``: ``buyers_shift`` and ``season_shift`` (logits),
            ``year_scale`` and ``purchases_scale`` (factors of expected purchases, 0 for
            the floor alone) and ``revenue_scale``.
        """
        if not inputs.index.is_monotonic_increasing:  # the parts, gathered in any order
            inputs = inputs.sort_index(kind="stable")
        p = inputs["p"].to_numpy(dtype=float)
        n = inputs["purchases"].to_numpy(dtype=float)
        rev = inputs["revenue"].to_numpy(dtype=float)
        anchors: dict[str, float] = {}
        if self.anchor_level:
            anchors["buyers_shift"] = logit_shift(p, float(inputs["btyd_p"].sum()))
            p = shifted(p, anchors["buyers_shift"])
            n_total = float(inputs["btyd_purchases"].sum())
            rev_total = float(inputs["btyd_revenue"].sum())
        else:
            n_total, rev_total = float(np.maximum(n, p).sum()), float(rev.sum())
        # the level over one year, for CLV: no single window's seasonal factor in it
        anchors["year_scale"] = floor_scale(n, p, n_total)
        anchors["season_shift"] = logit_shift(p, float(p.sum()) * self.season_["buyers"])
        p = shifted(p, anchors["season_shift"])
        anchors["purchases_scale"] = floor_scale(n, p, n_total * self.season_["purchases"])
        anchors["revenue_scale"] = rev_total * self.season_["revenue"] / max(float(rev.sum()), _EPS)
        return {**population, "anchors": anchors}

    def _stage(
        self,
        tx: ValidatedTransactions | pd.DataFrame,
        as_of: pd.Timestamp,
        horizon_days: int,
        population: Mapping[str, Any],
    ) -> _Stage:
        """Everything a customer's row needs that does not depend on who else is scored."""
        # gbm and hybrid fitted at one as-of share its BG/NBD fit (see fit), so they also
        # share its scores and the feature table built with it: keyed by the fitted model
        # (not its diagnostics, which scoring adds to)
        payload = {k: v for k, v in self.btyd_._payload(None).items() if k != "diagnostics"}
        shared = _shared_for(tx)
        fitted = (json.dumps(payload, default=str), self.freq, repr(self.value))
        base = shared.get(
            ("btyd_scores", as_of, int(horizon_days), *fitted),
            as_of,
            lambda: self.btyd_.predict(tx, as_of, horizon_days),
        )
        if self.fallback_ is not None:
            return _Stage(base)
        first = population.get("first_date")
        first = None if first is None else pd.Timestamp(first)
        table = shared.get(
            ("scoring_table", as_of, self.label_days_, first, *fitted),
            as_of,
            lambda: self._table(tx, as_of, self.label_days_, self.btyd_, first),
        ).loc[base.index]
        raw = self._raw(table)
        scale = horizon_days / self.label_days_
        p = self._platt(raw["repurchase"])
        p = 1.0 - (1.0 - np.clip(p, 0.0, 1.0)) ** scale  # constant hazard over a longer window
        inputs = pd.DataFrame(
            {
                "p": p,
                "purchases": raw["purchases"] * self.level_["purchases"] * scale,
                "revenue": raw["revenue"] * self.level_["revenue"] * scale,
                "btyd_p": base["p_repurchase"].to_numpy(),
                "btyd_purchases": base["expected_purchases"].to_numpy(),
                "btyd_revenue": base["expected_revenue"].to_numpy(),
            },
            index=base.index,
        )
        return _Stage(base, table, raw, scale, inputs)

    def _predict(
        self,
        tx: ValidatedTransactions | pd.DataFrame,
        as_of: pd.Timestamp,
        horizon_days: int,
        population: Mapping[str, Any] | None = None,
    ) -> pd.DataFrame:
        population = population or {}
        stage = self._stage(tx, as_of, horizon_days, population)
        base = stage.base
        if stage.inputs is None:
            return base.assign(reasons="BG/NBD fallback (history too short for snapshots)")
        if "anchors" not in population:  # tx is everyone
            population = self.solve_population(stage.inputs, population)
        anchors = population["anchors"]
        p = stage.inputs["p"].to_numpy(dtype=float)
        n = stage.inputs["purchases"].to_numpy(dtype=float)
        rev = stage.inputs["revenue"].to_numpy(dtype=float)
        if self.anchor_level:
            p = shifted(p, anchors["buyers_shift"])
        year_n = scaled_above(n, p, anchors["year_scale"])
        p = shifted(p, anchors["season_shift"])
        n = scaled_above(n, p, anchors["purchases_scale"])
        rev = rev * anchors["revenue_scale"]
        out = pd.DataFrame(index=base.index)
        out["p_repurchase"] = p
        out["p_alive"] = np.maximum(base["p_alive"].to_numpy(), p)
        out["expected_purchases"] = n
        out["expected_revenue"] = rev
        out = side_by_side(
            out,
            self._value(tx, as_of, base, year_n, n, rev) if self.clv else no_value(base.index),
            self._timing(stage.raw, base, p, horizon_days, stage.scale)
            if self.timing
            else no_timing(base.index),
        )
        out = _finish(out, as_of, horizon_days)
        if self.explain and "repurchase" in self.boosters_:
            out["reasons"] = top_reasons(
                self.boosters_["repurchase"], stage.table.reindex(columns=self.features_)
            )
        elif self.explain:
            out["reasons"] = "BG/NBD's prediction (no tree improved on it out of time)"
        return self._fill_nonfinite(out, lambda: base)

    def predict_yet_to_buy(
        self, first_day: pd.Series, as_of: Any, horizon_days: int
    ) -> pd.DataFrame:
        """Score customers without a purchase with the BG/NBD model the trees start from.

        The trees read purchase history that such a customer does not have, so their scores
        are BG/NBD + Gamma-Gamma's (:meth:`BTYDScorer.predict_yet_to_buy`).

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
        return self.btyd_.predict_yet_to_buy(first_day, as_of, horizon_days)

    def _value(
        self,
        tx: Any,
        as_of: pd.Timestamp,
        base: pd.DataFrame,
        year_n: np.ndarray,
        n: np.ndarray,
        rev: np.ndarray,
    ) -> pd.DataFrame:
        """CLV (and payback) from BG/NBD's purchase curve rescaled to the trees' level.

        Each customer's curve over the CLV horizon is BG/NBD's, times the ratio of the trees'
        expected purchases to BG/NBD's over the horizon (without the window's seasonal
        factor), at the trees' spend per purchase: CLV, net CLV and payback days all come from
        that one curve.

        Returns
        -------
        pandas.DataFrame
            ``clv``, and ``net_clv`` and ``payback_days`` with an acquisition cost.
        """
        summary = btyd_summary(tx, as_of, self.freq).loc[base.index]
        unit = _UNIT_DAYS[self.freq]
        tm = self.btyd_.transaction_
        btyd_n = base["expected_purchases"].to_numpy()
        ratio = np.clip(np.where(btyd_n > _EPS, year_n / np.maximum(btyd_n, _EPS), 1.0), 0, 20)
        spend = np.where(n > _EPS, rev / np.maximum(n, _EPS), self.btyd_.expected_spend(summary))
        return lifetime_value(
            lambda days: tm.expected_purchases_curve(summary, days / unit) * ratio[:, None],
            spend,
            base.index,
            self.value,
        )

    def _timing(
        self,
        raw: dict[str, np.ndarray],
        base: pd.DataFrame,
        p: np.ndarray,
        horizon: int,
        scale: float,
    ) -> pd.DataFrame:
        out = pd.DataFrame(index=base.index)
        shape = base["p_repurchase"].to_numpy()
        for t in (7, 30, 90):
            ratio = np.where(
                shape > _EPS, base[f"p_buy_{t}d"].to_numpy() / np.maximum(shape, _EPS), t / horizon
            )
            out[f"p_buy_{t}d"] = np.clip(p * ratio, 0.0, 1.0)
        if "days" in raw and scale == 1.0:
            q = np.sort(np.column_stack([raw["days_q10"], raw["days_q50"], raw["days_q90"]]), 1)
            q = np.clip(np.round(q), 1, horizon)
            out["expected_days_to_next_purchase"] = np.clip(raw["days"], 1, horizon)
            out["days_to_next_purchase_p10"] = q[:, 0]
            out["median_days_to_next_purchase"] = q[:, 1]
            out["days_to_next_purchase_p90"] = q[:, 2]
        else:  # BG/NBD's timing distribution
            for col in (
                "expected_days_to_next_purchase",
                "median_days_to_next_purchase",
                "days_to_next_purchase_p10",
                "days_to_next_purchase_p90",
            ):
                out[col] = base[col]
        return out

    # -- persistence -------------------------------------------------------------------------
    def _get_state(self, folder: Path | None) -> dict[str, Any]:
        state: dict[str, Any] = {
            "btyd": json.loads(self.btyd_.to_json()),
            "fallback": self.fallback_ is not None,
        }
        if self.fallback_ is not None:
            return state
        state.update(
            features=self.features_,
            label_days=self.label_days_,
            level=self.level_,
            season=self.season_,
            platt=self.platt_,
            rounds=self.rounds_,
        )
        # LightGBM's own text format: beside the JSON in a folder, inside it otherwise
        if folder is None:
            state["boosters"] = {k: b.model_to_string() for k, b in self.boosters_.items()}
        else:
            for key, booster in self.boosters_.items():
                booster.save_model(str(folder / f"{key}.lgb.txt"))
            state["booster_files"] = {k: f"{k}.lgb.txt" for k in sorted(self.boosters_)}
        return state

    def _set_state(self, state: dict[str, Any], folder: Path | None) -> None:
        self.btyd_ = BTYDScorer.from_json(json.dumps(state["btyd"]))
        self.fallback_ = self.btyd_ if state["fallback"] else None
        if self.fallback_ is not None:
            return
        self.features_ = state["features"]
        self.label_days_ = state["label_days"]
        self.level_ = state["level"]
        self.season_ = state["season"]
        self.platt_ = None if state["platt"] is None else tuple(state["platt"])
        self.rounds_ = state["rounds"]
        if "boosters" in state:
            self.boosters_ = {
                k: lgb.Booster(model_str=text) for k, text in state["boosters"].items()
            }
        else:
            if folder is None:
                raise ConfigError("GBMScorer: booster files need the folder they were saved in")
            files = state["booster_files"]
            for name in files.values():
                # a saved model names files beside its JSON, never a path elsewhere
                if Path(name).name != name or not name.endswith(".lgb.txt"):
                    raise ConfigError(f"GBMScorer: booster file {name!r} is not a model file")
            self.boosters_ = {
                k: lgb.Booster(model_file=str(folder / name)) for k, name in files.items()
            }
