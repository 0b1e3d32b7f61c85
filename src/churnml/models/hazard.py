"""Next-purchase timing from a discrete-time hazard model (person-period LightGBM).

Each training snapshot ``s`` contributes, per customer, one row per period of ``period_days``
days the customer spends *at risk* of a first purchase after ``s``: period ``k`` covers days
``k * P + 1 .. (k + 1) * P`` after ``s``; the row's target is 1 in the period of the first
purchase (after which the customer leaves the risk set) and 0 otherwise; customers who do not
buy within the trained periods are censored at their end. A binary LightGBM model of the
snapshot's features, the period index and (when the training periods cover a whole year) the
day of the year the period starts on gives the hazard ``h_k`` = P(first purchase in period k |
none before), and

    F(k * P) = P(first purchase within k * P days) = 1 - prod_{j < k} (1 - h_j),

interpolated linearly within a period. :func:`~churnml.models.timing.timing_from_cdf` turns F
into the expected day, quantiles and P(buy within 7/30/90 days).

Two things a classifier of "bought within H" plus a regressor of buyers' days cannot do follow
from the format: one model gives P(buy within t) for every t and the distribution of the day,
consistent with each other and learnt from when customers bought (censoring included); and the
calendar enters as a feature of each period, so a season inside the horizon moves the hazards
of the periods it covers.
"""

from __future__ import annotations

import math
import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import lightgbm as lgb
import numpy as np
import pandas as pd
from scipy.optimize import brentq

from churnml.data.purchases import day_number
from churnml.data.validation import ValidatedTransactions
from churnml.exceptions import ConfigError, NotFittedError
from churnml.features.rfm import lines_of, parse_as_of
from churnml.features.windows import build_labels
from churnml.models.base import Params, free_processors
from churnml.models.timing import timing_from_cdf

__all__ = ["HAZARD_FILE", "PERIOD_FEATURES", "HazardTiming", "person_periods"]

#: File :meth:`HazardTiming.to_state` writes the booster to when given a folder.
HAZARD_FILE = "hazard.lgb.txt"

#: Columns the model adds to the snapshot's features, one value per period row.
PERIOD_FEATURES = ("period", "period_day_of_year")

#: Hazards are kept inside (eps, 1 - eps) before a logit shift.
_EPS = 1e-9

#: Early stopping: rounds without improvement, and the held-out purchases it needs.
_PATIENCE = 20
_MIN_HELD_EVENTS = 50

#: Rows scored per LightGBM call at prediction: bounds memory for long horizons.
_PREDICT_CHUNK_ROWS = 1_000_000

#: Week-of-year bins (days 1-7, 8-14, ...) the training periods must start in before
#: ``calendar="auto"`` uses the calendar: with all 52, no prediction date falls in a part of
#: the year the trees never saw.
_WEEKS = 52


def person_periods(
    days_to_next: np.ndarray, n_periods: int, period_days: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Expand first-purchase days into person-period rows.

    Parameters
    ----------
    days_to_next : numpy.ndarray of float
        Per customer, the day of the first purchase after the snapshot (1 = the day after) or
        NaN when there is none in the label window.
    n_periods : int
        Periods K observed after the snapshot; first purchases after day ``K * period_days``
        are censored at its end, like no purchase.
    period_days : int
        Days per period.

    Returns
    -------
    who : numpy.ndarray of int
        Per row, the customer's position in ``days_to_next``.
    period : numpy.ndarray of int
        Per row, the period index k (0 = days 1 .. ``period_days``).
    event : numpy.ndarray of bool
        Per row, whether the first purchase falls in this period: true exactly once for a
        customer who bought within ``K * period_days`` days (the customer's last row), never
        otherwise (K rows).
    """
    days = np.asarray(days_to_next, dtype=float)
    bought = np.isfinite(days) & (days <= n_periods * period_days)
    # day d >= 1 falls in period ceil(d / P) - 1
    event_period = np.where(bought, np.ceil(np.where(bought, days, 1.0) / period_days) - 1, -1)
    event_period = event_period.astype(np.int64)
    n_rows = np.where(bought, event_period + 1, n_periods).astype(np.int64)
    who = np.repeat(np.arange(days.size, dtype=np.int64), n_rows)
    first_row = np.cumsum(n_rows) - n_rows
    period = np.arange(who.size, dtype=np.int64) - np.repeat(first_row, n_rows)
    event = period == event_period[who]
    return who, period, event


def _day_of_year(day_numbers: np.ndarray) -> np.ndarray:
    """Day of the year (1-366) of day numbers (days since 1970-01-01)."""
    dates = np.asarray(day_numbers, dtype="int64").astype("datetime64[D]")
    years = dates.astype("datetime64[Y]").astype("datetime64[D]")
    return (dates - years).astype(np.int64) + 1


@dataclass
class _Design:
    """Training rows as arrays: features (float32), target, weight and where each row came from."""

    X: np.ndarray
    event: np.ndarray
    weight: np.ndarray
    snapshot: np.ndarray
    customer: np.ndarray
    customers: list[pd.Index]
    info: dict[str, Any]


class HazardTiming(Params):
    """Discrete-time hazard of the first purchase after as-of, learnt by LightGBM.

    A component, not a scorer: it takes feature tables built by the caller (for example
    :class:`~churnml.models.gbm.GBMScorer`'s snapshots) and returns the timing columns.

    Parameters
    ----------
    period_days : int
        Days per period of the person-period rows (7: weekly hazards).
    max_periods : int or None
        Train on at most this many periods after each snapshot; None: every whole period of
        the label window.
    calendar : bool or "auto"
        Add the day of the year each period starts on as a feature. ``"auto"`` adds it only
        when the training periods start in every week of the year, so that the trees never
        have to extrapolate to a season they did not see (see Notes).
    n_estimators, learning_rate, num_leaves, min_child_samples : int or float
        LightGBM settings; ``n_estimators`` is the most trees (see ``validation_fraction``).
    max_rows : int
        Cap on training rows. Above it, rows without a purchase are subsampled at a common
        rate and weighted by its inverse, which keeps the hazards unbiased; every purchase row
        is kept.
    validation_fraction : float
        Share of customers held out (all their rows) to choose the number of trees: boosting
        stops 20 rounds after their log loss last improved, and the model is then refitted on
        every row with that many trees. 0: always ``n_estimators`` trees. Without it the trees
        learn customers' noise, and because customers who buy early leave the risk set, that
        noise raises the hazards of later periods for everyone (up to 4.5 points of P(buy
        within t) on a simulated constant hazard, 0.5 with it).
    seed : int
        Seed of the subsampling and of LightGBM (whose runs are deterministic).
    n_jobs : int or None
        LightGBM threads; None: :func:`~churnml.models.base.free_processors`.

    Attributes
    ----------
    booster_ : lightgbm.Booster
        The binary hazard model.
    features_ : list of str
        Snapshot feature columns, in model order; the model adds :data:`PERIOD_FEATURES`.
    label_days_ : int
        Label window of the training snapshots.
    n_periods_ : int
        Periods K trained: ``floor(label_days / period_days)``, at most ``max_periods``.
    calendar_ : bool
        Whether the day-of-year feature is used.
    diagnostics_ : dict
        Snapshots, customers, rows (expanded, used, with a purchase), the subsampling rate,
        the calendar decision, the tree count (``rounds``) and held-out log loss, feature
        importance, notes and seconds.

    See Also
    --------
    churnml.models.timing.timing_from_cdf : Timing columns from any P(first purchase within t).

    Notes
    -----
    Only whole periods are trained: with ``label_days`` not a multiple of ``period_days``
    (90 days and weeks), the last ``label_days mod period_days`` days are left out and a first
    purchase in them counts as censored at ``K * period_days``, which keeps every period's
    hazard one of the same length.

    Beyond the trained periods (a horizon longer than the labels, or the remainder days), the
    hazard of every later period is the model's at the last trained period index ``K - 1``,
    with the customer's features as of the prediction date and, when the calendar is used,
    the later period's own day of the year: a constant hazard per period, apart from the
    season. The features do not age within the horizon; the period index carries the time
    since as-of.

    The calendar feature can only tell a season from the customers' aging when the training
    windows cover the same part of the year more than once; with one year of windows a trend
    over the year (a cohort growing older) is read as a season. ``"auto"`` guards against the
    worse case, a prediction window in weeks no training period started in. (Forced on for
    CDNOW at 1997-12-31, whose customers all joined early in 1997, it raised the predicted
    180-day buyers from 1.16 to 1.45 times the actual ones.)

    References
    ----------
    .. [1] Singer and Willett (1993), "It's about time: using discrete-time survival analysis
       to study duration and the timing of events", Journal of Educational Statistics 18(2),
       155-195 (the person-period format).
    """

    def __init__(
        self,
        *,
        period_days: int = 7,
        max_periods: int | None = None,
        calendar: bool | Literal["auto"] = "auto",
        n_estimators: int = 200,
        learning_rate: float = 0.05,
        num_leaves: int = 15,
        min_child_samples: int = 50,
        max_rows: int = 500_000,
        validation_fraction: float = 0.2,
        seed: int = 0,
        n_jobs: int | None = None,
    ) -> None:
        self.period_days = period_days
        self.max_periods = max_periods
        self.calendar = calendar
        self.n_estimators = n_estimators
        self.learning_rate = learning_rate
        self.num_leaves = num_leaves
        self.min_child_samples = min_child_samples
        self.max_rows = max_rows
        self.validation_fraction = validation_fraction
        self.seed = seed
        self.n_jobs = n_jobs

    # -- checks ------------------------------------------------------------------------------
    def _check_params(self, label_days: int) -> int:
        """Validate the parameters against ``label_days``; return the periods K to train."""

        def whole(name: str, value: Any, low: int = 1) -> None:
            if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < low:
                raise ConfigError(
                    f"HazardTiming: {name} must be a whole number >= {low}; got {value!r}"
                )

        whole("period_days", self.period_days)
        whole("label_days", label_days)
        whole("n_estimators", self.n_estimators)
        whole("num_leaves", self.num_leaves, 2)
        whole("min_child_samples", self.min_child_samples)
        whole("max_rows", self.max_rows)
        if self.max_periods is not None:
            whole("max_periods", self.max_periods)
        if self.n_jobs is not None:
            whole("n_jobs", self.n_jobs)
        if not (
            isinstance(self.validation_fraction, int | float)
            and 0.0 <= self.validation_fraction < 1.0
        ):
            raise ConfigError(
                "HazardTiming: validation_fraction must be in [0, 1); got "
                f"{self.validation_fraction!r}"
            )
        if self.calendar not in (True, False, "auto"):
            raise ConfigError(
                f"HazardTiming: calendar must be True, False or 'auto'; got {self.calendar!r}"
            )
        if not (isinstance(self.learning_rate, int | float) and self.learning_rate > 0):
            raise ConfigError(
                f"HazardTiming: learning_rate must be a positive number; got {self.learning_rate!r}"
            )
        if label_days < self.period_days:
            raise ConfigError(
                f"HazardTiming: label_days ({label_days}) must cover at least one period of "
                f"period_days ({self.period_days}) days"
            )
        k = label_days // self.period_days
        return k if self.max_periods is None else min(k, int(self.max_periods))

    def _check_fitted(self) -> None:
        if not hasattr(self, "booster_"):
            raise NotFittedError("HazardTiming is not fitted; call fit() first")

    def _fitted_note(self) -> str:
        return f" [fitted, {self.n_periods_} periods]" if hasattr(self, "booster_") else ""

    # -- design ------------------------------------------------------------------------------
    def _feature_matrix(self, table: pd.DataFrame, columns: list[str]) -> np.ndarray:
        """Return the features in model order as float32; missing columns and infinities NaN."""
        frame = table.reindex(columns=columns)
        bad = [c for c in columns if c in table.columns and not _is_numeric(table[c])]
        if bad:
            raise ConfigError(f"HazardTiming: feature columns must be numeric; not: {bad}")
        X = frame.to_numpy(dtype=np.float32, na_value=np.nan)
        X[~np.isfinite(X)] = np.nan
        return X

    def _period_columns(
        self, as_of_day: int, periods: np.ndarray, model_period: np.ndarray, calendar: bool
    ) -> np.ndarray:
        """Return each period row's period features: the index the model sees, the season."""
        cols = [model_period.astype(np.float32)]
        if calendar:
            start = as_of_day + 1 + periods * self.period_days
            cols.append(_day_of_year(start).astype(np.float32))
        return np.column_stack(cols)

    def _design(
        self,
        tables: Sequence[pd.DataFrame],
        snapshots: Sequence[Any],
        lines: ValidatedTransactions | pd.DataFrame,
        label_days: int,
        data_end: Any,
    ) -> _Design:
        """Build the person-period rows of every snapshot, subsampled to ``max_rows``."""
        n_periods = self._check_params(label_days)
        if len(tables) != len(snapshots) or not tables:
            raise ConfigError(
                f"HazardTiming: one feature table per snapshot is needed; got {len(tables)} "
                f"tables and {len(snapshots)} snapshots"
            )
        snaps = [parse_as_of(s) for s in snapshots]
        columns = [str(c) for c in tables[0].columns]
        clash = sorted(set(columns) & set(PERIOD_FEATURES))
        if clash:
            raise ConfigError(f"HazardTiming: the feature tables may not have columns {clash}")
        frame = lines_of(lines)
        if data_end is None:
            if isinstance(lines, ValidatedTransactions) and lines.report.last_date is not None:
                data_end = lines.report.last_date
            else:
                data_end = frame["date"].max()

        # Labels first (they say how many rows each customer has), features only for kept rows.
        expanded = []
        for table, snap in zip(tables, snaps, strict=True):
            if not table.index.is_unique:
                raise ConfigError(f"HazardTiming: the table of {snap.date()} repeats customers")
            # lines after the label window are never read: labels are cut before they are built
            window = frame[frame["date"] < snap + pd.Timedelta(days=label_days + 1)]
            labels = build_labels(
                window, snap, label_days, customers=table.index, data_end=data_end
            )
            who, period, event = person_periods(
                labels["days_to_next"].to_numpy(float), n_periods, self.period_days
            )
            expanded.append((who, period, event))

        starts = [
            int(day_number(s)[()]) + 1 + np.arange(n_periods) * self.period_days for s in snaps
        ]
        weeks = np.unique((_day_of_year(np.concatenate(starts)) - 1) // 7)
        covered = int(np.sum(weeks < _WEEKS))
        calendar = covered >= _WEEKS if self.calendar == "auto" else bool(self.calendar)

        total = sum(e[0].size for e in expanded)
        n_events = sum(int(e[2].sum()) for e in expanded)
        rate = 1.0
        if total > self.max_rows:
            rate = max(self.max_rows - n_events, 0) / max(total - n_events, 1)
            if rate == 0.0:
                raise ConfigError(
                    f"HazardTiming: max_rows ({self.max_rows:,}) leaves no room for rows "
                    f"without a purchase next to the {n_events:,} purchase rows; raise it"
                )
        rng = np.random.default_rng(self.seed)
        parts: list[tuple[np.ndarray, ...]] = []
        for (who, period, event), table, snap in zip(expanded, tables, snaps, strict=True):
            keep = (event | (rng.random(event.size) < rate)) if rate < 1.0 else slice(None)
            who, period, event = who[keep], period[keep], event[keep]
            X = np.empty((who.size, len(columns) + 1 + int(calendar)), dtype=np.float32)
            X[:, : len(columns)] = self._feature_matrix(table, columns)[who]
            X[:, len(columns) :] = self._period_columns(
                int(day_number(snap)[()]), period, period, calendar
            )
            weight = np.where(event, 1.0, 1.0 / rate if rate < 1.0 else 1.0)
            parts.append((X, event, weight, who))
        info = {
            "snapshots": [str(s.date()) for s in snaps],
            "customers": [len(t) for t in tables],
            "label_days": int(label_days),
            "period_days": int(self.period_days),
            "n_periods": int(n_periods),
            "rows_expanded": int(total),
            "rows_used": int(sum(p[0].shape[0] for p in parts)),
            "event_rows": int(n_events),
            "non_event_sample_rate": float(rate),
            "calendar": calendar,
            "calendar_weeks_covered": covered,
        }
        return _Design(
            X=np.concatenate([p[0] for p in parts]),
            event=np.concatenate([p[1] for p in parts]),
            weight=np.concatenate([p[2] for p in parts]),
            snapshot=np.repeat(np.arange(len(parts)), [p[0].shape[0] for p in parts]),
            customer=np.concatenate([p[3] for p in parts]),
            customers=[t.index for t in tables],
            info=info,
        )

    def training_rows(
        self,
        tables: Sequence[pd.DataFrame],
        snapshots: Sequence[Any],
        lines: ValidatedTransactions | pd.DataFrame,
        label_days: int,
        *,
        data_end: Any = None,
    ) -> pd.DataFrame:
        """Return the person-period rows :meth:`fit` trains on, as a table (for inspection).

        Parameters
        ----------
        tables, snapshots, lines, label_days, data_end
            As in :meth:`fit`.

        Returns
        -------
        pandas.DataFrame
            One row per customer, snapshot and period at risk: ``snapshot``, ``customer_id``,
            the feature columns, :data:`PERIOD_FEATURES` (the calendar one when used),
            ``event`` and ``weight``.
        """
        design = self._design(tables, snapshots, lines, label_days, data_end)
        names = self._names(tables[0].columns, design.info["calendar"])
        out = pd.DataFrame(design.X, columns=names)
        snaps = np.array([parse_as_of(s) for s in snapshots], dtype="datetime64[ns]")
        ids = np.concatenate(
            [
                np.asarray(design.customers[k], dtype=object)[design.customer[design.snapshot == k]]
                for k in range(len(design.customers))
            ]
        )
        out.insert(0, "customer_id", ids)
        out.insert(0, "snapshot", snaps[design.snapshot])
        out["event"] = design.event
        out["weight"] = design.weight
        return out

    @staticmethod
    def _names(columns: Sequence[Any], calendar: bool) -> list[str]:
        return [str(c) for c in columns] + list(PERIOD_FEATURES[: 1 + int(calendar)])

    # -- fitting -----------------------------------------------------------------------------
    def fit(
        self,
        tables: Sequence[pd.DataFrame],
        snapshots: Sequence[Any],
        lines: ValidatedTransactions | pd.DataFrame,
        label_days: int,
        *,
        data_end: Any = None,
    ) -> HazardTiming:
        """Learn the per-period hazard of a first purchase from snapshot feature tables.

        Parameters
        ----------
        tables : sequence of pandas.DataFrame
            Feature tables indexed by ``customer_id``, one per snapshot, each built from lines
            dated on or before its snapshot (e.g. :func:`churnml.features.build_features`).
        snapshots : sequence of str or pandas.Timestamp
            The snapshot dates, in the order of ``tables``.
        lines : ValidatedTransactions or pandas.DataFrame
            Transactions (``customer_id``, ``date``, ``amount``). A purchase is a customer-day
            with positive net amount, as in :func:`churnml.features.build_labels`; lines after
            the last label window are never read.
        label_days : int
            Label window after every snapshot.
        data_end : str or pandas.Timestamp, optional
            Last day the data covers (default: the last date of ``lines``); a label window
            running past it is an error.

        Returns
        -------
        HazardTiming
            ``self``, fitted.

        Raises
        ------
        ConfigError
            A parameter is out of range, the tables and snapshots do not pair up, a table
            repeats a customer or has a non-numeric feature, or the rows hold no purchase (or
            nothing else).
        """
        started = time.perf_counter()
        self.__dict__.pop("booster_", None)  # a failed refit must not look fitted
        design = self._design(tables, snapshots, lines, label_days, data_end)
        calendar = bool(design.info["calendar"])
        names = self._names(tables[0].columns, calendar)
        events = int(design.event.sum())
        notes = []
        if design.info["non_event_sample_rate"] < 1.0:
            notes.append(
                f"{design.info['rows_expanded']:,} person-period rows exceed max_rows "
                f"({self.max_rows:,}): rows without a purchase were sampled at rate "
                f"{design.info['non_event_sample_rate']:.3f} and weighted by its inverse"
            )
        if label_days % self.period_days:
            notes.append(
                f"the last {label_days % self.period_days} days of the {label_days}-day labels "
                f"are not a whole {self.period_days}-day period: purchases in them count as "
                "censored, and predictions there use the last trained period's hazard"
            )
        if self.calendar == "auto" and not calendar:
            notes.append(
                f"calendar off: training periods start in {design.info['calendar_weeks_covered']}"
                f" of {_WEEKS} weeks of the year, so a season could not be learnt for the rest"
            )
        if events == 0 or events == design.event.size:
            raise ConfigError(
                "HazardTiming: the training rows need both periods with and without a first "
                f"purchase; got {events} purchase rows of {design.event.size}"
            )
        dataset = lgb.Dataset(
            design.X,
            label=design.event.astype(np.float32),
            weight=design.weight,
            feature_name=names,
            free_raw_data=True,
            params={"verbose": -1, "feature_pre_filter": False},
        ).construct()
        del design.X  # LightGBM keeps its binned copy; the float matrix can go
        rounds, stopping = self._rounds(dataset, design)
        notes.extend(stopping.pop("notes"))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            self.booster_ = lgb.train(self._params(), dataset, num_boost_round=rounds)
        self.features_ = [str(c) for c in tables[0].columns]
        self.calendar_ = calendar
        self.label_days_ = int(label_days)
        self.n_periods_ = int(design.info["n_periods"])
        gain = self.booster_.feature_importance("gain")
        order = np.argsort(-gain)[:10]
        self.diagnostics_ = {
            **design.info,
            **stopping,
            "feature_importance": {names[i]: float(gain[i]) for i in order},
            "notes": notes,
            "seconds": round(time.perf_counter() - started, 2),
        }
        return self

    def _rounds(self, dataset: lgb.Dataset, design: _Design) -> tuple[int, dict[str, Any]]:
        """Choose the tree count where the log loss of held-out customers stops improving.

        Customers, not rows, are held out (all their periods in every snapshot), so that the
        trees cannot learn a customer's noise in one snapshot and meet it again in another.

        Returns
        -------
        rounds : int
            Trees for the final model.
        info : dict
            ``rounds``, held-out customers and log loss, and ``notes``.
        """
        info: dict[str, Any] = {"rounds": int(self.n_estimators), "notes": []}
        if not self.validation_fraction:
            return int(self.n_estimators), info
        ids = pd.Index(
            np.unique(np.concatenate([np.asarray(c, dtype=object) for c in design.customers]))
        )
        rng = np.random.default_rng([int(self.seed), 1])
        held_ids = ids[rng.random(len(ids)) < self.validation_fraction]
        held = np.zeros(design.event.size, dtype=bool)
        for k, customers in enumerate(design.customers):
            rows = design.snapshot == k
            held[rows] = customers.isin(held_ids)[design.customer[rows]]
        held_events = int(design.event[held].sum())
        if held_events < _MIN_HELD_EVENTS or held.all():
            info["notes"].append(
                f"{held_events} purchase rows among held-out customers (fewer than "
                f"{_MIN_HELD_EVENTS}): no early stopping, {self.n_estimators} trees"
            )
            return int(self.n_estimators), info
        train = dataset.subset(np.flatnonzero(~held).tolist())
        valid = dataset.subset(np.flatnonzero(held).tolist())
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            probe = lgb.train(
                self._params(),
                train,
                num_boost_round=self.n_estimators,
                valid_sets=[valid],
                callbacks=[lgb.early_stopping(_PATIENCE, verbose=False)],
            )
        rounds = max(int(probe.best_iteration or self.n_estimators), 1)
        best = probe.best_score["valid_0"]["binary_logloss"]
        info.update(
            rounds=rounds,
            held_out_customers=len(held_ids),
            held_out_logloss=float(best),
        )
        return rounds, info

    def _params(self) -> dict[str, Any]:
        return {
            "objective": "binary",
            "learning_rate": float(self.learning_rate),
            "num_leaves": int(self.num_leaves),
            "min_data_in_leaf": int(self.min_child_samples),
            "bagging_fraction": 0.8,
            "bagging_freq": 1,
            "feature_fraction": 0.8,
            "lambda_l2": 1.0,
            "seed": int(self.seed),
            "deterministic": True,
            "force_row_wise": True,
            "num_threads": int(self.n_jobs) if self.n_jobs else free_processors(),
            "verbose": -1,
        }

    # -- prediction --------------------------------------------------------------------------
    def hazard(self, table: pd.DataFrame, as_of: Any, n_periods: int) -> np.ndarray:
        """Return each customer's hazard of a first purchase in periods ``0 .. n_periods - 1``.

        Parameters
        ----------
        table : pandas.DataFrame
            Feature table at ``as_of``, indexed by ``customer_id`` (columns as in training;
            missing ones are treated as missing values).
        as_of : str or pandas.Timestamp
            Date the features were built at; period k covers days ``k * period_days + 1`` to
            ``(k + 1) * period_days`` after it.
        n_periods : int
            Number of periods.

        Returns
        -------
        numpy.ndarray
            Shape ``(len(table), n_periods)``: P(first purchase in period k | none before).
            Periods past the trained ones use the last trained period index (class Notes).

        Raises
        ------
        ConfigError
            ``n_periods`` is negative.
        """
        self._check_fitted()
        if n_periods < 0:
            raise ConfigError(f"HazardTiming.hazard: n_periods must be >= 0; got {n_periods}")
        as_of_day = int(day_number(parse_as_of(as_of))[()])
        base = self._feature_matrix(table, self.features_)
        periods = np.arange(n_periods)
        extra = self._period_columns(
            as_of_day, periods, np.minimum(periods, self.n_periods_ - 1), self.calendar_
        )
        n = base.shape[0]
        out = np.empty((n, n_periods))
        if n == 0 or n_periods == 0:
            return out
        step = max(1, _PREDICT_CHUNK_ROWS // n_periods)
        for lo in range(0, n, step):
            block = base[lo : lo + step]
            m = block.shape[0]
            X = np.empty((m * n_periods, base.shape[1] + extra.shape[1]), dtype=np.float32)
            X[:, : base.shape[1]] = np.repeat(block, n_periods, axis=0)
            X[:, base.shape[1] :] = np.tile(extra, (m, 1))
            out[lo : lo + m] = self.booster_.predict(X).reshape(m, n_periods)
        return np.clip(out, 0.0, 1.0)

    def _cdf_from_hazard(self, hazard: np.ndarray, days: np.ndarray) -> np.ndarray:
        """F(d) from per-period hazards: 1 - survival at period ends, linear within periods."""
        n, k = hazard.shape
        at_ends = np.hstack([np.zeros((n, 1)), 1.0 - np.cumprod(1.0 - hazard, axis=1)])
        position = np.asarray(days, dtype=float) / self.period_days
        left = np.minimum(np.floor(position).astype(np.int64), max(k - 1, 0))
        frac = np.clip(position - left, 0.0, 1.0)
        if k == 0:
            return np.zeros((n, position.size))
        return at_ends[:, left] * (1.0 - frac) + at_ends[:, left + 1] * frac

    def cdf(
        self, table: pd.DataFrame, as_of: Any, days: Sequence[float] | np.ndarray
    ) -> np.ndarray:
        """Return P(first purchase within d days of as-of) per customer and day.

        Parameters
        ----------
        table, as_of
            As in :meth:`hazard`.
        days : sequence of float
            Days after as-of (>= 0); 1 covers the day after as-of.

        Returns
        -------
        numpy.ndarray
            Shape ``(len(table), len(days))``: ``1 - prod_{k < d / P} (1 - h_k)``, linear
            within a period; 0 at day 0, non-decreasing in d, within [0, 1].

        Raises
        ------
        ConfigError
            A day is negative or not finite.
        """
        values = np.asarray(days, dtype=float).ravel()
        if values.size and not (np.isfinite(values).all() and values.min() >= 0):
            raise ConfigError(f"HazardTiming.cdf: days must be finite and >= 0; got {days!r}")
        needed = math.ceil(values.max() / self.period_days) if values.size else 0
        return self._cdf_from_hazard(self.hazard(table, as_of, max(needed, 1)), values)

    def predict(
        self,
        table: pd.DataFrame,
        as_of: Any,
        horizon_days: int,
        *,
        expected_buyers: float | None = None,
    ) -> pd.DataFrame:
        """Return the timing columns and P(a purchase within the horizon) per customer.

        Parameters
        ----------
        table, as_of
            As in :meth:`hazard`.
        horizon_days : int
            Horizon H the expected day and quantiles are conditioned on.
        expected_buyers : float, optional
            Take the level from elsewhere: shift every hazard's logit by one constant so that
            the customers' P(purchase within H) sum to this (e.g. BG/NBD's sum of
            P(repurchase) at as-of, as GBMScorer's ``anchor_level`` does). The shape over time
            stays the trees', and so does the ranking but for customers whose hazards differ in
            shape, which one common shift can swap (by a hair). None: the trees' own level.

        Returns
        -------
        pandas.DataFrame
            Indexed like ``table``: ``p_repurchase`` (= F(H)) and
            :data:`~churnml.models.timing.TIMING_COLUMNS`.

        Raises
        ------
        ConfigError
            ``horizon_days`` is not a positive whole number, or ``expected_buyers`` is not
            between 0 and the number of customers.

        Notes
        -----
        The training snapshots are younger than as-of, and younger customers buy more: on
        CDNOW the trees' own level is 10-20 % above the buyers that follow. BG/NBD extrapolates
        customer aging, which is why a caller may prefer its level.
        """
        self._check_fitted()
        if int(horizon_days) != horizon_days or horizon_days <= 0:
            raise ConfigError(
                f"HazardTiming.predict: horizon_days must be a positive whole number; "
                f"got {horizon_days!r}"
            )
        horizon = int(horizon_days)
        # p_buy_90d is reported whatever the horizon: one hazard matrix covers both
        needed = math.ceil(max(horizon, 90) / self.period_days)
        hazard = self.hazard(table, as_of, needed)
        if expected_buyers is not None:
            hazard = self._shift_to(hazard, horizon, float(expected_buyers))
        out = timing_from_cdf(lambda d: self._cdf_from_hazard(hazard, d), horizon, table.index)
        out.insert(0, "p_repurchase", self._cdf_from_hazard(hazard, np.array([horizon]))[:, 0])
        return out

    def _shift_to(self, hazard: np.ndarray, horizon: int, target: float) -> np.ndarray:
        """Shift all hazard logits by one constant so that sum_i F_i(H) equals ``target``."""
        n = hazard.shape[0]
        if not (np.isfinite(target) and 0.0 < target < n):
            raise ConfigError(
                f"HazardTiming.predict: expected_buyers must be between 0 and the {n} "
                f"customers; got {target!r}"
            )
        h = np.clip(hazard, _EPS, 1.0 - _EPS)
        logit = np.log(h / (1.0 - h))
        days = np.array([horizon], dtype=float)

        def shifted(delta: float) -> np.ndarray:
            return 1.0 / (1.0 + np.exp(-(logit + delta)))

        def gap(delta: float) -> float:
            return float(self._cdf_from_hazard(shifted(delta), days).sum()) - target

        return shifted(brentq(gap, -30.0, 30.0))

    # -- persistence -------------------------------------------------------------------------
    def to_state(self, folder: str | Path | None = None) -> dict[str, Any]:
        """Return the fitted model as JSON-ready data; the booster in LightGBM's text format.

        Parameters
        ----------
        folder : str or pathlib.Path, optional
            Write the booster to :data:`HAZARD_FILE` in this (existing) folder and name the
            file in the state; without it the model text is inside the state.

        Returns
        -------
        dict
            Parameters, fitted attributes, diagnostics and the booster (or its file name).
        """
        self._check_fitted()
        state: dict[str, Any] = {
            "model": type(self).__name__,
            "params": self.get_params(),
            "features": self.features_,
            "label_days": self.label_days_,
            "n_periods": self.n_periods_,
            "calendar": self.calendar_,
            "diagnostics": self.diagnostics_,
        }
        if folder is None:
            state["booster"] = self.booster_.model_to_string()
        else:
            self.booster_.save_model(str(Path(folder) / HAZARD_FILE))
            state["booster_file"] = HAZARD_FILE
        return state

    @classmethod
    def from_state(cls, state: dict[str, Any], folder: str | Path | None = None) -> HazardTiming:
        """Rebuild a fitted model from :meth:`to_state` output (no code is executed).

        Parameters
        ----------
        state : dict
            What :meth:`to_state` returned (after a JSON round trip, too).
        folder : str or pathlib.Path, optional
            The folder :meth:`to_state` wrote the booster to, when it was given one.

        Returns
        -------
        HazardTiming
            The fitted model.

        Raises
        ------
        ConfigError
            The state is not a HazardTiming's, or names a booster file without its folder or
            outside it.
        """
        if state.get("model") != cls.__name__:
            raise ConfigError(f"HazardTiming: the state is a {state.get('model')!r} model's")
        model = cls(**state["params"])
        if "booster" in state:
            model.booster_ = lgb.Booster(model_str=state["booster"])
        else:
            name = state["booster_file"]
            # a state names a file beside it, never a path elsewhere
            if folder is None or Path(name).name != name or not name.endswith(".lgb.txt"):
                raise ConfigError(
                    f"HazardTiming: booster file {name!r} needs the folder it was saved in"
                )
            model.booster_ = lgb.Booster(model_file=str(Path(folder) / name))
        model.features_ = list(state["features"])
        model.label_days_ = int(state["label_days"])
        model.n_periods_ = int(state["n_periods"])
        model.calendar_ = bool(state["calendar"])
        model.diagnostics_ = state["diagnostics"]
        return model


def _is_numeric(column: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(column) or pd.api.types.is_bool_dtype(column)
