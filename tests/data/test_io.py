from __future__ import annotations

import gzip

import pandas as pd
import pytest

from churnml.config import ColumnMap
from churnml.data import load_transactions, read_transactions
from churnml.exceptions import DataFileError
from tests.conftest import write_csv

GOOD = "customer_id,date,amount\n007,2020-01-01,10.5\n007,2020-01-03,4\n010,2020-01-02,3\n"


def test_customer_ids_keep_leading_zeros(tmp_path):
    raw = read_transactions(write_csv(tmp_path / "t.csv", GOOD))
    assert list(raw.frame["customer_id"]) == ["007", "007", "010"]
    assert raw.first_line == 2 and raw.row_word == "line"


def test_gzip_and_custom_column_names(tmp_path):
    path = tmp_path / "t.csv.gz"
    with gzip.open(path, "wt") as fh:
        fh.write("Client;When;Revenue\n001;2020-01-01;5\n")
    cols = ColumnMap(customer_id="Client", date="When", amount="Revenue")
    tx = load_transactions(path, columns=cols, sep=";")
    assert tx.lines["customer_id"].tolist() == ["001"]
    assert tx.lines["amount"].tolist() == [5.0]


def test_parquet_integer_and_text_ids(tmp_path):
    frame = pd.DataFrame(
        {
            "customer_id": [12346.0, 12347.0],
            "date": pd.to_datetime(["2020-01-01", "2020-01-02"]),
            "amount": [1.0, 2.0],
        }
    )
    path = tmp_path / "t.parquet"
    frame.to_parquet(path)
    tx = load_transactions(path)
    assert tx.lines["customer_id"].tolist() == ["12346", "12347"]
    frame["customer_id"] = ["0012", "0013"]
    frame.to_parquet(path)
    assert load_transactions(path).lines["customer_id"].tolist() == ["0012", "0013"]


def test_missing_amount_column_names_it_and_suggests(tmp_path):
    path = write_csv(tmp_path / "t.csv", "customer_id,date,Amount\n1,2020-01-01,3\n")
    with pytest.raises(DataFileError) as info:
        read_transactions(path)
    msg = str(info.value)
    assert str(path) in msg and "'amount'" in msg and "--amount-col 'Amount'" in msg
    assert info.value.column == "amount"


def test_missing_column_in_parquet(tmp_path):
    path = tmp_path / "t.parquet"
    pd.DataFrame({"customer_id": ["1"], "date": ["2020-01-01"]}).to_parquet(path)
    with pytest.raises(DataFileError, match="'amount'"):
        read_transactions(path)


def test_wrong_delimiter_is_named(tmp_path):
    path = write_csv(tmp_path / "t.csv", "customer_id;date;amount\n1;2020-01-01;3\n")
    with pytest.raises(DataFileError, match="separated by ';'"):
        read_transactions(path)


@pytest.mark.parametrize(
    ("content", "expected"),
    [(b"", "the file is empty"), (b"customer_id,date,amount\n", "no data rows")],
)
def test_empty_files(tmp_path, content, expected):
    path = tmp_path / "t.csv"
    path.write_bytes(content)
    with pytest.raises(DataFileError, match=expected) as info:
        read_transactions(path)
    assert str(path) in str(info.value)


def test_unreadable_files(tmp_path):
    with pytest.raises(DataFileError, match="no such file"):
        read_transactions(tmp_path / "missing.csv")
    with pytest.raises(DataFileError, match="is a folder"):
        read_transactions(tmp_path)
    bad_gz = tmp_path / "t.csv.gz"
    bad_gz.write_bytes(b"this is not gzip data at all")
    with pytest.raises(DataFileError, match="cannot be read"):
        read_transactions(bad_gz)
    latin = tmp_path / "latin.csv"
    latin.write_bytes("customer_id,date,amount\nJos\xe9,2020-01-01,1\n".encode("latin-1"))
    with pytest.raises(DataFileError, match="--encoding"):
        read_transactions(latin)
    assert read_transactions(latin, encoding="latin-1").frame["customer_id"][0] == "José"
    bad_parquet = tmp_path / "t.parquet"
    bad_parquet.write_bytes(b"PAR1 garbage")
    with pytest.raises(DataFileError, match="Parquet"):
        read_transactions(bad_parquet)


def test_ragged_csv_names_the_line(tmp_path):
    path = write_csv(
        tmp_path / "t.csv", "customer_id,date,amount\n1,2020-01-01,3\n2,2020-01-01,3,9,9\n"
    )
    with pytest.raises(DataFileError, match="line 3"):
        read_transactions(path)


def test_byte_order_mark_is_ignored(tmp_path):
    path = tmp_path / "bom.csv"
    path.write_bytes("\ufeff".encode() + GOOD.encode())
    assert len(read_transactions(path).frame) == 3


def test_from_frame_checks_columns():
    with pytest.raises(DataFileError, match="'date'"):
        load_transactions(pd.DataFrame({"customer_id": ["1"], "amount": [1.0]}))


@pytest.mark.parametrize("name", ["t.csv", "t.csv.gz"])
def test_progress_bar_read_gives_the_same_rows(tmp_path, name):
    path = tmp_path / name
    if name.endswith(".gz"):
        with gzip.open(path, "wt") as fh:
            fh.write(GOOD)
    else:
        path.write_text(GOOD)
    quiet = read_transactions(path).frame
    shown = read_transactions(path, progress=True).frame
    pd.testing.assert_frame_equal(quiet, shown)


def test_several_files_read_as_one_history(tmp_path):
    a = write_csv(
        tmp_path / "a.csv",
        "customer_id,date,amount,order_id\n1,2020-01-01,5,o1\n2,2020-01-02,7,o2\n",
    )
    b = write_csv(
        tmp_path / "b.csv",
        "customer_id,date,amount,order_id\n2,2020-01-02,7,o2\n1,bad-date,5,o3\n3,2020-02-01,4,o4\n",
    )
    from churnml.data import read_many, validate_transactions

    raw = read_many([a, b])
    assert raw.source == f"{a} + {b}" and len(raw.frame) == 5
    rep = validate_transactions(raw).report
    assert rep.excluded["exact_duplicate"] == 1 and rep.examples["exact_duplicate"] == ["b.csv:2"]
    assert rep.examples["unparseable_date"] == ["b.csv:3"]
    assert rep.n_kept == 3


@pytest.mark.slow
def test_two_shared_years_equal_the_data_card_recipe():
    """Reading both UCI files together keeps exactly what the card's merge recipe keeps."""
    from churnml.data import read_many, validate_transactions
    from tests.conftest import shared_file

    older = shared_file("uci_online_retail_ii_2009_2010.csv.gz")
    newer = shared_file("uci_online_retail.csv.gz")
    both = validate_transactions(read_many([older, newer]))
    a = pd.read_csv(older, dtype=str, keep_default_na=False)
    b = pd.read_csv(newer, dtype=str, keep_default_na=False)
    recipe = validate_transactions(pd.concat([a[a["date"] < "2010-12-01"], b], ignore_index=True))
    assert both.report.n_customers_input == recipe.report.n_customers_input == 5_942
    assert both.report.n_kept == recipe.report.n_kept
    overlap = both.report.excluded["exact_duplicate"] - recipe.report.excluded["exact_duplicate"]
    assert overlap == int((a["date"] >= "2010-12-01").sum())  # 14,803 rows in both files


A_CSV = "customer_id,date,amount,order_id\n1,2020-01-01,5,o1\n2,2020-01-02,7,o2\n"
B_CSV = "customer_id,date,amount,order_id\n2,2020-01-02,7,o2\n1,bad-date,5,o3\n3,2020-02-01,4,o4\n"


def _frame(text: str) -> pd.DataFrame:
    from io import StringIO

    return pd.read_csv(StringIO(text), dtype=str, keep_default_na=False)


def test_load_transactions_several_files_as_read_many(tmp_path):
    from churnml.data import read_many, validate_transactions

    a = write_csv(tmp_path / "a.csv", A_CSV)
    b = write_csv(tmp_path / "b.csv", B_CSV)
    tx = load_transactions([a, str(b)], as_of="2020-01-31")
    rep = tx.report
    assert rep.source == f"{a} + {b}"
    assert rep.n_input == 5 and rep.n_kept == 2
    assert rep.excluded["exact_duplicate"] == 1 and rep.examples["exact_duplicate"] == ["b.csv:2"]
    assert rep.examples["unparseable_date"] == ["b.csv:3"]
    assert rep.excluded["after_as_of"] == 1 and rep.examples["after_as_of"] == ["b.csv:4"]
    same = validate_transactions(read_many([a, b]), as_of="2020-01-31").report
    assert rep.to_dict() == same.to_dict()
    assert load_transactions((a, b), progress=True).report.n_kept == 3


def test_load_transactions_several_frames(tmp_path):
    tx = load_transactions([_frame(A_CSV), _frame(B_CSV)])
    rep = tx.report
    assert rep.source == "<DataFrame 1> + <DataFrame 2>"
    assert rep.n_input == 5 and rep.n_kept == 3 and rep.row_word == "row"
    assert rep.examples["exact_duplicate"] == ["<DataFrame 2>:1"]
    assert rep.examples["unparseable_date"] == ["<DataFrame 2>:2"]
    assert tx.lines["customer_id"].tolist() == ["1", "2", "3"]
    assert tx.lines["row"].tolist() == [0, 1, 4]


def test_load_transactions_files_and_frames_mixed(tmp_path):
    a = write_csv(tmp_path / "a.csv", A_CSV)
    frame = _frame(B_CSV).drop(columns="order_id")  # an optional column missing in one source
    tx = load_transactions([a, frame])
    rep = tx.report
    assert rep.source == f"{a} + <DataFrame 2>"
    assert rep.n_input == 5 and rep.row_word == "row"
    # the frame's copy of line a.csv:3 has no order id, so it is not an exact duplicate
    assert rep.examples["unparseable_date"] == ["<DataFrame 2>:2"]
    assert rep.excluded["exact_duplicate"] == 0 and rep.flags["duplicate_kept"] == 0
    assert tx.lines["order_id"].tolist() == ["o1", "o2", "", ""]
    assert tx.lines["amount"].sum() == 23.0


def test_load_transactions_one_source_in_a_list_is_the_same_as_alone(tmp_path):
    a = write_csv(tmp_path / "a.csv", A_CSV)
    assert load_transactions([a]).report.to_dict() == load_transactions(a).report.to_dict()
    frame = _frame(A_CSV)
    assert load_transactions([frame]).report.source == "<DataFrame>"
    assert load_transactions([frame]).report.to_dict() == load_transactions(frame).report.to_dict()


def test_load_transactions_empty_sequence_is_a_clear_error():
    from churnml.exceptions import ConfigError

    with pytest.raises(ConfigError, match="no transaction file or DataFrame"):
        load_transactions([])
    with pytest.raises(TypeError, match="int"):
        load_transactions([3])


@pytest.mark.parametrize("sep", ["\\t", "tab", "\t"])
def test_load_transactions_tab_separated(tmp_path, sep):
    path = write_csv(tmp_path / "t.tsv", "customer_id\tdate\tamount\n1\t2020-01-01\t5\n")
    tx = load_transactions(path, sep=sep)
    assert tx.lines["amount"].tolist() == [5.0]


def test_load_transactions_cdnow_split_in_two_frames(cdnow, cdnow_tx):
    half = len(cdnow) // 2
    tx = load_transactions([cdnow.iloc[:half], cdnow.iloc[half:]])
    assert tx.report.n_input == 69_659
    assert tx.report.n_kept == cdnow_tx.report.n_kept
    assert tx.report.n_customers_input == 23_570
    assert tx.report.excluded == cdnow_tx.report.excluded
