from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from churnml.config import ValidationPolicy
from churnml.data import REASONS, load_transactions, read_transactions, validate_transactions
from churnml.exceptions import ConfigError, DataValidationError
from tests.conftest import shared_file, write_csv


def test_unparseable_dates_counted_with_line_numbers(tmp_path):
    text = (
        "customer_id,date,amount\n"
        "1,2020-01-01,10\n"
        "1,not a date,10\n"  # line 3
        "2,2020-01-05,10\n"
        "2,2020-13-45,10\n"  # line 5
        "3,2020-02-01,10\n"
    )
    tx = load_transactions(write_csv(tmp_path / "t.csv", text))
    rep = tx.report
    assert rep.excluded["unparseable_date"] == 2
    assert rep.examples["unparseable_date"] == [3, 5]
    assert rep.n_kept == 3 and rep.date_format == "ISO8601"
    assert "unparseable date: 2 (lines 3, 5)" in str(rep)


def test_each_reason_on_a_small_frame():
    frame = pd.DataFrame(
        {
            "customer_id": ["a", "", "b", "c", "TEST1", "d", "d", "e", "f", "g", "g", "h"],
            "date": [
                "2020-01-01",
                "2020-01-01",
                "bad",
                "2020-01-01",
                "2020-01-01",
                "2020-01-02",
                "2020-01-02",
                "2020-01-03",
                "2020-03-01",
                "2020-01-04",
                "2020-01-04",
                "2020-01-31 23:59:59",
            ],
            "amount": ["5", "5", "5", "abc", "5", "7", "7", "0", "5", "9", "-2", "1"],
            "order_id": ["o1", "o2", "o3", "o4", "o5", "o6", "o6", "o7", "o8", "o9", "o10", "o11"],
        }
    )
    policy = ValidationPolicy(returns="drop", exclude_customer_pattern=r"TEST\d+")
    tx = validate_transactions(frame, as_of="2020-01-31", policy=policy)
    ex = tx.report.excluded
    assert ex == {
        "missing_customer_id": 1,
        "unparseable_date": 1,
        "date_out_of_range": 0,
        "non_numeric_amount": 1,
        "after_as_of": 1,
        "excluded_customer": 1,
        "exact_duplicate": 1,
        "zero_amount": 1,
        "return": 1,
        "outlier_customer": 0,
    }
    assert tx.report.examples["exact_duplicate"] == [7]  # second of the two identical d lines
    assert sorted(tx.lines["customer_id"]) == ["a", "d", "g", "h"]  # as-of day kept whole
    assert tx.report.n_kept + tx.report.n_excluded == len(frame)


def test_quantities_are_parsed_once_and_non_numbers_counted():
    frame = pd.DataFrame(
        {
            "customer_id": ["a", "a", "b", "c", "d"],
            "date": ["2020-01-01", "2020-01-02", "2020-01-03", "2020-01-04", "2020-01-05"],
            "amount": [5.0, 6.0, 7.0, 8.0, 9.0],
            "quantity": ["2", " 3 ", "two", "", None],
        }
    )
    tx = validate_transactions(frame)
    quantity = tx.lines.set_index("row")["quantity"]
    assert quantity.dtype == float and quantity.loc[[0, 1]].tolist() == [2.0, 3.0]
    assert quantity.loc[[2, 3, 4]].isna().all()
    # the word is kept as missing and counted; blanks are simply missing
    assert tx.report.flags["quantity_not_numeric"] == 1
    assert tx.report.n_kept == 5


def test_duplicates_auto_depends_on_order_id():
    base = {"customer_id": ["a", "a"], "date": ["2020-01-01"] * 2, "amount": [3.0, 3.0]}
    kept = validate_transactions(pd.DataFrame(base))
    assert kept.report.n_kept == 2 and kept.report.flags["duplicate_kept"] == 1
    dropped = validate_transactions(pd.DataFrame({**base, "order_id": ["x", "x"]}))
    assert dropped.report.excluded["exact_duplicate"] == 1
    forced = validate_transactions(pd.DataFrame(base), policy=ValidationPolicy(duplicates="drop"))
    assert forced.report.n_kept == 1


def test_exact_duplicates_are_those_pandas_finds_over_every_column():
    """The hashed pre-filter finds what DataFrame.duplicated finds, -0.0 and 0.0 included."""
    rng = np.random.default_rng(7)
    n = 4000
    frame = pd.DataFrame(
        {
            "customer_id": rng.choice(["a", "b", " c", "d"], n),
            "date": rng.choice(["2020-01-01", "2020-01-02 10:00", "2020-01-03"], n),
            "amount": rng.choice([5.0, -5.0, 0.0, -0.0, 7.25], n),
            "order_id": rng.choice(["o1", "o2", "o3"], n),
            "product_id": rng.choice(["p1", "p2", None], n),
        }
    )
    tx = validate_transactions(frame, policy=ValidationPolicy(duplicates="drop"))
    # independently: the parsed columns, duplicated as pandas does, over the same rows
    parsed = frame.assign(
        customer_id=frame["customer_id"].str.strip(),
        date=pd.to_datetime(frame["date"], format="ISO8601"),
    )
    expected = parsed.duplicated(keep="first")
    assert tx.report.excluded["exact_duplicate"] == int(expected.sum())
    kept_rows = set(tx.lines["row"])
    first_of_each = set(np.flatnonzero(~expected.to_numpy() & (parsed["amount"] != 0)))
    assert kept_rows == first_of_each


def test_returns_are_netted_per_customer_day():
    frame = pd.DataFrame(
        {
            "customer_id": ["a", "a", "a", "b", "b"],
            "date": [
                "2020-01-01 10:00",
                "2020-01-01 11:00",
                "2020-01-05",
                "2020-01-02",
                "2020-01-02 09:00",
            ],
            "amount": [10.0, -4.0, -3.0, 5.0, -5.0],
        }
    )
    tx = validate_transactions(frame)
    assert tx.report.n_kept == 5 and tx.report.flags["return_netted"] == 3
    # a's 01-05 return and both b lines net to <= 0: no purchase on those days
    assert tx.report.flags["not_a_purchase"] == 3
    p = tx.purchases().to_frame()
    assert p["customer_id"].tolist() == ["a"] and p["amount"].tolist() == [6.0]
    assert tx.report.n_customers_without_purchase == 1


def test_outlier_customers_and_strict_mode():
    frame = pd.DataFrame(
        {
            "customer_id": ["a", "b", "b"],
            "date": ["2020-01-01"] * 3,
            "amount": [10.0, 600.0, 600.0],
            "order_id": ["1", "2", "3"],
        }
    )
    tx = validate_transactions(frame, policy=ValidationPolicy(max_customer_revenue=1000))
    assert tx.report.excluded["outlier_customer"] == 2
    with pytest.raises(DataValidationError, match="strict validation: 2 of 3 rows"):
        validate_transactions(
            frame, policy=ValidationPolicy(max_customer_revenue=1000, strict=True)
        )


def test_no_usable_row_is_an_error():
    frame = pd.DataFrame({"customer_id": ["a"], "date": ["2020-01-01"], "amount": ["x"]})
    with pytest.raises(DataValidationError, match="no usable rows"):
        validate_transactions(frame)


def test_time_zones_are_read_as_wall_time():
    frame = pd.DataFrame(
        {"customer_id": ["a"], "date": ["2020-01-01T23:30:00+02:00"], "amount": [1.0]}
    )
    tx = validate_transactions(frame)
    assert tx.lines["date"].iloc[0] == pd.Timestamp("2020-01-01 23:30")
    assert tx.report.flags["timezone_dropped"] == 1


def test_bad_policy_values_are_named():
    with pytest.raises(ConfigError, match=r"ValidationPolicy\.returns"):
        ValidationPolicy(returns="keep")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="max_customer_revenue"):
        ValidationPolicy(max_customer_revenue=-1)


_values = st.one_of(
    st.just(""),
    st.just(" "),
    st.sampled_from(["a", "b", " c ", "007", "TEST9"]),
)
_dates = st.one_of(
    st.sampled_from(
        ["2020-01-01", "2020-01-02 10:00:00", "2020-02-30", "", "junk", "2020-03-01", "2021-01-01"]
    ),
)
_amounts = st.sampled_from(["1", "-1", "0", "2.5", "abc", "", "inf", "1e3", "-0.0"])


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    rows=st.lists(
        st.tuples(_values, _dates, _amounts, st.sampled_from(["o1", "o2"])), min_size=1, max_size=40
    ),
    returns=st.sampled_from(["net", "drop"]),
    duplicates=st.sampled_from(["auto", "drop", "keep"]),
    as_of=st.sampled_from([None, "2020-01-31"]),
)
def test_no_row_is_lost(rows, returns, duplicates, as_of):
    frame = pd.DataFrame(rows, columns=["customer_id", "date", "amount", "order_id"])
    policy = ValidationPolicy(
        returns=returns, duplicates=duplicates, exclude_customer_pattern="TEST.*"
    )
    try:
        tx = validate_transactions(frame, as_of=as_of, policy=policy)
    except DataValidationError as exc:
        assert "no usable rows" in str(exc) and f"all {len(frame)} rows" in str(exc)
        return
    rep = tx.report
    assert rep.n_kept + rep.n_excluded == rep.n_input == len(frame)
    assert len(tx.lines) == rep.n_kept
    assert tx.lines["row"].is_unique
    excluded_rows = {r - 1 for v in rep.examples.values() for r in v}
    assert excluded_rows.isdisjoint(set(tx.lines["row"]))
    assert (tx.lines["customer_id"] != "").all()
    assert np.isfinite(tx.lines["amount"]).all() and (tx.lines["amount"] != 0).all()
    if returns == "drop":
        assert (tx.lines["amount"] > 0).all()
    if as_of:
        assert (tx.lines["date"] < pd.Timestamp(as_of) + pd.Timedelta(days=1)).all()
    assert set(rep.excluded) == set(REASONS)


@pytest.mark.slow
def test_uci_online_retail_counts_match_the_data_card():
    path = shared_file("uci_online_retail.csv.gz")
    tx = load_transactions(path)
    rep = tx.report
    assert rep.n_input == 406_829
    assert rep.excluded["exact_duplicate"] == 5_227  # data card: 5,227 exact duplicate rows
    assert rep.excluded["zero_amount"] == 40  # data card: 40 zero amounts
    assert rep.n_kept + rep.n_excluded == rep.n_input
    # Independent count: negative rows in the raw file that are not later copies of a line.
    raw = pd.read_csv(path, dtype=str, keep_default_na=False)
    amount = raw["amount"].astype(float)
    negative_first_copies = int(((amount < 0) & ~raw.duplicated()).sum())
    assert negative_first_copies == rep.flags["return_netted"]
    assert int((amount < 0).sum()) == 8_905  # data card: 8,905 cancellation rows
    assert rep.n_customers_input == 4_372  # data card: 4,372 customers


@pytest.mark.slow
def test_second_shared_log_reads_cleanly():
    rep = load_transactions(shared_file("uci_online_retail_ii_2009_2010.csv.gz")).report
    assert rep.n_input == 417_534 and rep.excluded["exact_duplicate"] == 6_771
    assert rep.excluded["zero_amount"] == 31 and rep.n_customers_input == 4_383


def test_read_then_validate_matches_load(tmp_path):
    path = write_csv(tmp_path / "t.csv", "customer_id,date,amount\n1,2020-01-01,2\n")
    a = validate_transactions(read_transactions(path))
    b = load_transactions(path)
    pd.testing.assert_frame_equal(a.lines, b.lines)


def test_missing_ids_in_a_dataframe_are_counted_whatever_the_dtype():
    # pandas 3 infers its str dtype for ['a', None], which keeps NaN: such rows must be
    # excluded as missing customer ids, never kept with a NaN id (found through MLflow input)
    for ids in (
        ["a", "b", None, np.nan, "c"],
        np.array(["a", "b", None, None, "c"], dtype=object),
    ):
        frame = pd.DataFrame(
            {"customer_id": ids, "date": ["2020-01-01"] * 5, "amount": [1.0, 2, 3, 4, 5]},
            index=[10, 11, 12, 13, 14],
        )
        tx = load_transactions(frame)
        assert tx.report.excluded["missing_customer_id"] == 2
        assert tx.lines["customer_id"].notna().all() and len(tx.lines) == 3


MIXED_OFFSETS = (
    "customer_id,date,amount\n"
    "a,2020-01-01T10:00:00+01:00,5\n"
    "b,2020-03-01T10:00:00-05:00,6\n"
    "c,2020-06-01T23:30:00+02:00,7\n"
    "d,2020-07-01T08:00:00+02:00,8\n"
)


def _source(tmp_path, text, kind):
    path = write_csv(tmp_path / "t.csv", text)
    return path if kind == "csv" else pd.read_csv(path, dtype=str, keep_default_na=False)


@pytest.mark.parametrize("kind", ["csv", "frame"])
@pytest.mark.parametrize("date_format", [None, "%Y-%m-%dT%H:%M:%S%z"])
def test_mixed_utc_offsets_read_as_local_wall_time(tmp_path, kind, date_format):
    tx = load_transactions(
        _source(tmp_path, MIXED_OFFSETS, kind), policy=ValidationPolicy(date_format=date_format)
    )
    rep = tx.report
    assert rep.n_kept == 4 and rep.n_excluded == 0
    assert rep.flags["timezone_dropped"] == 4
    assert tx.lines["date"].dt.tz is None
    assert tx.lines["date"].tolist() == [
        pd.Timestamp("2020-01-01 10:00"),
        pd.Timestamp("2020-03-01 10:00"),
        pd.Timestamp("2020-06-01 23:30"),  # 21:30 UTC, but the customer's day is 1 June
        pd.Timestamp("2020-07-01 08:00"),
    ]


@pytest.mark.parametrize("kind", ["csv", "frame"])
def test_offsets_mixed_with_naive_timestamps(tmp_path, kind):
    text = (
        "customer_id,date,amount\n"
        "a,2020-01-01 10:00:00,5\n"
        "b,2020-03-01T10:00:00-05:00,6\n"
        "c,2020-03-02T10:00:00Z,7\n"
        "d,2020-03-03,8\n"
        "e,not a date,9\n"
    )
    tx = load_transactions(_source(tmp_path, text, kind))
    rep = tx.report
    assert rep.n_kept == 4 and rep.excluded["unparseable_date"] == 1
    assert rep.flags["timezone_dropped"] == 2
    assert tx.lines["date"].tolist() == [
        pd.Timestamp("2020-01-01 10:00"),
        pd.Timestamp("2020-03-01 10:00"),
        pd.Timestamp("2020-03-02 10:00"),
        pd.Timestamp("2020-03-03"),
    ]


OUT_OF_RANGE = (
    "customer_id,date,amount\n"
    "a,2020-01-01,5\n"
    "b,0201-01-01,6\n"
    "c,9999-12-31,7\n"
    "d,1500-01-01,8\n"
    "e,2020-01-02,9\n"
    "f,31/12/2020,1\n"
)


@pytest.mark.parametrize("kind", ["csv", "frame"])
@pytest.mark.parametrize("date_format", [None, "%Y-%m-%d"])
def test_dates_pandas_cannot_hold_are_a_named_exclusion(tmp_path, kind, date_format):
    tx = load_transactions(
        _source(tmp_path, OUT_OF_RANGE, kind), policy=ValidationPolicy(date_format=date_format)
    )
    rep = tx.report
    assert rep.excluded["date_out_of_range"] == 3
    assert rep.excluded["unparseable_date"] == 1
    first = 2 if kind == "csv" else 1
    assert rep.examples["date_out_of_range"] == [first + 1, first + 2, first + 3]
    assert rep.examples["unparseable_date"] == [first + 5]
    assert rep.n_kept == 2 and rep.n_kept + rep.n_excluded == rep.n_input
    assert tx.lines["customer_id"].tolist() == ["a", "e"]
    assert "date_out_of_range" in REASONS
    assert f"{REASONS['date_out_of_range']}: 3" in str(rep)


def test_out_of_range_dates_day_first_format(tmp_path):
    text = "customer_id,date,amount\na,31/01/2020,5\nb,25/12/1500,6\nc,13/02/2020,7\n"
    for fmt in (None, "%d/%m/%Y"):
        tx = load_transactions(
            write_csv(tmp_path / "t.csv", text), policy=ValidationPolicy(date_format=fmt)
        )
        assert tx.report.excluded["date_out_of_range"] == 1
        assert tx.report.examples["date_out_of_range"] == [3]
        assert tx.lines["date"].tolist() == [pd.Timestamp("2020-01-31"), pd.Timestamp("2020-02-13")]


def test_out_of_range_datetime_column_in_a_frame():
    frame = pd.DataFrame(
        {
            "customer_id": ["a", "b", "c"],
            "date": pd.to_datetime(["2020-01-01", "1500-01-01", "2020-01-03"]).astype(
                "datetime64[s]"
            ),
            "amount": [1.0, 2.0, 3.0],
        }
    )
    frame.loc[1, "date"] = pd.Timestamp("1500-01-01").as_unit("s")
    tx = load_transactions(frame)
    assert tx.report.excluded["date_out_of_range"] == 1
    assert tx.report.examples["date_out_of_range"] == [2]
    assert tx.lines["date"].dtype == "datetime64[ns]"
    assert tx.lines["customer_id"].tolist() == ["a", "c"]


def test_strict_names_out_of_range_dates(tmp_path):
    path = write_csv(tmp_path / "t.csv", OUT_OF_RANGE)
    with pytest.raises(DataValidationError, match=r"date out of range.*: 3 \(lines 3, 4, 5\)"):
        load_transactions(path, policy=ValidationPolicy(strict=True))


def test_named_zones_are_unparseable_with_the_inferred_iso_format(tmp_path):
    text = (
        "customer_id,date,amount\n"
        "a,2020-01-01 10:00:00 UTC,5\n"
        "b,2020-01-02 11:00:00 EST,6\n"
        "c,2020-01-03 12:00:00,7\n"
    )
    tx = load_transactions(write_csv(tmp_path / "t.csv", text))
    assert tx.report.excluded["unparseable_date"] == 2
    assert tx.report.examples["unparseable_date"] == [2, 3]
    assert tx.lines["date"].tolist() == [pd.Timestamp("2020-01-03 12:00")]


def test_named_zone_mixed_with_naive_timestamps_keeps_wall_time(tmp_path):
    # With format "mixed" pandas refuses a column holding both a zone and none: the group is
    # then parsed value by value, still keeping wall time and counting the zone.
    text = (
        "customer_id,date,amount\n"
        "a,2020-01-01 10:00:00 UTC,5\n"
        "c,2020-01-03 12:00:00,7\n"
        "d,tomorrow-ish,8\n"
    )
    policy = ValidationPolicy(date_format="mixed")
    tx = load_transactions(write_csv(tmp_path / "t.csv", text), policy=policy)
    assert tx.report.excluded["unparseable_date"] == 1
    assert tx.report.examples["unparseable_date"] == [4]
    assert tx.report.flags["timezone_dropped"] == 1
    assert tx.lines["date"].tolist() == [
        pd.Timestamp("2020-01-01 10:00"),
        pd.Timestamp("2020-01-03 12:00"),
    ]


def test_zero_amount_only_customers_keep_their_columns_when_there_are_none():
    """An empty selection once dropped the columns, and scoring failed on a missing 'date'."""
    plain = pd.DataFrame(
        {"customer_id": ["a", "a", "b"], "date": ["2020-01-01", "2020-02-01", "2020-01-05"]}
    ).assign(amount=[10.0, 5.0, 7.0])
    none = load_transactions(plain).zero_only
    assert list(none.columns) == ["customer_id", "date"] and none.empty
    some = load_transactions(
        pd.concat([plain, pd.DataFrame({"customer_id": ["c", "a"], "date": ["2020-01-09"] * 2})])
        .fillna({"amount": 0.0})
        .reset_index(drop=True)
    ).zero_only
    assert list(some["customer_id"]) == ["c"]  # "a" bought: not a zero-only customer
