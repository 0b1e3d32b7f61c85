"""Time and peak memory of each stage at 100k, 1M and 10M order lines, beside ``lifetimes``.

Usage::

    python benchmarks/bench_scale.py                          # 100k and 1M lines
    python benchmarks/bench_scale.py --lines 10000000         # the 10M run (about 1.35M customers)
    python benchmarks/bench_scale.py --lines 1000000 --json scale.json

The logs come from :func:`churnml.data.simulate_retail_log`: orders of several lines (products,
quantities, channels), returns, a yearly and a weekly season, two years long, about 7.4 lines
per customer. Each log is written as Parquet, and every stage runs in a fresh Python process,
so that each peak memory (max RSS) is the stage's own and nothing is warm from another:

- ``load``: ``churnml.load_transactions`` (read and validate);
- ``train``: load, then ``churnml.train`` with its backtest windows, MLflow tracking in a new
  temporary SQLite store, horizon 90 days at the last date, step by step;
- ``score``: load, then ``churnml.score`` with the champion ``train`` registered, the scores
  written as Parquet and published as a snapshot to a SQLite score store;
- ``lifetimes``: the yardstick of a plain BTYD run on the same file: read, the customer-day
  purchases, ``summary_data_from_transaction_data``, ``BetaGeoFitter`` and
  ``GammaGammaFitter`` fits and the 90-day predictions; stopped after ``--lifetimes-timeout``
  seconds (reported as not finished).

End to end is ``train`` then ``score``, the two commands a user runs.

With ``--spark``, three more stages run on PySpark ``local[2]`` (each its own session and JVM):

- ``spark-passes``: read and validate as Spark jobs, then the BTYD summary at the last date,
  the labels of the 90 days before it, and BG/NBD fitted on the driver from the summary's
  distinct rows (:mod:`churnml.spark`);
- ``spark-train``: read and validate in Spark, then ``train_spark`` (the customer sample drawn
  in Spark and collected, the data fingerprinted in Spark, the pandas fit), tracked;
- ``spark-score``: read and validate in Spark, then ``score_model_spark`` with the champion
  ``spark-train`` registered (each group of customers scored by the workers, the anchors
  solved on the driver, the value tiers ranked in Spark), the scores written as Parquet by
  the workers, then collected and published as ``churnml score --publish`` does.

``--stages`` runs some of the stages only (``spark-score`` needs ``spark-train`` before it).

Their peak memory is the Python driver's and, apart, the JVM's (``VmHWM``).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from yardstick import Steps, lifetimes_run, print_result

HORIZON = 90
LINES_PER_CUSTOMER = 7.4  # simulate_retail_log's defaults (measured at 100k customers)


def _child(kind: str, parquet: str, store: str) -> dict:
    """Run one stage in this process and return its timings."""
    import warnings

    warnings.simplefilter("ignore")
    step = Steps()
    result: dict = {"kind": kind}
    if kind.startswith("spark"):
        os.environ["MLFLOW_TRACKING_URI"] = f"sqlite:///{store}/mlflow-spark.db"
        step("import churnml.spark, start local[2]")
        import pandas as pd

        import churnml.spark as engine

        session = engine.local_session(2)
        step("read and validate in Spark")
        spark_tx = engine.validate_spark(engine.read_spark(session, parquet), source=parquet)
        result["customers"] = int(spark_tx.report.n_customers)
        last = pd.Timestamp(spark_tx.report.last_date).normalize()
        if kind == "spark-passes":
            step("BTYD summary at the last date")
            summary = engine.btyd_summary_spark(spark_tx.lines, last).cache()
            summary.count()
            step("labels of the last 90 days")
            labels = engine.build_labels_spark(
                spark_tx.lines, last - pd.Timedelta(days=HORIZON), HORIZON
            )
            labels.count()
            step("BG/NBD fit from the distinct summary rows")
            rows = engine.distinct_summary(summary)
            engine.fit_transactions(summary)
            result["distinct_rows"] = len(rows)
        elif kind == "spark-train":
            step("train (sample drawn in Spark)")
            res = engine.train_spark(
                spark_tx, horizon_days=HORIZON, model_name="bench-scale-spark", on_step=step
            )
            result["champion"] = res.champion
        else:
            import churnml

            step("score in Spark")
            scored = engine.score_model_spark(
                spark_tx, last, horizon_days=HORIZON, model_name="bench-scale-spark", on_step=step
            )
            result["groups"] = scored.groups
            result["family"] = scored.family
            step("write Parquet (workers)")
            scored.scores.write.mode("overwrite").parquet(f"{store}/spark-scores.parquet")
            step("collect to the driver")
            collected = scored.to_result()
            step("publish the snapshot")
            churnml.publish_scores(collected, store=f"sqlite:///{store}/spark-scores.db")
            result["rows"] = len(collected.scores)
        step("end")
        result["jvm_peak_mb"] = _java_peak_mb()
        session.stop()
        result.update(step.result())
        return result
    if kind == "lifetimes":
        step("import lifetimes")
        import lifetimes  # noqa: F401  (its import is part of the yardstick)
        import pandas as pd

        step("read Parquet")
        frame = pd.read_parquet(parquet, columns=["customer_id", "date", "amount"])
        lifetimes_run(frame, HORIZON, step)
    else:
        os.environ["MLFLOW_TRACKING_URI"] = f"sqlite:///{store}/mlflow.db"
        step("import churnml")
        import churnml

        step("load and validate")
        tx = churnml.load_transactions(parquet)
        last = tx.lines["date"].max().normalize()
        result["customers"] = int(tx.report.n_customers)
        if kind == "train":
            step("train: MLflow store and run set-up")
            res = churnml.train(tx, horizon_days=HORIZON, model_name="bench-scale", on_step=step)
            result["champion"] = res.champion
        elif kind == "score":
            step("score with the champion")
            scored = churnml.score(tx, last, horizon_days=HORIZON, model_name="bench-scale")
            step("write scores.parquet")
            scored.scores.to_parquet(Path(store) / "scores.parquet")
            step("publish the snapshot")
            churnml.publish_scores(scored, store=f"sqlite:///{store}/scores.db")
            result["rows"] = len(scored.scores)
    step("end")
    result.update(step.result())
    return result


def _java_peak_mb() -> float | None:
    """Peak resident memory of this process's Java child (the Spark driver JVM), in MB."""
    for task in Path("/proc/self/task").iterdir():
        for pid in (task / "children").read_text().split():
            try:
                cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
                status = Path(f"/proc/{pid}/status").read_text()
            except OSError:
                continue
            if b"java" in cmdline:
                for line in status.splitlines():
                    if line.startswith("VmHWM:"):
                        return round(int(line.split()[1]) / 1024, 0)
    return None


def _run(kind: str, parquet: Path, store: Path, timeout: float | None) -> dict:
    try:
        command = [sys.executable, __file__, "--child", kind, "--parquet", str(parquet)]
        out = subprocess.run(
            [*command, "--store", str(store)],
            capture_output=True,
            text=True,
            check=False,
            timeout=timeout,
        )
    except subprocess.TimeoutExpired:
        return {"kind": kind, "error": f"did not finish within {timeout:.0f} s"}
    if out.returncode != 0:
        return {"kind": kind, "error": out.stderr.strip().splitlines()[-1:]}
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--lines",
        default="100000,1000000",
        help="Comma-separated log sizes in order lines (10000000 for the 10M run).",
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--lifetimes-timeout",
        type=float,
        default=1800.0,
        help="Seconds after which the lifetimes yardstick is stopped and reported unfinished.",
    )
    parser.add_argument("--json", type=Path, help="Also write the results here.")
    parser.add_argument("--spark", action="store_true", help="Also run the Spark local[2] stages.")
    parser.add_argument(
        "--stages",
        help="Comma-separated stages to run (default: all; e.g. spark-train,spark-score).",
    )
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--parquet", help=argparse.SUPPRESS)
    parser.add_argument("--store", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(_child(args.child, args.parquet, args.store)))
        return

    from churnml.data import simulate_retail_log

    everything = {}
    for size in (int(s) for s in args.lines.split(",") if s.strip()):
        with tempfile.TemporaryDirectory() as tmp:
            started = time.perf_counter()
            customers = max(100, round(size / LINES_PER_CUSTOMER))
            frame, _ = simulate_retail_log(customers, seed=args.seed)
            parquet = Path(tmp) / "lines.parquet"
            frame.to_parquet(parquet, index=False)
            label = f"{len(frame):,} lines, {customers:,} customers"
            print(
                f"\n{label} (asked {size:,}; simulated and written in "
                f"{time.perf_counter() - started:.1f} s), horizon {HORIZON} d, "
                f"{os.cpu_count()} processors"
            )
            del frame
            results = {}
            spark = ("spark-passes", "spark-train", "spark-score") if args.spark else ()
            wanted = args.stages.split(",") if args.stages else None
            chosen = [
                kind
                for kind in ("load", "train", "score", "lifetimes", *spark)
                if wanted is None or kind in wanted
            ]
            for kind in [k for k in chosen if not k.startswith("spark")]:
                timeout = args.lifetimes_timeout if kind == "lifetimes" else None
                results[kind] = _run(kind, parquet, Path(tmp), timeout)
                print_result(kind, results[kind])
            for kind in [k for k in chosen if k.startswith("spark")]:
                results[kind] = _run(kind, parquet, Path(tmp), None)
                print_result(kind, results[kind])
                if results[kind].get("jvm_peak_mb") is not None:
                    print(f"  {kind}: the JVM's peak {results[kind]['jvm_peak_mb']:.0f} MB")
            if all("seconds" in results.get(k, {}) for k in ("train", "score")):
                both = results["train"]["seconds"] + results["score"]["seconds"]
                peak = max(results["train"]["peak_mb"], results["score"]["peak_mb"])
                print(f"  end to end (train, then score): {both:.1f} s, peak {peak:.0f} MB")
                if "seconds" in results.get("lifetimes", {}):
                    ratio = both / results["lifetimes"]["seconds"]
                    print(f"  end to end / lifetimes fit-and-predict: {ratio:.1f} x")
            everything[label] = results
    if args.json:
        args.json.write_text(json.dumps(everything, indent=2))


if __name__ == "__main__":
    main()
