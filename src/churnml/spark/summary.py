"""``describe`` on a Spark log: the summary's counts as Spark jobs, finished by pandas code.

Every number of :func:`churnml.describe` is a sum, a count, a distinct count, an exact
percentile or a top-k sum over the customers, so Spark computes them where the lines lie and
only counts reach the driver: the per-month counts of the monthly table, the (cohort, month)
counts of the retention matrix, the segments' sizes and revenue. The lifecycle segments are
assigned by the pandas function itself (``mapInPandas``); the monthly table, the cohorts and
the stats are assembled by the same functions as on the pandas path.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from churnml.campaign.rates import (
    RepeatRates,
    cohort_from_counts,
    monthly_from_counts,
    window_warning,
)
from churnml.config import parse_day
from churnml.exceptions import ConfigError, InsufficientDataError
from churnml.segments.lifecycle import SegmentRules, lifecycle_segment
from churnml.spark.lines import SparkTransactions, lines_until, period_column
from churnml.summary import DataSummary, SummaryCounts, summary_from, top_share_count

__all__ = ["describe_spark"]


def _purchases(lines: DataFrame, freq: str) -> DataFrame:
    """``customer_id``, ``day`` (the period's first day) and ``net`` of each purchase."""
    return (
        lines.withColumn("day", period_column(freq))
        .groupBy("customer_id", "day")
        .agg(F.sum("amount").alias("net"))
        .where(F.col("net") > 0)
    )


def _month(day: Column) -> Column:
    """Months since 1970-01 of a day number."""
    date = F.date_add(F.lit("1970-01-01").cast("date"), day.cast("int"))
    return (F.year(date) - 1970) * 12 + F.month(date) - 1


def _day_of(value: pd.Timestamp) -> int:
    return int(value.normalize().value // 86_400_000_000_000)


def describe_spark(
    spark_tx: SparkTransactions,
    as_of: str | pd.Timestamp | None = None,
    rules: SegmentRules | None = None,
    since: str | pd.Timestamp | None = None,
) -> DataSummary:
    """Summarise a Spark log up to as-of, as :func:`churnml.describe` does.

    Parameters
    ----------
    spark_tx : SparkTransactions
        :func:`~churnml.spark.lines.validate_spark`'s output.
    as_of, rules, since
        As for :func:`churnml.describe`.

    Returns
    -------
    DataSummary
        The pandas path's summary of the same lines.

    Raises
    ------
    InsufficientDataError
        No purchase up to as-of.
    ConfigError
        ``since`` is after as-of.
    """
    report = spark_tx.report
    freq = spark_tx.policy.freq
    lines = spark_tx.lines
    as_of_ts = parse_day(as_of if as_of is not None else report.last_date, "as_of")
    as_of_day = _day_of(as_of_ts)
    kept = lines_until(lines, as_of_ts)
    purchases = _purchases(kept, freq).cache()
    order = Window.partitionBy("customer_id").orderBy("day")
    ranked = purchases.withColumn("k", F.row_number().over(order))
    customers = (
        ranked.groupBy("customer_id")
        .agg(
            F.count(F.lit(1)).alias("count"),
            F.min("day").alias("first_day"),
            F.max("day").alias("last_day"),
            F.sum("net").alias("revenue"),
            F.min(F.when(F.col("k") == 2, F.col("day"))).alias("second_day"),
        )
        .cache()
    )
    totals = customers.agg(
        F.count(F.lit(1)).alias("customers"),
        F.sum("count").alias("purchases"),
        F.sum("revenue").alias("revenue"),
        F.sum((F.col("first_day") <= as_of_day - 90).cast("long")).alias("old_enough"),
        F.sum(
            (
                (F.col("first_day") <= as_of_day - 90)
                & (F.col("second_day") - F.col("first_day") <= 90)
            ).cast("long")
        ).alias("back_in_90"),
    ).first()
    assert totals is not None
    n_cust = int(totals["customers"])
    if n_cust == 0:
        raise InsufficientDataError(f"no purchase on or before {as_of_ts.date()} to describe")
    top = (
        customers.select("revenue")
        .orderBy(F.col("revenue").desc())
        .limit(top_share_count(n_cust))
        .agg(F.sum("revenue").alias("top"))
        .first()
    )
    line_stats = lines.agg(
        F.min("date").alias("first"),
        F.max("date").alias("last"),
        *(
            [F.countDistinct(F.when(F.col("amount") > 0, F.col("order_id"))).alias("orders")]
            if "order_id" in lines.columns
            else []
        ),
    ).first()
    kept_stats = kept.agg(F.min("date").alias("first"), F.sum("amount").alias("net")).first()
    assert top is not None and line_stats is not None and kept_stats is not None
    counts = SummaryCounts(
        first_date=pd.Timestamp(line_stats["first"]),
        last_date=pd.Timestamp(line_stats["last"]),
        first_date_to_as_of=pd.Timestamp(kept_stats["first"]),
        customers=n_cust,
        purchases=int(totals["purchases"]),
        orders=int(line_stats["orders"]) if "order_id" in lines.columns else None,
        revenue=float(totals["revenue"]),
        net_revenue_incl_returns=float(kept_stats["net"]),
        old_enough=int(totals["old_enough"] or 0),
        back_in_90=int(totals["back_in_90"] or 0),
        top_20pct_revenue=float(top["top"]),
    )
    summary = summary_from(
        report,
        as_of_ts,
        counts,
        _by_segment(customers, as_of_day, rules),
        _rates(kept, ranked, report.first_date, since, as_of_ts, freq),
        *_monthly_and_cohorts(kept, as_of_ts),
    )
    customers.unpersist()
    purchases.unpersist()
    return summary


def _by_segment(customers: DataFrame, as_of_day: int, rules: SegmentRules | None) -> pd.DataFrame:
    """Count customers and revenue by lifecycle segment, assigned by the pandas function."""

    def segmented(batches: Any) -> Any:
        for batch in batches:
            days = pd.Series(as_of_day - batch["last_day"].to_numpy())
            seg = lifecycle_segment(days, batch["count"].reset_index(drop=True), rules)
            yield pd.DataFrame(
                {"segment": seg.astype(str).to_numpy(), "revenue": batch["revenue"].to_numpy()}
            )

    rows = (
        customers.select("last_day", "count", "revenue")
        .mapInPandas(segmented, "segment string, revenue double")
        .groupBy("segment")
        .agg(F.count(F.lit(1)).alias("size"), F.sum("revenue").alias("sum"))
        .collect()
    )
    return pd.DataFrame(
        {"size": [int(r["size"]) for r in rows], "sum": [float(r["sum"]) for r in rows]},
        index=pd.Index([r["segment"] for r in rows], name="segment"),
    )


def _rates(
    kept: DataFrame,
    ranked: DataFrame,
    first_line: Any,
    since: Any,
    as_of: pd.Timestamp,
    freq: str,
) -> RepeatRates:
    """:func:`~churnml.campaign.repeat_purchase_rates` over (since, as-of], in Spark."""
    start = parse_day(since if since is not None else first_line, "start")
    if start > as_of:
        raise ConfigError(f"start {start.date()} is after end {as_of.date()}: the window is empty")
    # the window's purchases come from its own lines, as on the pandas path
    inside = kept.where(F.col("date") >= F.lit(start).cast("timestamp_ntz"))
    per_customer = (
        _purchases(inside, freq)
        .groupBy("customer_id")
        .agg(F.count(F.lit(1)).alias("n"), F.sum("net").alias("revenue"))
    )
    repeat = F.col("n") >= 2
    window = per_customer.agg(
        F.count(F.lit(1)).alias("buyers"),
        F.sum(repeat.cast("long")).alias("repeat_buyers"),
        F.sum("n").alias("purchases"),
        F.sum(F.when(repeat, F.col("n")).otherwise(0)).alias("repeat_buyers_purchases"),
        F.sum("revenue").alias("revenue"),
        F.sum(F.when(repeat, F.col("revenue")).otherwise(0.0)).alias("repeat_buyers_revenue"),
    ).first()
    gap = F.col("day") - F.lag("day").over(Window.partitionBy("customer_id").orderBy("day"))
    # exact percentiles with linear interpolation, as numpy's
    cycle = (
        ranked.select(gap.alias("gap"))
        .where(F.col("gap").isNotNull())
        .agg(
            F.count(F.lit(1)).alias("n"),
            F.percentile(F.col("gap"), F.array(F.lit(0.25), F.lit(0.5), F.lit(0.75))).alias("q"),
        )
        .first()
    )
    assert window is not None and cycle is not None
    q = [float(v) for v in cycle["q"]] if int(cycle["n"]) else [None, None, None]
    window_days = int(_day_of(as_of) - _day_of(start) + 1)
    buyers = int(window["buyers"])
    return RepeatRates(
        start=start,
        end=as_of,
        window_days=window_days,
        buyers=buyers,
        repeat_buyers=int(window["repeat_buyers"] or 0),
        purchases=int(window["purchases"] or 0),
        repeat_purchases=int(window["purchases"] or 0) - buyers,
        repeat_buyers_purchases=int(window["repeat_buyers_purchases"] or 0),
        revenue=float(window["revenue"] or 0.0),
        repeat_buyers_revenue=float(window["repeat_buyers_revenue"] or 0.0),
        cycle_days=q[1],
        cycle_days_p25=q[0],
        cycle_days_p75=q[2],
        warning=window_warning(window_days, q[1]),
    )


def _monthly_and_cohorts(kept: DataFrame, as_of: pd.Timestamp) -> tuple[pd.DataFrame, Any]:
    """Build the monthly table and the cohorts (daily purchases, as on the pandas path)."""
    daily = _purchases(kept, "D")
    order = Window.partitionBy("customer_id").orderBy("day")
    by_customer = Window.partitionBy("customer_id")
    rows = (
        daily.withColumn("first_day", F.min("day").over(by_customer))
        .withColumn("k", F.row_number().over(order))
        .withColumn("month", _month(F.col("day")))
        .withColumn("first", _month(F.col("first_day")))
        .withColumn("returning", F.col("first") < F.col("month"))
        .cache()
    )
    returning = F.col("returning")
    per_month = (
        rows.groupBy("month")
        .agg(
            F.countDistinct("customer_id").alias("buyers"),
            F.countDistinct(F.when(returning, F.col("customer_id"))).alias("returning_buyers"),
            F.count(F.lit(1)).alias("purchases"),
            F.sum((F.col("day") > F.col("first_day")).cast("long")).alias("repeat_purchases"),
            F.sum("net").alias("revenue"),
            F.sum(F.when(returning, F.col("net")).otherwise(0.0)).alias("returning_revenue"),
            F.sum((F.col("k") == 1).cast("long")).alias("new_buyers"),
            F.sum((F.col("k") == 2).cast("long")).alias("new_repeat_buyers"),
        )
        .toPandas()
    )
    months = per_month.pop("month").to_numpy().astype("datetime64[M]")
    per_month.index = pd.DatetimeIndex(months.astype("datetime64[ns]"))
    monthly = monthly_from_counts(per_month.astype({"revenue": float}), as_of)
    active = (
        rows.select("customer_id", "first", "month")
        .distinct()
        .groupBy("first", "month")
        .agg(F.count(F.lit(1)).alias("customers"))
        .toPandas()
    )
    sizes = rows.where(F.col("k") == 1).groupBy("first").count().toPandas()
    cohorts = cohort_from_counts(
        active, sizes.set_index("first")["count"].rename("customers"), as_of
    )
    rows.unpersist()
    return monthly, cohorts
