"""Shared Spark fixtures: one local[2] session for every Spark test module (JVM start: ~12 s)."""

from __future__ import annotations

import pandas as pd
import pytest

import churnml


@pytest.fixture(scope="session")
def spark():
    from churnml.spark import local_session  # pyspark is optional: imported only when used

    session = local_session(2)
    yield session
    session.stop()


@pytest.fixture(scope="session")
def cdnow_csv(tmp_path_factory, cdnow):
    path = tmp_path_factory.mktemp("spark") / "cdnow.csv"
    cdnow.to_csv(path, index=False)
    return path


@pytest.fixture(scope="session")
def cdnow_both(spark, cdnow_csv):
    """CDNOW validated by pandas and by Spark."""
    from churnml.spark import read_spark, validate_spark

    pandas_tx = churnml.load_transactions(cdnow_csv)
    spark_tx = validate_spark(read_spark(spark, cdnow_csv), source=str(cdnow_csv))
    return pandas_tx, spark_tx


@pytest.fixture(scope="session")
def tricky_log() -> pd.DataFrame:
    return _tricky_log()


def _tricky_log() -> pd.DataFrame:
    """Ties, returns, exact duplicates, time zones, blanks and junk, in one small log."""
    rows = [
        # a: two lines one day (a tie), a return netting a later day to zero, a repeat
        ("a", "2021-01-04 10:00:00", "20.0", "o1"),
        ("a", "2021-01-04 18:30:00+02:00", "5.5", "o2"),
        ("a", "2021-01-20 09:00:00", "12.0", "o3"),
        ("a", "2021-01-20 09:05:00", "-12.0", "r3"),
        ("a", "2021-02-11T08:00:00Z", "30.0", "o4"),
        # b: exact duplicate line (same order id) and an offset far from UTC
        ("b", "2021-01-05 23:30:00-05:00", "8.0", "o5"),
        ("b", "2021-01-05 23:30:00-05:00", "8.0", "o5"),
        ("b", "2021-03-01 12:00:00", "9.0", "o6"),
        ("b", "2021-04-02 12:00:00", "11.0", "o7"),
        # c: only a return, and a zero line: no purchase
        ("c", "2021-01-06 12:00:00", "-4.0", "r8"),
        ("c", "2021-01-07 12:00:00", "0", "o9"),
        # junk rows excluded by name
        ("", "2021-01-08 12:00:00", "3.0", "o10"),
        ("d", "not a date", "3.0", "o11"),
        ("d", "2021-01-08 12:00:00", "three", "o12"),
        # d buys twice in one week (a weekly tie), then once after as-of
        ("d", "2021-01-11 12:00:00", "7.0", "o13"),
        ("d", "2021-01-14 12:00:00", "6.0", "o14"),
        ("d", "2021-03-15 12:00:00", "4.0", "o15"),
        (" e ", "2021-02-01 00:00:00", "15.0", "o16"),
        ("e", "2021-02-20 00:00:00", "16.0", "o17"),
        ("e", "2021-03-20 00:00:00", "17.0", "o18"),
        ("f", "2021-06-30 00:00:00", "1.0", "o19"),
        # g: zero-amount rows only, all excluded, yet a customer seen
        ("g", "2021-01-09 12:00:00", "0", "o20"),
        ("g", "2021-02-09 12:00:00", "0.00", "o21"),
    ]
    return pd.DataFrame(rows, columns=["customer_id", "date", "amount", "order_id"])
