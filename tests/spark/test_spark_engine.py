"""The Spark engine equals the pandas path: validation counts, BTYD summaries, labels, fits.

PySpark local[2] on the machine's Java. Every comparison is to 1e-9 (sums of amounts are
added in another order, so equal to the last few bits, not bitwise).
"""

from __future__ import annotations

import json
import os
import shutil

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

import churnml
from churnml.cli import app
from churnml.config import ValidationPolicy
from churnml.data.fingerprint import fingerprint
from churnml.data.sampling import sample_customers
from churnml.data.validation import ValidatedTransactions
from churnml.features import btyd_summary, build_labels
from churnml.models.btyd import TransactionModel
from churnml.models.bundle import load_bundle

pytestmark = pytest.mark.slow

if os.environ.get("CHURNML_REQUIRE_SPARK") != "1":
    pytest.importorskip("pyspark", reason="PySpark is not installed (pip install churnml[spark])")
    if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
        pytest.skip("no Java runtime for Spark on this machine", allow_module_level=True)

from churnml.spark import (  # noqa: E402  (after the skip: pyspark is optional)
    btyd_summary_spark,
    build_labels_spark,
    distinct_summary,
    fingerprint_spark,
    fit_transactions,
    read_spark,
    sample_spark,
    train_spark,
    validate_spark,
)

TOL = 1e-9


def _same_report(pandas_report, spark_report):
    mine, theirs = pandas_report.to_dict(), spark_report.to_dict()
    for key, value in mine.items():
        if key in ("examples", "row_word", "source"):
            continue  # a distributed log has no row numbers to show
        if key == "revenue":
            assert theirs[key] == pytest.approx(value, rel=TOL), key
        else:
            assert theirs[key] == value, key


def _summary_equal(spark_frame, expected: pd.DataFrame) -> None:
    got = spark_frame.toPandas().set_index("customer_id").sort_index()
    expected = expected.sort_index()
    assert got.index.tolist() == expected.index.tolist()
    for column in expected.columns:
        want = expected[column].to_numpy(dtype=float)
        have = got[column].to_numpy(dtype=float)
        assert np.array_equal(np.isnan(want), np.isnan(have)), column
        ok = ~np.isnan(want)
        np.testing.assert_allclose(have[ok], want[ok], rtol=TOL, atol=TOL, err_msg=column)


def _passes_equal(pandas_tx, spark_tx, as_of: str, horizon: int, freq: str) -> None:
    """The BTYD summary and the labels at as-of, Spark's against pandas'."""
    _summary_equal(
        btyd_summary_spark(spark_tx.lines, as_of, freq), btyd_summary(pandas_tx, as_of, freq)
    )
    labels = build_labels(pandas_tx, as_of, horizon, freq=freq)
    _summary_equal(
        build_labels_spark(spark_tx.lines, as_of, horizon, freq),
        labels.assign(bought=labels["bought"].astype(float)),
    )


def test_cdnow_validation_counts_equal_pandas(cdnow_both):
    pandas_tx, spark_tx = cdnow_both
    _same_report(pandas_tx.report, spark_tx.report)
    assert spark_tx.lines.count() == pandas_tx.report.n_kept


@pytest.mark.parametrize(("as_of", "freq"), [("1997-09-30", "D"), ("1998-03-31", "W")])
def test_cdnow_summary_and_labels_equal_pandas(cdnow_both, as_of, freq):
    pandas_tx, spark_tx = cdnow_both
    _passes_equal(pandas_tx, spark_tx, as_of, 90, freq)


def test_bgnbd_fitted_from_distinct_rows_equals_pandas(cdnow_both):
    pandas_tx, spark_tx = cdnow_both
    summary = btyd_summary_spark(spark_tx.lines, "1997-09-30")
    rows = distinct_summary(summary)
    # 8,683 rows stand for 23,500 customers, and only they reach the driver
    assert len(rows) < pandas_tx.report.n_customers / 2
    assert rows["weight"].sum() == len(btyd_summary(pandas_tx, "1997-09-30"))
    fitted = fit_transactions(summary)
    reference = TransactionModel().fit(btyd_summary(pandas_tx, "1997-09-30"))
    for key, value in reference.params_.items():
        assert fitted.params_[key] == pytest.approx(value, rel=1e-9), key


@pytest.mark.parametrize("freq", ["D", "W"])
def test_ties_returns_duplicates_and_time_zones_equal_pandas(spark, tmp_path, freq, tricky_log):
    path = tmp_path / "tricky.csv"
    tricky_log.to_csv(path, index=False)
    policy = ValidationPolicy(freq=freq)
    pandas_tx = churnml.load_transactions(path, policy=policy)
    spark_tx = validate_spark(read_spark(spark, path), policy=policy, source=str(path))
    _same_report(pandas_tx.report, spark_tx.report)
    # the log's traps are really there
    report = pandas_tx.report
    assert report.excluded["exact_duplicate"] == 1 and report.flags["timezone_dropped"] >= 3
    assert report.excluded["missing_customer_id"] == 1 and report.n_customers_without_purchase
    for as_of in ("2021-01-31", "2021-02-28"):
        _passes_equal(pandas_tx, spark_tx, as_of, 60, freq)


def test_a_missing_column_is_named(spark, tmp_path):
    path = tmp_path / "bad.csv"
    pd.DataFrame({"customer_id": ["a"], "when": ["2021-01-01"], "amount": [1.0]}).to_csv(
        path, index=False
    )
    with pytest.raises(churnml.exceptions.DataFileError, match="'date'"):
        read_spark(spark, path)


def test_the_fingerprint_is_the_pandas_one(cdnow_both, spark, tmp_path, tricky_log):
    pandas_tx, spark_tx = cdnow_both
    assert fingerprint_spark(spark_tx.lines, spark_tx) == fingerprint(pandas_tx)
    path = tmp_path / "tricky.csv"
    tricky_log.to_csv(path, index=False)
    tricky = validate_spark(read_spark(spark, path), source=str(path))
    assert fingerprint_spark(tricky.lines, tricky) == fingerprint(churnml.load_transactions(path))


def test_the_sample_drawn_in_spark_is_the_pandas_sample(cdnow_both):
    pandas_tx, spark_tx = cdnow_both
    mine, sample = sample_spark(spark_tx, 700, seed=5, as_of="1998-01-31")
    cut = ValidatedTransactions(
        lines=pandas_tx.lines[pandas_tx.lines["date"] < pd.Timestamp("1998-02-01")],
        report=pandas_tx.report,
    )
    theirs, expected = sample_customers(cut, 700, seed=5)
    assert sample == expected
    pd.testing.assert_frame_equal(mine.lines, theirs.lines.reset_index(drop=True))
    everyone, none = sample_spark(spark_tx, None)
    assert none is None and len(everyone.lines) == pandas_tx.report.n_kept


def test_train_on_spark_is_train_on_pandas(cdnow_both, tmp_path):
    pandas_tx, spark_tx = cdnow_both
    options = {"families": ["bgnbd", "pareto"], "max_customers": 1500, "seed": 2}
    mine = train_spark(spark_tx, model_name="spark-train", export_dir=tmp_path, **options)
    theirs = churnml.train(pandas_tx, track=False, **options)
    assert mine.sample == theirs.sample and mine.sample.sampled == 1500
    assert (mine.champion, mine.reason) == (theirs.champion, theirs.reason)
    assert mine.notes == theirs.notes
    for a, b in zip(mine.backtests, theirs.backtests, strict=True):
        for family, metrics in b.metrics.items():
            for name, value in metrics.items():
                if isinstance(value, float) and np.isfinite(value):
                    assert a.metrics[family][name] == pytest.approx(value, rel=TOL, abs=TOL)
    for key, band in theirs.totals.items():
        assert mine.totals[key]["predicted"] == pytest.approx(band["predicted"], rel=TOL)
    # the registered version names the whole log, fingerprinted in Spark
    _, meta = load_bundle(tmp_path)
    assert meta["data"] == json.loads(json.dumps(fingerprint(pandas_tx)))


def test_the_cli_trains_with_the_spark_engine(cdnow_csv, spark):
    done = CliRunner().invoke(
        app,
        [
            "train",
            "--engine",
            "spark",
            "-t",
            str(cdnow_csv),
            "--models",
            "bgnbd",
            "--max-customers",
            "800",
            "--model-name",
            "spark-cli",
        ],
    )
    assert done.exit_code == 0, done.output
    assert "trained on a random sample of 800 of 23,502 customers" in done.output
    versions = churnml.list_versions("spark-cli")
    assert len(versions) == 1


def test_rows_are_numbered_in_file_order_across_partitions(spark, cdnow_csv):
    spark.conf.set("spark.sql.files.maxPartitionBytes", "200000")
    try:
        raw = read_spark(spark, cdnow_csv)
        assert raw.rdd.getNumPartitions() >= 4
        got = raw.select("row", "customer_id", "date", "amount").toPandas()
    finally:
        spark.conf.unset("spark.sql.files.maxPartitionBytes")
    expected = pd.read_csv(cdnow_csv, dtype=str)
    got = got.sort_values("row").reset_index(drop=True)
    assert got["row"].tolist() == list(range(len(expected)))
    for column in ("customer_id", "date", "amount"):
        assert got[column].tolist() == expected[column].tolist(), column
