"""The yardstick for benchmarks/bench_api.py: a bare FastAPI by-id lookup over SQLite.

No key check, no middleware, no metrics, no logging: one indexed ``SELECT`` per request and the
row as JSON. Whatever the real service costs beyond this is the price of its add-ons.
Run by the benchmark as ``uvicorn bare_lookup_app:app`` with ``BARE_DB`` naming the SQLite file.
"""

from __future__ import annotations

import os
import sqlite3
import threading

from fastapi import FastAPI, HTTPException

app = FastAPI()
_local = threading.local()


def _connection() -> sqlite3.Connection:
    if not hasattr(_local, "db"):
        _local.db = sqlite3.connect(os.environ["BARE_DB"], check_same_thread=False)
        _local.db.row_factory = sqlite3.Row
    return _local.db


@app.get("/v1/customers/{customer_id}/scores")
async def lookup(customer_id: str) -> dict:
    row = (
        _connection()
        .execute("SELECT * FROM scores WHERE customer_id = ?", (customer_id,))
        .fetchone()
    )
    if row is None:
        raise HTTPException(404, "unknown")
    return dict(row)
