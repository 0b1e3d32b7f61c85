"""Time feature building against lifetimes' summary function on the same synthetic log.

Usage::

    python benchmarks/bench_features.py                        # 1M lines, 100k customers
    python benchmarks/bench_features.py --rows 10000000 --customers 1000000 --skip-lifetimes

Prints wall-clock seconds of each step and the peak resident memory of the process.
"""

from __future__ import annotations

import argparse
import resource
import time

import numpy as np
import pandas as pd
from lifetimes.utils import summary_data_from_transaction_data

from churnml.data import validate_transactions
from churnml.features import btyd_summary, build_features


def make_log(rows: int, customers: int, seed: int = 0) -> pd.DataFrame:
    """Lines spread over two years; a customer's first line is its first purchase."""
    rng = np.random.default_rng(seed)
    ids = np.char.zfill(np.arange(customers).astype(str), 7)
    who = rng.integers(0, customers, rows)
    start = pd.Timestamp("2022-01-01").value
    seconds = rng.integers(0, 730 * 86_400, rows)
    return pd.DataFrame(
        {
            "customer_id": ids[who],
            "date": pd.to_datetime(start + seconds * 10**9),
            "amount": np.round(rng.lognormal(3.0, 1.0, rows), 2),
            "order_id": np.arange(rows).astype(str),
        }
    )


def timed(label: str, func, *args, **kwargs):
    t0 = time.perf_counter()
    result = func(*args, **kwargs)
    seconds = time.perf_counter() - t0
    print(f"{label:<48} {seconds:8.2f} s")
    return result, seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--skip-lifetimes", action="store_true")
    args = parser.parse_args()

    log = make_log(args.rows, args.customers)
    as_of = "2023-06-30"
    print(f"{args.rows:,} lines, {args.customers:,} customers, as-of {as_of}")
    tx, _ = timed("churnml validate_transactions", validate_transactions, log)
    ours, t_ours = timed("churnml btyd_summary", btyd_summary, tx, as_of)
    feats, t_feats = timed("churnml build_features (all columns)", build_features, tx, as_of)
    print(f"{'feature table shape':<48} {feats.shape}")
    if not args.skip_lifetimes:
        # churnml includes the whole as-of day; lines at 10:00 on as-of are not "<= as_of".
        lines = tx.lines[tx.lines["date"] < pd.Timestamp(as_of) + pd.Timedelta(days=1)]
        ref, t_ref = timed(
            "lifetimes summary_data_from_transaction_data",
            summary_data_from_transaction_data,
            lines,
            "customer_id",
            "date",
            monetary_value_col="amount",
            observation_period_end=as_of,
        )
        ref = ref.sort_index()
        same = np.allclose(ours.to_numpy(), ref.to_numpy()) and ours.index.equals(ref.index)
        print(f"{'identical summaries':<48} {same}")
        print(f"{'speed-up of btyd_summary over lifetimes':<48} {t_ref / t_ours:8.1f} x")
        print(f"{'speed-up of build_features over lifetimes':<48} {t_ref / t_feats:8.1f} x")
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"{'peak resident memory':<48} {peak_mb:8.0f} MB")


if __name__ == "__main__":
    main()
