"""End to end on a real PostgreSQL holding both MLflow's backend store and the score store.

One throwaway server (``tests/postgres_server.py``) and one database in it, ``churnml_e2e``:
MLflow's tables and the score store's ``churnml_*`` tables side by side, as a deployment that
shares one database would have them. The chain is the public one: ``churnml.train`` registers
a BG/NBD champion in the PostgreSQL-backed registry, ``churnml.score`` scores with it,
``churnml.publish_scores`` writes the snapshot, ``churnml serve`` serves both, and ``churnml
snapshots`` lists and rolls back.

Then the store's own behaviours, re-run on PostgreSQL: text ids with leading zeros, a publish
that fails half-way leaving nothing behind, readers seeing the old snapshot until the new one
commits, pruning, ids never reused, and by-id lookups planned as an index scan on the
``(snapshot_id, customer_id)`` primary key.
"""

from __future__ import annotations

import contextlib
import inspect
import itertools
import json
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import psycopg
import pytest
from click.testing import Result
from typer.testing import CliRunner

import churnml
import tests.postgres_server as pg
import tests.store.conftest as store_fixtures
import tests.store.test_score_store as store_suite
from churnml.store import ScoreStore
from tests.serve.conftest import (
    ADMIN_KEY,
    AS_OF,
    Served,
    histories,
    same,
    served_env,
    start_server,
    stop_server,
)
from tests.store.conftest import score_table

pytestmark = pytest.mark.slow

# the session fixture, shared with every other module that uses it (see test_postgres_server.py)
postgres_server = pg.postgres_server

MODEL_NAME = "churnml-pg-e2e"
DATABASE = "churnml_e2e"
NUMBERS = ["p_alive", "p_repurchase", "expected_purchases", "expected_revenue", "clv"]


@contextlib.contextmanager
def _tracking_uri(uri: str) -> Iterator[None]:
    """Point MLflow (the environment and its process-wide setting) at ``uri``, then restore both.

    churnml reads ``MLFLOW_TRACKING_URI`` on every call (``churnml.tracking.runs.configure``) and
    passes it to ``mlflow.set_tracking_uri``, which also caches it process-wide; the session's
    SQLite store must be in force again for every later test.
    """
    import mlflow

    env_before = os.environ.get("MLFLOW_TRACKING_URI")
    global_before = mlflow.get_tracking_uri()
    os.environ["MLFLOW_TRACKING_URI"] = uri
    mlflow.set_tracking_uri(uri)
    try:
        yield
    finally:
        mlflow.set_tracking_uri(global_before)
        if env_before is None:
            os.environ.pop("MLFLOW_TRACKING_URI", None)
        else:
            os.environ["MLFLOW_TRACKING_URI"] = env_before


@contextlib.contextmanager
def _cwd(folder: Path) -> Iterator[None]:
    before = Path.cwd()
    os.chdir(folder)
    try:
        yield
    finally:
        os.chdir(before)


@dataclass
class PgStack:
    """What the PostgreSQL database holds after train, score and publish."""

    served: Served  # tracking_uri and store_url are the same PostgreSQL database
    result: object  # churnml.ScoreResult
    folder: Path


@pytest.fixture(scope="module")
def pg_stack(postgres_server, cdnow, tmp_path_factory) -> PgStack:
    import mlflow

    folder = tmp_path_factory.mktemp("pg-e2e")
    url = postgres_server.url(DATABASE)
    tx = churnml.load_transactions(cdnow, as_of=AS_OF)
    # MLflow puts a SQL store's artifacts under ./mlruns of the working directory: this test's
    with _tracking_uri(url), _cwd(folder):
        churnml.train(tx, as_of=AS_OF, horizon_days=90, families=["bgnbd"], model_name=MODEL_NAME)
        result = churnml.score(tx, AS_OF, model="champion", model_name=MODEL_NAME)
        assert mlflow.get_tracking_uri() == url
    assert os.environ.get("MLFLOW_TRACKING_URI") != url and mlflow.get_tracking_uri() != url
    snapshot = churnml.publish_scores(result, store=url)
    served = Served(MODEL_NAME, url, url, result.scores, snapshot.id, tx)
    return PgStack(served, result, folder)


@pytest.fixture(scope="module")
def pg_app(pg_stack, tmp_path_factory):
    server = start_server(tmp_path_factory.mktemp("pg-server"), served_env(pg_stack.served))
    yield server
    stop_server(server)


def _cli(*args: str, store_url: str | None = None) -> Result:
    """Run the ``churnml`` command in-process, with ``CHURNML_SCORE_STORE`` set or unset."""
    from churnml.cli import app

    env = {"CHURNML_SCORE_STORE": store_url, "COLUMNS": "200"}  # None unsets a variable
    return CliRunner().invoke(app, list(args), env=env)


# -- the service over PostgreSQL ---------------------------------------------------------------


def test_both_stores_are_tables_in_one_postgresql_database(pg_stack, postgres_server):
    with psycopg.connect(postgres_server.conninfo(DATABASE)) as conn:
        tables = {
            r[0]
            for r in conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
        }
        versions = conn.execute(
            "SELECT version FROM model_versions WHERE name = %s", (MODEL_NAME,)
        ).fetchall()
        champion = conn.execute(
            "SELECT version FROM registered_model_aliases WHERE name = %s AND alias = 'champion'",
            (MODEL_NAME,),
        ).fetchone()
        rows = conn.execute(
            "SELECT count(*) FROM churnml_score_rows WHERE snapshot_id = %s",
            (pg_stack.served.snapshot_id,),
        ).fetchone()[0]
    assert {"runs", "registered_models", "model_versions"} <= tables  # MLflow's
    assert {"churnml_snapshots", "churnml_score_rows", "churnml_store_state"} <= tables
    assert versions == [(1,)] and champion == (1,)
    assert rows == len(pg_stack.result.scores) > 20_000


def test_readiness_and_model_come_from_postgresql(pg_app, pg_stack):
    served = pg_stack.served
    with pg_app.client(key=None) as c:
        ready = c.get("/readyz")
    assert ready.status_code == 200, ready.text
    assert ready.json() == {
        "ready": True,
        "model_version": f"{MODEL_NAME}/1",
        "snapshot_id": served.snapshot_id,
        "problems": [],
    }
    with pg_app.client() as c:
        info = c.get("/v1/model").json()
    assert (info["name"], info["version"], info["family"]) == (MODEL_NAME, "1", "bgnbd")
    assert info["data_as_of"] == AS_OF and info["horizon_days"] == 90
    assert info["snapshot"]["id"] == served.snapshot_id
    assert info["snapshot"]["n_rows"] == len(served.scores)


def test_lookup_by_id_is_the_published_row(pg_app, pg_stack):
    served = pg_stack.served
    scores = served.scores.set_index("customer_id")
    picks = [scores.index[0], scores.index[len(scores) // 3], scores.index[-1]]
    assert picks[0].startswith("0")  # CDNOW's ids keep their leading zeros
    with ScoreStore(served.store_url) as store, pg_app.client() as c:
        for customer in picks:
            answer = c.get(f"/v1/customers/{customer}/scores")
            assert answer.status_code == 200, answer.text
            assert answer.headers["x-snapshot-id"] == str(served.snapshot_id)
            row = answer.json()
            stored = store.lookup(served.snapshot_id, customer)
            assert stored is not None
            assert set(row) == set(stored)
            for column, value in stored.items():
                if isinstance(value, float) or value is None:
                    assert same(row[column], value), (customer, column)
                else:
                    assert row[column] == value, (customer, column)
            for column in NUMBERS:
                assert same(row[column], scores.loc[customer, column]), (customer, column)
        unpadded = str(int(picks[0]))  # "1" is not "00001"
        missing = c.get(f"/v1/customers/{unpadded}/scores")
    assert missing.status_code == 404
    assert f"snapshot {served.snapshot_id}" in missing.json()["detail"]


def test_posted_histories_score_with_the_postgresql_champion(pg_app, pg_stack):
    served = pg_stack.served
    customers = list(served.scores["customer_id"].iloc[::997][:20])
    body = {"as_of": AS_OF, "horizon_days": 90, "customers": histories(served.tx, customers)}
    with pg_app.client() as c:
        answer = c.post("/v1/scores", json=body)
    assert answer.status_code == 200, answer.text
    out = answer.json()
    assert out["model_version"] == f"{MODEL_NAME}/1" and out["unscored"] == []
    got = {r["customer_id"]: r for r in out["scores"]}
    assert set(got) == set(customers)
    snapshot = served.scores.set_index("customer_id")
    for customer, row in got.items():
        for column in ["p_alive", "p_repurchase", "expected_purchases", "expected_revenue"]:
            assert same(row[column], snapshot.loc[customer, column]), (customer, column)


def test_a_second_snapshot_is_served_after_reload_and_rolled_back_by_the_cli(pg_app, pg_stack):
    served = pg_stack.served
    first = served.snapshot_id
    customer = served.scores["customer_id"].iloc[0]
    second = churnml.publish_scores(pg_stack.result, store=served.store_url)
    assert second.id > first and second.is_current

    def snapshot_of_lookup() -> str:
        with pg_app.client() as c:
            answer = c.get(f"/v1/customers/{customer}/scores")
        assert answer.status_code == 200, answer.text
        return answer.headers["x-snapshot-id"]

    assert snapshot_of_lookup() == str(first)  # no polling in these servers: still the old one
    with pg_app.client(key=ADMIN_KEY) as c:
        reload = c.post("/v1/admin/reload")
    assert reload.status_code == 200, reload.text
    assert reload.json()["snapshot"] == "loaded" and reload.json()["model"] == "unchanged"
    assert snapshot_of_lookup() == str(second.id)

    # the CLI, against the PostgreSQL store: from the environment, then from --store
    listed = _cli("snapshots", "list", "--json", store_url=served.store_url)
    assert listed.exit_code == 0, listed.output
    rows = json.loads(listed.stdout)
    assert [(r["id"], r["is_current"], r["n_rows"]) for r in rows] == [
        (second.id, True, len(served.scores)),
        (first, False, len(served.scores)),
    ]
    assert {r["model_version"] for r in rows} == {f"{MODEL_NAME}/1"}
    table = _cli("snapshots", "list", store_url=served.store_url)
    assert table.exit_code == 0, table.output
    assert served.store_url in table.stdout  # names the store it read (no password to mask)
    rolled = _cli("snapshots", "activate", str(first), "--store", served.store_url)
    assert rolled.exit_code == 0, rolled.output
    assert f"Snapshot {first} is now current (was {second.id})" in rolled.stdout
    with ScoreStore(served.store_url) as store:
        assert store.current_id() == first
    with pg_app.client(key=ADMIN_KEY) as c:
        assert c.post("/v1/admin/reload").json()["snapshot"] == "loaded"
    assert snapshot_of_lookup() == str(first)


# -- the store's behaviours on PostgreSQL ------------------------------------------------------
#
# tests/store/test_score_store.py is written against a ``store_url`` fixture (SQLite by default;
# see tests/store/conftest.py). Every one of its tests that takes a store runs here again, named
# test_pg_*, with ``store_url`` a fresh PostgreSQL database of its own: round trips with text ids
# ("007" is not "7"), a publish failing half-way (in Python, and by a key violation inside
# PostgreSQL), readers seeing the old snapshot until the new one commits, pruning, activation.
# The SQLite-only ones (its query plan, WAL) skip themselves; the PostgreSQL plan is checked below.

_databases = itertools.count(1)


@pytest.fixture
def store_url(postgres_server) -> str:
    return postgres_server.url(f"store_{next(_databases)}")


store = store_fixtures.store  # the store suite's fixture, over the store_url above

globals().update(
    {
        f"test_pg_{name.removeprefix('test_')}": test
        for name, test in vars(store_suite).items()
        if name.startswith("test_")
        and callable(test)
        and {"store", "store_url"} & set(inspect.signature(test).parameters)
    }
)


def _scores(ids: list[str]) -> pd.DataFrame:
    frame = score_table(len(ids))
    frame["customer_id"] = ids
    return frame


@pytest.fixture
def pg_store(store_url) -> Iterator[ScoreStore]:
    with ScoreStore(store_url) as opened:
        yield opened


def _publish(store: ScoreStore, frame: pd.DataFrame, **kwargs):
    return store.publish(
        frame, model_version="churnml/1", as_of="2024-01-31", horizon_days=90, **kwargs
    )


def test_store_ids_are_never_reused_after_pruning(pg_store):
    # a server caches the id of the snapshot it serves: a PostgreSQL sequence, like SQLite's
    # AUTOINCREMENT, must never hand a pruned snapshot's id to a new one
    ids = [_publish(pg_store, _scores(["a", "b"]), keep=1).id for _ in range(3)]
    assert [s.id for s in pg_store.snapshots()] == [ids[-1]]
    with pg_store._engine.begin() as conn:  # even when the newest rows are gone
        conn.exec_driver_sql("UPDATE churnml_store_state SET current_snapshot_id = NULL")
        conn.exec_driver_sql("DELETE FROM churnml_score_rows")
        conn.exec_driver_sql("DELETE FROM churnml_snapshots")
    assert _publish(pg_store, _scores(["a"])).id == ids[-1] + 1


def test_store_lookup_is_an_index_scan_on_the_primary_key(pg_store):
    # Two snapshots big enough for the planner to prefer the index on its own (no
    # enable_seqscan games), ANALYZEd so it knows their size; the statement explained is the one
    # ScoreStore.lookup really sent, caught on its way to the driver.
    from sqlalchemy import event

    ids = [f"{i:07d}" for i in range(20_000)]
    for _ in range(2):
        snap = _publish(pg_store, _scores(ids))
    sent = []

    def catch(conn, cursor, statement, parameters, context, executemany):
        if "churnml_score_rows" in statement and "customer_id =" in statement:
            sent.append((statement, parameters))

    event.listen(pg_store._engine, "before_cursor_execute", catch)
    try:
        assert pg_store.lookup(snap.id, "0012345")["customer_id"] == "0012345"
    finally:
        event.remove(pg_store._engine, "before_cursor_execute", catch)
    assert len(sent) == 1, sent
    statement, parameters = sent[0]
    with pg_store._engine.connect() as conn:
        conn.exec_driver_sql("ANALYZE churnml_score_rows")
        plan = "\n".join(conn.exec_driver_sql(f"EXPLAIN {statement}", parameters).scalars())
    print(f"\nPostgreSQL plan of ScoreStore.lookup:\n{plan}")
    assert re.search(r"Index (Only )?Scan using churnml_score_rows_pkey", plan), plan
    assert "Seq Scan" not in plan, plan
