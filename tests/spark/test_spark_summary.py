"""``describe`` on Spark equals ``describe`` on pandas: every stat, segment, rate and cohort."""

from __future__ import annotations

import json
import os
import shutil

import numpy as np
import pytest
from typer.testing import CliRunner

import churnml
from churnml.cli import app
from churnml.config import ValidationPolicy

pytestmark = pytest.mark.slow

if os.environ.get("CHURNML_REQUIRE_SPARK") != "1":
    pytest.importorskip("pyspark", reason="PySpark is not installed (pip install churnml[spark])")
    if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
        pytest.skip("no Java runtime for Spark on this machine", allow_module_level=True)

from churnml.spark import describe_spark, read_spark, validate_spark  # noqa: E402

TOL = 1e-9
#: What a distributed log cannot show: its source's name, row numbers and example rows.
_NOT_COMPARED = {"source", "examples", "row_word"}


def assert_same(mine, theirs, where="summary"):
    """Walk two JSON-ready values: numbers to 1e-9, the rest exactly."""
    if isinstance(theirs, dict):
        assert isinstance(mine, dict) and set(mine) == set(theirs), where
        for key, value in theirs.items():
            if key not in _NOT_COMPARED:
                assert_same(mine[key], value, f"{where}/{key}")
    elif isinstance(theirs, list):
        assert isinstance(mine, list) and len(mine) == len(theirs), where
        for i, (a, b) in enumerate(zip(mine, theirs, strict=True)):
            assert_same(a, b, f"{where}[{i}]")
    elif isinstance(theirs, float) and not isinstance(mine, bool):
        assert np.isclose(mine, theirs, rtol=TOL, atol=TOL), (where, mine, theirs)
    else:
        assert mine == theirs, (where, mine, theirs)


@pytest.mark.parametrize(
    ("as_of", "since"), [(None, None), ("1997-09-30", "1997-04-01")], ids=["whole", "window"]
)
def test_cdnow_described_in_spark_equals_pandas(cdnow_both, as_of, since):
    pandas_tx, spark_tx = cdnow_both
    theirs = churnml.describe(pandas_tx, as_of, since=since).to_dict()
    mine = describe_spark(spark_tx, as_of, since=since).to_dict()
    assert_same(mine, theirs)
    # what is compared is really there
    assert len(theirs["cohorts"]["cohorts"]) >= 3 and len(theirs["monthly"]) >= 6
    assert theirs["stats"]["purchase_cycle_days_median"] > 0


def test_the_tricky_log_in_weeks_equals_pandas(spark, tmp_path, tricky_log):
    path = tmp_path / "tricky.csv"
    tricky_log.to_csv(path, index=False)
    policy = ValidationPolicy(freq="W")
    pandas_tx = churnml.load_transactions(path, policy=policy)
    spark_tx = validate_spark(read_spark(spark, path), policy=policy, source=str(path))
    # (the whole log, in days, is the CLI test's)
    theirs = churnml.describe(pandas_tx, "2021-03-31", since="2021-02-01").to_dict()
    assert_same(describe_spark(spark_tx, "2021-03-31", since="2021-02-01").to_dict(), theirs)


def test_the_cli_describes_with_the_spark_engine(tmp_path, tricky_log, spark):
    path = tmp_path / "tricky.csv"
    tricky_log.to_csv(path, index=False)
    runner = CliRunner()
    outputs = {}
    for engine in ("pandas", "spark"):
        out = tmp_path / f"{engine}.json"
        done = runner.invoke(
            app, ["describe", "-t", str(path), "--engine", engine, "--json", str(out)]
        )
        assert done.exit_code == 0, done.output
        assert "Repeat" in done.output or "repeat" in done.output
        outputs[engine] = json.loads(out.read_text())
    assert_same(outputs["spark"], outputs["pandas"])
