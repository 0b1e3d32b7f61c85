"""The score store: round trip, one-transaction publish, pruning, activation, lookups, readers."""

from __future__ import annotations

import threading
from datetime import UTC

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa

import churnml.store.snapshots as snapshots_module
from churnml.config import DEFAULT_SCORE_STORE, SCORE_STORE_ENV, SNAPSHOT_KEEP_ENV
from churnml.exceptions import ConfigError, DataValidationError
from churnml.scoring import CONTRACT_COLUMNS
from churnml.store import ScoreStore, Snapshot, masked_url
from tests.store.conftest import score_table

FLOATS = [
    "p_alive",
    "p_repurchase",
    "expected_purchases",
    "expected_revenue",
    "clv",
    "expected_days_to_next_purchase",
]


def _publish(store, frame=None, **kwargs):
    options = {"model_version": "churnml/1", "as_of": "2024-01-31", "horizon_days": 90}
    return store.publish(score_table() if frame is None else frame, **{**options, **kwargs})


def _row_count(store, snapshot_id):
    with store._engine.connect() as conn:
        return conn.execute(
            sa.text("SELECT count(*) FROM churnml_score_rows WHERE snapshot_id = :i"),
            {"i": snapshot_id},
        ).scalar()


def test_every_column_round_trips_with_missing_values_and_text_ids(store):
    frame = score_table(6)
    frame.loc[0, "customer_id"] = "007"
    frame.loc[1, "customer_id"] = "7"  # another customer than 007
    frame.loc[2, "p_alive"] = np.nan
    frame.loc[2, "next_purchase_date"] = None
    frame.loc[3, "segment"] = None
    frame.loc[4, "p_buy_30d"] = np.nan
    frame.loc[5, "reasons"] = None
    # text that a CSV or COPY path could mistake for a missing value or a delimiter
    frame.loc[1, "reasons"] = "nan"
    frame.loc[2, "reasons"] = ""
    frame.loc[3, "reasons"] = 'says "hi",\n\tthen \\N'
    frame.loc[4, "value_tier"] = "nan"
    snap = _publish(store, frame, model_name="churnml", family="bgnbd")

    assert isinstance(snap, Snapshot) and snap.is_current and snap.n_rows == 6
    assert snap.as_of == "2024-01-31" and snap.horizon_days == 90 and snap.family == "bgnbd"
    assert snap.created_at.tzinfo is not None
    assert store.snapshots() == [snap] and store.current() == snap
    assert store.current_id() == snap.id

    back = store.rows(snap.id)
    assert list(back.columns) == list(frame.columns)  # contract order, then extras in order
    expected = frame.assign(
        next_purchase_date=pd.to_datetime(frame["next_purchase_date"]).dt.strftime("%Y-%m-%d")
    )
    expected = expected.sort_values("customer_id", ignore_index=True)
    assert back["customer_id"].tolist() == expected["customer_id"].tolist()
    for name in [*FLOATS, "days_to_next_purchase_p10", "p_buy_30d"]:
        assert back[name].dtype == float, name
        np.testing.assert_array_equal(back[name].to_numpy(), expected[name].to_numpy())
    for name in ["next_purchase_date", "segment", "value_tier", "model_version", "reasons"]:
        got = [None if pd.isna(v) else v for v in back[name]]
        assert got == [None if pd.isna(v) else v for v in expected[name]], name

    row = store.lookup(snap.id, "007")
    assert list(row)[: len(CONTRACT_COLUMNS)] == list(CONTRACT_COLUMNS)
    assert row["customer_id"] == "007" and isinstance(row["p_repurchase"], float)
    assert row["reasons"] == frame.loc[0, "reasons"]
    assert row["next_purchase_date"] == expected.set_index("customer_id").loc["007"].iloc[6]
    assert store.lookup(snap.id, "7")["clv"] == frame.loc[1, "clv"]
    missing = store.lookup(snap.id, frame.loc[2, "customer_id"])
    assert missing["p_alive"] is None and missing["next_purchase_date"] is None
    assert store.lookup(snap.id, frame.loc[5, "customer_id"])["reasons"] is None
    assert store.lookup(snap.id, "7")["reasons"] == "nan"
    assert store.lookup(snap.id, frame.loc[2, "customer_id"])["reasons"] == ""
    assert store.lookup(snap.id, frame.loc[3, "customer_id"])["reasons"] == frame.loc[3, "reasons"]
    assert store.lookup(snap.id, frame.loc[4, "customer_id"])["value_tier"] == "nan"
    assert store.lookup(snap.id, frame.loc[4, "customer_id"])["p_buy_30d"] is None
    assert store.lookup(snap.id, "0007") is None


def test_a_snapshot_without_extra_columns(store):
    frame = score_table(3)[list(CONTRACT_COLUMNS)]
    snap = _publish(store, frame)
    assert list(store.rows(snap.id).columns) == list(CONTRACT_COLUMNS)
    assert set(store.lookup(snap.id, "001")) == set(CONTRACT_COLUMNS)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda f: f.drop(columns="clv"), "missing score column.*'clv'"),
        (lambda f: f.iloc[:0], "no rows"),
        (
            lambda f: f.assign(customer_id=["001", "002", "001", "003", "002", "004"]),
            "'001', '002'",
        ),
        (lambda f: f.assign(customer_id=range(6)), "customer ids are text"),
        (lambda f: f.assign(customer_id=["1", None, "3", "4", "5", "6"]), "no customer id"),
        (lambda f: f.assign(p_alive="high"), "column 'p_alive'.*not numbers"),
        (lambda f: f.assign(clv=np.inf), "column 'clv'.*infinite"),
        (lambda f: f.assign(next_purchase_date="soon"), "'next_purchase_date'.*not dates"),
    ],
)
def test_a_table_that_is_not_a_score_table_is_refused_naming_what(store, change, message):
    with pytest.raises(DataValidationError, match=message):
        _publish(store, change(score_table(6)))
    assert store.snapshots() == [] and store.current_id() is None


def test_parameters_are_checked(store):
    with pytest.raises(ConfigError, match="horizon_days"):
        _publish(store, horizon_days=0)
    with pytest.raises(ConfigError, match="keep"):
        _publish(store, keep=0)
    with pytest.raises(ConfigError, match="model_version"):
        _publish(store, model_version=" ")
    with pytest.raises(ConfigError, match="as_of"):
        _publish(store, as_of="someday")
    with pytest.raises(ConfigError, match="customer_id must be text"):
        store.lookup(1, 7)


def test_a_publish_failing_midway_leaves_the_store_as_it_was(store, monkeypatch):
    first = _publish(store)
    monkeypatch.setattr(snapshots_module, "_CHUNK_ROWS", 2)
    real = snapshots_module._insert_rows
    calls = []

    def fail_on_the_third_chunk(conn, keys, records):
        calls.append(len(records))
        if len(calls) == 3:
            raise RuntimeError("disk full")
        real(conn, keys, records)

    monkeypatch.setattr(snapshots_module, "_insert_rows", fail_on_the_third_chunk)
    with pytest.raises(RuntimeError, match="disk full"):
        _publish(store, score_table(6, seed=1), model_version="churnml/2")
    assert calls == [2, 2, 2]  # two chunks were written before the failure
    assert store.current() == first and store.snapshots() == [first]
    assert _row_count(store, first.id + 1) == 0

    # a failure inside the database (a key violated by a later chunk) rolls back the same way
    def insert_a_chunk_twice(conn, keys, records):
        real(conn, keys, records)
        if records[0][1] == "002":
            real(conn, keys, records)

    monkeypatch.setattr(snapshots_module, "_insert_rows", insert_a_chunk_twice)
    with pytest.raises(ConfigError, match=r"score store sqlite:///|score store postgresql"):
        _publish(store, score_table(6, seed=2), model_version="churnml/3")
    assert store.current() == first and store.snapshots() == [first]
    monkeypatch.setattr(snapshots_module, "_insert_rows", real)
    assert _publish(store).id > first.id  # the store still takes a publish


def test_pruning_keeps_the_newest_and_never_the_current(store):
    ids = [_publish(store, keep=2).id for _ in range(4)]
    assert [s.id for s in store.snapshots()] == ids[:1:-1]
    assert _row_count(store, ids[0]) == 0 and _row_count(store, ids[1]) == 0

    rolled_back = store.activate(ids[2])
    assert rolled_back.is_current and rolled_back.id == ids[2]
    newest = _publish(store, keep=1, activate=False)
    assert not newest.is_current and store.current_id() == ids[2]
    listed = store.snapshots()
    assert [(s.id, s.is_current) for s in listed] == [(newest.id, False), (ids[2], True)]
    assert _row_count(store, ids[3]) == 0 and _row_count(store, ids[2]) == 6

    with pytest.raises(ConfigError, match=rf"no snapshot {ids[0]} \(ids: {newest.id}, {ids[2]}\)"):
        store.activate(ids[0])
    with pytest.raises(ConfigError, match="no snapshot"):
        store.rows(ids[0])
    assert store.activate(newest.id).is_current and store.current_id() == newest.id


def test_keep_comes_from_the_environment(store, monkeypatch):
    monkeypatch.setenv(SNAPSHOT_KEEP_ENV, "1")
    _publish(store)
    _publish(store)
    assert len(store.snapshots()) == 1
    monkeypatch.setenv(SNAPSHOT_KEEP_ENV, "many")
    with pytest.raises(ConfigError, match=SNAPSHOT_KEEP_ENV):
        _publish(store)


def test_lookup_uses_the_primary_key(store, store_url):
    if not store_url.startswith("sqlite"):
        pytest.skip("query plans are SQLite's")
    snap = _publish(store, score_table(50))
    query = sa.select(snapshots_module.ROWS).where(
        snapshots_module.ROWS.c.snapshot_id == snap.id,
        snapshots_module.ROWS.c.customer_id == "007",
    )
    with store._engine.connect() as conn:
        compiled = query.compile(conn, compile_kwargs={"literal_binds": True})
        plan = " ".join(
            str(r[-1]) for r in conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {compiled}").all()
        )
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
    assert "USING PRIMARY KEY (snapshot_id=? AND customer_id=?)" in plan, plan


def test_a_reader_sees_the_old_snapshot_until_the_new_one_is_complete(
    store, store_url, monkeypatch
):
    old = _publish(store)
    monkeypatch.setattr(snapshots_module, "_CHUNK_ROWS", 3)
    real = snapshots_module._insert_rows
    written, release = threading.Event(), threading.Event()

    def slow(conn, keys, records):
        real(conn, keys, records)
        written.set()
        assert release.wait(10)

    monkeypatch.setattr(snapshots_module, "_insert_rows", slow)
    result = {}
    writer = threading.Thread(
        target=lambda: result.update(new=_publish(ScoreStore(store_url), model_version="churnml/2"))
    )
    writer.start()
    try:
        assert written.wait(10)  # the new snapshot's first rows are written, not committed
        with ScoreStore(store_url) as reader:  # another connection, as a server would have
            assert reader.current_id() == old.id
            assert [s.id for s in reader.snapshots()] == [old.id]
            assert reader.lookup(old.id, "001") is not None
            assert len(reader.rows(old.id)) == old.n_rows
    finally:
        release.set()
        writer.join(10)
    new = result["new"]
    with ScoreStore(store_url) as reader:
        assert reader.current_id() == new.id and len(reader.rows(new.id)) == new.n_rows


def test_snapshot_to_dict_is_json_ready(store):
    snap = _publish(store)
    data = snap.to_dict()
    assert data["id"] == snap.id and data["is_current"] is True
    assert data["created_at"].endswith("+00:00")
    assert store.snapshots()[0].created_at == snap.created_at.astimezone(UTC)


def test_url_default_environment_and_masking(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv(SCORE_STORE_ENV, raising=False)
    assert ScoreStore().url == DEFAULT_SCORE_STORE == "sqlite:///scores.db"
    other = f"sqlite:///{(tmp_path / 'other.db').as_posix()}"
    monkeypatch.setenv(SCORE_STORE_ENV, other)
    assert ScoreStore().url == other
    assert ScoreStore("sqlite:///x.db").url == "sqlite:///x.db"

    secret = ScoreStore("postgresql+psycopg://scores:s3cret@127.0.0.1:1/crm")
    assert "s3cret" not in repr(secret) and "scores:***@127.0.0.1:1/crm" in repr(secret)
    with pytest.raises(ConfigError) as caught:
        secret.current_id()  # nothing listens on port 1
    assert "score store postgresql+psycopg://scores:***@127.0.0.1:1/crm" in str(caught.value)
    assert "s3cret" not in str(caught.value)
    # SQLAlchemy cannot parse this one (the port), so it cannot mask it either
    unparsed = "postgresql+psycopg://u:pw@host:port/db"
    assert masked_url(unparsed) == "postgresql+psycopg://u:***@host:port/db"
    with pytest.raises(ConfigError) as caught:
        ScoreStore(unparsed)
    assert "u:***@host" in str(caught.value) and "pw" not in str(caught.value)


def test_bad_urls_are_config_errors(tmp_path):
    with pytest.raises(ConfigError, match="not a SQLAlchemy URL"):
        ScoreStore("scores.db")
    with pytest.raises(ConfigError, match="no installed driver"):
        ScoreStore("nosuchdb://u:pw@host/db")
    unreachable = ScoreStore(f"sqlite:///{(tmp_path / 'no' / 'folder' / 's.db').as_posix()}")
    with pytest.raises(ConfigError, match=r"score store sqlite:///.*/no/folder/s\.db: unable"):
        unreachable.snapshots()
