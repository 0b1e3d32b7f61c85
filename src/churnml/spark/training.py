"""``train`` on a Spark log: the customer sample is drawn in Spark and only it comes home.

:func:`churnml.train` fits on a fixed random sample of ``max_customers`` customers past that
many (:func:`~churnml.data.sampling.sample_customers`). On Spark the same customers are
drawn (the same seeded hash of their ids, the same lowest ``k``), every line of theirs is
collected to the driver in input order, and :func:`~churnml.workflows.training.train`
runs on them as it would on the pandas path's sample; the validation report and the data
fingerprint are the whole log's, computed in Spark. The model is the pandas path's model.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T

from churnml.config import DEFAULT_MAX_CUSTOMERS, parse_day
from churnml.data.fingerprint import HASHED_COLUMNS
from churnml.data.sampling import CustomerSample, customer_hash_key
from churnml.data.validation import ValidatedTransactions
from churnml.spark.lines import SparkTransactions, as_validated, lines_until
from churnml.workflows.training import TrainResult, train

__all__ = ["fingerprint_spark", "sample_spark", "train_spark"]


def _split(hashes: np.ndarray) -> dict[str, np.ndarray]:
    # Spark has no unsigned longs: the two halves sort as the whole does
    return {
        "hi": (hashes >> np.uint64(32)).astype(np.int64),
        "lo": (hashes & np.uint64(0xFFFFFFFF)).astype(np.int64),
    }


def sample_spark(
    spark_tx: SparkTransactions,
    max_customers: int | None,
    seed: int = 0,
    as_of: str | pd.Timestamp | None = None,
) -> tuple[ValidatedTransactions, CustomerSample | None]:
    """Collect every line of :func:`~churnml.data.sampling.sample_customers`' customers.

    Parameters
    ----------
    spark_tx : SparkTransactions
        Validated lines in Spark.
    max_customers : int or None
        Most customers to collect; None collects every line.
    seed : int
        The sample's seed.
    as_of : str or pandas.Timestamp, optional
        Lines dated later are left out (default: none).

    Returns
    -------
    tx : ValidatedTransactions
        The lines on the driver, in input order, with the whole log's report.
    sample : CustomerSample or None
        As ``sample_customers`` gives it on the same lines; None when every customer came.
    """
    lines = spark_tx.lines if as_of is None else lines_until(spark_tx.lines, parse_day(as_of))
    ids = lines.select("customer_id").distinct()
    n_customers = ids.count()
    sample = None
    chosen = lines
    if max_customers is not None and n_customers > max_customers:
        key = customer_hash_key(int(seed))

        def hashed(batches: Any) -> Any:
            for batch in batches:
                values = batch["customer_id"].to_numpy(dtype=object)
                yield pd.DataFrame(
                    {"customer_id": values, **_split(pd.util.hash_array(values, hash_key=key))}
                )

        schema = "customer_id string, hi long, lo long"
        # ties between hashes go to the smaller id, as a stable sort of sorted ids does
        lowest = (
            ids.mapInPandas(hashed, schema)
            .orderBy("hi", "lo", "customer_id")
            .limit(int(max_customers))
            .select("customer_id")
        )
        chosen = lines.join(F.broadcast(lowest), "customer_id")
        sample = CustomerSample(
            customers=int(n_customers),
            sampled=int(max_customers),
            lines=int(lines.count()),
            sampled_lines=0,
            seed=int(seed),
        )
    frame = chosen.toPandas().sort_values("row", kind="stable").reset_index(drop=True)
    frame = as_validated(frame)[[c for c in spark_tx.lines.columns]]
    if sample is not None:
        sample = CustomerSample(**{**sample.__dict__, "sampled_lines": len(frame)})
    tx = ValidatedTransactions(lines=frame, report=spark_tx.report, policy=spark_tx.policy)
    return tx, sample


def fingerprint_spark(lines: DataFrame, spark_tx: SparkTransactions) -> dict[str, Any]:
    """Return :func:`~churnml.data.fingerprint.fingerprint` of lines held in Spark.

    The row hashes are pandas' (each batch hashed with the validated dtypes), sorted in
    Spark, and the digest reads them partition by partition in order: 8 bytes a line reach
    the driver, not the line.

    Parameters
    ----------
    lines : pyspark.sql.DataFrame
        Validated lines (all of a log, or a cut of them).
    spark_tx : SparkTransactions
        The log they come from (its report's source and counts).

    Returns
    -------
    dict
        The pandas fingerprint's keys and values.
    """
    cols = [c for c in HASHED_COLUMNS if c in lines.columns]

    def hashed(batches: Any) -> Any:
        for batch in batches:
            frame = as_validated(batch[cols])
            yield pd.DataFrame(
                _split(pd.util.hash_pandas_object(frame, index=False).to_numpy(dtype=np.uint64))
            )

    def packed(batches: Any) -> Any:
        for batch in batches:
            whole = (batch["hi"].to_numpy().astype(np.uint64) << np.uint64(32)) | batch[
                "lo"
            ].to_numpy().astype(np.uint64)
            yield pd.DataFrame({"blob": [whole.tobytes()]})

    ordered = lines.select(*cols).mapInPandas(hashed, "hi long, lo long").orderBy("hi", "lo")
    blobs = ordered.mapInPandas(packed, T.StructType([T.StructField("blob", T.BinaryType())]))
    digest = hashlib.sha256(",".join(cols).encode())
    for row in blobs.collect():  # in partition order, each partition in its sorted order
        digest.update(row["blob"])
    stats = lines.agg(
        F.count(F.lit(1)).alias("rows"),
        F.countDistinct("customer_id").alias("customers"),
        F.min("date").alias("first"),
        F.max("date").alias("last"),
        F.sum("amount").alias("revenue"),
    ).first()
    assert stats is not None
    report = spark_tx.report
    return {
        "sha256": digest.hexdigest(),
        "rows": int(stats["rows"]),
        "customers": int(stats["customers"]),
        "first_date": None if stats["first"] is None else str(pd.Timestamp(stats["first"]).date()),
        "last_date": None if stats["last"] is None else str(pd.Timestamp(stats["last"]).date()),
        "revenue": round(float(stats["revenue"] or 0.0), 2),
        "source": report.source,
        "rows_read": int(report.n_input),
        "excluded": {k: int(v) for k, v in report.excluded.items()},
        "flags": {k: int(v) for k, v in report.flags.items()},
    }


def train_spark(
    spark_tx: SparkTransactions,
    *,
    as_of: Any = None,
    seed: int = 0,
    max_customers: int | None = DEFAULT_MAX_CUSTOMERS,
    on_step: Callable[[str], None] | None = None,
    **options: Any,
) -> TrainResult:
    """Train on a log validated in Spark: :func:`churnml.train`'s run on the same sample.

    Parameters
    ----------
    spark_tx : SparkTransactions
        :func:`~churnml.spark.lines.validate_spark`'s output.
    as_of, seed, max_customers, on_step
        As for :func:`churnml.train`.
    **options
        :func:`churnml.train`'s other keyword arguments (``horizon_days``, ``families``,
        ``value``, ``model_name``, ``track``, ...).

    Returns
    -------
    TrainResult
        As :func:`churnml.train` returns it on the same data.
    """
    day = parse_day(as_of if as_of is not None else spark_tx.report.last_date)
    if on_step is not None:
        on_step("Drawing the customer sample in Spark")
    fit_tx, sample = sample_spark(spark_tx, max_customers, seed, day)
    if on_step is not None:
        on_step("Fingerprinting the data in Spark")
    data = fingerprint_spark(lines_until(spark_tx.lines, day), spark_tx)
    return train(
        fit_tx,
        as_of=day,
        seed=seed,
        max_customers=max_customers,
        on_step=on_step,
        sample=sample,
        data=data,
        **options,
    )
