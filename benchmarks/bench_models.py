"""Out-of-time benchmark of every model family, the trained champion and plain lifetimes.

Usage::

    python benchmarks/bench_models.py                       # the seven settings of issue 13
    python benchmarks/bench_models.py --settings 1,3,7 --json /tmp/bench_models.json
    python benchmarks/bench_models.py --families bgnbd,gbm --no-lifetimes

    # one commit, whatever the working tree holds (the header says where churnml came from)
    git archive HEAD src | tar -x -C /tmp/at_head
    PYTHONPATH=/tmp/at_head/src python benchmarks/bench_models.py

Each setting is a log, a cutoff and a horizon H. The raw lines dated on or before the cutoff
day, with only ``customer_id, date, amount``, are validated with ``churnml.load_transactions``;
``churnml.train`` (no tracking, the bundle exported to a temporary folder) then
``churnml.score`` of that folder at the cutoff give the champion's scores, timed. Labels are what
each scored customer did in (cutoff, cutoff + H] in the whole log (validated the same way).
``churnml.evaluate`` fits every family at the cutoff and scores it the same way, and lifetimes'
``BetaGeoFitter`` + ``GammaGammaFitter`` are fitted on the same positive-net customer-days.
A metric over predictions holding NaN or inf (lifetimes' expected purchases are NaN for
one-time buyers when its fit has a + b < 1) is left out and the count printed.

Prints per setting one table (AUC of P(repurchase), revenue Gini, Brier, buyers and revenue
ratios, days-to-next MAE, timing calibration error, seconds) and the "done when" checks of
issue 13, then how many settings pass each check. ``--json PATH`` writes everything.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import io
import json
import math
import os
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

import churnml
from churnml.evaluation import model_metrics
from churnml.features import build_labels
from churnml.models.catalog import MODEL_KEYS

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
UCI_2011 = DATA / "uci_online_retail.csv.gz"
UCI_2009 = DATA / "uci_online_retail_ii_2009_2010.csv.gz"
COLUMNS = ["customer_id", "date", "amount"]

#: (number, log, cutoff, horizon days), as in issue 13's table.
SETTINGS = (
    (1, "cdnow", "1997-12-31", 180),
    (2, "cdnow", "1997-09-30", 273),
    (3, "uci2011", "2011-06-09", 90),
    (4, "uci2011", "2011-09-09", 90),
    (5, "uci2009", "2010-06-01", 90),
    (6, "uci2009", "2010-09-01", 90),
    (7, "uci_both", "2011-09-09", 90),
)
LOG_NAMES = {
    "cdnow": "CDNOW",
    "uci2011": "UCI Online Retail 2010-12..2011-12",
    "uci2009": "UCI Online Retail II 2009-12..2010-12",
    "uci_both": "UCI 2009-12..2011-12 (both logs)",
}
FAMILIES = ("bgnbd", "pareto", "mbgnbd", "gbm", "hybrid", "blend", "baseline")
REFERENCE = ("bgnbd", "pareto", "mbgnbd", "baseline")  # the "best" the champion must beat
SHOWN = (
    ("auc", "AUC", "{:.4f}"),
    ("revenue_gini", "Gini", "{:.4f}"),
    ("brier", "Brier", "{:.4f}"),
    ("buyers_ratio", "buyers", "{:.3f}"),
    ("revenue_ratio", "revenue", "{:.3f}"),
    ("days_to_next_mae", "days MAE", "{:.1f}"),
    ("timing_calibration_error", "timing", "{:.4f}"),
)
#: Metrics each prediction column feeds: a metric over a column with NaN or inf is left out.
DEPENDS = {
    "p_repurchase": ("auc", "pr_auc", "brier", "log_loss", "ece", "buyers_ratio"),
    "expected_purchases": ("purchases_mae", "purchases_ratio"),
    "expected_revenue": (
        "revenue_gini",
        "revenue_spearman",
        "revenue_ratio",
        "top_decile_revenue_share",
    ),
    "expected_days_to_next_purchase": ("days_to_next_mae",),
}
AUC_GAIN, AUC_FLOOR, GINI_GAIN, RATIO_BAND = 0.005, 0.002, 0.02, 0.10
TIMING_WINDOWS = (7, 30, 90)  # the p_buy_<t>d columns churnml's timing metric reads


def progress(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def clean(value: Any) -> Any:
    """Make ``value`` JSON-safe: NaN and inf as null, numpy scalars as Python numbers."""
    if isinstance(value, dict):
        return {str(k): clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [clean(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def git(*args: str) -> str:
    try:
        out = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, check=True)
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return out.stdout.strip()


def nonfinite(pred: pd.DataFrame) -> dict[str, int]:
    """Count NaN and inf per prediction column (only the columns that have any)."""
    counts = {c: int((~np.isfinite(pred[c].to_numpy(float))).sum()) for c in DEPENDS}
    return {c: n for c, n in counts.items() if n}


def honest_metrics(pred: pd.DataFrame, labels: pd.DataFrame) -> dict[str, Any]:
    """``model_metrics``, with every metric over a column holding NaN or inf set to NaN."""
    metrics = model_metrics(pred, labels)
    bad = nonfinite(pred)
    for column in bad:
        for name in DEPENDS[column]:
            metrics[name] = float("nan")
    if any(c.startswith("p_buy_") and not np.isfinite(pred[c]).all() for c in pred):
        metrics["timing_calibration_error"] = float("nan")
    if bad:
        metrics["nonfinite_predictions"] = bad
    return metrics


# -- data -------------------------------------------------------------------------------------


def read_uci(path: Path) -> pd.DataFrame:
    frame = pd.read_csv(path, usecols=COLUMNS, dtype={"customer_id": str, "date": str})
    frame["date"] = pd.to_datetime(frame["date"], format="%Y-%m-%d %H:%M:%S")
    return frame[COLUMNS]


class Logs:
    """Raw logs (three columns) and their validated whole-log transactions, each made once."""

    def __init__(self) -> None:
        self.raw: dict[str, pd.DataFrame] = {}
        self.full: dict[str, churnml.ValidatedTransactions] = {}
        self.notes: dict[str, str] = {}

    def get_raw(self, name: str) -> pd.DataFrame:
        """Return the raw three-column log ``name``, read on first use."""
        if name not in self.raw:
            progress(f"reading {name}")
            if name == "cdnow":
                self.raw[name] = churnml.load_cdnow()[COLUMNS]
            elif name == "uci2011":
                self.raw[name] = read_uci(UCI_2011)
            elif name == "uci2009":
                self.raw[name] = read_uci(UCI_2009)
            else:
                # Both UCI logs hold 2010-12-01 .. 2010-12-09, line for line. We take the 2009-10
                # rows dated before 2010-12-01 plus every 2011 row: dropping exact duplicates
                # instead would also drop the duplicate lines each file has on its own.
                old, new = self.get_raw("uci2009"), self.get_raw("uci2011")
                start = new["date"].min().normalize()
                old_end = old["date"].max().normalize() + pd.Timedelta(days=1)
                self.notes[name] = (
                    f"2009-10 rows before {start.date()} ({int((old['date'] < start).sum()):,}) "
                    f"+ all 2011 rows ({len(new):,}); overlap dropped from the 2009-10 log: "
                    f"{int((old['date'] >= start).sum()):,} rows (the 2011 log has "
                    f"{int((new['date'] < old_end).sum()):,} in the same days)"
                )
                self.raw[name] = pd.concat([old[old["date"] < start], new], ignore_index=True)
        return self.raw[name]

    def get_full(self, name: str) -> churnml.ValidatedTransactions:
        """Return the whole log ``name`` validated (once)."""
        if name not in self.full:
            self.full[name] = churnml.load_transactions(self.get_raw(name))
        return self.full[name]


# -- lifetimes --------------------------------------------------------------------------------


def fit_with_fallback(fitter, *args) -> tuple[Any, float]:
    """Fit with penalizer 0.0, then 0.001 if that fails or gives non-finite parameters.

    lifetimes prints the optimiser's result when it does not converge: that goes nowhere.
    """
    failures = []
    for penalizer in (0.0, 0.001):
        try:
            with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
                warnings.simplefilter("ignore")
                fitted = fitter(penalizer_coef=penalizer).fit(*args)
        except Exception as exc:  # lifetimes raises ConvergenceError, numpy/scipy errors
            failures.append(f"{penalizer}: {type(exc).__name__} {' '.join(str(exc).split())}")
            continue
        params = {k: float(v) for k, v in fitted.params_.items()}
        if all(np.isfinite(v) and v > 0 for v in params.values()):
            return fitted, penalizer
        failures.append(f"{penalizer}: non-finite or non-positive parameters {params}")
    raise RuntimeError(f"{fitter.__name__} failed with penalizer " + "; ".join(failures))


def lifetimes_predictions(
    cut: churnml.ValidatedTransactions, cutoff: pd.Timestamp, horizon: int
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Fit lifetimes' BG/NBD + Gamma-Gamma at the cutoff; predictions in churnml's columns.

    lifetimes sees the same purchases as churnml: customer-days with a positive net amount.
    P(repurchase in H) = P(alive) * (1 - ((alpha + T) / (alpha + T + H)) ** (r + x)): an alive
    BG/NBD customer's next purchase comes at rate lambda, whose posterior given the history is
    Gamma(r + x, alpha + T), and dropout only happens right after a purchase. The same survival
    curve gives P(buy within t) and the expected days to the next purchase given one in H
    (lifetimes has neither; these are computed here from its fitted parameters).

    Returns
    -------
    tuple of pandas.DataFrame and dict
        Predictions indexed by customer, and the fitted parameters and penalizers.
    """
    from lifetimes import BetaGeoFitter, GammaGammaFitter
    from lifetimes.utils import summary_data_from_transaction_data

    lines = cut.lines
    day = lines["date"].dt.normalize()
    daily = lines.groupby([lines["customer_id"], day])["amount"].sum().reset_index()
    daily = daily[daily["amount"] > 0]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        summary = summary_data_from_transaction_data(
            daily, "customer_id", "date", monetary_value_col="amount", observation_period_end=cutoff
        )
    x = summary["frequency"].to_numpy(float)
    recency = summary["recency"].to_numpy(float)
    age = summary["T"].to_numpy(float)
    money = summary["monetary_value"].to_numpy(float)
    bg, bg_pen = fit_with_fallback(BetaGeoFitter, summary["frequency"], recency, age)
    repeat = summary[(summary["frequency"] > 0) & (summary["monetary_value"] > 0)]
    gg, gg_pen = fit_with_fallback(GammaGammaFitter, repeat["frequency"], repeat["monetary_value"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        p_alive = np.asarray(bg.conditional_probability_alive(x, recency, age), dtype=float)
        n_expected = np.asarray(
            bg.conditional_expected_number_of_purchases_up_to_time(horizon, x, recency, age),
            dtype=float,
        )
        spend = np.asarray(gg.conditional_expected_average_profit(x, money), dtype=float)
    r, alpha = float(bg.params_["r"]), float(bg.params_["alpha"])
    k, base = r + x, alpha + age

    def survival(t: float) -> np.ndarray:
        """P(no purchase in (T, T + t] | alive)."""
        return np.exp(-k * np.log1p(t / base))

    s_h = survival(horizon)
    # integral over [0, H] of the survival curve, in closed form (k = 1 is the log limit)
    log_ratio = np.log1p(horizon / base)
    u = (1.0 - k) * log_ratio
    area = base * log_ratio * np.where(np.abs(u) < 1e-12, 1.0, np.expm1(u) / np.where(u, u, 1))
    buys = np.maximum(1.0 - s_h, 1e-300)
    pred = pd.DataFrame(
        {
            "p_repurchase": p_alive * (1.0 - s_h),
            "expected_purchases": n_expected,
            "expected_revenue": n_expected * spend,
            "expected_days_to_next_purchase": (area - horizon * s_h) / buys,
        },
        index=pd.Index(summary.index.astype(str), name="customer_id"),
    )
    for t in TIMING_WINDOWS:
        if t <= horizon:
            pred[f"p_buy_{t}d"] = p_alive * (1.0 - survival(t))
    info = {
        "bgnbd_params": {k_: float(v) for k_, v in bg.params_.items()},
        "bgnbd_penalizer": bg_pen,
        "gg_params": {k_: float(v) for k_, v in gg.params_.items()},
        "gg_penalizer": gg_pen,
        "n_customers": len(summary),
        "n_repeat_for_gg": len(repeat),
    }
    return pred, info


# -- one setting ------------------------------------------------------------------------------


def run_setting(
    number: int,
    log: str,
    cutoff_text: str,
    horizon: int,
    logs: Logs,
    families: list[str],
    with_lifetimes: bool,
) -> dict[str, Any]:
    cutoff = pd.Timestamp(cutoff_text)
    out: dict[str, Any] = {
        "setting": number,
        "log": log,
        "log_name": LOG_NAMES[log],
        "cutoff": cutoff_text,
        "horizon_days": horizon,
        "models": {},
        "seconds": {},
        "errors": {},
        "load_average_start": os.getloadavg(),
    }
    raw = logs.get_raw(log)
    if log in logs.notes:
        out["log_note"] = logs.notes[log]
    full = logs.get_full(log)
    raw_cut = raw[raw["date"] < cutoff + pd.Timedelta(days=1)]
    cut = churnml.load_transactions(raw_cut)
    seen = pd.unique(cut.lines["customer_id"])
    out["data"] = {
        "raw_lines": len(raw),
        "cut_lines": len(raw_cut),
        "cut_kept_lines": cut.report.n_kept,
        "cut_first_date": str(cut.lines["date"].min()),
        "cut_last_date": str(cut.lines["date"].max()),
        "customers_seen": len(seen),
        "validation_cut": cut.report.to_dict(),
        "validation_full": full.report.to_dict(),
    }

    # champion: train on the cut, export the bundle, score that folder at the cutoff
    champion: dict[str, Any] = {}
    scores = None
    with tempfile.TemporaryDirectory(prefix="bench_models_") as tmp:
        bundle = Path(tmp) / "bundle"
        try:
            progress(f"setting {number}: train")
            t0 = time.perf_counter()
            trained = churnml.train(
                cut, as_of=cutoff, horizon_days=horizon, track=False, export_dir=bundle
            )
            out["seconds"]["train"] = time.perf_counter() - t0
            champion.update(family=trained.champion, reason=trained.reason, notes=trained.notes)
            if trained.backtest is not None:
                champion["inner_backtest"] = {
                    "cutoff": str(trained.backtest.cutoff.date()),
                    "metrics": trained.backtest.metrics,
                }
            progress(f"setting {number}: score ({trained.champion})")
            t0 = time.perf_counter()
            scored = churnml.score(cut, cutoff, horizon_days=horizon, model=str(bundle))
            out["seconds"]["score"] = time.perf_counter() - t0
            scores = scored.scores.set_index("customer_id")
            champion.update(
                scored_family=scored.family,
                n_scored=len(scores),
                n_without_row=scored.n_unscored,
            )
        except Exception as exc:  # report and carry on with the other settings
            out["errors"]["champion"] = f"{type(exc).__name__}: {exc}"
            progress(f"setting {number}: champion failed: {exc}")

    # every family at the cutoff, fitted on the cut data (evaluate cuts the full log itself)
    evaluation = None
    if families:
        progress(f"setting {number}: evaluate {','.join(families)}")
        t0 = time.perf_counter()
        try:
            evaluation = churnml.evaluate(
                full, cutoff, horizon, models=families, champion=False, track=False
            )
        except Exception as exc:
            out["errors"]["evaluate"] = f"{type(exc).__name__}: {exc}"
            progress(f"setting {number}: evaluate failed: {exc}")
        out["seconds"]["evaluate"] = time.perf_counter() - t0
    if evaluation is not None:
        for name in families:
            metrics = dict(evaluation.metrics.get(name, {"error": "not returned"}))
            metrics["seconds"] = evaluation.diagnostics.get(name, {}).get("seconds")
            out["models"][name] = metrics
        out["evaluate_n_customers"] = len(evaluation.labels)
        out["evaluate_diagnostics"] = evaluation.diagnostics

    life_pred = None
    if with_lifetimes:
        progress(f"setting {number}: lifetimes")
        t0 = time.perf_counter()
        try:
            life_pred, info = lifetimes_predictions(cut, cutoff, horizon)
            out["lifetimes"] = info
        except Exception as exc:
            out["errors"]["lifetimes"] = f"{type(exc).__name__}: {exc}"
            progress(f"setting {number}: lifetimes failed: {exc}")
        out["seconds"]["lifetimes"] = time.perf_counter() - t0

    # labels from the whole log, for every customer anyone scored and everyone seen
    ids = pd.Index(seen, dtype="str")
    for frame in (scores, life_pred):
        if frame is not None:
            ids = ids.union(pd.Index(frame.index, dtype="str"))
    labels = build_labels(full, cutoff, horizon, customers=ids)
    out["actual"] = {
        "customers_labelled": len(labels),
        "buyers": int(labels["bought"].sum()),
        "purchases": float(labels["n_purchases"].sum()),
        "revenue": float(labels["revenue"].sum()),
    }
    if life_pred is not None:
        out["models"]["lifetimes"] = {
            **honest_metrics(life_pred, labels),
            "seconds": out["seconds"]["lifetimes"],
        }
    if scores is not None:
        scored_labels = labels.loc[scores.index]
        unscored = labels.loc[labels.index.difference(scores.index).intersection(seen)]
        champion["unscored_buyers"] = int(unscored["bought"].sum())
        champion["unscored_revenue"] = float(unscored["revenue"].sum())
        champion["scored_buyers"] = int(scored_labels["bought"].sum())
        champion["scored_revenue"] = float(scored_labels["revenue"].sum())
        metrics = honest_metrics(scores, labels)
        champion["metrics"] = metrics
        same = out["models"].get(champion["family"], {})
        if "auc" in same:
            champion["max_abs_diff_vs_evaluate"] = max(
                abs(metrics[k] - same[k])
                for k in ("auc", "revenue_gini", "brier", "buyers_ratio", "revenue_ratio")
                if np.isfinite(metrics[k]) and np.isfinite(same[k])
            )
        out["models"]["champion"] = {
            **metrics,
            "family": champion["family"],
            "seconds": out["seconds"]["train"] + out["seconds"]["score"],
        }
    out["champion"] = champion
    out["checks"] = checks(out["models"])
    return out


def checks(models: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Issue 13's "done when" checks of the champion against the other families."""
    ok = {k: m for k, m in models.items() if "error" not in m}
    champ = ok.get("champion")
    result: dict[str, Any] = {}

    def best_of(metric: str) -> tuple[str | None, float]:
        values = {k: ok[k][metric] for k in REFERENCE if k in ok and np.isfinite(ok[k][metric])}
        if not values:
            return None, float("nan")
        name = max(values, key=values.__getitem__)
        return name, float(values[name])

    def verdict(condition: bool | None) -> bool | None:
        return None if condition is None else bool(condition)

    auc_family, auc_best = best_of("auc")
    gini_family, gini_best = best_of("revenue_gini")
    have = champ is not None
    c_auc = champ["auc"] if have else float("nan")
    c_gini = champ["revenue_gini"] if have else float("nan")
    result["auc_gain"] = {
        "champion": c_auc,
        "best": auc_best,
        "best_family": auc_family,
        "need": auc_best + AUC_GAIN,
        "pass": verdict(c_auc >= auc_best + AUC_GAIN if have and auc_family else None),
    }
    result["auc_floor"] = {
        "champion": c_auc,
        "need": auc_best - AUC_FLOOR,
        "pass": verdict(c_auc >= auc_best - AUC_FLOOR if have and auc_family else None),
    }
    result["gini_gain"] = {
        "champion": c_gini,
        "best": gini_best,
        "best_family": gini_family,
        "need": gini_best + GINI_GAIN,
        "pass": verdict(c_gini >= gini_best + GINI_GAIN if have and gini_family else None),
    }
    bg_brier = ok["bgnbd"]["brier"] if "bgnbd" in ok else float("nan")
    result["brier"] = {
        "champion": champ["brier"] if have else float("nan"),
        "bgnbd": bg_brier,
        "pass": verdict(champ["brier"] <= bg_brier if have and np.isfinite(bg_brier) else None),
    }
    for metric in ("buyers_ratio", "revenue_ratio"):
        # "any family": the churnml families evaluated (lifetimes is shown, not counted)
        within = [
            k
            for k, m in ok.items()
            if k not in ("champion", "lifetimes") and abs(m[metric] - 1.0) <= RATIO_BAND
        ]
        c_val = champ[metric] if have else float("nan")
        result[metric] = {
            "champion": c_val,
            "families_within": within,
            "lifetimes_within": "lifetimes" in ok
            and abs(ok["lifetimes"][metric] - 1.0) <= RATIO_BAND,
            "pass": verdict(abs(c_val - 1.0) <= RATIO_BAND if have and within else None),
        }
    return result


# -- printing ---------------------------------------------------------------------------------


def fmt(value: Any, pattern: str) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "-"
    return pattern.format(value)


def mark(passed: bool | None) -> str:
    return {True: "PASS", False: "FAIL", None: "n/a"}[passed]


def print_setting(res: dict[str, Any]) -> None:
    data, champ, secs = res["data"], res["champion"], res["seconds"]
    print()
    print(
        f"== {res['setting']}. {res['log_name']}, cutoff {res['cutoff']}, "
        f"horizon {res['horizon_days']} d (load average {res['load_average_start'][0]:.1f}) =="
    )
    if "log_note" in res:
        print(f"   log: {res['log_note']}")
    actual = res["actual"]
    print(
        f"   cut: {data['cut_lines']:,} lines ({data['cut_kept_lines']:,} kept), "
        f"{data['customers_seen']:,} customers seen, last date {data['cut_last_date'][:10]}; "
        f"window: {actual['buyers']:,} buyers, {actual['purchases']:,.0f} purchases, "
        f"revenue {actual['revenue']:,.0f}"
    )
    header = f"   {'model':<22}" + "".join(f"{label:>10}" for _, label, _ in SHOWN)
    print(header + f"{'seconds':>10}")
    for name, metrics in res["models"].items():
        label = f"champion ({metrics['family']})" if name == "champion" else name
        if "error" in metrics:
            print(f"   {label:<22}  error: {metrics['error']}")
            continue
        cells = "".join(f"{fmt(metrics.get(k), p):>10}" for k, _, p in SHOWN)
        print(f"   {label:<22}{cells}{fmt(metrics.get('seconds'), '{:.1f}'):>10}")
    for name, error in res["errors"].items():
        print(f"   {name}: ERROR {error}")
    if "family" in champ:
        line = (
            f"   champion {champ['family']}: train {fmt(secs.get('train'), '{:.1f}')} s, "
            f"score {fmt(secs.get('score'), '{:.1f}')} s"
        )
        if "n_scored" in champ:
            line += (
                f"; {champ['n_scored']:,} scored, customers without a row "
                f"{champ['n_without_row']:,} ({champ.get('unscored_buyers', 0):,} of them "
                f"bought in the window, revenue {champ.get('unscored_revenue', 0.0):,.0f})"
            )
        print(line)
        print(f"   why: {champ['reason']}")
        if "max_abs_diff_vs_evaluate" in champ:
            print(
                f"   champion vs evaluate's {champ['family']}: max |metric difference| "
                f"{champ['max_abs_diff_vs_evaluate']:.2g}"
            )
        for note in champ.get("notes", []):
            print(f"   note: {note}")
    if "lifetimes" in res:
        lt = res["lifetimes"]
        print(
            f"   lifetimes: BG/NBD penalizer {lt['bgnbd_penalizer']} "
            f"{ {k: round(v, 4) for k, v in lt['bgnbd_params'].items()} }, "
            f"GG penalizer {lt['gg_penalizer']} "
            f"{ {k: round(v, 4) for k, v in lt['gg_params'].items()} }"
        )
    for name, metrics in res["models"].items():
        if metrics.get("nonfinite_predictions"):
            print(
                f"   {name}: NaN or inf predictions {metrics['nonfinite_predictions']} "
                "(customers); the metrics over those columns are left out (-)"
            )
    if "evaluate" in secs:
        print(f"   evaluate: {secs['evaluate']:.1f} s in all")
    c = res["checks"]
    print("   checks:")
    print(
        f"     AUC  {fmt(c['auc_gain']['champion'], '{:.4f}')} >= best "
        f"{fmt(c['auc_gain']['best'], '{:.4f}')} ({c['auc_gain']['best_family']}) + {AUC_GAIN}"
        f" = {fmt(c['auc_gain']['need'], '{:.4f}')}: {mark(c['auc_gain']['pass'])}"
    )
    print(
        f"     AUC  never < best - {AUC_FLOOR} = {fmt(c['auc_floor']['need'], '{:.4f}')}: "
        f"{mark(c['auc_floor']['pass'])}"
    )
    print(
        f"     Gini {fmt(c['gini_gain']['champion'], '{:.4f}')} >= best "
        f"{fmt(c['gini_gain']['best'], '{:.4f}')} ({c['gini_gain']['best_family']}) + "
        f"{GINI_GAIN} = {fmt(c['gini_gain']['need'], '{:.4f}')}: {mark(c['gini_gain']['pass'])}"
    )
    print(
        f"     Brier {fmt(c['brier']['champion'], '{:.4f}')} <= bgnbd "
        f"{fmt(c['brier']['bgnbd'], '{:.4f}')}: {mark(c['brier']['pass'])}"
    )
    for metric, label in (("buyers_ratio", "buyers"), ("revenue_ratio", "revenue")):
        check = c[metric]
        within = ", ".join(check["families_within"]) or "none"
        print(
            f"     {label} ratio {fmt(check['champion'], '{:.3f}')} within +-10 % "
            f"(families within: {within}; lifetimes "
            f"{'yes' if check['lifetimes_within'] else 'no'}): {mark(check['pass'])}"
        )


def print_summary(results: list[dict[str, Any]]) -> dict[str, Any]:
    n = len(results)
    rows = (
        ("auc_gain", f"AUC >= best + {AUC_GAIN}", "issue: >= 6 of the 7"),
        ("auc_floor", f"AUC never < best - {AUC_FLOOR}", "issue: all"),
        ("gini_gain", f"revenue Gini >= best + {GINI_GAIN}", ""),
        ("brier", "Brier <= bgnbd", ""),
        ("buyers_ratio", "buyers ratio within +-10 % wherever a family is", ""),
        ("revenue_ratio", "revenue ratio within +-10 % wherever a family is", ""),
    )
    summary: dict[str, Any] = {}
    print()
    print(f"== summary over {n} setting(s) ==")
    for key, label, need in rows:
        verdicts = [r["checks"][key]["pass"] for r in results]
        passed = sum(v is True for v in verdicts)
        applicable = sum(v is not None for v in verdicts)
        failed = [r["setting"] for r, v in zip(results, verdicts, strict=True) if v is False]
        summary[key] = {"passed": passed, "applicable": applicable, "failed_settings": failed}
        print(
            f"   {label:<50} passed in {passed} of {applicable}"
            + (f" (of {n}; n/a elsewhere)" if applicable != n else "")
            + (f"  [{need}]" if need else "")
            + (f"  failed: {failed}" if failed else "")
        )
    return summary


# -- main -------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--settings", default="1,2,3,4,5,6,7", help="e.g. 1,3,7")
    parser.add_argument(
        "--families", default=",".join(FAMILIES), help="families churnml.evaluate fits"
    )
    parser.add_argument("--no-lifetimes", action="store_true", help="skip the lifetimes fit")
    parser.add_argument("--json", type=Path, default=None, help="write everything here")
    args = parser.parse_args()
    wanted = {int(s) for s in args.settings.split(",") if s.strip()}
    unknown = wanted - {s[0] for s in SETTINGS}
    if unknown:
        parser.error(f"unknown settings {sorted(unknown)}; choose from 1..{len(SETTINGS)}")
    families = [f.strip() for f in args.families.split(",") if f.strip()]
    bad = [f for f in families if f not in MODEL_KEYS]
    if bad:
        parser.error(f"unknown families {bad}; model keys are {', '.join(MODEL_KEYS)}")

    import lifetimes
    import lightgbm

    run = {
        "started": dt.datetime.now().isoformat(timespec="seconds"),
        "git_head": git("rev-parse", "HEAD"),
        "git_src_changes": git("status", "--porcelain", "--", "src"),
        "churnml_imported_from": str(Path(churnml.__file__).resolve().parent),
        "churnml": churnml.__version__,
        "lifetimes": lifetimes.__version__,
        "lightgbm": lightgbm.__version__,
        "pandas": pd.__version__,
        "python": sys.version.split()[0],
        "cpus": os.cpu_count(),
        "load_average_start": os.getloadavg(),
        "settings": sorted(wanted),
        "families": families,
        "lifetimes_run": not args.no_lifetimes,
    }
    from_tree = Path(run["churnml_imported_from"]).is_relative_to(ROOT / "src")
    if not from_tree:
        tree = "churnml not imported from this checkout's src/"
    else:
        tree = "src/ has uncommitted changes" if run["git_src_changes"] else "src/ clean"
    print(
        f"bench_models: HEAD {run['git_head']} ({tree}), "
        f"churnml {run['churnml']}, lifetimes {run['lifetimes']}, lightgbm {run['lightgbm']}, "
        f"pandas {run['pandas']}, started {run['started']}, {run['cpus']} CPUs, "
        f"load average {run['load_average_start'][0]:.1f}"
    )
    print(f"   churnml imported from {run['churnml_imported_from']}")
    if run["git_src_changes"] and from_tree:
        print("   uncommitted in src/: " + run["git_src_changes"].replace("\n", "; "))
    print(
        "columns: AUC of P(repurchase), revenue Gini, Brier, buyers ratio (sum p / buyers), "
        "revenue ratio, MAE of days to next purchase (buyers), timing calibration error; "
        "seconds: fit + predict (champion: train + score)"
    )
    logs = Logs()
    results = []
    t_all = time.perf_counter()
    for number, log, cutoff, horizon in SETTINGS:
        if number not in wanted:
            continue
        res = run_setting(number, log, cutoff, horizon, logs, families, not args.no_lifetimes)
        print_setting(res)
        sys.stdout.flush()
        results.append(res)
    run["summary"] = print_summary(results)
    run["seconds_total"] = time.perf_counter() - t_all
    run["load_average_end"] = os.getloadavg()
    print(
        f"\ntotal {run['seconds_total']:.0f} s; load average at the end "
        f"{run['load_average_end'][0]:.1f} (seconds are wall clock on a shared machine)"
    )
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(
            json.dumps(clean({**run, "results": results}), indent=2, default=str) + "\n"
        )
        print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
