"""LightGBM and hybrid (BTYD-boosted) scorers trained on point-in-time snapshots.

``gbm`` learns from the feature table only; ``hybrid`` also sees BG/NBD's outputs and boosts
*from* BG/NBD's own prediction (LightGBM ``init_score``: the BTYD logit or log-mean), so where
the trees find no signal it stays at BG/NBD.

Levels drift: training snapshots are younger than the scoring date and younger customers buy
more, which makes a model trained on them over-predict totals (20-35 % on CDNOW). Both scorers
Platt-scale P(repurchase) on the newest snapshot (held out in time), and by default
(``anchor_level``) take their *level* from BG/NBD at the scoring date, which extrapolates
customer aging, and their *ranking* from the trees: calibrated logits are shifted by one
constant so that the sum of P(repurchase) matches BG/NBD's, and revenue and purchase counts are
scaled likewise. Where the history covers the
same window one year earlier, both correct the level by how far BG/NBD missed in that window
(seasonality); otherwise the diagnostics say it could not.
"""

from __future__ import annotations

import json
import time
import warnings
from pathlib import Path
from typing import Any

import lightgbm as lgb
import numpy as np
import pandas as pd
from scipy.optimize import brentq
from sklearn.linear_model import LogisticRegression

from churnml.config import parse_day
from churnml.data.validation import ValidatedTransactions
from churnml.exceptions import ChurnmlError, ConfigError
from churnml.features.rfm import btyd_summary, lines_of
from churnml.features.snapshots import plan_snapshots
from churnml.features.windows import build_features, build_labels
from churnml.models.base import BaseScorer
from churnml.models.explain import top_reasons
from churnml.models.pipeline import BTYDScorer, _finish
from churnml.settings import ValueSettings

__all__ = ["GBMScorer"]

#: Absolute-age features left out: the scoring date is older than every training snapshot,
#: and trees cannot extrapolate them.
_ABSOLUTE_AGE = ("T", "tenure_days", "recency")
_BTYD_FEATURES = ("btyd_p_alive", "btyd_p_repurchase", "btyd_expected_purchases", "btyd_spend")
_EPS = 1e-6
#: History a year-ago BG/NBD fit needs before its miss is read as seasonality.
_MIN_SEASON_HISTORY_DAYS = 180


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, _EPS, 1 - _EPS)
    return np.log(p / (1 - p))


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-z))


class GBMScorer(BaseScorer):
    """LightGBM models for P(repurchase), purchases, revenue and timing.

    Parameters
    ----------
    hybrid : bool
        Use BG/NBD outputs as features and as the boosting start, and BG/NBD's level.
    n_estimators, learning_rate, num_leaves, min_child_samples : int or float
        LightGBM settings shared by all models.
    seed : int
        Random seed; with it, results are reproducible (LightGBM runs deterministic).
    value : ValueSettings, optional
        CLV settings.
    step_days, max_snapshots : int
        Snapshot spacing and count.
    boost_from_btyd : bool
        Hybrid only: start boosting from BG/NBD's prediction (LightGBM ``init_score``).
    anchor_level : bool
        Take the level (sum of P(repurchase), purchases, revenue) from BG/NBD at the scoring
        date and the ranking from the trees.

    Attributes
    ----------
    btyd_ : BTYDScorer
        BG/NBD + Gamma-Gamma fitted at as-of (level, timing shape and CLV profile).
    boosters_ : dict of str to lightgbm.Booster
        ``repurchase``, ``purchases``, ``revenue``, ``days``, ``days_q10``, ``days_q50``,
        ``days_q90``.
    features_ : list of str
        Feature columns, in model order.
    label_days_ : int
        Label window the models were trained on.
    diagnostics_ : dict
        Snapshots, calibration and seasonal factors, notes, feature importance, timings.
    fallback_ : BTYDScorer or None
        Set when the history is too short for any snapshot: scores are then BG/NBD's.
    """

    def __init__(
        self,
        *,
        hybrid: bool = False,
        n_estimators: int = 300,
        learning_rate: float = 0.03,
        num_leaves: int = 15,
        min_child_samples: int = 50,
        seed: int = 0,
        value: ValueSettings | None = None,
        step_days: int = 30,
        max_snapshots: int = 6,
        boost_from_btyd: bool = True,
        anchor_level: bool = True,
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

    @property
    def name(self) -> str:
        """Model key in evaluation tables."""
        return "hybrid" if self.hybrid else "gbm"

    # -- features ----------------------------------------------------------------------------
    def _btyd_features(
        self, tx: Any, as_of: pd.Timestamp, label_days: int, btyd: BTYDScorer
    ) -> pd.DataFrame:
        summary = btyd_summary(tx, as_of)
        tm = btyd.transaction_
        return pd.DataFrame(
            {
                "btyd_p_alive": tm.p_alive(summary).to_numpy(),
                "btyd_p_repurchase": tm.p_repurchase(summary, label_days).to_numpy(),
                "btyd_expected_purchases": tm.expected_purchases(summary, label_days).to_numpy(),
                "btyd_spend": btyd.expected_spend(summary),
            },
            index=summary.index,
        )

    def _table(
        self, tx: Any, as_of: pd.Timestamp, label_days: int, btyd: BTYDScorer
    ) -> pd.DataFrame:
        feats = build_features(tx, as_of)
        feats = feats.drop(columns=[c for c in _ABSOLUTE_AGE if c in feats.columns])
        # same window one year earlier, per customer (NaN where the history does not reach)
        lines = lines_of(tx)
        start, end = as_of - pd.Timedelta(days=365), as_of - pd.Timedelta(days=365 - label_days)
        # a horizon over a year would carry the window past as-of, into what the features of
        # this date must not see: it stops at as-of
        end = min(end, as_of)
        if lines["date"].min() <= start:
            window = lines[
                (lines["date"] >= start + pd.Timedelta(days=1))
                & (lines["date"] < end + pd.Timedelta(days=1))
            ]
            ly = window.groupby("customer_id")["amount"].agg(["size", "sum"])
            feats["last_year_lines"] = ly["size"].reindex(feats.index).fillna(0).to_numpy()
            feats["last_year_revenue"] = ly["sum"].reindex(feats.index).fillna(0).to_numpy()
        else:
            feats["last_year_lines"] = np.nan
            feats["last_year_revenue"] = np.nan
        return feats.join(self._btyd_features(tx, as_of, label_days, btyd))

    def _columns(self, table: pd.DataFrame) -> list[str]:
        cols = [c for c in table.columns if self.hybrid or c not in _BTYD_FEATURES]
        return cols

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
        """
        started = time.perf_counter()
        self._start_fit()
        as_of = parse_day(as_of)
        lines = lines_of(tx)
        lines = lines[lines["date"] < as_of + pd.Timedelta(days=1)]  # nothing after as-of
        self.btyd_ = BTYDScorer(kind="bgnbd", value=self.value).fit(lines, as_of)
        diag: dict[str, Any] = {
            "model": self.name,
            "as_of": str(as_of.date()),
            "notes": [],
            "warnings": list(self.btyd_.diagnostics_.get("warnings", [])),
        }
        self.fallback_: BTYDScorer | None = None
        plan = plan_snapshots(
            lines["date"].min(),
            as_of,
            horizon_days,
            step_days=self.step_days,
            max_snapshots=self.max_snapshots,
        )
        if plan is None or not plan.dates:
            self.fallback_ = self.btyd_
            diag["notes"].append(
                f"history too short for any {self.name} training snapshot before "
                f"{as_of.date()}: scores are BG/NBD + Gamma-Gamma's"
            )
            self.diagnostics_ = diag
            self.as_of_ = as_of
            return self
        if plan.note:
            diag["notes"].append(plan.note)
        self.label_days_ = plan.label_days
        tables, labels, used = [], [], []
        for snap in plan.dates:
            try:
                snap_btyd = BTYDScorer(
                    kind="bgnbd", penalizer=self.btyd_.penalizer_, value=self.value
                ).fit(lines, snap)
            except ChurnmlError:
                continue  # too thin that far back; older snapshots would be thinner still
            table = self._table(lines, snap, plan.label_days, snap_btyd)
            tables.append(table)
            labels.append(
                build_labels(lines, snap, plan.label_days, customers=table.index, data_end=as_of)
            )
            used.append(snap)
        if not tables:
            self.fallback_ = self.btyd_
            diag["notes"].append(
                "no snapshot had enough data for BG/NBD features: scores are BG/NBD + Gamma-Gamma's"
            )
            self.diagnostics_ = diag
            self.as_of_ = as_of
            return self
        self.features_ = self._columns(tables[0])
        calibrate = len(tables) >= 2
        train_x = pd.concat(tables[1:] if calibrate else tables)
        train_y = pd.concat(labels[1:] if calibrate else labels)
        self.boosters_ = self._train(train_x, train_y)
        diag.update(
            snapshots=[str(s.date()) for s in used],
            label_days=plan.label_days,
            training_rows=len(train_x),
            calibration_snapshot=str(used[0].date()) if calibrate else None,
        )
        self._calibrate(tables[0], labels[0], calibrate, diag)
        self._seasonality(lines, as_of, plan.label_days, diag)
        gain = self.boosters_["repurchase"].feature_importance("gain")
        order = np.argsort(-gain)[:10]
        diag["feature_importance"] = {self.features_[i]: float(gain[i]) for i in order}
        diag["seconds"] = round(time.perf_counter() - started, 2)
        self.diagnostics_ = diag
        self.as_of_ = as_of
        return self

    def _params(self, objective: str, **extra: Any) -> dict[str, Any]:
        return {
            "objective": objective,
            "n_estimators": self.n_estimators,
            "learning_rate": self.learning_rate,
            "num_leaves": self.num_leaves,
            "min_child_samples": self.min_child_samples,
            "subsample": 0.8,
            "subsample_freq": 1,
            "colsample_bytree": 0.8,
            "reg_lambda": 1.0,
            "random_state": self.seed,
            "deterministic": True,
            "force_row_wise": True,
            "n_jobs": 2,
            "verbose": -1,
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

    def _train(self, x: pd.DataFrame, y: pd.DataFrame) -> dict[str, lgb.Booster]:
        X = x[self.features_]
        boosters = {}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            clf = lgb.LGBMClassifier(**self._params("binary"))
            clf.fit(X, y["bought"].astype(int), init_score=self._init(x, "repurchase"))
            boosters["repurchase"] = clf.booster_
            count = lgb.LGBMRegressor(**self._params("poisson"))
            count.fit(X, y["n_purchases"], init_score=self._init(x, "purchases"))
            boosters["purchases"] = count.booster_
            rev = lgb.LGBMRegressor(**self._params("tweedie", tweedie_variance_power=1.5))
            rev.fit(X, y["revenue"], init_score=self._init(x, "revenue"))
            boosters["revenue"] = rev.booster_
            buyers = y["bought"].to_numpy()
            if buyers.sum() >= 50:
                xb, days = X[buyers], y.loc[buyers, "days_to_next"]
                for key, objective, extra in (
                    ("days", "regression", {}),
                    ("days_q10", "quantile", {"alpha": 0.1}),
                    ("days_q50", "quantile", {"alpha": 0.5}),
                    ("days_q90", "quantile", {"alpha": 0.9}),
                ):
                    model = lgb.LGBMRegressor(**self._params(objective, **extra))
                    model.fit(xb, days)
                    boosters[key] = model.booster_
        return boosters

    def _raw(self, table: pd.DataFrame) -> dict[str, np.ndarray]:
        # Features of optional columns (quantity, product, channel) the scoring data lacks are
        # missing values, which LightGBM routes like any unseen missing value.
        X = table.reindex(columns=self.features_)
        out = {k: b.predict(X, raw_score=True) for k, b in self.boosters_.items()}
        for target in ("repurchase", "purchases", "revenue"):
            init = self._init(table, target)
            if init is not None:
                out[target] = out[target] + init
        out["repurchase"] = _sigmoid(out["repurchase"])
        out["purchases"] = np.exp(out["purchases"])
        out["revenue"] = np.exp(out["revenue"])
        return out

    def _calibrate(
        self, table: pd.DataFrame, labels: pd.DataFrame, calibrate: bool, diag: dict[str, Any]
    ) -> None:
        """Platt-scale P(repurchase) and set count/revenue levels on the newest snapshot."""
        self.platt_: tuple[float, float] | None = None
        self.level_ = {"purchases": 1.0, "revenue": 1.0}
        if not calibrate:
            diag["notes"].append("a single snapshot: no held-out window to calibrate on")
            return
        raw = self._raw(table)
        y = labels["bought"].to_numpy(int)
        before = float(np.mean((raw["repurchase"] - y) ** 2))
        if 0 < y.sum() < y.size:
            lr = LogisticRegression(C=1e6).fit(_logit(raw["repurchase"])[:, None], y)
            self.platt_ = (float(lr.coef_[0, 0]), float(lr.intercept_[0]))
        after = float(np.mean((self._platt(raw["repurchase"]) - y) ** 2))
        for key, target in (("purchases", "n_purchases"), ("revenue", "revenue")):
            total = float(raw[key].sum())
            factor = float(labels[target].sum()) / total if total > 0 else 1.0
            self.level_[key] = float(np.clip(factor, 0.5, 2.0))
        diag["calibration"] = {
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
        self, lines: pd.DataFrame, as_of: pd.Timestamp, label_days: int, diag: dict[str, Any]
    ) -> None:
        """How far BG/NBD missed in the same window one year earlier (1.0 when unknown)."""
        self.season_ = {"buyers": 1.0, "purchases": 1.0, "revenue": 1.0}
        year_ago = as_of - pd.Timedelta(days=365)
        history = (year_ago - lines["date"].min().normalize()).days
        if history < _MIN_SEASON_HISTORY_DAYS:
            # A model fitted on a few months misses for reasons of its own (young customers),
            # which would be mistaken for seasonality.
            diag["notes"].append(
                f"seasonality: a BG/NBD fit at {year_ago.date()} would see {max(history, 0)} "
                f"days of history ({_MIN_SEASON_HISTORY_DAYS} needed), so the level assumes "
                "no seasonal change"
            )
            return
        try:
            past = BTYDScorer(kind="bgnbd", penalizer=self.btyd_.penalizer_, value=self.value).fit(
                lines, year_ago
            )
            pred = past.predict(lines, year_ago, label_days)
            actual = build_labels(lines, year_ago, label_days, customers=pred.index, data_end=as_of)
        except ChurnmlError:
            diag["notes"].append(
                f"seasonality: the history does not cover {year_ago.date()} + {label_days} days "
                "with enough data, so the level assumes no seasonal change"
            )
            return
        for key, p_col, a_col in (
            ("buyers", "p_repurchase", "bought"),
            ("purchases", "expected_purchases", "n_purchases"),
            ("revenue", "expected_revenue", "revenue"),
        ):
            total = float(pred[p_col].sum())
            if total > 0:
                self.season_[key] = float(np.clip(actual[a_col].sum() / total, 0.5, 2.5))
        diag["seasonality"] = {"window_start": str(year_ago.date()), **self.season_}

    # -- prediction --------------------------------------------------------------------------
    def predict(
        self, tx: ValidatedTransactions | pd.DataFrame, as_of: Any, horizon_days: int
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

        Returns
        -------
        pandas.DataFrame
            :data:`~churnml.models.pipeline.SCORE_COLUMNS` plus ``reasons`` (top drivers of
            P(repurchase) in words), no NaN or infinity.
        """
        self.check_fitted()
        as_of = parse_day(as_of)
        base = self.btyd_.predict(tx, as_of, horizon_days)
        if self.fallback_ is not None:
            return base.assign(reasons="BG/NBD fallback (history too short for snapshots)")
        table = self._table(tx, as_of, self.label_days_, self.btyd_).loc[base.index]
        raw = self._raw(table)
        scale = horizon_days / self.label_days_
        p = self._platt(raw["repurchase"])
        p = 1.0 - (1.0 - np.clip(p, 0.0, 1.0)) ** scale  # constant hazard over a longer window
        n = raw["purchases"] * self.level_["purchases"] * scale
        rev = raw["revenue"] * self.level_["revenue"] * scale
        if self.anchor_level:
            p = self._shift_to(p, float(base["p_repurchase"].sum()))
            n = n * float(base["expected_purchases"].sum()) / max(float(n.sum()), _EPS)
            rev = rev * float(base["expected_revenue"].sum()) / max(float(rev.sum()), _EPS)
        p = self._shift_to(p, float(p.sum()) * self.season_["buyers"])
        n = n * self.season_["purchases"]
        rev = rev * self.season_["revenue"]
        out = pd.DataFrame(index=base.index)
        out["p_repurchase"] = p
        out["p_alive"] = np.maximum(base["p_alive"].to_numpy(), p)
        out["expected_purchases"] = np.maximum(n, p)  # at least the chance of one purchase
        out["expected_revenue"] = rev
        btyd_rev = base["expected_revenue"].to_numpy()
        ratio = np.where(btyd_rev > _EPS, rev / np.maximum(btyd_rev, _EPS), 1.0)
        out["clv"] = base["clv"].to_numpy() * np.clip(ratio, 0.0, 20.0)
        for col in ("net_clv", "payback_days"):
            if col in base.columns:
                out[col] = base[col]
        if "net_clv" in out.columns:
            out["net_clv"] = out["clv"] - (self.value or ValueSettings()).acquisition_cost
        out = out.join(self._timing(raw, base, p, horizon_days, scale))
        out = _finish(out, as_of, horizon_days)
        out["reasons"] = top_reasons(
            self.boosters_["repurchase"], table.reindex(columns=self.features_)
        )
        return self._fill_nonfinite(out, lambda: base)

    @staticmethod
    def _shift_to(p: np.ndarray, target: float) -> np.ndarray:
        """Shift logits by one constant so that the probabilities sum to ``target``."""
        z = _logit(p)
        target = float(np.clip(target, _EPS, p.size * (1 - _EPS)))
        shift = brentq(lambda d: _sigmoid(z + d).sum() - target, -30.0, 30.0)
        return _sigmoid(z + shift)

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
        else:  # labels shorter than the horizon: BG/NBD's timing distribution
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
