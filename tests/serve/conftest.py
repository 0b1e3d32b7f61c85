"""A trained champion, a published snapshot and real uvicorn servers for the API tests.

The model is BG/NBD + Gamma-Gamma trained by ``churnml.train`` on CDNOW (the lifetimes package's
own copy) up to 1997-09-30, registered in the session's MLflow store under its own name, and
scored into a SQLite score store with ``publish_scores``: the same public API the CLI calls.
Servers are ``churnml serve`` processes on 127.0.0.1 and a free port.
"""

from __future__ import annotations

import math
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

import churnml

MODEL_NAME = "churnml-serve-test"
AS_OF = "1997-09-30"
API_KEY = "test-key-7f3a"
ADMIN_KEY = "admin-key-91c2"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Served:
    """What a server serves: the registered model, the store and the scores published."""

    model_name: str
    store_url: str
    tracking_uri: str
    scores: object
    snapshot_id: int
    tx: object = field(repr=False)


@pytest.fixture(scope="session")
def served(cdnow, tmp_path_factory) -> Served:
    folder = tmp_path_factory.mktemp("served")
    store_url = f"sqlite:///{folder / 'scores.db'}"
    cut = churnml.load_transactions(cdnow, as_of=AS_OF)
    churnml.train(cut, as_of=AS_OF, horizon_days=90, families=["bgnbd"], model_name=MODEL_NAME)
    result = churnml.score(cut, AS_OF, model="champion", model_name=MODEL_NAME)
    snapshot = churnml.publish_scores(result, store=store_url)
    return Served(
        model_name=MODEL_NAME,
        store_url=store_url,
        tracking_uri=os.environ["MLFLOW_TRACKING_URI"],
        scores=result.scores,
        snapshot_id=snapshot.id,
        tx=cut,
    )


@dataclass
class Server:
    """A running ``churnml serve`` process."""

    url: str
    process: subprocess.Popen
    log_path: Path

    def client(self, key: str | None = API_KEY, **kwargs) -> httpx.Client:
        headers = {"X-API-Key": key} if key else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=30, **kwargs)

    def log_lines(self) -> list[str]:
        return self.log_path.read_text().splitlines()


def start_server(
    tmp_path: Path,
    env: dict[str, str],
    *args: str,
    wait_ready: bool = True,
) -> Server:
    """Start ``churnml serve`` and wait until it answers (and is ready, unless told not to)."""
    port = free_port()
    log_path = tmp_path / f"server-{port}.log"
    full_env = {**os.environ, **env}
    cli = Path(sys.executable).with_name("churnml")
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [str(cli), "serve", "--port", str(port), *args],
            env=full_env,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=tmp_path,
        )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited {process.returncode}:\n{log_path.read_text()}")
        try:
            answer = httpx.get(f"{url}/readyz" if wait_ready else f"{url}/healthz", timeout=2)
            if answer.status_code == 200:
                return Server(url, process, log_path)
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    process.kill()
    raise RuntimeError(f"server did not become ready:\n{log_path.read_text()}")


def stop_server(server: Server) -> None:
    server.process.terminate()
    try:
        server.process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        server.process.kill()


def served_env(served: Served, **extra: str) -> dict[str, str]:
    return {
        "MLFLOW_TRACKING_URI": served.tracking_uri,
        "CHURNML_SCORE_STORE": served.store_url,
        "CHURNML_MODEL_NAME": served.model_name,
        "CHURNML_API_KEYS": API_KEY,
        "CHURNML_ADMIN_KEYS": ADMIN_KEY,
        "CHURNML_RELOAD_INTERVAL_SECONDS": "0",
        **extra,
    }


@pytest.fixture(scope="session")
def server(served, tmp_path_factory) -> Iterator[Server]:
    """One shared server over the session's champion and snapshot (read-only tests)."""
    running = start_server(tmp_path_factory.mktemp("server"), served_env(served))
    yield running
    stop_server(running)


def same(a, b) -> bool:
    """Two score values agree: both missing (None or NaN), or equal to rounding."""
    missing_a = a is None or (isinstance(a, float) and math.isnan(a))
    missing_b = b is None or (isinstance(b, float) and math.isnan(b))
    if missing_a or missing_b:
        return missing_a and missing_b
    return math.isclose(float(a), float(b), rel_tol=1e-9, abs_tol=1e-12)


def histories(tx, customers: list[str]) -> list[dict]:
    """The ``customers`` entries of a ``POST /v1/scores`` body, from validated transactions."""
    lines = tx.lines[tx.lines["customer_id"].isin(customers)]
    return [
        {
            "customer_id": customer,
            "transactions": [
                {"date": str(d.date()), "amount": float(a)}
                for d, a in zip(rows["date"], rows["amount"], strict=True)
            ],
        }
        for customer, rows in lines.groupby("customer_id", sort=False)
    ]
