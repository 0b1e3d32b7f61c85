"""Time BTYD fitting against plain lifetimes on the same customer summary.

Usage::

    python benchmarks/bench_fit.py                  # 1M simulated customers
    python benchmarks/bench_fit.py --customers 200000

Prints fit seconds and parameters of churnml (distinct rows + exact gradient) and of
lifetimes' BetaGeoFitter on every customer row, and their ratio.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from lifetimes import BetaGeoFitter, GammaGammaFitter

from churnml.data import simulate_transactions
from churnml.features import btyd_summary
from churnml.models import GammaGammaModel, TransactionModel


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    log, _ = simulate_transactions(args.customers, seed=args.seed)
    summary = btyd_summary(log, log["date"].max())
    print(f"{args.customers:,} customers, {len(log):,} purchases")

    t0 = time.perf_counter()
    ours = TransactionModel(kind="bgnbd").fit(summary)
    t_ours = time.perf_counter() - t0
    print(
        f"churnml BG/NBD fit   {t_ours:8.2f} s  ({ours.n_unique_rows_:,} distinct rows) "
        f"{ {k: round(v, 4) for k, v in ours.params_.items()} }"
    )
    t0 = time.perf_counter()
    ref = BetaGeoFitter().fit(summary["frequency"], summary["recency"], summary["T"])
    t_ref = time.perf_counter() - t0
    print(
        f"lifetimes BG/NBD fit {t_ref:8.2f} s  (every row) "
        f"{ {k: round(v, 4) for k, v in ref.params_.items()} }"
    )
    print(
        f"speed-up {t_ref / t_ours:.1f} x; max relative parameter difference "
        f"{max(abs(ours.params_[k] / ref.params_[k] - 1) for k in ours.params_):.2e}"
    )

    repeat = summary[summary["frequency"] > 0]
    t0 = time.perf_counter()
    GammaGammaModel().fit(summary)
    t_gg = time.perf_counter() - t0
    t0 = time.perf_counter()
    GammaGammaFitter().fit(repeat["frequency"], repeat["monetary_value"])
    t_gg_ref = time.perf_counter() - t0
    print(
        f"Gamma-Gamma fit: churnml {t_gg:.2f} s, lifetimes {t_gg_ref:.2f} s "
        f"({len(repeat):,} repeat customers); speed-up {t_gg_ref / t_gg:.1f} x"
    )
    assert np.isfinite(list(ours.params_.values())).all()


if __name__ == "__main__":
    main()
