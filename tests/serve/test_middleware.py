"""The serving middleware on its own: an unexpected error is a JSON 500, the connection lives."""

from __future__ import annotations

import logging

import httpx
import pytest

from serve.middleware import ServingMiddleware


async def _failing_app(scope, receive, send):
    raise RuntimeError("secret detail: /srv/models/x.json SELECT * FROM scores")


@pytest.mark.anyio
async def test_an_unexpected_error_is_a_json_500_without_details(caplog):
    app = ServingMiddleware(_failing_app, max_body_bytes=1000, model_version=lambda: "m/1")
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=True)
    with caplog.at_level(logging.ERROR, logger="serve"):
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            answer = await client.get("/v1/model", headers={"X-Request-ID": "req-500"})
    assert answer.status_code == 500
    assert answer.json() == {
        "detail": "internal error; quote the request id",
        "request_id": "req-500",
    }
    assert answer.headers["x-request-id"] == "req-500"
    assert answer.headers["x-content-type-options"] == "nosniff"
    assert "secret" not in answer.text and "SELECT" not in answer.text
    # the server's own log keeps what went wrong, under the same request id
    assert any("req-500" in r.getMessage() and r.exc_info for r in caplog.records)


def test_serialised_rows_are_exact_json_without_spare_capacity():
    import gc
    import tracemalloc

    import orjson
    import pandas as pd

    from serve.state import serialise_rows

    frame = pd.DataFrame(
        {
            "customer_id": ["007", "008"],
            "p_alive": [0.5, float("nan")],
            "next_purchase_date": ["1997-10-01", None],
            "reasons": ["x" * 300, "y"],
        }
    )
    rows = serialise_rows(frame)
    assert orjson.loads(rows["007"]) == {
        "customer_id": "007",
        "p_alive": 0.5,
        "next_purchase_date": "1997-10-01",
        "reasons": "x" * 300,
    }
    assert orjson.loads(rows["008"])["p_alive"] is None
    # orjson's own bytes keep kilobytes of write buffer each (sys.getsizeof does not show it;
    # the allocator does): the rows held for a snapshot must cost about their length
    many = pd.concat([frame] * 200, ignore_index=True)
    many["customer_id"] = [f"c{i}" for i in range(len(many))]
    gc.collect()
    tracemalloc.start()
    try:
        held = serialise_rows(many)
        gc.collect()
        used = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    length = sum(len(k) + len(v) for k, v in held.items())
    assert used < 2 * length + 100 * len(held), (used, length)
