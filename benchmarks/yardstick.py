"""What the ``bench_*`` scripts share: step timing of a child process and the lifetimes run.

Imported by the scripts of this folder (Python puts a script's folder on the path).
"""

from __future__ import annotations

import itertools
import resource
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # not imported here: the scripts time their own imports of it
    import pandas as pd


class Steps:
    """Marks of a child process's steps: each runs from its message until the next one."""

    def __init__(self) -> None:
        self.started = time.perf_counter()
        self.marks: list[tuple[str, float]] = []

    def __call__(self, message: str) -> None:
        """Start a step."""
        self.marks.append((message, time.perf_counter()))

    def result(self) -> dict:
        """Return the steps, wall and processor seconds and peak memory of this process."""
        total = time.perf_counter() - self.started
        steps = [("start-up", round(self.marks[0][1] - self.started, 2))]
        for (message, at), (_, then) in itertools.pairwise(self.marks):
            steps.append((message, round(then - at, 2)))
        usage = resource.getrusage(resource.RUSAGE_SELF)
        return {
            "steps": steps,
            "seconds": round(total, 2),
            "cpu_seconds": round(usage.ru_utime + usage.ru_stime, 2),
            "peak_mb": round(usage.ru_maxrss / 1024, 0),
        }


def lifetimes_run(frame: pd.DataFrame, horizon_days: int, step: Callable[[str], None]) -> None:
    """Fit and predict as a plain ``lifetimes`` user would, on ``customer_id, date, amount``.

    What lifetimes counts as a purchase is a customer-day with a positive net amount; BG/NBD
    (penalizer 0.001) and Gamma-Gamma fits, then P(alive), expected purchases over the horizon
    and expected spend.
    """
    from lifetimes import BetaGeoFitter, GammaGammaFitter
    from lifetimes.utils import summary_data_from_transaction_data

    step("customer-day purchases")
    daily = frame.groupby(["customer_id", frame["date"].dt.normalize()])["amount"].sum()
    daily = daily[daily > 0].reset_index()
    step("summary")
    summary = summary_data_from_transaction_data(
        daily, "customer_id", "date", monetary_value_col="amount", freq="D"
    )
    step("BG/NBD fit")
    bg = BetaGeoFitter(penalizer_coef=0.001).fit(
        summary["frequency"], summary["recency"], summary["T"]
    )
    step("Gamma-Gamma fit")
    repeat = summary[summary["frequency"] > 0]
    gg = GammaGammaFitter(penalizer_coef=0.0).fit(repeat["frequency"], repeat["monetary_value"])
    step("predict")
    bg.conditional_probability_alive(summary["frequency"], summary["recency"], summary["T"])
    bg.conditional_expected_number_of_purchases_up_to_time(
        horizon_days, summary["frequency"], summary["recency"], summary["T"]
    )
    gg.conditional_expected_average_profit(summary["frequency"], summary["monetary_value"])


def print_result(name: str, result: dict) -> None:
    """Print one measurement and its steps (the fastest of several when repeated)."""
    if "error" in result:
        print(f"  {name:<10} FAILED: {result['error']}")
        return
    extra = f"  champion {result['champion']}" if "champion" in result else ""
    if len(result.get("all_seconds", [])) > 1:
        extra += "  (fastest of " + ", ".join(f"{s:.1f}" for s in result["all_seconds"]) + " s)"
    print(
        f"  {name:<10} {result['seconds']:8.1f} s  cpu {result['cpu_seconds']:7.1f} s  "
        f"peak {result['peak_mb']:7.0f} MB{extra}"
    )
    for message, seconds in result["steps"]:
        print(f"      {seconds:8.2f} s  {message}")
