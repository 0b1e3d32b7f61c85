"""The BTYD summary and the labels as Spark jobs, and a BTYD fit from their distinct rows.

Each is the Spark form of the pandas function named in its docstring, with the same
definitions: a purchase is a customer-period whose lines net to more than zero; the summary
reads the lines dated on or before as-of, the labels those of (as-of, as-of + horizon].
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import pandas as pd
from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F

from churnml.config import parse_day
from churnml.data.purchases import day_number
from churnml.exceptions import ConfigError, InsufficientDataError
from churnml.models.btyd import RFM_COLUMNS, TransactionModel
from churnml.spark.lines import lines_until, period_nets

__all__ = ["btyd_summary_spark", "build_labels_spark", "distinct_summary", "fit_transactions"]

_UNIT_DAYS = {"D": 1.0, "W": 7.0}


def _day(value: pd.Timestamp) -> int:
    return int(day_number(value)[()])


def btyd_summary_spark(
    lines: DataFrame, as_of: str | pd.Timestamp, freq: Literal["D", "W"] = "D"
) -> DataFrame:
    """Return each customer's ``frequency``, ``recency``, ``T``, ``monetary_value`` in Spark.

    The Spark form of :func:`churnml.features.btyd_summary`.

    Parameters
    ----------
    lines : pyspark.sql.DataFrame
        Validated lines (:func:`~churnml.spark.lines.validate_spark`).
    as_of : str or pandas.Timestamp
        Observation end; later lines are not read.
    freq : {"D", "W"}
        Time unit of recency and T, and purchase period.

    Returns
    -------
    pyspark.sql.DataFrame
        ``customer_id`` and the four columns (double), one row per customer with a purchase
        on or before as-of.

    Raises
    ------
    ConfigError
        ``freq`` is neither ``"D"`` nor ``"W"``.
    """
    if freq not in _UNIT_DAYS:
        raise ConfigError(f"freq must be 'D' or 'W'; got {freq!r}")
    as_of = parse_day(as_of, "as_of")
    unit = _UNIT_DAYS[freq]
    purchases = period_nets(lines_until(lines, as_of), freq).where(F.col("net") > 0)
    first = F.min("period").over(Window.partitionBy("customer_id"))
    return (
        purchases.withColumn("first", first)
        .groupBy("customer_id")
        .agg(
            F.count(F.lit(1)).alias("n"),
            F.min("period").alias("first"),
            F.max("period").alias("last"),
            # repeat purchases summed directly, as pandas does (total minus first would
            # leave a residue)
            F.sum(F.when(F.col("period") != F.col("first"), F.col("net")).otherwise(0.0)).alias(
                "repeat"
            ),
        )
        .select(
            "customer_id",
            (F.col("n") - 1).cast("double").alias("frequency"),
            ((F.col("last") - F.col("first")) / unit).cast("double").alias("recency"),
            ((F.lit(_day(as_of)) - F.col("first")) / unit).cast("double").alias("T"),
            F.when(F.col("n") > 1, F.col("repeat") / (F.col("n") - 1))
            .otherwise(0.0)
            .alias("monetary_value"),
        )
    )


def build_labels_spark(
    lines: DataFrame,
    as_of: str | pd.Timestamp,
    horizon_days: int,
    freq: Literal["D", "W"] = "D",
    *,
    customers: DataFrame | None = None,
    data_end: str | pd.Timestamp | None = None,
) -> DataFrame:
    """Return what each customer did in (as-of, as-of + horizon], as Spark columns.

    The Spark form of :func:`churnml.features.build_labels`.

    Parameters
    ----------
    lines : pyspark.sql.DataFrame
        Validated lines.
    as_of : str or pandas.Timestamp
        Last observed day; the window starts the day after.
    horizon_days : int
        Window length in days.
    freq : {"D", "W"}
        Purchase period used to count purchases.
    customers : pyspark.sql.DataFrame, optional
        A ``customer_id`` column: who to label (default: the customers with a purchase on or
        before as-of). Customers without a purchase in the window get zeros.
    data_end : str or pandas.Timestamp, optional
        Last day the data covers (default: the last line's day).

    Returns
    -------
    pyspark.sql.DataFrame
        ``customer_id``, ``bought``, ``n_purchases``, ``revenue``, ``days_to_next`` (null
        when none).

    Raises
    ------
    InsufficientDataError
        The window runs past the end of the data.
    ConfigError
        ``horizon_days`` is not a positive whole number.
    """
    if int(horizon_days) != horizon_days or horizon_days <= 0:
        raise ConfigError(f"horizon_days must be a positive whole number; got {horizon_days!r}")
    as_of = parse_day(as_of, "as_of")
    end = as_of + pd.Timedelta(days=int(horizon_days))
    if data_end is None:
        last = lines.agg(F.max("date")).first()[0]  # type: ignore[index]
        data_end = pd.Timestamp(last)
    if parse_day(data_end) < end:
        raise InsufficientDataError(
            f"the label window ({as_of.date()}, {end.date()}] runs past the end of the data "
            f"({parse_day(data_end).date()}); choose an earlier as-of or a shorter horizon"
        )
    if customers is None:
        customers = btyd_summary_spark(lines, as_of, freq).select("customer_id")
    start = F.lit(as_of + pd.Timedelta(days=1)).cast("timestamp_ntz")
    window = lines_until(lines, end).where(F.col("date") >= start)
    counted = (
        period_nets(window, freq)
        .where(F.col("net") > 0)
        .groupBy("customer_id")
        .agg(F.count(F.lit(1)).alias("n_purchases"), F.sum("net").alias("revenue"))
    )
    # the timing is in days whatever the purchase period
    first = (
        period_nets(window, "D")
        .where(F.col("net") > 0)
        .groupBy("customer_id")
        .agg((F.min("period") - F.lit(_day(as_of))).cast("double").alias("days_to_next"))
    )
    return (
        customers.select("customer_id")
        .join(counted, "customer_id", "left")
        .join(first, "customer_id", "left")
        .select(
            "customer_id",
            F.coalesce(F.col("n_purchases"), F.lit(0)).cast("double").alias("n_purchases"),
            F.coalesce(F.col("revenue"), F.lit(0.0)).alias("revenue"),
            "days_to_next",
        )
        .withColumn("bought", F.col("n_purchases") > 0)
    )


def distinct_summary(summary: DataFrame) -> pd.DataFrame:
    """Collect the distinct (frequency, recency, T) rows of a summary, with their customers.

    Purchase days and weeks are whole numbers, so customers share rows (CDNOW's 23,500 have
    8,683). The rows are sorted, so that a fit reads them in one order whatever the
    partitioning.

    Parameters
    ----------
    summary : pyspark.sql.DataFrame
        :func:`btyd_summary_spark`'s output.

    Returns
    -------
    pandas.DataFrame
        ``frequency``, ``recency``, ``T`` and ``weight`` (customers behind each row).
    """
    rows = summary.groupBy(*RFM_COLUMNS).agg(F.count(F.lit(1)).alias("weight")).toPandas()
    rows = rows.sort_values(list(RFM_COLUMNS), kind="stable").reset_index(drop=True)
    rows["weight"] = rows["weight"].astype(float)
    return rows


def fit_transactions(
    summary: DataFrame, kind: str = "bgnbd", penalizer: float = 0.0
) -> TransactionModel:
    """Fit a BTYD purchase model on the driver from a Spark summary's distinct rows.

    Parameters
    ----------
    summary : pyspark.sql.DataFrame
        :func:`btyd_summary_spark`'s output.
    kind : {"bgnbd", "pareto", "mbgnbd"}
        The model.
    penalizer : float
        L2 penalty on the log-parameters.

    Returns
    -------
    TransactionModel
        Fitted; the same model as :meth:`~churnml.models.btyd.TransactionModel.fit` on the
        same rows and weights.
    """
    rows = distinct_summary(summary)
    return TransactionModel(kind=kind, penalizer=penalizer).fit(
        rows[list(RFM_COLUMNS)], sample_weight=np.asarray(rows["weight"], dtype=float)
    )
