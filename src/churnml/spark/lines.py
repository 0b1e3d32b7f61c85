"""Read and validate a transaction log as Spark DataFrames, with pandas' counts.

The checks that read one row at a time run in each batch through the pandas path's own
:func:`~churnml.data.validation.parse_rows` (``mapInPandas``), with the date format found on
the first rows of the whole column, as pandas finds it. Those that read other rows (exact
duplicates, customer totals, purchases) are Spark aggregations. Nothing is collected to the
driver but counts.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from pyspark.sql import DataFrame, SparkSession, Window
from pyspark.sql import functions as F
from pyspark.sql import types as T

from churnml.config import ColumnMap, ValidationPolicy, parse_day
from churnml.data.validation import (
    FLAGS,
    REASON_CODES,
    REASONS,
    ValidationReport,
    date_format_of,
    parse_rows,
)
from churnml.exceptions import DataFileError, DataValidationError

__all__ = [
    "SparkTransactions",
    "as_validated",
    "day_number_column",
    "lines_until",
    "period_column",
    "period_nets",
    "read_spark",
    "validate_spark",
    "with_row_numbers",
]

_TEXT_OPTIONAL = ("order_id", "product_id", "channel")
_TEXT = ("customer_id", *_TEXT_OPTIONAL)
_TEXT_SUFFIXES = (".csv", ".csv.gz", ".txt", ".tsv", ".tsv.gz", ".gz")
#: Flags parse_rows counts per batch; each batch writes its count on its first row.
_BATCH_FLAGS = ("customer_id_stripped", "timezone_dropped", "quantity_not_numeric")


@dataclass
class SparkTransactions:
    """Validated lines as a Spark DataFrame, and the report pandas would give.

    Attributes
    ----------
    lines : pyspark.sql.DataFrame
        Kept rows: ``customer_id``, ``date`` (naive timestamp), ``amount`` and the optional
        columns present and ``row`` (the 0-based input position), as
        :class:`~churnml.data.validation.ValidatedTransactions` holds them.
    report : ValidationReport
        Counts per reason and flag, customers, purchases, dates and revenue. ``examples`` is
        empty: the rows are not collected.
    policy : ValidationPolicy
        The policy applied.
    zero_only : pyspark.sql.DataFrame or None
        ``customer_id`` and ``date`` of the zero-amount rows of customers with no kept line
        (scoring sees them, as it does the pandas path's ``zero_only``); cached.
    """

    lines: DataFrame
    report: ValidationReport
    policy: ValidationPolicy
    zero_only: DataFrame | None = None


def as_validated(frame: pd.DataFrame) -> pd.DataFrame:
    """Give collected or batched lines the dtypes of validated pandas lines."""
    out = frame.copy()
    for name in _TEXT:
        if name in out.columns:
            out[name] = out[name].astype("str")
    out["date"] = out["date"].astype("datetime64[ns]")
    for name in ("amount", "quantity"):
        if name in out.columns:
            out[name] = out[name].astype(float)
    if "row" in out.columns:
        out["row"] = out["row"].astype(np.int64)
    return out


def read_spark(
    spark: SparkSession,
    path: str | Path,
    columns: ColumnMap | None = None,
    sep: str = ",",
    encoding: str = "utf-8",
) -> DataFrame:
    """Read a log (Parquet, or delimited text as strings) with the contract's column names.

    Parameters
    ----------
    spark : pyspark.sql.SparkSession
        The session.
    path : str or pathlib.Path
        A file or folder, local or a Spark URL (``s3a://...``): ``.csv``, ``.txt``, ``.tsv``
        (optionally gzipped) as delimited text, anything else as Parquet.
    columns : ColumnMap, optional
        The input's column names.
    sep : str
        The text's delimiter.
    encoding : str
        The text's encoding.

    Returns
    -------
    pyspark.sql.DataFrame
        The contract's columns present, renamed; text is left unparsed.

    Raises
    ------
    DataFileError
        A required column is missing (the message names it and the file).
    """
    columns = columns or ColumnMap()
    text = str(path)
    # text by its suffix; anything else (a .parquet file, a folder on disk or in object
    # storage, as Spark writes them) is Parquet
    if not text.rstrip("/").lower().endswith(_TEXT_SUFFIXES):
        frame = spark.read.parquet(text)
    else:
        frame = spark.read.csv(text, header=True, sep=sep, encoding=encoding, inferSchema=False)
    names = columns.source_names()
    missing = [
        f"{names[c]!r}"
        for c in ColumnMap.REQUIRED
        if names[c] not in frame.columns  # type: ignore[index]
    ]
    if missing:
        raise DataFileError(text, f"missing required column(s) {', '.join(missing)}")
    present = [c for c in (*ColumnMap.REQUIRED, *ColumnMap.OPTIONAL) if names[c] in frame.columns]
    return with_row_numbers(frame.select(*(F.col(names[c]).alias(c) for c in present)))


def with_row_numbers(frame: DataFrame) -> DataFrame:
    """Add ``row``: each row's 0-based position in the input, as the pandas path numbers it.

    A file is read in order, one partition after another: a row's number is the rows of the
    partitions before its own plus its place in its partition (one small counting job). A
    folder's files come in the order Spark packs them into partitions (largest first), which
    need not be their names' order.

    Parameters
    ----------
    frame : pyspark.sql.DataFrame
        Rows in input order.

    Returns
    -------
    pyspark.sql.DataFrame
        The rows with a ``row`` column (long).
    """
    tagged = frame.withColumn("_part", F.spark_partition_id()).withColumn(
        "_id", F.monotonically_increasing_id()
    )
    sizes = sorted(
        (int(r["_part"]), int(r["count"])) for r in tagged.groupBy("_part").count().collect()
    )
    starts, total = [], 0
    for part, size in sizes:
        starts.append((part, total))
        total += size
    # one row per partition, joined where it is: a cluster's thousands of partitions stay a
    # small table, not a CASE expression as long
    offsets = frame.sparkSession.createDataFrame(starts, "_part int, _start long")
    # monotonically_increasing_id is the partition id in the upper 31 bits, then the place
    place = F.col("_id") - F.shiftleft(F.col("_part").cast("long"), 33)
    return (
        tagged.join(F.broadcast(offsets), "_part")
        .withColumn("row", F.col("_start") + place)
        .drop("_part", "_id", "_start")
    )


def _parsed_schema(raw: DataFrame) -> T.StructType:
    fields = [
        T.StructField("customer_id", T.StringType()),
        T.StructField("date", T.TimestampNTZType()),
        T.StructField("amount", T.DoubleType()),
    ]
    for name in ("order_id", "product_id", "quantity", "channel"):
        if name in raw.columns:
            kind = T.DoubleType() if name == "quantity" else T.StringType()
            fields.append(T.StructField(name, kind))
    fields.append(T.StructField("row", T.LongType()))
    fields.append(T.StructField("reason", T.ByteType()))
    fields += [T.StructField(f"_{f}", T.LongType()) for f in _BATCH_FLAGS]
    return T.StructType(fields)


def _date_text_format(raw: DataFrame, policy: ValidationPolicy) -> str | None:
    """Return the format pandas would infer on the whole column, from its first values."""
    if isinstance(raw.schema["date"].dataType, T.TimestampType | T.TimestampNTZType | T.DateType):
        return None
    head = raw.select("date").limit(5000).toPandas()["date"]
    text = head.astype(str).str.strip()
    return date_format_of(text[text != ""], policy.date_format)


def lines_until(lines: DataFrame, as_of: pd.Timestamp) -> DataFrame:
    """Return the lines dated on or before as-of (any time that day)."""
    return lines.where(F.col("date") < F.lit(as_of + pd.Timedelta(days=1)).cast("timestamp_ntz"))


def day_number_column(column: str = "date") -> Any:
    """Whole days since 1970-01-01 of a naive timestamp column (time of day dropped)."""
    return F.datediff(F.to_date(F.col(column)), F.lit("1970-01-01").cast("date"))


def validate_spark(
    raw: DataFrame,
    *,
    as_of: str | pd.Timestamp | None = None,
    policy: ValidationPolicy | None = None,
    source: str = "<Spark DataFrame>",
) -> SparkTransactions:
    """Validate a log as Spark jobs: the same kept lines and counts as the pandas path.

    Parameters
    ----------
    raw : pyspark.sql.DataFrame
        Rows with the contract's column names (:func:`read_spark`).
    as_of : str or pandas.Timestamp, optional
        Rows dated after this day are excluded.
    policy : ValidationPolicy, optional
        As for :func:`~churnml.data.validation.validate_transactions`.
    source : str
        What the report names as the source.

    Returns
    -------
    SparkTransactions
        The kept lines (cached) and the report.

    Raises
    ------
    DataValidationError
        ``policy.strict`` is set and a row was excluded, or no row is left.
    """
    policy = policy or ValidationPolicy()
    as_of_ts = None if as_of is None else parse_day(as_of, "as_of")
    used = _date_text_format(raw, policy)
    schema = _parsed_schema(raw)
    names = [f.name for f in schema.fields]

    def parse(batches: Any) -> Any:
        for batch in batches:
            rows = parse_rows(batch, as_of=as_of_ts, policy=policy, date_format=used)
            out = rows.parsed.copy()
            for name in _TEXT_OPTIONAL:
                if name in out.columns:  # text as the pandas path keeps it
                    out[name] = out[name].astype("string")
            out["date"] = out["date"].astype("datetime64[us]")
            out["row"] = batch["row"].to_numpy() if "row" in batch.columns else -1
            out["reason"] = rows.reason
            for flag in _BATCH_FLAGS:
                column = [0] * len(out)
                if column:
                    column[0] = int(rows.flags.get(flag, 0))
                out[f"_{flag}"] = column
            yield out[names]

    rows = raw.mapInPandas(parse, schema).cache()
    parsed_columns = [c for c in names if c not in ("reason", "row") and not c.startswith("_")]
    code = F.col("reason")

    def exclude(frame: DataFrame, name: str, condition: Any) -> DataFrame:
        return frame.withColumn(
            "reason",
            F.when((code == 0) & condition, F.lit(REASON_CODES[name]).cast("byte")).otherwise(code),
        )

    # Duplicates among the rows kept so far, as pandas' duplicated() over them: the first of
    # equal lines in input order is kept
    equal = Window.partitionBy(*parsed_columns, "reason").orderBy("row")
    rows = rows.withColumn("_dup", (code == 0) & (F.row_number().over(equal) > 1))
    drop_dups = policy.duplicates == "drop" or (
        policy.duplicates == "auto" and "order_id" in raw.columns
    )
    if drop_dups:
        rows = exclude(rows, "exact_duplicate", F.col("_dup"))
    rows = exclude(rows, "zero_amount", F.col("amount") == 0)
    if policy.returns == "drop":
        rows = exclude(rows, "return", F.col("amount") < 0)
    if policy.max_customer_revenue is not None:
        alive_total = F.sum(F.when(code == 0, F.col("amount")).otherwise(0.0)).over(
            Window.partitionBy("customer_id")
        )
        rows = exclude(rows, "outlier_customer", alive_total > float(policy.max_customer_revenue))
    rows = rows.cache()
    counts = rows.agg(
        F.count(F.lit(1)).alias("n"),
        *(F.sum(F.col(f"_{f}")).alias(f) for f in _BATCH_FLAGS),
        F.sum(F.col("_dup").cast("long")).alias("dup"),
        F.sum(((code == 0) & (F.col("amount") < 0)).cast("long")).alias("negative_kept"),
        F.countDistinct(F.when(F.col("customer_id") != "", F.col("customer_id"))).alias(
            "customers_input"
        ),
    ).first()
    assert counts is not None
    tally = rows.groupBy("reason").count().collect()
    by_reason = {int(r["reason"]): int(r["count"]) for r in tally}
    n = int(counts["n"])
    excluded = {name: by_reason.get(c, 0) for name, c in REASON_CODES.items()}
    flags = dict.fromkeys(FLAGS, 0)
    for flag in _BATCH_FLAGS:
        flags[flag] = int(counts[flag] or 0)
    if not drop_dups:
        flags["duplicate_kept"] = int(counts["dup"] or 0)
    if policy.returns == "net":
        flags["return_netted"] = int(counts["negative_kept"] or 0)
    lines = rows.where(code == 0).select(*parsed_columns, "row").cache()
    n_kept = n - sum(excluded.values())
    report = ValidationReport(
        source=source,
        n_input=n,
        n_kept=n_kept,
        excluded=excluded,
        examples={name: [] for name in REASONS},
        flags=flags,
        row_word="row",
        date_format=used,
        freq=policy.freq,
        as_of=as_of_ts,
    )
    if policy.strict and report.n_excluded:
        raise DataValidationError(
            source,
            f"strict validation: {report.n_excluded} of {n} rows would be excluded:\n  "
            + "\n  ".join(report.excluded_lines()),
        )
    if n_kept == 0:
        detail = "\n  ".join(report.excluded_lines())
        raise DataValidationError(
            source, f"no usable rows: all {n} rows were excluded:\n  {detail}"
        )
    report.n_customers_input = int(counts["customers_input"])
    _count_purchases(lines, report, policy)
    # as the pandas path keeps them: zero-amount rows of customers with no kept line (a pass
    # only where there are zero-amount rows)
    zero_only = None
    if excluded["zero_amount"]:
        kept_ids = lines.select("customer_id").distinct()
        zero_only = (
            rows.where(code == REASON_CODES["zero_amount"])
            .select("customer_id", "date")
            .join(kept_ids, "customer_id", "left_anti")
            .cache()
        )
        zero_only.count()  # before the rows it comes from are let go
    rows.unpersist()
    return SparkTransactions(lines=lines, report=report, policy=policy, zero_only=zero_only)


def _count_purchases(lines: DataFrame, report: ValidationReport, policy: ValidationPolicy) -> None:
    """Fill the report's customer, purchase, date and revenue counts from the kept lines."""
    # one shuffle: each customer-period's net and its lines serve every purchase count
    periods = (
        lines.withColumn("period", period_column(policy.freq))
        .groupBy("customer_id", "period")
        .agg(F.sum("amount").alias("net"), F.count(F.lit(1)).alias("lines"))
    )
    bought = F.col("net") > 0
    counts = periods.agg(
        F.sum(F.when(~bought, F.col("lines")).otherwise(0)).alias("not_a_purchase"),
        F.countDistinct("customer_id").alias("customers"),
        F.sum(bought.cast("long")).alias("purchases"),
        F.countDistinct(F.when(bought, F.col("customer_id"))).alias("buyers"),
    ).first()
    line_stats = lines.agg(
        F.min("date").alias("first"), F.max("date").alias("last"), F.sum("amount").alias("revenue")
    ).first()
    assert counts is not None and line_stats is not None
    report.flags["not_a_purchase"] = int(counts["not_a_purchase"] or 0)
    report.n_customers = int(counts["customers"])
    report.n_purchases = int(counts["purchases"] or 0)
    report.n_customers_without_purchase = report.n_customers - int(counts["buyers"])
    report.first_date = pd.Timestamp(line_stats["first"])
    report.last_date = pd.Timestamp(line_stats["last"])
    report.revenue = float(line_stats["revenue"])


def period_column(freq: str) -> Any:
    """Day number of each line's purchase period start: its day, or its week's Monday."""
    day = day_number_column()
    if freq == "D":
        return day
    # as churnml.data.purchases.period_start_day: day 0 (1970-01-01) is a Thursday
    return F.floor((day + 3) / 7).cast("long") * 7 - 3


def period_nets(lines: DataFrame, freq: str) -> DataFrame:
    """Net amount per customer and purchase period: ``customer_id``, ``period``, ``net``."""
    return (
        lines.withColumn("period", period_column(freq))
        .groupBy("customer_id", "period")
        .agg(F.sum("amount").alias("net"))
    )
