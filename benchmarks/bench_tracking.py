"""What MLflow tracking and the registry cost, and how fast a registered model scores.

Trains BG/NBD + Gamma-Gamma on a log with and without tracking (the difference is the cost of
the run, the plots, the model logging and registration), loads the champion with
``mlflow.pyfunc.load_model`` and scores every customer from raw transactions, and times the same
scoring done with ``lifetimes`` from its own summary (same parameters) in the same run.

Usage::

    python benchmarks/bench_tracking.py                 # bundled CDNOW log
    python benchmarks/bench_tracking.py --customers 200000   # simulated log
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
import warnings


def main() -> None:
    """Run the benchmark and print a table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=0, help="simulate N customers")
    args = parser.parse_args()
    store = tempfile.mkdtemp(prefix="churnml-bench-")
    os.environ["MLFLOW_TRACKING_URI"] = f"sqlite:///{store}/mlruns.db"
    warnings.simplefilter("ignore")

    import mlflow
    import pandas as pd
    from lifetimes import BetaGeoFitter, GammaGammaFitter
    from lifetimes.utils import summary_data_from_transaction_data

    from churnml import load_cdnow, load_transactions, simulate_transactions, train
    from churnml.models.bundle import load_bundle

    if args.customers:
        frame, _ = simulate_transactions(args.customers, seed=0)
        source = f"simulated, {args.customers:,} customers"
    else:
        frame = load_cdnow()
        source = "CDNOW"
    tx = load_transactions(frame)
    as_of = str(tx.lines["date"].max().date())
    print(f"{source}: {len(tx.lines):,} lines, {tx.report.n_customers:,} customers, as-of {as_of}")

    rows = []
    started = time.perf_counter()
    train(tx, families=("bgnbd",), track=False)
    untracked = time.perf_counter() - started
    rows.append(("train bgnbd, no tracking", untracked))
    started = time.perf_counter()
    train(tx, families=("bgnbd",), model_name="bench")  # first call also creates the store
    rows.append(("train bgnbd, tracked + registered (new store)", time.perf_counter() - started))
    started = time.perf_counter()
    train(tx, families=("bgnbd",), model_name="bench", force=True)
    tracked = time.perf_counter() - started
    rows.append(("train bgnbd, tracked + registered", tracked))
    rows.append(("  of which MLflow (difference)", tracked - untracked))

    started = time.perf_counter()
    model = mlflow.pyfunc.load_model("models:/bench@champion")
    rows.append(("pyfunc load_model(models:/bench@champion)", time.perf_counter() - started))
    started = time.perf_counter()
    scores = model.predict(frame, params={"as_of": as_of, "horizon_days": 90})
    churnml_score = time.perf_counter() - started
    rows.append((f"pyfunc predict from raw lines ({len(scores):,} rows)", churnml_score))

    # lifetimes, same parameters: summary from the same kept lines, then its predictions
    with tempfile.TemporaryDirectory() as folder:
        local = mlflow.artifacts.download_artifacts("models:/bench@champion", dst_path=folder)
        scorer, _ = load_bundle(f"{local}/artifacts/bundle")
    started = time.perf_counter()
    lines = tx.lines.groupby(["customer_id", pd.Grouper(key="date", freq="D")])["amount"].sum()
    lines = lines[lines > 0].reset_index()
    summary = summary_data_from_transaction_data(
        lines, "customer_id", "date", monetary_value_col="amount", observation_period_end=as_of
    )
    bgf = BetaGeoFitter()
    bgf.params_ = pd.Series(scorer.transaction_.params_)
    ggf = GammaGammaFitter()
    ggf.params_ = pd.Series(scorer.spend_.params_)
    bgf.conditional_probability_alive(summary["frequency"], summary["recency"], summary["T"])
    bgf.conditional_expected_number_of_purchases_up_to_time(
        90, summary["frequency"], summary["recency"], summary["T"]
    )
    ggf.conditional_expected_average_profit(
        summary["frequency"], summary["monetary_value"].where(summary["frequency"] > 0, 1.0)
    )
    lifetimes_score = time.perf_counter() - started
    rows.append((f"lifetimes summary + predictions ({len(summary):,} rows)", lifetimes_score))

    width = max(len(r[0]) for r in rows)
    print(f"{'step':<{width}}  seconds")
    for name, seconds in rows:
        print(f"{name:<{width}}  {seconds:7.2f}")
    print(
        f"churnml pyfunc scoring (validation, features, 18 columns, segments) takes "
        f"{churnml_score / lifetimes_score:.2f}x the time of lifetimes' 3 predictions"
    )


if __name__ == "__main__":
    main()
