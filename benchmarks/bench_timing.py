"""Out-of-time benchmark of next-purchase timing: discrete-time hazard vs BG/NBD vs LightGBM.

Usage::

    python benchmarks/bench_timing.py                     # CDNOW 90/180 d, UCI 2011 if present
    python benchmarks/bench_timing.py --settings 1,2 --json /tmp/bench_timing.json
    python benchmarks/bench_timing.py --calendar-variant  # also the hazard with calendar=True

Each setting is a log, a cutoff and a horizon H. Every model sees the lines dated on or before
the cutoff day only; labels are what each customer (with a purchase by the cutoff) did in
(cutoff, cutoff + H] in the whole log.

- ``hazard``: :class:`churnml.models.hazard.HazardTiming` on snapshots planned as GBMScorer
  plans them (``plan_snapshots(first day, cutoff, H, step_days=30, max_snapshots=6)``), with
  ``build_features`` tables less the absolute-age columns (``T``, ``tenure_days``,
  ``recency``), predicted from the cutoff's feature table with its own level;
- ``hazard_anchored``: the same model, its hazards shifted (one logit constant) so that the
  customers' P(buy within H) sum to BG/NBD's expected buyers, as GBMScorer anchors its level;
- ``bgnbd``: ``BTYDScorer(kind="bgnbd")`` fitted at the cutoff (its timing distribution);
- ``gbm``: ``GBMScorer()`` as the working tree has it, fitted at the cutoff: P(buy within t) is
  its P(repurchase) times BG/NBD's shape; the expected day is BG/NBD's unless the scorer trains
  LightGBM regressors on buyers' days (``gbm_days``, ``GBMScorer(timing_models=True)``, where
  that parameter exists).

Metrics (same customers for every model): ``days MAE`` is the mean |expected days to the next
purchase - actual days| over customers who bought within H (the expectation is conditional on a
purchase within H); ``timing`` is the mean over t in (7, 30, 90), t <= H, of |mean predicted
P(buy within t) - observed share| (churnml's ``timing_calibration_error``); ``gap t`` is the
signed mean predicted minus observed share for each t; ``Brier 30d`` scores P(buy within 30 d)
per customer; ``buyers`` is sum P(buy within H) / actual buyers; ``AUC`` ranks P(buy within H).
The BG/NBD and GBM numbers are checked against ``churnml.evaluation.model_metrics``.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score

import churnml
from churnml.evaluation import model_metrics
from churnml.features import build_features, build_labels
from churnml.features.snapshots import plan_snapshots
from churnml.models.hazard import HazardTiming

ROOT = Path(__file__).resolve().parents[1]
UCI_2011 = ROOT.parent / "shared" / "data" / "uci_online_retail.csv.gz"
#: Features left out of the hazard's tables, as GBMScorer leaves them out: the scoring date is
#: older than every training snapshot, and trees cannot extrapolate absolute ages.
ABSOLUTE_AGE = ("T", "tenure_days", "recency")
WINDOWS = (7, 30, 90)

#: (number, log, cutoff, horizon days)
SETTINGS = (
    (1, "cdnow", "1997-12-31", 90),
    (2, "cdnow", "1997-12-31", 180),
    (3, "uci2011", "2011-06-09", 90),
    (4, "uci2011", "2011-09-09", 90),
)


def progress(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def load(name: str) -> churnml.ValidatedTransactions | None:
    if name == "cdnow":
        return churnml.load_transactions(churnml.load_cdnow())
    if not UCI_2011.exists():
        return None
    return churnml.load_transactions(UCI_2011)


def metrics(pred: pd.DataFrame, labels: pd.DataFrame, horizon: int) -> dict[str, float]:
    """Return the timing metrics of one model on the labelled customers (module docstring)."""
    labels = labels.loc[pred.index]
    days = labels["days_to_next"].to_numpy(float)
    bought = labels["bought"].to_numpy(bool)
    within = np.nan_to_num(days, nan=np.inf)
    out: dict[str, float] = {
        "days_mae": float(
            np.mean(
                np.abs(
                    pred["expected_days_to_next_purchase"].to_numpy(float)[bought] - days[bought]
                )
            )
        ),
    }
    gaps = []
    for t in WINDOWS:
        if t <= horizon:
            gap = float(pred[f"p_buy_{t}d"].mean()) - float(np.mean(within <= t))
            out[f"gap_{t}d"] = gap
            gaps.append(abs(gap))
    out["timing_error"] = float(np.mean(gaps))
    p30 = pred["p_buy_30d"].to_numpy(float)
    out["brier_30d"] = float(np.mean((p30 - (within <= 30)) ** 2))
    p = pred["p_repurchase"].to_numpy(float)
    out["buyers_ratio"] = float(p.sum() / bought.sum())
    out["auc"] = float(roc_auc_score(bought, p))
    return out


def check_against_model_metrics(
    pred: pd.DataFrame, labels: pd.DataFrame, ours: dict[str, float], name: str
) -> None:
    """Check that the MAE and calibration are churnml's own (where churnml computes them)."""
    ref = model_metrics(pred, labels)
    for key, ref_key in (
        ("days_mae", "days_to_next_mae"),
        ("timing_error", "timing_calibration_error"),
    ):
        if not math.isclose(ours[key], ref[ref_key], rel_tol=1e-9, abs_tol=1e-12):
            raise AssertionError(f"{name}: {key} {ours[key]} != model_metrics {ref[ref_key]}")


def hazard_tables(
    lines: pd.DataFrame, cutoff: pd.Timestamp, horizon: int
) -> tuple[list[pd.DataFrame], list[pd.Timestamp], int]:
    plan = plan_snapshots(lines["date"].min(), cutoff, horizon, step_days=30, max_snapshots=6)
    if plan is None or not plan.dates:
        raise SystemExit(f"no training snapshot fits before {cutoff.date()} with H={horizon}")
    tables = [
        build_features(lines, s).drop(columns=list(ABSOLUTE_AGE), errors="ignore")
        for s in plan.dates
    ]
    return tables, plan.dates, plan.label_days


def run_setting(
    number: int, name: str, cutoff_text: str, horizon: int, tx: Any, args: argparse.Namespace
) -> dict[str, Any]:
    cutoff = pd.Timestamp(cutoff_text)
    lines = tx.lines
    past = lines[lines["date"] < cutoff + pd.Timedelta(days=1)]
    results: dict[str, Any] = {"setting": number, "log": name, "cutoff": cutoff_text, "H": horizon}
    seconds: dict[str, dict[str, float]] = {}
    preds: dict[str, pd.DataFrame] = {}

    progress(f"[{number}] BG/NBD")
    t0 = time.perf_counter()
    btyd = churnml.BTYDScorer(kind="bgnbd").fit(past, cutoff)
    t1 = time.perf_counter()
    preds["bgnbd"] = btyd.predict(past, cutoff, horizon)
    seconds["bgnbd"] = {"fit": t1 - t0, "predict": time.perf_counter() - t1}

    gbm_variants = {"gbm": {}}
    if "timing_models" in churnml.GBMScorer().get_params():
        # the LightGBM days regressors became optional: time them too
        gbm_variants["gbm_days"] = {"timing_models": True}
    for key, params in gbm_variants.items():
        progress(f"[{number}] GBMScorer {params}")
        t0 = time.perf_counter()
        gbm = churnml.GBMScorer(**params).fit(past, cutoff, horizon)
        t1 = time.perf_counter()
        preds[key] = gbm.predict(past, cutoff, horizon)
        seconds[key] = {"fit": t1 - t0, "predict": time.perf_counter() - t1}
        source = "LightGBM days regressors" if "days" in gbm.boosters_ else "BG/NBD"
        results[f"{key}_timing_source"] = source

    settings = {"max_rows": args.max_rows, "n_estimators": args.n_estimators, "n_jobs": args.n_jobs}
    variants = {"hazard": HazardTiming(**settings)}
    if args.calendar_variant:
        variants["hazard_cal"] = HazardTiming(calendar=True, **settings)
    t0 = time.perf_counter()
    tables, snaps, label_days = hazard_tables(past, cutoff, horizon)
    t_tables = time.perf_counter() - t0
    score_table = build_features(past, cutoff).drop(columns=list(ABSOLUTE_AGE), errors="ignore")
    diagnostics = {}
    for key, model in variants.items():
        progress(f"[{number}] {key}")
        t0 = time.perf_counter()
        model.fit(tables, snaps, past, label_days, data_end=cutoff)
        t1 = time.perf_counter()
        preds[key] = model.predict(score_table, cutoff, horizon)
        seconds[key] = {
            "features": t_tables,
            "fit": t1 - t0,
            "predict": time.perf_counter() - t1,
        }
        # the level GBMScorer's anchor_level takes: BG/NBD's expected buyers at the cutoff
        t2 = time.perf_counter()
        level = float(preds["bgnbd"]["p_repurchase"].reindex(score_table.index).sum())
        preds[f"{key}_anchored"] = model.predict(
            score_table, cutoff, horizon, expected_buyers=level
        )
        seconds[f"{key}_anchored"] = {**seconds[key], "predict": time.perf_counter() - t2}
        diagnostics[key] = {
            k: v for k, v in model.diagnostics_.items() if k not in ("feature_importance",)
        }
        diagnostics[key]["top_features"] = list(model.diagnostics_["feature_importance"])[:5]

    customers = preds["bgnbd"].index
    for pred in preds.values():
        customers = customers.intersection(pred.index)
    labels = build_labels(tx, cutoff, horizon, customers=customers)
    table = {}
    for key, pred in preds.items():
        pred = pred.loc[customers]
        table[key] = metrics(pred, labels, horizon)
        if key.startswith(("bgnbd", "gbm")):
            check_against_model_metrics(pred, labels, table[key], key)
    observed = {
        f"share_{t}d": float(np.mean(np.nan_to_num(labels["days_to_next"], nan=np.inf) <= t))
        for t in WINDOWS
        if t <= horizon
    }
    results.update(
        customers=len(customers),
        buyers=int(labels["bought"].sum()),
        observed=observed,
        metrics=table,
        seconds=seconds,
        hazard=diagnostics,
    )
    return results


def show(result: dict[str, Any]) -> None:
    print(
        f"\n[{result['setting']}] {result['log']} cutoff {result['cutoff']} H={result['H']} d: "
        f"{result['customers']:,} customers, {result['buyers']:,} buyers; observed "
        + ", ".join(f"{k} {v:.4f}" for k, v in result["observed"].items())
    )
    for key in ("gbm", "gbm_days"):
        if f"{key}_timing_source" in result:
            print(f"    {key}: expected day from {result[f'{key}_timing_source']}")
    windows = [t for t in WINDOWS if t <= result["H"]]
    head = (
        f"    {'model':<20}{'days MAE':>9}{'timing':>8}"
        + "".join(f"{'gap ' + str(t) + 'd':>9}" for t in windows)
        + f"{'Brier30d':>9}{'buyers':>8}{'AUC':>7}{'fit s':>8}{'pred s':>8}"
    )
    print(head)
    print("    " + "-" * (len(head) - 4))
    for key, m in result["metrics"].items():
        s = result["seconds"][key]
        print(
            f"    {key:<20}{m['days_mae']:>9.2f}{m['timing_error']:>8.4f}"
            + "".join(f"{m[f'gap_{t}d']:>+9.4f}" for t in windows)
            + f"{m['brier_30d']:>9.4f}{m['buyers_ratio']:>8.3f}{m['auc']:>7.4f}"
            + f"{s['fit']:>8.1f}{s['predict']:>8.1f}"
        )
    for key, d in result["hazard"].items():
        print(
            f"    {key}: snapshots {', '.join(d['snapshots'])} ({d['label_days']}-day labels, "
            f"{d['n_periods']} periods); rows {d['rows_expanded']:,} expanded, {d['rows_used']:,} "
            f"used ({d['event_rows']:,} purchases, others sampled at "
            f"{d['non_event_sample_rate']:.3f}); calendar {d['calendar']} "
            f"({d['calendar_weeks_covered']}/52 weeks); feature tables "
            f"{result['seconds'][key]['features']:.1f} s; top: {', '.join(d['top_features'])}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--settings", default="1,2,3,4", help="comma-separated numbers")
    parser.add_argument("--max-rows", type=int, default=HazardTiming().max_rows)
    parser.add_argument("--n-estimators", type=int, default=HazardTiming().n_estimators)
    parser.add_argument("--calendar-variant", action="store_true")
    parser.add_argument("--n-jobs", type=int, default=None, help="hazard threads (all)")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    wanted = {int(s) for s in args.settings.split(",")}
    logs: dict[str, Any] = {}
    results = []
    warnings.simplefilter("ignore")
    for number, name, cutoff, horizon in SETTINGS:
        if number not in wanted:
            continue
        if name not in logs:
            progress(f"loading {name}")
            logs[name] = load(name)
        if logs[name] is None:
            print(f"\n[{number}] skipped: {UCI_2011} is absent")
            continue
        result = run_setting(number, name, cutoff, horizon, logs[name], args)
        show(result)
        results.append(result)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2, default=str) + "\n")


if __name__ == "__main__":
    main()
