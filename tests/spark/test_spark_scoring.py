"""``score`` on Spark equals ``score`` on pandas, row by row, to 1e-9.

Each group of customers is scored where it lies; LightGBM's level anchors, the log's first
line and the value tiers are solved over everyone. A level-adjusted blend (two LightGBM
members, SHAP reasons, net CLV) and BG/NBD score CDNOW in several groups; BG/NBD scores the
log with ties, returns, time zones, customers without a purchase and zero-amount rows.
"""

from __future__ import annotations

import dataclasses
import os
import shutil

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

import churnml
from churnml.cli import app
from churnml.data.sampling import sample_customers
from churnml.exceptions import ConfigError
from churnml.models.bundle import save_bundle
from churnml.models.level import LevelAdjusted
from churnml.scoring import NO_PURCHASE_NOTE
from churnml.settings import RunSettings, ValueSettings

pytestmark = pytest.mark.slow

if os.environ.get("CHURNML_REQUIRE_SPARK") != "1":
    pytest.importorskip("pyspark", reason="PySpark is not installed (pip install churnml[spark])")
    if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
        pytest.skip("no Java runtime for Spark on this machine", allow_module_level=True)

from churnml.spark import (  # noqa: E402  (after the skip: pyspark is optional)
    read_spark,
    score_spark,
    scores_to_pandas,
    validate_spark,
)

TOL = 1e-9
FIT_AS_OF = "1997-12-31"
AS_OF = "1998-03-31"


@pytest.fixture(scope="module")
def models(cdnow_both, tmp_path_factory):
    """A level-adjusted blend and BG/NBD fitted on 3,000 CDNOW customers, as bundles."""
    pandas_tx, _ = cdnow_both
    fit_tx, _ = sample_customers(pandas_tx, 3000, seed=1)
    value = ValueSettings(acquisition_cost=10.0)
    folder = tmp_path_factory.mktemp("models")
    loaded = {}
    for family in ("blend", "bgnbd"):
        scorer = LevelAdjusted(family=family, factors={"buyers": 0.9}, value=value)
        scorer.fit(fit_tx, FIT_AS_OF, 90)
        meta = {
            "family": family,
            "settings": RunSettings(horizon_days=90, value=value).to_dict(),
            "as_of": FIT_AS_OF,
            "horizon_days": 90,
            "purchase_cycle_days": 41.0,
        }
        save_bundle(scorer, meta, folder / family)
        loaded[family] = churnml.load_model(str(folder / family))
    return loaded


def assert_same_scores(mine: pd.DataFrame, theirs: pd.DataFrame) -> None:
    """Every column and row of two score tables, numbers to 1e-9, the rest exactly."""
    assert list(mine.columns) == list(theirs.columns)
    assert mine["customer_id"].tolist() == theirs["customer_id"].tolist()
    for column in theirs.columns:
        want, have = theirs[column], mine[column]
        if pd.api.types.is_numeric_dtype(want) and not pd.api.types.is_bool_dtype(want):
            w, h = (
                want.to_numpy(dtype=float, na_value=np.nan),
                have.to_numpy(float, na_value=np.nan),
            )
            assert np.array_equal(np.isnan(w), np.isnan(h)), column
            ok = ~np.isnan(w)
            np.testing.assert_allclose(h[ok], w[ok], rtol=TOL, atol=TOL, err_msg=column)
        else:
            missing = want.isna().to_numpy()
            assert np.array_equal(missing, have.isna().to_numpy()), column
            assert (want[~missing].astype(str) == have[~missing].astype(str)).all(), column


@pytest.mark.parametrize(("family", "groups"), [("blend", 4), ("bgnbd", None)])
def test_cdnow_scores_in_spark_equal_pandas(cdnow_both, models, family, groups):
    pandas_tx, spark_tx = cdnow_both
    loaded = models[family]
    theirs = loaded.score(pandas_tx, AS_OF)
    got = score_spark(spark_tx, loaded, AS_OF, groups=groups)
    mine = scores_to_pandas(got.scores)
    assert_same_scores(mine, theirs)
    assert got.n_customers == len(theirs) and got.n_unscored == 0
    assert got.n_yet_to_buy == int((theirs["note"] == NO_PURCHASE_NOTE).sum()) > 0
    if family == "blend":
        # the groups each hold a quarter of the customers: the anchors and tiers are everyone's
        assert got.groups == 4
        assert set(got.population["members"]) == {"gbm", "hybrid"}
        assert theirs["reasons"].notna().sum() > 20_000 and "net_clv" in theirs.columns
    else:
        assert "members" not in got.population  # nothing to solve
    assert got.totals()["expected_revenue"] == pytest.approx(
        theirs["expected_revenue"].sum(), rel=TOL
    )
    assert got.segment_counts().to_dict() == theirs["segment"].value_counts().to_dict()


def test_the_tricky_log_scores_equal_pandas(spark, tmp_path, tricky_log, models):
    path = tmp_path / "tricky.csv"
    tricky_log.to_csv(path, index=False)
    pandas_tx = churnml.load_transactions(path, as_of="2021-03-31")
    spark_tx = validate_spark(read_spark(spark, path), as_of="2021-03-31", source=str(path))
    loaded = models["bgnbd"]
    theirs = loaded.score(pandas_tx, "2021-03-31")
    got = score_spark(spark_tx, loaded, "2021-03-31")
    assert_same_scores(scores_to_pandas(got.scores), theirs)
    # c (a return only) and g (zero-amount rows only) are seen and scored as yet to buy
    yet = set(theirs.loc[theirs["note"] == NO_PURCHASE_NOTE, "customer_id"])
    assert yet == {"c", "g"} and got.n_yet_to_buy == 2


def test_a_model_without_a_purchase_cycle_is_refused(cdnow_both, models):
    _, spark_tx = cdnow_both
    loaded = models["bgnbd"]
    meta = {k: v for k, v in loaded.meta.items() if k != "purchase_cycle_days"}
    with pytest.raises(ConfigError, match="records no purchase cycle"):
        score_spark(spark_tx, dataclasses.replace(loaded, meta=meta), AS_OF)


def test_the_cli_scores_with_the_spark_engine(models, tmp_path, tricky_log, spark):
    path = tmp_path / "tricky.csv"
    tricky_log.to_csv(path, index=False)
    common = ["score", "-t", str(path), "--as-of", "2021-03-31", "--model", models["bgnbd"].uri]
    pandas_csv, spark_csv = tmp_path / "pandas.csv", tmp_path / "spark.csv"
    store = f"sqlite:///{tmp_path / 'scores.db'}"
    runner = CliRunner()
    done = runner.invoke(app, [*common, "--out", str(pandas_csv)])
    assert done.exit_code == 0, done.output
    done = runner.invoke(
        app, [*common, "--engine", "spark", "--out", str(spark_csv), "--publish", "--store", store]
    )
    assert done.exit_code == 0, done.output
    assert "Scored 6 customers" in done.output and "Published snapshot 1" in done.output
    assert "2 customers have no purchase" in done.output
    theirs = pd.read_csv(pandas_csv, dtype={"customer_id": str})
    assert_same_scores(pd.read_csv(spark_csv, dtype={"customer_id": str}), theirs)
    assert churnml.list_snapshots(store)["n_rows"].tolist() == [len(theirs)]
    # a path not ending in .csv is a Parquet folder, written by the workers
    parquet = tmp_path / "scores.parquet"
    done = runner.invoke(app, [*common, "--engine", "spark", "--out", str(parquet)])
    assert done.exit_code == 0, done.output
    written = pd.read_parquet(parquet).sort_values("customer_id", ignore_index=True)
    assert_same_scores(written, theirs.assign(next_purchase_date=written["next_purchase_date"]))
    assert written["customer_id"].tolist() == ["a", "b", "c", "d", "e", "g"]
