"""Time the campaign-planning functions against plain pandas doing the same sums in the same run.

Usage::

    python benchmarks/bench_campaign.py                   # CDNOW, ~1M simulated lines, 1M scores
    python benchmarks/bench_campaign.py --customers 0 --score-rows 0       # CDNOW only
    python benchmarks/bench_campaign.py --repeat 5 --repeat-large 3

Per step: the best wall-clock seconds of churnml over N calls, the same figures computed the
straightforward pandas way (customer-day net > 0 by ``groupby``, then counts, ``groupby().diff()``
for the gaps and a period-based pivot for the cohorts; for the recall list a bare ``sort_values``
by one computed column and ``cumsum``), their ratio (above 1: churnml is faster) and whether the
figures agree. Then ``write_report`` on CDNOW (its time and the size of the page) and the peak
resident memory of the process.
"""

from __future__ import annotations

import argparse
import os
import resource
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

import churnml
from churnml.campaign import customer_cycles
from churnml.features import history_until
from churnml.segments import SEGMENTS, VALUE_TIERS

AS_OF_CDNOW = "1998-06-30"
COST = 0.05
CONTACTS = (2_000, 100_000)
PRIOR_GAPS = 2.0  # churnml.campaign.DEFAULT_PRIOR_GAPS, repeated so the yardstick stands alone


def best_of(n: int, func, *args, **kwargs):
    """Return the last result and the smallest wall-clock time of ``n`` calls."""
    best = float("inf")
    result = None
    for _ in range(max(1, n)):
        t0 = time.perf_counter()
        result = func(*args, **kwargs)
        best = min(best, time.perf_counter() - t0)
    return result, best


# -- the yardstick: plain pandas ---------------------------------------------------------------


def pd_purchases(lines: pd.DataFrame, as_of: pd.Timestamp) -> pd.DataFrame:
    """Return the customer-days with a positive net amount, sorted by customer and day."""
    lines = lines[lines["date"] < as_of + pd.Timedelta(days=1)]
    net = lines.groupby([lines["customer_id"], lines["date"].dt.normalize()])["amount"].sum()
    return net[net > 0].reset_index()


def pd_rates(lines: pd.DataFrame, as_of: pd.Timestamp) -> dict[str, float]:
    """Return the repeat rates (by buyers, by transactions) over the log and the cycle."""
    p = pd_purchases(lines, as_of)
    counts = p.groupby("customer_id").size()
    gaps = p.groupby("customer_id")["date"].diff().dt.days.dropna()
    return {
        "by_buyers": float((counts >= 2).mean()),
        "by_transactions": float((counts - 1).sum() / counts.sum()),
        "cycle_days": float(gaps.median()),
    }


def pd_monthly(lines: pd.DataFrame, as_of: pd.Timestamp) -> pd.Series:
    """Return per month the share of its buyers who had bought in an earlier month."""
    p = pd_purchases(lines, as_of)
    month = p["date"].dt.to_period("M")
    first = month.groupby(p["customer_id"]).transform("min")
    frame = p.assign(month=month, returning=first < month)
    buyers = frame.groupby("month")["customer_id"].nunique()
    returning = frame[frame["returning"]].groupby("month")["customer_id"].nunique()
    rate = returning.reindex(buyers.index, fill_value=0) / buyers
    rate.index = rate.index.strftime("%Y-%m")
    return rate


def pd_cohorts(lines: pd.DataFrame, as_of: pd.Timestamp) -> pd.DataFrame:
    """Return the share of each first-purchase month's customers buying k months later."""
    p = pd_purchases(lines, as_of)
    month = p["date"].dt.to_period("M")
    cohort = month.groupby(p["customer_id"]).transform("min")
    frame = p.assign(
        cohort=cohort.dt.strftime("%Y-%m"),
        offset=(month.dt.year - cohort.dt.year) * 12 + (month.dt.month - cohort.dt.month),
    )
    active = frame.pivot_table(
        index="cohort", columns="offset", values="customer_id", aggfunc="nunique"
    )
    sizes = frame.drop_duplicates("customer_id")["cohort"].value_counts()
    return active.div(sizes, axis=0)


def pd_cycles(lines: pd.DataFrame, as_of: pd.Timestamp) -> pd.Series:
    """Return each customer's geometric-mean gap shrunk toward the population median gap."""
    p = pd_purchases(lines, as_of)
    gaps = p.groupby("customer_id")["date"].diff().dt.days
    logs = np.log(gaps.clip(lower=1)).groupby(p["customer_id"])
    pop = np.log(gaps.median())
    return np.exp((PRIOR_GAPS * pop + logs.sum()) / (PRIOR_GAPS + logs.count()))


def pd_recall(scores: pd.DataFrame, contacts: int) -> pd.DataFrame:
    """Sort by one computed column and add its running total: the floor of any ranking."""
    value = (
        scores["p_alive"]
        * (1 - scores["p_repurchase"])
        * scores["expected_revenue"]
        / scores["expected_purchases"]
    )
    ranked = scores.assign(value=value).sort_values("value", ascending=False)
    ranked["cumulative"] = ranked["value"].cumsum() - COST * np.arange(1, len(ranked) + 1)
    return ranked.head(contacts)


# -- inputs ------------------------------------------------------------------------------------


def make_scores(rows: int, seed: int = 0) -> pd.DataFrame:
    """Return a score table of random but plausible columns, one row per customer."""
    rng = np.random.default_rng(seed)
    purchases = rng.gamma(0.6, 1.5, rows)
    return pd.DataFrame(
        {
            "customer_id": np.char.zfill(np.arange(rows).astype(str), 7),
            "segment": rng.choice(np.array(SEGMENTS), rows),
            "value_tier": rng.choice(np.array(VALUE_TIERS), rows),
            "p_alive": rng.beta(2.0, 2.0, rows),
            "p_repurchase": 1 - np.exp(-purchases),
            "expected_revenue": purchases * rng.lognormal(3.0, 0.8, rows),
            "expected_purchases": purchases,
            "days_since_last_purchase": rng.integers(0, 540, rows),
            "purchase_cycle_days": rng.lognormal(4.0, 0.7, rows),
        }
    )


# -- the table ---------------------------------------------------------------------------------

HEADER = f"{'step':<44} {'churnml s':>10} {'pandas s':>10} {'ratio':>7}  check"


def row(label: str, ours: float, ref: float | None, check: str = "") -> None:
    if ref is None:
        print(f"{label:<44} {ours:10.3f} {'':>10} {'':>7}  {check}")
    else:
        print(f"{label:<44} {ours:10.3f} {ref:10.3f} {ref / ours:6.1f}x  {check}")


def bench_log(name: str, tx, as_of: pd.Timestamp, n: int) -> None:
    """Time rates, months, cohorts, describe and cycles on one validated log."""
    lines = tx.lines
    print(
        f"\n{name}: {len(lines):,} lines, {tx.report.n_customers:,} customers, as-of {as_of.date()}"
    )
    print(HEADER)

    rates, t = best_of(n, churnml.repeat_purchase_rates, tx)
    ref, t_ref = best_of(n, pd_rates, lines, lines["date"].max().normalize())
    agree = (
        abs(rates.by_buyers - ref["by_buyers"]) < 1e-12
        and abs(rates.by_transactions - ref["by_transactions"]) < 1e-12
        and rates.cycle_days == ref["cycle_days"]
    )
    row(
        "repeat_purchase_rates",
        t,
        t_ref,
        f"by buyers {rates.by_buyers:.4f} / {ref['by_buyers']:.4f}, cycle median "
        f"{rates.cycle_days:g} / {ref['cycle_days']:g} d: {'agree' if agree else 'DIFFER'}",
    )
    t_rates_ref = t_ref

    monthly, t = best_of(n, churnml.monthly_repeat_rates, tx)
    ref, t_ref = best_of(n, pd_monthly, lines, lines["date"].max().normalize())
    diff = float((monthly.loc[ref.index, "repeat_rate_buyers"] - ref).abs().max())
    row("monthly_repeat_rates", t, t_ref, f"{len(ref)} months, max |diff| {diff:.1e}")
    t_monthly_ref = t_ref

    cohorts, t = best_of(n, churnml.cohort_retention, tx)
    ref, t_ref = best_of(n, pd_cohorts, lines, lines["date"].max().normalize())
    diff = float(cohorts.retention.fillna(0).sub(ref.fillna(0), fill_value=0).abs().max().max())
    shape = "x".join(map(str, cohorts.retention.shape))
    row("cohort_retention", t, t_ref, f"{shape} matrix, max |diff| {diff:.1e}")
    t_cohort_ref = t_ref

    summary, t = best_of(n, churnml.describe, tx)
    same = summary.stats["repeat_customer_rate"] == rates.by_buyers
    row(
        "describe (vs the three yardsticks above)",
        t,
        t_rates_ref + t_monthly_ref + t_cohort_ref,
        f"repeat_customer_rate {'= rates' if same else 'DIFFERS from rates'}",
    )

    hist, t_hist = best_of(n, history_until, tx, as_of)
    row("history_until (alone)", t_hist, None)
    cycles, t = best_of(n, lambda: customer_cycles(history_until(tx, as_of)))
    ref, t_ref = best_of(n, pd_cycles, lines, as_of)
    mine = cycles["purchase_cycle_days"]
    rel = float((mine / ref.reindex(mine.index) - 1).abs().max())
    row(
        "customer_cycles(history_until(...))",
        t,
        t_ref,
        f"{len(mine):,} customers, max relative diff {rel:.1e}",
    )
    del hist


def bench_recall(name: str, scores: pd.DataFrame, n: int) -> None:
    """Time plan_recall for budgets reaching 2,000 and 100,000 contacts."""
    print(f"\n{name}: {len(scores):,} rows, cost per contact {COST}")
    print(HEADER)
    for contacts in CONTACTS:
        budget = contacts * COST
        plan, t = best_of(n, churnml.plan_recall, scores, budget=budget, cost_per_contact=COST)
        _, t_ref = best_of(n, pd_recall, scores, contacts)
        row(
            f"plan_recall budget {budget:g} ({contacts:,} contacts)",
            t,
            t_ref,
            f"{len(plan.contacts):,} listed of {plan.candidates:,} candidates, "
            f"profit {plan.expected_profit:,.2f}",
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--customers",
        type=int,
        default=360_000,
        help="simulated customers (about 2.8 lines each; 0 skips the simulated log)",
    )
    parser.add_argument(
        "--score-rows", type=int, default=1_000_000, help="synthetic score rows (0 skips)"
    )
    parser.add_argument("--repeat", type=int, default=3, help="best of N on CDNOW")
    parser.add_argument("--repeat-large", type=int, default=1, help="best of N on the 1M parts")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    store = tempfile.mkdtemp(prefix="churnml-bench-")
    os.environ["MLFLOW_TRACKING_URI"] = f"sqlite:///{store}/mlruns.db"
    warnings.simplefilter("ignore")
    started = time.perf_counter()

    tx = churnml.load_transactions(churnml.load_cdnow())
    as_of = pd.Timestamp(AS_OF_CDNOW)
    bench_log("CDNOW", tx, as_of, args.repeat)

    t0 = time.perf_counter()
    scorer = churnml.make_scorer("bgnbd").fit(tx, AS_OF_CDNOW)
    scores = churnml.score_with(scorer, tx, AS_OF_CDNOW, 90, "bench")
    print(f"\n(fit bgnbd + score_with on CDNOW, setup: {time.perf_counter() - t0:.2f} s)")
    bench_recall("CDNOW scores", scores, args.repeat)

    out = Path(store) / "report.html"
    print(f"\nwrite_report on CDNOW (scores given, evaluation=None, store {store})")
    _, t_first = best_of(
        1, churnml.write_report, tx, out, scores=scores, evaluation=None, as_of=AS_OF_CDNOW
    )
    print(f"{'write_report, first call (creates the store)':<44} {t_first:10.3f}")
    _, t = best_of(
        args.repeat,
        churnml.write_report,
        tx,
        out,
        scores=scores,
        evaluation=None,
        as_of=AS_OF_CDNOW,
    )
    print(f"{f'write_report, best of {args.repeat}':<44} {t:10.3f}")
    print(f"{'report.html size':<44} {out.stat().st_size / 1024:10.0f} kB")

    if args.customers:
        t0 = time.perf_counter()
        frame, _ = churnml.simulate_transactions(args.customers, seed=args.seed)
        sim = churnml.load_transactions(frame)
        del frame
        print(f"\n(simulate_transactions + load_transactions: {time.perf_counter() - t0:.2f} s)")
        bench_log("simulated", sim, sim.lines["date"].max().normalize(), args.repeat_large)
        del sim
    if args.score_rows:
        bench_recall("synthetic scores", make_scores(args.score_rows, args.seed), args.repeat_large)

    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"\n{'peak resident memory':<44} {peak_mb:10.0f} MB")
    print(f"{'total run time':<44} {time.perf_counter() - started:10.1f} s")


if __name__ == "__main__":
    main()
