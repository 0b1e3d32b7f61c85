"""Swapping model and snapshot while serving, a reload that fails, and a tampered model store."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import mlflow
import pytest

import churnml
from tests.serve.conftest import ADMIN_KEY, AS_OF, Served, served_env, start_server, stop_server

pytestmark = pytest.mark.slow


@pytest.fixture
def own_served(served, tmp_path, request) -> Served:
    """A registered model and a store of this test's own, so the shared server is untouched."""
    name = f"churnml-serve-{request.node.name[:40]}"
    churnml.train(served.tx, as_of=AS_OF, horizon_days=90, families=["bgnbd"], model_name=name)
    result = churnml.score(served.tx, AS_OF, model_name=name)
    store_url = f"sqlite:///{tmp_path / 'scores.db'}"
    snapshot = churnml.publish_scores(result, store=store_url)
    return Served(name, store_url, served.tracking_uri, result.scores, snapshot.id, served.tx)


def _artifact_dir(model_name: str, version: str) -> Path:
    """The folder where the MLflow store keeps a registered version's model files."""
    client = mlflow.MlflowClient()
    mv = client.get_model_version(model_name, version)
    # the version's source is the logged model (models:/m-...), whose files sit in the store
    location = client.get_logged_model(mv.source.removeprefix("models:/")).artifact_location
    return Path(location.removeprefix("file://"))


def test_reload_under_traffic_answers_every_request(own_served, tmp_path):
    server = start_server(tmp_path, served_env(own_served))
    customers = list(own_served.scores["customer_id"].iloc[:200])
    statuses: list[int] = []
    snapshots: set[str] = set()
    stop = threading.Event()

    def hammer():
        with server.client() as c:
            i = 0
            while not stop.is_set():
                answer = c.get(f"/v1/customers/{customers[i % len(customers)]}/scores")
                statuses.append(answer.status_code)
                snapshots.add(answer.headers.get("x-snapshot-id", ""))
                i += 1

    try:
        workers = [threading.Thread(target=hammer) for _ in range(4)]
        for w in workers:
            w.start()
        time.sleep(0.5)
        later = churnml.score(
            own_served.tx, AS_OF, horizon_days=180, model_name=own_served.model_name
        )
        new = churnml.publish_scores(later, store=own_served.store_url)
        with server.client(key=ADMIN_KEY) as c:
            reload = c.post("/v1/admin/reload")
        time.sleep(0.5)
        stop.set()
        for w in workers:
            w.join()
        assert reload.status_code == 200, reload.text
        assert reload.json()["snapshot"] == "loaded" and reload.json()["model"] == "unchanged"
        assert len(statuses) > 100 and set(statuses) == {200}
        assert snapshots == {str(own_served.snapshot_id), str(new.id)}
        with server.client() as c:
            assert c.get("/v1/model").json()["snapshot"]["horizon_days"] == 180
    finally:
        stop.set()
        stop_server(server)


def test_polling_follows_a_snapshot_rollback(own_served, tmp_path):
    later = churnml.score(own_served.tx, AS_OF, horizon_days=30, model_name=own_served.model_name)
    new = churnml.publish_scores(later, store=own_served.store_url)
    env = served_env(own_served, CHURNML_RELOAD_INTERVAL_SECONDS="0.3")
    server = start_server(tmp_path, env)
    try:
        customer = own_served.scores["customer_id"].iloc[0]
        with server.client() as c:
            assert c.get(f"/v1/customers/{customer}/scores").headers["x-snapshot-id"] == str(new.id)
            churnml.activate_snapshot(own_served.snapshot_id, store=own_served.store_url)
            deadline = time.monotonic() + 15
            seen = str(new.id)
            while time.monotonic() < deadline and seen != str(own_served.snapshot_id):
                time.sleep(0.2)
                seen = c.get(f"/v1/customers/{customer}/scores").headers["x-snapshot-id"]
        assert seen == str(own_served.snapshot_id)
    finally:
        stop_server(server)


def test_a_failing_reload_keeps_the_old_model_serving(own_served, tmp_path):
    server = start_server(tmp_path, served_env(own_served))
    try:
        name = own_served.model_name
        churnml.train(
            own_served.tx, as_of=AS_OF, horizon_days=90, families=["bgnbd"], model_name=name
        )
        broken = _artifact_dir(name, "2")
        (scorer_json,) = broken.rglob("scorer.json")
        scorer_json.write_text('{"class": "builtins.eval", "params": {}}')
        churnml.promote("2", "test: a broken version", model_name=name)
        with server.client(key=ADMIN_KEY) as c:
            reload = c.post("/v1/admin/reload").json()
            ready = c.get("/readyz")
            model = c.get("/v1/model").json()
            row = c.get(f"/v1/customers/{own_served.scores['customer_id'].iloc[0]}/scores")
        assert reload["model"] == "error"
        assert ready.status_code == 200  # the old model still serves
        (problem,) = ready.json()["problems"]
        assert problem.startswith("model:") and "still serving" in problem
        assert f"{name}/1" in problem and "version 2" in problem
        assert str(tmp_path) not in problem and "/" + "tmp" not in problem  # no file paths
        assert model["version"] == "1" and row.status_code == 200
    finally:
        stop_server(server)


def test_tampered_model_code_in_the_store_never_runs(own_served, tmp_path):
    marker = tmp_path / "tampered-code-ran"
    code_files = [p for p in _artifact_dir(own_served.model_name, "1").rglob("*.py") if p.is_file()]
    assert code_files, "the registered model stores its models-from-code file"
    for path in code_files:
        # appended: module code runs on import (a prepended line would break __future__)
        path.write_text(
            path.read_text()
            + f"\nimport pathlib\npathlib.Path({str(marker)!r}).write_text('ran')\n"
        )
    server = start_server(tmp_path, served_env(own_served))
    try:
        with server.client() as c:
            assert c.get("/readyz").json()["model_version"] == f"{own_served.model_name}/1"
            body = {
                "as_of": AS_OF,
                "customers": [
                    {"customer_id": "x", "transactions": [{"date": "1997-03-01", "amount": 20}]}
                ],
            }
            assert c.post("/v1/scores", json=body).status_code == 200
        assert not marker.exists()
    finally:
        stop_server(server)
    # the tampering is real: loading the model the MLflow way runs the stored code
    loaded = subprocess.run(
        [
            sys.executable,
            "-c",
            f"import mlflow; mlflow.pyfunc.load_model('models:/{own_served.model_name}@champion')",
        ],
        env={**os.environ, "MLFLOW_TRACKING_URI": own_served.tracking_uri},
        check=False,
        capture_output=True,
        timeout=300,
    )
    assert marker.exists(), loaded.stderr[-2000:]
    assert marker.read_text() == "ran"


def test_server_refuses_to_start_without_a_key(own_served, tmp_path):
    env = {**os.environ, **served_env(own_served, CHURNML_API_KEYS="", CHURNML_ADMIN_KEYS="")}
    cli = Path(sys.executable).with_name("churnml")
    done = subprocess.run(
        [str(cli), "serve", "--port", "1"], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode != 0
    assert "CHURNML_API_KEYS" in done.stdout + done.stderr
    assert "Traceback" not in done.stdout + done.stderr
    # and with --insecure-no-auth it serves without a key
    server = start_server(
        tmp_path, {**served_env(own_served), "CHURNML_API_KEYS": ""}, "--insecure-no-auth"
    )
    try:
        with httpx.Client(base_url=server.url) as c:
            assert c.get("/v1/model").status_code == 200
    finally:
        stop_server(server)
