"""The throwaway PostgreSQL server is real: psycopg, SQLAlchemy and MLflow's backend store on it."""

from __future__ import annotations

import os
import time

import psycopg
import pytest
import sqlalchemy as sa

import tests.postgres_server as pg

# The session fixture (tests/conftest.py may import it too: the server is shared either way). An
# assignment rather than `from ... import postgres_server`, which ruff would flag as redefined by
# every test's argument of that name.
postgres_server = pg.postgres_server


def test_server_is_postgresql_on_loopback(postgres_server):
    assert postgres_server.host == "127.0.0.1" and postgres_server.port > 0
    with psycopg.connect(postgres_server.conninfo()) as conn:
        version = conn.execute("SELECT version()").fetchone()[0]
        listen = conn.execute("SHOW listen_addresses").fetchone()[0]
        fsync = conn.execute("SHOW fsync").fetchone()[0]
        encoding = conn.execute("SHOW server_encoding").fetchone()[0]
    assert f"PostgreSQL {pg.find_bindir().parent.name}" in version
    assert "PostgreSQL 15" in version  # the version CI installs
    assert (listen, fsync, encoding) == ("127.0.0.1", "off", "UTF8")
    print(f"server started in {postgres_server.startup_seconds:.2f} s")


def test_url_creates_the_database_once_and_sqlalchemy_keeps_text_keys(postgres_server):
    db, where = "pgcheck_roundtrip", f"{postgres_server.user}@127.0.0.1:{postgres_server.port}"
    url = postgres_server.url(db)
    assert url == f"postgresql+psycopg://{where}/{db}"
    assert postgres_server.url(db, driver="postgresql") == f"postgresql://{where}/{db}"  # exists
    engine = sa.create_engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(sa.text("CREATE TABLE t (id TEXT PRIMARY KEY, score DOUBLE PRECISION)"))
            conn.execute(sa.text("INSERT INTO t VALUES (:id, :score)"), {"id": "007", "score": 0.5})
        with engine.connect() as conn:
            row = conn.execute(sa.text("SELECT id, score FROM t WHERE id = :id"), {"id": "007"})
            assert row.one() == ("007", 0.5)
            assert conn.execute(sa.text("SELECT current_database()")).scalar() == db
    finally:
        engine.dispose()


@pytest.mark.slow
def test_mlflow_backend_store_on_postgresql(postgres_server, tmp_path):
    import mlflow
    from mlflow import MlflowClient

    env_before = os.environ.get("MLFLOW_TRACKING_URI")
    global_before = mlflow.get_tracking_uri()
    url = postgres_server.url("pgcheck_mlflow")
    # An explicit client: mlflow.set_tracking_uri would also overwrite MLFLOW_TRACKING_URI, the
    # session's SQLite store that every other test (and its subprocesses) uses.
    began = time.perf_counter()
    client = MlflowClient(tracking_uri=url, registry_uri=url)
    client.search_experiments()  # the store is built by now: MLflow's schema migrations ran
    migration = time.perf_counter() - began
    print(f"MLflow store on a fresh PostgreSQL database (migrations): {migration:.1f} s")

    experiment_id = client.create_experiment("pg-check", artifact_location=tmp_path.as_uri())
    run = client.create_run(experiment_id)
    client.log_param(run.info.run_id, "horizon", "180")
    client.log_metric(run.info.run_id, "auc", 0.75)
    (tmp_path / "model.json").write_text("{}")
    client.log_artifact(run.info.run_id, str(tmp_path / "model.json"), "model")
    client.set_terminated(run.info.run_id)
    client.create_registered_model("pg-check-model")
    version = client.create_model_version(
        "pg-check-model", f"{run.info.artifact_uri}/model", run_id=run.info.run_id
    )
    client.set_registered_model_alias("pg-check-model", "champion", version.version)

    # read back through a new client, as another process would
    reader = MlflowClient(tracking_uri=url, registry_uri=url)
    got = reader.get_run(run.info.run_id)
    assert got.data.params == {"horizon": "180"}
    assert got.data.metrics == {"auc": 0.75}
    assert got.info.status == "FINISHED"
    assert got.info.artifact_uri.startswith(tmp_path.as_uri())
    assert [a.path for a in reader.list_artifacts(run.info.run_id, "model")] == ["model/model.json"]
    champion = reader.get_model_version_by_alias("pg-check-model", "champion")
    assert (champion.version, champion.run_id) == (version.version, run.info.run_id)
    assert reader.get_experiment_by_name("pg-check").experiment_id == experiment_id
    with psycopg.connect(postgres_server.conninfo("pgcheck_mlflow")) as conn:
        assert conn.execute("SELECT count(*) FROM runs").fetchone()[0] == 1  # really in PostgreSQL

    assert os.environ.get("MLFLOW_TRACKING_URI") == env_before
    assert mlflow.get_tracking_uri() == global_before


def test_without_binaries_the_fixture_skips_naming_what_it_looked_for(monkeypatch):
    monkeypatch.delenv(pg.REQUIRE_ENV, raising=False)
    monkeypatch.setattr(pg, "find_bindir", lambda: None)
    with pytest.raises(pytest.skip.Exception, match=r"initdb, pg_ctl and postgres .*PG_BINDIR"):
        pg.start_server()


@pytest.mark.parametrize("value", ["1", "true"])
def test_without_binaries_but_postgres_required_the_fixture_fails(monkeypatch, value):
    # what CI sets (.ci/run): a missing server must not turn the PostgreSQL tests into skips
    monkeypatch.setenv(pg.REQUIRE_ENV, value)
    monkeypatch.setattr(pg, "find_bindir", lambda: None)
    failure = r"CHURNML_REQUIRE_POSTGRES=\w+ \(a failure, not a skip\): no PostgreSQL server"
    with pytest.raises(pytest.fail.Exception, match=failure):
        pg.start_server()


def test_a_require_switch_that_is_off_still_skips(monkeypatch):
    monkeypatch.setenv(pg.REQUIRE_ENV, "0")
    monkeypatch.setattr(pg, "find_bindir", lambda: None)
    with pytest.raises(pytest.skip.Exception):
        pg.start_server()


def test_a_server_that_fails_to_start_is_cleaned_up_and_its_log_quoted(monkeypatch):
    if pg.find_bindir() is None:
        pg._skip_or_fail("no PostgreSQL server binaries")
    made = []
    real_mkdtemp, real_run = pg.tempfile.mkdtemp, pg.PostgresServer._run

    def mkdtemp(**kwargs):
        made.append(real_mkdtemp(**kwargs))
        return made[-1]

    def run(self, *args, **kwargs):
        if args[:2] == ("pg_ctl", "start"):
            args = (*args[:-1], args[-1] + " -c no_such_setting=1")
        return real_run(self, *args, **kwargs)

    monkeypatch.setattr(pg.tempfile, "mkdtemp", mkdtemp)
    monkeypatch.setattr(pg.PostgresServer, "_run", run)
    with pytest.raises(RuntimeError, match=r'(?s)start failed.*"no_such_setting"'):
        pg.start_server()
    assert len(made) == 1 and not os.path.exists(made[0])
