"""Batch scoring in Spark: each group of customers scored by the pandas path's own code.

The validated lines are split into groups by a hash of the customer id, and every group is
scored where it lies with :func:`churnml.score_with` (``groupBy(...).applyInPandas``): no line
comes to the driver. What a row reads of everyone is solved between passes:

- the log's first line (LightGBM's last-year features);
- LightGBM's level anchors (and the blend's): rounds of
  :meth:`~churnml.models.base.BaseScorer.population_inputs`, a few numbers per customer
  gathered on the driver and solved by
  :meth:`~churnml.models.base.BaseScorer.solve_population`;
- the purchase cycle the personal cycles shrink toward: the model's own;
- the value tiers: a rank of everyone's CLV, in Spark.

Each row equals the pandas path's row for the same customer.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T

from churnml.config import REGISTERED_MODEL, ValidationPolicy, parse_day
from churnml.data.validation import ValidatedTransactions, ValidationReport
from churnml.exceptions import ConfigError, InsufficientDataError
from churnml.models.base import BaseScorer
from churnml.scoring import NO_PURCHASE_NOTE, score_with
from churnml.settings import SegmentRules
from churnml.spark.lines import SparkTransactions, as_validated, lines_until, with_row_numbers
from churnml.workflows.scoring import LoadedModel, ScoreResult, load_model

__all__ = ["SparkScores", "score_model_spark", "score_spark", "scores_to_pandas"]

#: Lines per group scored as one pandas frame (memory per task: about 1 KB a line).
LINES_PER_GROUP = 250_000
#: Fewest customers per group, so that a group almost surely holds a buyer.
_MIN_CUSTOMERS_PER_GROUP = 1_000
_GROUP = "_group"
_ZERO = "_zero_only"


@dataclass
class SparkScores:
    """Scores held in Spark, and where they came from.

    Attributes
    ----------
    scores : pyspark.sql.DataFrame
        One row per customer seen up to as-of, with the columns and values of
        :func:`churnml.score_with` (cached); highest CLV first, where pandas sorts by
        ``customer_id`` (:func:`scores_to_pandas` does too).
    model_version, family : str
        As :class:`~churnml.workflows.scoring.ScoreResult` has them.
    as_of : pandas.Timestamp
        Scoring date.
    horizon_days : int
        Horizon.
    n_customers : int
        Rows of ``scores``.
    n_yet_to_buy : int
        Customers without a purchase, scored as customers yet to buy.
    n_unscored : int
        Customers seen up to as-of without a row (0: everyone seen is scored).
    meta : dict
        The bundle's metadata, ``registry_version`` and ``model_uri``.
    model_name : str or None
        Registered model name.
    population : dict
        What was solved over everyone (``first_date``, anchors), as sent to each group.
    groups : int
        Groups the customers were scored in.
    """

    scores: DataFrame
    model_version: str
    family: str
    as_of: pd.Timestamp
    horizon_days: int
    n_customers: int
    n_yet_to_buy: int
    n_unscored: int
    meta: dict[str, Any] = field(default_factory=dict)
    model_name: str | None = None
    population: dict[str, Any] = field(default_factory=dict)
    groups: int = 1

    def segment_counts(self) -> pd.Series:
        """Return customers per lifecycle segment (one small Spark job)."""
        rows = self.scores.groupBy("segment").count().collect()
        counts = pd.Series({r["segment"]: int(r["count"]) for r in rows}, dtype="int64")
        return counts.sort_values(ascending=False, kind="stable")

    def totals(self) -> dict[str, float]:
        """Return the sums of ``p_repurchase``, ``expected_purchases``, ``expected_revenue``."""
        names = ("p_repurchase", "expected_purchases", "expected_revenue")
        row = self.scores.agg(*(F.sum(c).alias(c) for c in names)).first()
        assert row is not None
        return {c: float(row[c] or 0.0) for c in names}

    def to_result(self) -> ScoreResult:
        """Collect the scores to the driver as :func:`churnml.score` returns them.

        Returns
        -------
        ScoreResult
            For a CSV file or the score store (about 1 KB a customer on the driver).
        """
        return ScoreResult(
            scores=scores_to_pandas(self.scores),
            model_version=self.model_version,
            family=self.family,
            as_of=self.as_of,
            horizon_days=self.horizon_days,
            n_unscored=self.n_unscored,
            meta=self.meta,
            model_name=self.model_name,
            n_yet_to_buy=self.n_yet_to_buy,
        )


def scores_to_pandas(scores: DataFrame) -> pd.DataFrame:
    """Collect Spark scores with the pandas path's dtypes (text, whole numbers, dates).

    Parameters
    ----------
    scores : pyspark.sql.DataFrame
        :attr:`SparkScores.scores`.

    Returns
    -------
    pandas.DataFrame
        As :func:`churnml.score_with` returns it, sorted by ``customer_id``.
    """
    frame = scores.toPandas().sort_values("customer_id", kind="stable", ignore_index=True)
    for f in scores.schema.fields:
        if isinstance(f.dataType, T.StringType):
            frame[f.name] = frame[f.name].astype("str")
    if "days_since_last_purchase" in frame.columns:
        frame["days_since_last_purchase"] = frame["days_since_last_purchase"].astype("Int64")
    return frame


_REBUILT: dict[str, BaseScorer] = {}


def _scorer(state: str) -> BaseScorer:
    """Rebuild the model from its JSON once per worker process (workers are reused)."""
    key = hashlib.sha256(state.encode()).hexdigest()
    if key not in _REBUILT:
        _REBUILT.clear()  # one model at a time
        _REBUILT[key] = BaseScorer.from_json(state)
    return _REBUILT[key]


def _spark_type(column: pd.Series) -> T.DataType:
    dtype = column.dtype
    if pd.api.types.is_object_dtype(dtype):
        known = column.dropna()
        if len(known) and isinstance(known.iloc[0], datetime.date):
            return T.DateType()  # next_purchase_date: dates, as the pandas rows hold them
    if pd.api.types.is_bool_dtype(dtype):
        return T.BooleanType()
    if pd.api.types.is_integer_dtype(dtype):
        return T.LongType()
    if pd.api.types.is_float_dtype(dtype):
        return T.DoubleType()
    if pd.api.types.is_datetime64_any_dtype(dtype):
        return T.TimestampNTZType()
    return T.StringType()  # text, categories, dates written as text


def _arrow_blob(frame: pd.DataFrame) -> bytes:
    sink = pa.BufferOutputStream()
    table = pa.Table.from_pandas(frame, preserve_index=False)
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return bytes(sink.getvalue().to_pybytes())


def _from_blob(blob: bytes) -> pd.DataFrame:
    return pa.ipc.open_stream(pa.py_buffer(blob)).read_all().to_pandas()


def _group_tx(
    frame: pd.DataFrame, report: ValidationReport, policy: ValidationPolicy
) -> ValidatedTransactions:
    """One group's lines (and zero-only rows) as the pandas path's validated transactions."""
    zero = frame[_ZERO].to_numpy(dtype=bool)
    lines = frame.loc[~zero].drop(columns=[_ZERO, _GROUP]).sort_values("row", kind="stable")
    lines = as_validated(lines.reset_index(drop=True))
    zero_only = as_validated(frame.loc[zero, ["customer_id", "date"]].reset_index(drop=True))
    return ValidatedTransactions(lines=lines, report=report, policy=policy, zero_only=zero_only)


def _grouped(spark_tx: SparkTransactions, groups: int) -> DataFrame:
    lines = spark_tx.lines.withColumn(_ZERO, F.lit(False))
    if spark_tx.zero_only is not None:
        zero = spark_tx.zero_only.withColumn(_ZERO, F.lit(True))
        lines = lines.unionByName(zero, allowMissingColumns=True)
    return lines.withColumn(_GROUP, F.pmod(F.xxhash64("customer_id"), F.lit(groups)))


def score_spark(
    spark_tx: SparkTransactions,
    loaded: LoadedModel,
    as_of: Any,
    horizon_days: int | None = None,
    *,
    groups: int | None = None,
    on_step: Callable[[str], None] | None = None,
) -> SparkScores:
    """Score every customer of a Spark log with a loaded model, as :func:`churnml.score` does.

    Parameters
    ----------
    spark_tx : SparkTransactions
        :func:`~churnml.spark.lines.validate_spark`'s output (validated up to as-of).
    loaded : LoadedModel
        :func:`churnml.load_model`'s output: read on the driver by churnml's own loader,
        and sent to the workers as its fitted state.
    as_of : str or pandas.Timestamp
        Scoring date.
    horizon_days : int, optional
        Horizon (default: the model's).
    groups : int, optional
        Groups of customers scored one pandas frame each (default: one per
        :data:`LINES_PER_GROUP` lines, at least the session's parallelism, at most one per
        1,000 customers).
    on_step : callable, optional
        Called with a short description as each pass starts.

    Returns
    -------
    SparkScores
        The scores in Spark, highest CLV first and cached, and their counts.

    Raises
    ------
    ConfigError
        The model has no purchase cycle in its metadata (it was trained by an older
        churnml); retrain it, or score it with the pandas engine.
    InsufficientDataError
        A group has no customer with a purchase (a log with hardly any buyers).
    """
    day = parse_day(as_of)
    horizon = int(horizon_days or loaded.settings.horizon_days)
    cycle = loaded.meta.get("purchase_cycle_days")
    if cycle is None:
        raise ConfigError(
            f"model {loaded.label} records no purchase cycle (trained by an older churnml): "
            "retrain it, or score it with --engine pandas"
        )
    step = on_step or (lambda _text: None)
    spark = spark_tx.lines.sparkSession
    n_lines = spark_tx.report.n_kept
    n_customers = max(int(spark_tx.report.n_customers), 1)
    if groups is None:
        groups = max(spark.sparkContext.defaultParallelism, math.ceil(n_lines / LINES_PER_GROUP))
        groups = max(1, min(groups, n_customers // _MIN_CUSTOMERS_PER_GROUP))
    grouped = _grouped(spark_tx, int(groups))
    # the workers get the model as its JSON state (LightGBM's text inside), rebuilt by
    # churnml's own loader, as the driver read it: never a pickled scorer
    state, rules = loaded.scorer.to_json(), loaded.settings.segments
    population: dict[str, Any] = {"first_date": str(pd.Timestamp(spark_tx.report.first_date))}

    report, policy = spark_tx.report, spark_tx.policy  # what the workers get, not Spark's

    def part(frame: pd.DataFrame) -> ValidatedTransactions:
        tx = _group_tx(frame, report, policy)
        if tx.lines.empty or not (tx.lines["amount"] > 0).any():
            raise InsufficientDataError(
                f"a group of {frame['customer_id'].nunique():,} customers has no purchase "
                f"up to {day.date()}: score this log with --engine pandas"
            )
        return tx

    # a few buyers on the driver: whether another round is needed (a question of the
    # model, not of the data), and the columns and dtypes every group's rows take
    probe_tx = _probe_lines(spark_tx, day)
    rounds = 0
    while loaded.scorer.population_inputs(probe_tx, day, horizon, population) is not None:
        step(f"Solving the population's anchors in Spark (round {rounds + 1})")

        def inputs_with(known: dict[str, Any]) -> Callable[[pd.DataFrame], pd.DataFrame]:
            def inputs(frame: pd.DataFrame) -> pd.DataFrame:
                found = _scorer(state).population_inputs(part(frame), day, horizon, known)
                blobs = [] if found is None else [_arrow_blob(found.reset_index())]
                return pd.DataFrame({"blob": blobs}, dtype=object)

            return inputs

        blobs = (
            grouped.groupBy(_GROUP)
            .applyInPandas(inputs_with(dict(population)), "blob binary")
            .collect()
        )
        gathered = pd.concat([_from_blob(r["blob"]) for r in blobs], ignore_index=True)
        gathered = gathered.set_index("customer_id")
        solved = loaded.scorer.solve_population(gathered, population)
        population = json.loads(json.dumps(solved))
        rounds += 1
    step("Scoring every customer in Spark")
    probe = loaded.score(probe_tx, day, horizon, population=population)
    columns = list(probe.columns)
    schema = T.StructType([T.StructField(c, _spark_type(probe[c])) for c in columns])
    label = loaded.label

    def scored(frame: pd.DataFrame) -> pd.DataFrame:
        out = score_with(
            _scorer(state),
            part(frame),
            day,
            horizon,
            label,
            rules,
            population_cycle_days=cycle,
            population=population,
        )
        return _conform(out, probe)

    rows = grouped.groupBy(_GROUP).applyInPandas(scored, schema).cache()
    counts = rows.agg(
        F.count(F.lit(1)).alias("n"),
        F.sum((F.col("note") == NO_PURCHASE_NOTE).cast("long")).alias("yet"),
    ).first()
    assert counts is not None
    n_scored = int(counts["n"])
    ranked = _with_value_tiers(rows, n_scored, rules)
    seen = _seen_customers(spark_tx, day)
    return SparkScores(
        scores=ranked,
        model_version=label,
        family=loaded.family,
        as_of=day,
        horizon_days=horizon,
        n_customers=n_scored,
        n_yet_to_buy=int(counts["yet"] or 0),
        n_unscored=seen - n_scored,
        meta=loaded.meta,
        model_name=loaded.name,
        population=population,
        groups=int(groups),
    )


def _probe_lines(spark_tx: SparkTransactions, day: pd.Timestamp) -> ValidatedTransactions:
    """Collect every line of the 50 first customers (by id) with a purchase up to as-of."""
    buyers = (
        lines_until(spark_tx.lines, day)
        .where(F.col("amount") > 0)
        .select("customer_id")
        .distinct()
        .orderBy("customer_id")
        .limit(50)
    )
    lines = spark_tx.lines.join(F.broadcast(buyers), "customer_id").toPandas()
    lines = as_validated(lines.sort_values("row", kind="stable").reset_index(drop=True))
    return ValidatedTransactions(lines=lines, report=spark_tx.report, policy=spark_tx.policy)


def _conform(out: pd.DataFrame, probe: pd.DataFrame) -> pd.DataFrame:
    """Give a group's rows the probe's columns, with values Arrow sends as the schema says."""
    out = out.reindex(columns=probe.columns)
    for name, dtype in probe.dtypes.items():
        if pd.api.types.is_object_dtype(dtype):
            continue  # dates (or text) as they are
        if isinstance(dtype, pd.CategoricalDtype) or not (
            pd.api.types.is_numeric_dtype(dtype) or pd.api.types.is_datetime64_any_dtype(dtype)
        ):
            text = out[name].astype(object)
            out[name] = text.where(text.notna(), None)
        elif pd.api.types.is_integer_dtype(dtype) and not pd.api.types.is_bool_dtype(dtype):
            out[name] = out[name].astype("Int64")
    return out


def _with_value_tiers(rows: DataFrame, n: int, rules: SegmentRules | None) -> DataFrame:
    """Rank everyone's CLV as :func:`~churnml.segments.lifecycle.value_tier` does.

    Returns
    -------
    pyspark.sql.DataFrame
        ``rows`` with ``value_tier``, highest CLV first (cached).
    """
    rules = rules or SegmentRules()
    n_gold = int(np.floor(rules.gold_share * n))
    n_silver = int(np.floor(rules.silver_share * n))
    # highest CLV first, missing last, ties in customer order (the pandas rows' order)
    clv = F.col("clv")
    key = F.when(clv.isNull() | F.isnan(clv), F.lit(float("-inf"))).otherwise(clv)
    ordered = rows.withColumn("_key", key).orderBy(F.col("_key").desc(), F.col("customer_id"))
    # numbered from its partitions' sizes: both jobs must see the same partitions, which a
    # sort's shuffle, coalesced adaptively each time it runs, does not promise
    ordered = ordered.cache()
    ordered.count()
    numbered = with_row_numbers(ordered)
    rank = F.col("row_rank")
    tier = (
        F.when(rank < n_gold, "gold").when(rank < n_gold + n_silver, "silver").otherwise("bronze")
    )
    return (
        numbered.withColumnRenamed("row", "row_rank")
        .withColumn("value_tier", tier)
        .drop("_key", "row_rank")
        .select(*rows.columns)
    )


def _seen_customers(spark_tx: SparkTransactions, day: pd.Timestamp) -> int:
    ids = lines_until(spark_tx.lines, day).select("customer_id")
    if spark_tx.zero_only is not None:
        ids = ids.union(lines_until(spark_tx.zero_only, day).select("customer_id"))
    return int(ids.distinct().count())


def score_model_spark(
    spark_tx: SparkTransactions,
    as_of: Any,
    *,
    horizon_days: int | None = None,
    model: str = "champion",
    model_name: str = REGISTERED_MODEL,
    groups: int | None = None,
    on_step: Callable[[str], None] | None = None,
) -> SparkScores:
    """Load a model from the MLflow registry (or a folder) and score a Spark log with it.

    The Spark form of :func:`churnml.score`.

    Parameters
    ----------
    spark_tx : SparkTransactions
        Validated lines in Spark.
    as_of : str or pandas.Timestamp
        Scoring date.
    horizon_days, model, model_name
        As for :func:`churnml.score`.
    groups, on_step
        As for :func:`score_spark`.

    Returns
    -------
    SparkScores
        The scores in Spark.
    """
    loaded = load_model(model, model_name)
    return score_spark(spark_tx, loaded, as_of, horizon_days, groups=groups, on_step=on_step)
