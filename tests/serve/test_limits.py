"""Keys given as SHA-256 digests, admin keys, CORS when configured, and the 413 limits."""

from __future__ import annotations

import hashlib

import pytest

from churnml import ConfigError
from serve.app import create_app
from serve.settings import ServeSettings
from tests.serve.conftest import served_env, start_server, stop_server

pytestmark = pytest.mark.slow

PLAIN = "crm-secret-4821"
ADMIN = "ops-secret-1177"


@pytest.fixture(scope="module")
def strict_server(served, tmp_path_factory):
    env = served_env(
        served,
        CHURNML_API_KEYS=f"sha256:{hashlib.sha256(PLAIN.encode()).hexdigest()}",
        CHURNML_ADMIN_KEYS=f"sha256:{hashlib.sha256(ADMIN.encode()).hexdigest()}",
        CHURNML_MAX_BATCH_CUSTOMERS="3",
        CHURNML_MAX_BATCH_TRANSACTIONS="10",
        CHURNML_MAX_BODY_BYTES="4000",
        CHURNML_CORS_ORIGINS="https://crm.example",
    )
    running = start_server(tmp_path_factory.mktemp("strict"), env)
    yield running
    stop_server(running)


def _customers(n: int, orders: int = 1) -> list[dict]:
    return [
        {
            "customer_id": f"c{i}",
            "transactions": [{"date": "1997-03-01", "amount": 10 + j} for j in range(orders)],
        }
        for i in range(n)
    ]


def test_hashed_keys_are_accepted_and_their_digest_is_not_a_key(strict_server):
    digest = hashlib.sha256(PLAIN.encode()).hexdigest()
    with strict_server.client(key=PLAIN) as c:
        assert c.get("/v1/model").status_code == 200
        assert c.post("/v1/admin/reload").status_code == 403
    with strict_server.client(key=ADMIN) as c:
        assert c.get("/v1/model").status_code == 200
        assert c.post("/v1/admin/reload").status_code == 200
    with strict_server.client(key=digest) as c:
        assert c.get("/v1/model").status_code == 401
    with strict_server.client(key=f"sha256:{digest}") as c:
        assert c.get("/v1/model").status_code == 401


def test_batch_and_body_limits_are_413(strict_server):
    with strict_server.client(key=PLAIN) as c:
        ok = c.post("/v1/scores", json={"as_of": "1997-09-30", "customers": _customers(3)})
        many = c.post("/v1/scores", json={"as_of": "1997-09-30", "customers": _customers(4)})
        orders = c.post(
            "/v1/scores", json={"as_of": "1997-09-30", "customers": _customers(2, orders=6)}
        )
        big = c.post(
            "/v1/scores",
            json={"as_of": "1997-09-30", "customers": _customers(1), "pad": "x" * 5000},
            headers={"X-Request-ID": "big-one"},
        )

        def chunks():
            # no Content-Length: the limit is enforced while the body streams in
            yield b'{"as_of": "1997-09-30", "customers": ['
            for _ in range(100):
                yield b'{"customer_id": "x", "transactions": []},'
            yield b"]}"

        streamed = c.post(
            "/v1/scores", content=chunks(), headers={"content-type": "application/json"}
        )
        # the batch is counted before the (costlier) validation, in the worker thread
        many_invalid = c.post("/v1/scores", json={"as_of": "x", "customers": [{}, {}, {}, {}]})
    assert ok.status_code == 200
    assert many.status_code == 413 and "limit is 3" in many.json()["detail"]
    assert many_invalid.status_code == 413
    assert orders.status_code == 413 and "limit is 10" in orders.json()["detail"]
    assert big.status_code == 413 and "4000 bytes" in big.json()["detail"]
    assert big.headers["x-request-id"] == "big-one"  # kept whatever the header order
    assert streamed.status_code == 413 and "4000 bytes" in streamed.json()["detail"]
    for answer in (many, big, streamed):
        assert answer.json()["request_id"] == answer.headers["x-request-id"]


def test_cors_allows_only_the_configured_origin(strict_server):
    with strict_server.client(key=None) as c:
        good = c.options(
            "/v1/model",
            headers={"Origin": "https://crm.example", "Access-Control-Request-Method": "GET"},
        )
        bad = c.options(
            "/v1/model",
            headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "GET"},
        )
    assert good.headers["access-control-allow-origin"] == "https://crm.example"
    assert "access-control-allow-origin" not in bad.headers


def test_the_app_refuses_to_be_built_without_keys():
    with pytest.raises(RuntimeError, match="CHURNML_API_KEYS"):
        create_app(ServeSettings(api_keys="", admin_keys="", insecure_no_auth=False))
    with pytest.raises(ConfigError, match="64 hexadecimal"):
        _ = ServeSettings(api_keys="sha256:abc").api_key_digests
