"""Throughput and latency of the scoring API on loopback, beside a bare FastAPI lookup.

Trains BG/NBD + Gamma-Gamma on CDNOW (the lifetimes package's copy), publishes the scores to a
SQLite score store (and to PostgreSQL with ``--postgres``), then measures with aiohttp (an
asyncio client that is not itself the bottleneck, unlike httpx's pool):

* by-id lookups (``GET /v1/customers/{id}/scores``) at concurrency 1, 16 and 64, from each store,
  with one and two uvicorn workers;
* the yardstick in the same run: a bare FastAPI + SQLite lookup (``bare_lookup_app.py``: no key,
  no middleware, no metrics, one indexed SELECT);
* ``POST /v1/scores`` with 1, 100 and 1,000 customers.

Every run is bounded in count and time. Usage::

    python benchmarks/bench_api.py               # SQLite store
    python benchmarks/bench_api.py --postgres    # also a throwaway PostgreSQL (machine binaries)
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import warnings
from pathlib import Path

import aiohttp
import numpy as np

HERE = Path(__file__).resolve().parent
KEY = "bench-key"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _start(command: list[str], env: dict[str, str], port: int, log: Path) -> subprocess.Popen:
    with log.open("wb") as out:
        process = subprocess.Popen(
            command, env={**os.environ, **env}, stdout=out, stderr=subprocess.STDOUT, cwd=HERE
        )
    deadline = time.monotonic() + 120

    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(log.read_text())
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/openapi.json", timeout=1):
                pass
            ready = f"http://127.0.0.1:{port}/readyz"
            try:
                with urllib.request.urlopen(ready, timeout=1) as answer:
                    if answer.status == 200:
                        return process
            except urllib.error.HTTPError as exc:
                if exc.code == 404:  # the bare app has no /readyz
                    return process
        except OSError:
            pass
        time.sleep(0.2)
    process.kill()
    raise RuntimeError(f"server did not start:\n{log.read_text()}")


def _stop(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()


async def _load(
    base: str,
    paths: list[str],
    concurrency: int,
    n: int,
    seconds: float,
    body: list[bytes] | None = None,
) -> tuple[float, float, float, int]:
    """Send ``n`` requests (or fewer, in ``seconds``): req/s, p50 and p99 in ms, and the count."""
    latencies: list[float] = []
    errors = 0
    headers = {"X-API-Key": KEY, "Content-Type": "application/json"}
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(base, connector=connector, headers=headers) as session:
        counter = iter(range(n))
        start = time.perf_counter()
        deadline = start + seconds

        async def worker() -> None:
            nonlocal errors
            for i in counter:
                if time.perf_counter() > deadline:
                    return
                t = time.perf_counter()
                path = paths[i % len(paths)]
                if body is None:
                    request = session.get(path)
                else:
                    request = session.post(path, data=body[i % len(body)])
                async with request as answer:
                    await answer.read()
                    if answer.status != 200:
                        errors += 1
                latencies.append(time.perf_counter() - t)

        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - start
    if errors:
        raise RuntimeError(f"{errors} requests were not answered 200")
    ms = np.array(latencies) * 1000
    return len(ms) / elapsed, float(np.percentile(ms, 50)), float(np.percentile(ms, 99)), len(ms)


def _lookups(base: str, ids: list[str], label: str, rows: list, requests: int) -> None:
    paths = [f"/v1/customers/{c}/scores" for c in ids]
    asyncio.run(_load(base, paths, 16, 1000, 10))  # warm-up
    for concurrency in (1, 16, 64):
        n = requests if concurrency > 1 else requests // 4
        rps, p50, p99, count = asyncio.run(_load(base, paths, concurrency, n, 20))
        rows.append((label, concurrency, rps, p50, p99, count))
        print(
            f"  {label:<42} c={concurrency:<3} {rps:8.0f} req/s  p50 {p50:6.2f} ms  "
            f"p99 {p99:6.2f} ms  ({count} requests)",
            flush=True,
        )


def main() -> None:
    """Run the benchmark and print the tables."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--postgres", action="store_true", help="also a PostgreSQL score store")
    parser.add_argument("--requests", type=int, default=20000, help="lookups per run")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="churnml-bench-api-"))
    os.environ["MLFLOW_TRACKING_URI"] = f"sqlite:///{folder}/mlruns.db"
    warnings.simplefilter("ignore")
    sys.path.insert(0, str(HERE.parent))

    import orjson
    import pandas as pd

    import churnml

    cdnow = churnml.load_cdnow()
    as_of = "1997-09-30"
    tx = churnml.load_transactions(cdnow, as_of=as_of)
    churnml.train(tx, as_of=as_of, families=["bgnbd"], model_name="bench")
    result = churnml.score(tx, as_of, model_name="bench")
    scores = result.scores
    print(f"CDNOW up to {as_of}: {len(scores):,} customers scored by {result.model_version}")

    stores = {"SQLite": f"sqlite:///{folder}/scores.db"}
    pg = None
    if args.postgres:
        # the tests' throwaway server: initdb + pg_ctl from the machine's binaries
        from tests.postgres_server import start_server

        pg = start_server()
        stores["PostgreSQL"] = pg.url("bench_scores")
    for name, url in stores.items():
        started = time.perf_counter()
        churnml.publish_scores(result, store=url)
        print(f"publish {len(scores):,} rows to {name}: {time.perf_counter() - started:.2f} s")

    bare_db = folder / "bare.db"
    with sqlite3.connect(bare_db) as db:
        flat = scores[list(churnml.CONTRACT_COLUMNS)].astype(object)
        flat = flat.where(flat.notna(), None)
        flat["next_purchase_date"] = flat["next_purchase_date"].map(
            lambda d: None if d is None else str(pd.Timestamp(d).date())
        )
        flat.to_sql("scores", db, index=False)
        db.execute("CREATE UNIQUE INDEX scores_id ON scores(customer_id)")

    rng = np.random.default_rng(0)
    ids = [str(x) for x in rng.choice(scores["customer_id"].to_numpy(), 5000)]
    rows: list = []
    bin_dir = Path(sys.executable).parent
    print("\nby-id lookups (aiohttp client on the same machine):")
    port = _free_port()
    bare = _start(
        [
            str(bin_dir / "uvicorn"),
            "bare_lookup_app:app",
            "--port",
            str(port),
            "--no-access-log",
            "--loop",
            "uvloop",
            "--http",
            "httptools",
        ],
        {"BARE_DB": str(bare_db)},
        port,
        folder / "bare.log",
    )
    try:
        _lookups(
            f"http://127.0.0.1:{port}",
            ids,
            "yardstick: bare FastAPI + SQLite, 1 worker",
            rows,
            args.requests,
        )
    finally:
        _stop(bare)

    env_base = {
        "CHURNML_API_KEYS": KEY,
        "CHURNML_MODEL_NAME": "bench",
        "CHURNML_RELOAD_INTERVAL_SECONDS": "30",
    }
    # the lean lookup path off (FastAPI's route answers): what the lean path is worth
    runs = [(name, url, workers, True) for name, url in stores.items() for workers in (1, 2)]
    runs.insert(1, ("SQLite", stores["SQLite"], 1, False))
    for name, url, workers, lean in runs:
        port = _free_port()
        started = time.perf_counter()
        label = f"{name}, {workers} worker(s)" + ("" if lean else ", FastAPI route")
        server = _start(
            [str(bin_dir / "churnml"), "serve", "--port", str(port), "--workers", str(workers)],
            {**env_base, "CHURNML_SCORE_STORE": url, "CHURNML_LEAN_LOOKUP": str(int(lean))},
            port,
            folder / f"serve-{name}-{workers}-{lean}.log",
        )
        print(f"  churnml serve ({label}) ready in {time.perf_counter() - started:.1f} s")
        try:
            _lookups(
                f"http://127.0.0.1:{port}", ids, f"churnml serve, {label}", rows, args.requests
            )
            if name == "SQLite" and workers == 2:
                _posts(f"http://127.0.0.1:{port}", tx, scores, as_of, orjson)
        finally:
            _stop(server)
    if pg is not None:
        pg.stop()


def _posts(base: str, tx, scores, as_of: str, orjson) -> None:
    print("\nPOST /v1/scores (one request at a time, 2 workers):")
    lines = tx.lines
    grouped = {
        c: [
            {"date": str(d.date()), "amount": float(a)}
            for d, a in zip(g["date"], g["amount"], strict=True)
        ]
        for c, g in lines.groupby("customer_id", sort=False)
    }
    customers = list(scores["customer_id"])
    for size, repeat in ((1, 50), (100, 20), (1000, 10)):
        bodies = []
        for r in range(min(repeat, 5)):
            chosen = customers[r * size : (r + 1) * size]
            payload = {
                "as_of": as_of,
                "horizon_days": 90,
                "customers": [{"customer_id": c, "transactions": grouped[c]} for c in chosen],
            }
            bodies.append(orjson.dumps(payload))
        _rps, p50, p99, count = asyncio.run(_load(base, ["/v1/scores"], 1, repeat, 60, bodies))
        print(
            f"  {size:>5} customers: p50 {p50:7.1f} ms  p99 {p99:7.1f} ms  "
            f"({count} requests, {len(bodies[0]) / 1024:.0f} KiB body)",
            flush=True,
        )


if __name__ == "__main__":
    main()
