"""Time ``train`` and ``evaluate`` step by step, beside ``lifetimes`` fit-and-predict.

Usage::

    python benchmarks/bench_train.py                       # CDNOW and 200k simulated customers
    python benchmarks/bench_train.py --data cdnow
    python benchmarks/bench_train.py --data synthetic --customers 200000

Every measurement runs in a fresh Python process, so each peak memory (max RSS) is its own and
nothing is warm from an earlier one. For each data set it prints:

- ``load``: reading and validating the CSV (``churnml.load_transactions``);
- ``train``: ``churnml.train`` (MLflow tracking in a new temporary SQLite store, as a user's
  first run), split into the steps it reports (every backtest window and family, the refit,
  the registration), horizon 90 days at the last date of the data;
- ``retrain``: the same in a store that already exists (made by another process beforehand),
  as every later run: MLflow's schema migrations of a new store (about 3 s) are not in it;
- ``evaluate``: every family plus the champion, at 90 days before the last date;
- ``lifetimes``: ``summary_data_from_transaction_data``, ``BetaGeoFitter`` and
  ``GammaGammaFitter`` fits and the 90-day predictions (P(alive), expected purchases, spend)
  on the same data: the yardstick of a plain BTYD run.

This machine is a virtual one whose speed drifts by a third between minutes (CDNOW ``train``
measured 23 s and 30 s an hour apart, idle both times). ``--repeat N`` runs every measurement
N times, alternating the kinds, and reports the fastest of each (as ``timeit`` does) with all
the totals beside it, and the processor time (user + system) of the fastest.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from yardstick import Steps, lifetimes_run, print_result

HORIZON = 90


def _child(kind: str, csv: str) -> dict:
    """Run one measurement in this process and return its timings."""
    import warnings

    warnings.simplefilter("ignore")
    import pandas as pd

    step = Steps()
    result: dict = {"kind": kind}
    if kind == "lifetimes":
        step("import lifetimes")
        import lifetimes  # noqa: F401  (its import is part of the yardstick)

        step("read CSV")
        frame = pd.read_csv(csv, usecols=["customer_id", "date", "amount"], parse_dates=["date"])
        lifetimes_run(frame, HORIZON, step)
        step("end")
    else:
        step("import churnml")
        import churnml

        step("load and validate")
        tx = churnml.load_transactions(csv)
        last = tx.lines["date"].max().normalize()
        if kind in ("train", "retrain"):
            with tempfile.TemporaryDirectory() as store:
                if kind == "train":
                    os.environ["MLFLOW_TRACKING_URI"] = f"sqlite:///{store}/mlflow.db"
                step("train: MLflow store and run set-up")
                res = churnml.train(
                    tx, horizon_days=HORIZON, model_name="bench-train", on_step=step
                )
                step("end")
            result["champion"] = res.champion
            result["reason"] = res.reason
        else:
            cutoff = last - pd.Timedelta(days=HORIZON)
            ev = churnml.evaluate(tx, cutoff, HORIZON, champion=True, on_step=step)
            step("end")
            result["auc"] = {k: round(v.get("auc", float("nan")), 4) for k, v in ev.metrics.items()}
    result.update(step.result())
    return result


def _run(kind: str, csv: Path) -> dict:
    env = dict(os.environ)
    with tempfile.TemporaryDirectory() as store:
        if kind == "retrain":
            # a store another process made, as a second run finds it
            env["MLFLOW_TRACKING_URI"] = f"sqlite:///{store}/mlflow.db"
            subprocess.run(
                [sys.executable, "-c", "import mlflow; mlflow.MlflowClient().search_experiments()"],
                env=env,
                capture_output=True,
                check=True,
            )
        out = subprocess.run(
            [sys.executable, __file__, "--child", kind, "--csv", str(csv)],
            capture_output=True,
            text=True,
            check=False,
            env=env,
        )
    if out.returncode != 0:
        return {"kind": kind, "error": out.stderr.strip().splitlines()[-1:]}
    return json.loads(out.stdout.strip().splitlines()[-1])


def _fastest(done: list[dict]) -> dict:
    good = [r for r in done if "error" not in r]
    if not good:
        return done[-1]
    best = dict(min(good, key=lambda r: r["seconds"]))
    best["all_seconds"] = [r["seconds"] for r in good]
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", choices=["cdnow", "synthetic", "both"], default="both")
    parser.add_argument("--customers", type=int, default=200_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", type=Path, help="Also write the results here.")
    parser.add_argument(
        "--repeat", type=int, default=1, help="Runs of each measurement; the fastest is shown."
    )
    parser.add_argument(
        "--kinds",
        default="train,retrain,evaluate,lifetimes",
        help="Comma-separated measurements to run (lifetimes is the yardstick).",
    )
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--csv", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(_child(args.child, args.csv)))
        return

    import churnml
    from churnml.data import simulate_transactions

    sets = ["cdnow", "synthetic"] if args.data == "both" else [args.data]
    everything = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name in sets:
            csv = Path(tmp) / f"{name}.csv"
            if name == "cdnow":
                frame = churnml.load_cdnow()
            else:
                frame, _ = simulate_transactions(args.customers, seed=args.seed)
            frame.to_csv(csv, index=False, date_format="%Y-%m-%d %H:%M:%S")
            label = f"{name} ({len(frame):,} lines, {frame['customer_id'].nunique():,} customers)"
            print(f"\n{label}, horizon {HORIZON} d, {os.cpu_count()} processors")
            kinds = [k.strip() for k in args.kinds.split(",") if k.strip()]
            runs: dict[str, list[dict]] = {kind: [] for kind in kinds}
            for _ in range(max(1, args.repeat)):
                for kind in kinds:  # alternating, so a slow minute does not hit one kind only
                    runs[kind].append(_run(kind, csv))
            results = {kind: _fastest(done) for kind, done in runs.items()}
            for kind, result in results.items():
                print_result(kind, result)
            base = results.get("lifetimes", {}).get("seconds")
            if base:
                for kind in ("train", "retrain", "evaluate"):
                    if "seconds" in results.get(kind, {}):
                        ratio = results[kind]["seconds"] / base
                        print(f"  {kind} / lifetimes fit-and-predict: {ratio:.1f} x")
            everything[label] = results
    if args.json:
        args.json.write_text(json.dumps(everything, indent=2))


if __name__ == "__main__":
    main()
