"""The HTTP API end to end: a real ``churnml serve`` (uvicorn) on 127.0.0.1, real stores."""

from __future__ import annotations

import json
import time

import pandas as pd
import pytest
from fastapi.testclient import TestClient

import churnml
from churnml import CONTRACT_COLUMNS, ScoreStore
from serve.app import create_app
from serve.settings import ServeSettings
from tests.serve.conftest import API_KEY, AS_OF, MODEL_NAME, histories, same

pytestmark = pytest.mark.slow

TEXT_COLUMNS = {"customer_id", "next_purchase_date", "segment", "value_tier", "model_version"}
NUMBERS = [c for c in CONTRACT_COLUMNS if c not in TEXT_COLUMNS]


def test_health_and_readiness(server, served):
    with server.client(key=None) as c:
        assert c.get("/healthz").json() == {"status": "ok"}
        ready = c.get("/readyz")
    assert ready.status_code == 200
    body = ready.json()
    assert body["ready"] is True and body["problems"] == []
    assert body["model_version"] == f"{MODEL_NAME}/1"
    assert body["snapshot_id"] == served.snapshot_id


def test_model_describes_the_champion_and_the_snapshot(server, served):
    with server.client() as c:
        info = c.get("/v1/model").json()
    assert info["name"] == MODEL_NAME and info["version"] == "1"
    assert info["label"] == f"{MODEL_NAME}/1" and info["family"] == "bgnbd"
    assert len(info["run_id"]) == 32 and info["trained_at"]
    assert info["data_as_of"] == AS_OF and info["horizon_days"] == 90
    assert 0.5 < info["metrics"]["auc"] < 1
    snap = info["snapshot"]
    assert snap["id"] == served.snapshot_id and snap["n_rows"] == len(served.scores)
    assert snap["as_of"] == AS_OF and snap["age_seconds"] >= 0


def test_lookup_returns_the_published_row(server, served):
    scores = served.scores.set_index("customer_id")
    picks = [scores.index[0], scores.index[len(scores) // 2], scores.index[-1]]
    with server.client() as c:
        for customer in picks:
            answer = c.get(f"/v1/customers/{customer}/scores")
            assert answer.status_code == 200
            assert answer.headers["x-snapshot-id"] == str(served.snapshot_id)
            row = answer.json()
            expected = scores.loc[customer]
            assert row["customer_id"] == customer
            for column in NUMBERS:
                assert same(row[column], expected[column]), column
            assert row["segment"] == expected["segment"]
            assert row["value_tier"] == expected["value_tier"]
            assert row["model_version"] == f"{MODEL_NAME}/1"
            assert row["next_purchase_date"] == (
                None
                if pd.isna(expected["next_purchase_date"])
                else str(pd.Timestamp(expected["next_purchase_date"]).date())
            )


def test_unknown_customer_is_a_404_naming_the_snapshot(server, served):
    with server.client() as c:
        answer = c.get("/v1/customers/no-such-customer/scores")
    assert answer.status_code == 404
    detail = answer.json()["detail"]
    assert "no-such-customer" in detail and f"snapshot {served.snapshot_id}" in detail


def test_posted_histories_score_as_the_snapshot_did(server, served):
    # the snapshot came from churnml score over the whole log; each BG/NBD row depends only on
    # the customer's own history, so posting those histories must give the same numbers
    # customers with a purchase (those yet to buy may have no line to post: zero-amount rows)
    bought = served.scores[served.scores["n_purchases"] > 0]
    customers = list(bought["customer_id"].iloc[::500])
    body = {"as_of": AS_OF, "horizon_days": 90, "customers": histories(served.tx, customers)}
    with server.client() as c:
        answer = c.post("/v1/scores", json=body)
    assert answer.status_code == 200, answer.text
    out = answer.json()
    assert out["model_version"] == f"{MODEL_NAME}/1" and out["horizon_days"] == 90
    assert out["unscored"] == []
    got = {r["customer_id"]: r for r in out["scores"]}
    assert set(got) == set(customers)
    snapshot = served.scores.set_index("customer_id")
    for customer, row in got.items():
        for column in ["p_alive", "p_repurchase", "expected_purchases", "expected_revenue"]:
            assert same(row[column], snapshot.loc[customer, column]), (customer, column)


def test_empty_history_and_late_orders_have_documented_answers(server):
    body = {
        "as_of": "2024-06-30",
        "customers": [
            {"customer_id": "00042", "transactions": []},
            {
                "customer_id": "00043",
                "transactions": [
                    {"date": "2024-01-05", "amount": 20},
                    {"date": "2024-03-01", "amount": 35.5},
                    {"date": "2024-07-04", "amount": 12},
                ],
            },
            {"customer_id": "00044", "transactions": [{"date": "2024-09-01", "amount": 5}]},
        ],
    }
    with server.client() as c:
        answer = c.post("/v1/scores", json=body)
    assert answer.status_code == 200, answer.text
    out = answer.json()
    assert [r["customer_id"] for r in out["scores"]] == ["00043"]
    assert out["horizon_days"] == 90  # the model's, when none is given
    unscored = {u["customer_id"]: u["reason"] for u in out["unscored"]}
    assert unscored == {
        "00042": "no transactions posted",
        "00044": "no purchase with a positive net amount up to as_of",
    }
    assert out["excluded_rows"] == {"after_as_of": 2}
    with server.client() as c:
        nobody = c.post("/v1/scores", json={"as_of": "2024-06-30", "customers": []})
        # found by schemathesis: nothing left to score was a 500
        returns_only = c.post(
            "/v1/scores",
            json={
                "as_of": "2024-06-30",
                "customers": [
                    {"customer_id": "r", "transactions": [{"date": "2024-01-01", "amount": -5}]}
                ],
            },
        )
    assert nobody.status_code == 200 and nobody.json()["scores"] == []
    assert returns_only.status_code == 200, returns_only.text
    assert returns_only.json()["scores"] == []
    assert returns_only.json()["unscored"] == [
        {"customer_id": "r", "reason": "no purchase with a positive net amount up to as_of"}
    ]


def test_recall_parameters_are_checked(server):
    with server.client() as c:
        unknown = c.get("/v1/recall?budget=10&cost_per_contact=1&segment=loyal")
        zero_cost = c.get("/v1/recall?budget=10&cost_per_contact=0")
        ranked = c.get("/v1/recall?budget=1&cost_per_contact=0.25&segment=warm&segment=lost")
        bad_uplift = c.get("/v1/recall?budget=10&cost_per_contact=1&uplift=2")
        bad_margin = c.get("/v1/recall?budget=10&cost_per_contact=1&margin=-0.1")
        nan_margin = c.get("/v1/recall?budget=10&cost_per_contact=1&margin=nan")
    assert unknown.status_code == 422 and unknown.json()["detail"][0]["field"].startswith("segment")
    assert zero_cost.status_code == 422
    assert zero_cost.json()["detail"][0]["field"] == "cost_per_contact"
    for answer, name in [(bad_uplift, "uplift"), (bad_margin, "margin"), (nan_margin, "margin")]:
        assert answer.status_code == 422, answer.text
        assert [d["field"] for d in answer.json()["detail"]] == [name]
    body = ranked.json()
    assert body["n_selected"] == 4 and body["total_cost"] == pytest.approx(1.0)
    assert {r["segment"] for r in body["customers"]} <= {"warm", "lost"}
    profits = [r["expected_profit"] for r in body["customers"]]
    assert profits == sorted(profits, reverse=True)
    assert [r["expected_value"] for r in body["customers"]] == profits  # the former name


@pytest.mark.parametrize(
    "query",
    [
        {"budget": 25, "cost_per_contact": 0.05, "uplift": 0.1, "margin": 0.3},
        {"budget": 1000, "cost_per_contact": 0.5, "stop_at_peak": "true"},
        {
            "budget": 3,
            "cost_per_contact": 0.3,
            "segment": ["warm", "active"],
            "include_likely_buyers": "true",
            "limit": 7,
        },
    ],
)
def test_recall_answers_plan_recall_on_the_snapshot(server, served, query):
    with ScoreStore(served.store_url) as store:
        rows = store.rows(served.snapshot_id)
    kwargs = {k: v for k, v in query.items() if k not in ("stop_at_peak", "include_likely_buyers")}
    for flag in ("stop_at_peak", "include_likely_buyers"):
        kwargs[flag] = query.get(flag) == "true"
    plan = churnml.plan_recall(rows, horizon_days=90, **kwargs)
    with server.client() as c:
        answer = c.get("/v1/recall", params=query)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert len(plan.contacts) > 0 and body["n_selected"] == len(plan.contacts)
    figures = plan.to_dict()
    assert body["snapshot_id"] == served.snapshot_id
    assert body["model_version"] == f"{MODEL_NAME}/1"
    for name in (
        "budget",
        "cost_per_contact",
        "uplift",
        "margin",
        "expected_margin",
        "expected_profit",
        "roi",
        "peak_contacts",
        "peak_cost",
        "peak_profit",
        "candidates",
    ):
        assert same(body[name], figures[name]), name
    assert same(body["total_cost"], figures["cost"])
    assert body["excluded"] == figures["excluded"]
    # the snapshot carries the purchase cycles, and the reasons quote them
    assert "days since last purchase" in body["customers"][0]["reason"]
    expected = plan.contacts.astype(object).where(plan.contacts.notna(), None)
    assert [r["customer_id"] for r in body["customers"]] == expected["customer_id"].tolist()
    for got, want in zip(body["customers"], expected.to_dict("records"), strict=True):
        assert set(got) == set(want)
        for column, value in want.items():
            if isinstance(value, str):
                assert got[column] == value, column
            else:
                assert same(got[column], value), column
    # and by hand from the published rows: uplift x P(alive) x (1 - p) x margin x order value
    uplift, margin = query.get("uplift", 0.05), query.get("margin", 1.0)
    cost = query["cost_per_contact"]
    scores = served.scores.set_index("customer_id")
    total = 0.0
    for row in body["customers"]:
        s = scores.loc[row["customer_id"]]
        order_value = s["expected_revenue"] / s["expected_purchases"]
        won_back = uplift * s["p_alive"] * (1 - s["p_repurchase"]) * margin * order_value
        assert row["expected_profit"] == pytest.approx(won_back - cost, rel=1e-9, abs=1e-12)
        total += won_back
    spent = cost * len(body["customers"])
    assert body["total_cost"] == pytest.approx(spent) and body["total_cost"] <= query["budget"]
    assert body["roi"] == pytest.approx((total - spent) / spent)


GOOD = {"customer_id": "a", "transactions": [{"date": "2024-01-01", "amount": 1.5}]}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ('{"as_of": "2024-06-30", "customers": [', "body"),
        ({"as_of": "2024-06-30", "customers": "many"}, "customers"),
        ({"as_of": "30/06/2024x", "customers": [GOOD]}, "as_of"),
        ({"as_of": "2024-06-30", "horizon_days": 0, "customers": [GOOD]}, "horizon_days"),
        ({"as_of": "2024-06-30", "horizon_days": -5, "customers": [GOOD]}, "horizon_days"),
        ({"as_of": "2024-06-30", "customers": [GOOD], "colour": "red"}, "colour"),
        ({"as_of": "2024-06-30", "customers": [GOOD, GOOD]}, "customers"),
        (
            {
                "as_of": "2024-06-30",
                "customers": [{"customer_id": "a", "transactions": [{"date": "x", "amount": 1}]}],
            },
            "customers[0].transactions[0].date",
        ),
        (
            '{"as_of": "2024-06-30", "customers": [{"customer_id": "a", "transactions": '
            '[{"date": "2024-01-01", "amount": NaN}]}]}',
            "customers[0].transactions[0].amount",
        ),
        (
            '{"as_of": "2024-06-30", "customers": [{"customer_id": "a", "transactions": '
            '[{"date": "2024-01-01", "amount": 1e999}]}]}',
            "customers[0].transactions[0].amount",
        ),
        (
            {
                "as_of": "2024-06-30",
                "customers": [{"customer_id": "a", "transactions": [{"date": "2024-01-01"}]}],
            },
            "customers[0].transactions[0].amount",
        ),
        # found by schemathesis: types are not coerced beyond the schema
        ({"as_of": "2024-06-30", "horizon_days": "90", "customers": []}, "horizon_days"),
        ({"as_of": "2024-06-30", "horizon_days": 90.5, "customers": []}, "horizon_days"),
        ({"as_of": 20240630, "customers": []}, "as_of"),
        (
            {
                "as_of": "2024-06-30",
                "customers": [
                    {"customer_id": "a", "transactions": [{"date": "2024-01-01", "amount": True}]}
                ],
            },
            "customers[0].transactions[0].amount",
        ),
        (
            {
                "as_of": "2024-06-30",
                "customers": [{"customer_id": "a", "transactions": [{"date": 0, "amount": 1}]}],
            },
            "customers[0].transactions[0].date",
        ),
        (b"\x80\xff{}", "body"),
    ],
)
def test_invalid_requests_are_422_naming_the_field(server, body, field):
    with server.client() as c:
        if isinstance(body, str | bytes):
            answer = c.post(
                "/v1/scores", content=body, headers={"content-type": "application/json"}
            )
        else:
            answer = c.post("/v1/scores", json=body)
    assert answer.status_code == 422, answer.text
    fields = [d["field"] for d in answer.json()["detail"]]
    assert any(f == field or f.startswith(field) for f in fields), fields


def test_every_v1_route_needs_a_key(server):
    with server.client(key=None) as c:
        paths = c.get("/openapi.json").json()["paths"]
        v1 = [
            (method, path.replace("{customer_id}", "1"))
            for path, item in paths.items()
            if path.startswith("/v1")
            for method in item
        ]
        assert len(v1) >= 5
        for key in (None, "wrong-key", API_KEY + "x"):
            headers = {"X-API-Key": key} if key else {}
            for method, path in v1:
                answer = c.request(method.upper(), path, headers=headers)
                assert answer.status_code == 401, (method, path, key)
                assert answer.headers["www-authenticate"] == "ApiKey"
        # found in review: the key is checked before the body is read, so a malformed body
        # without a key is a 401 (not a 422), and nobody without a key gets a body parsed
        garbage = c.post(
            "/v1/scores", content=b"{not json", headers={"content-type": "application/json"}
        )
        assert garbage.status_code == 401
        # no redirect to the slash-less path (its Location would echo the Host header)
        slash = c.get("/v1/model/", headers={"X-API-Key": API_KEY, "Host": "evil.example"})
        assert slash.status_code == 404 and "location" not in slash.headers
    with server.client() as c:
        assert c.post("/v1/admin/reload").status_code == 403  # a plain key is not an admin key
        # an id holding a slash (%2F) is looked up, and the 404 names the snapshot searched
        slashed = c.get("/v1/customers/a%2Fb/scores")
        assert slashed.status_code == 404 and "'a/b'" in slashed.json()["detail"]
        assert "snapshot" in slashed.json()["detail"]


def test_responses_carry_request_id_and_security_headers(server):
    with server.client() as c:
        mine = c.get("/v1/model", headers={"X-Request-ID": "crm-call-0001"})
        generated = c.get("/v1/model")
        refused = c.get("/v1/model", headers={"X-Request-ID": "bad id with spaces"})
        preflight = c.options(
            "/v1/model",
            headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "GET"},
        )
    assert mine.headers["x-request-id"] == "crm-call-0001"
    assert len(generated.headers["x-request-id"]) == 32
    assert refused.headers["x-request-id"] != "bad id with spaces"
    for answer in (mine, preflight):
        assert answer.headers["x-content-type-options"] == "nosniff"
        assert answer.headers["x-frame-options"] == "DENY"
        assert "default-src 'none'" in answer.headers["content-security-policy"]
    assert "access-control-allow-origin" not in preflight.headers  # CORS is off by default
    assert "server" not in mine.headers


def test_docs_document_every_field_with_an_example(server):
    with server.client(key=None) as c:
        docs = c.get("/docs")
        assert docs.status_code == 200
        # Swagger UI's script and style come from the app itself, so /docs works offline
        assert "cdn." not in docs.text and "/static-offline-docs/swagger-ui-bundle.js" in docs.text
        script = c.get("/static-offline-docs/swagger-ui-bundle.js")
        assert script.status_code == 200 and len(script.content) > 100_000
        schema = c.get("/openapi.json").json()
    assert schema["components"]["securitySchemes"]["APIKeyHeader"]["name"] == "X-API-Key"
    missing = []
    for name, model in schema["components"]["schemas"].items():
        if name in ("HTTPValidationError", "ValidationError"):
            continue  # FastAPI's own, unused: our 422 is ValidationErrorResponse
        for field_name, prop in model.get("properties", {}).items():
            if "description" not in prop:
                missing.append(f"{name}.{field_name}: description")
            if not prop.get("examples") and not _has_nested(prop):
                missing.append(f"{name}.{field_name}: example")
    assert missing == []


def _has_nested(prop) -> bool:
    # a field holding another documented model is exemplified by that model's fields
    text = json.dumps(prop)
    return "$ref" in text


def test_metrics_and_access_log(server):
    with server.client() as c:
        c.get("/v1/customers/1/scores", headers={"X-Request-ID": "metrics-probe-1"})
        text = c.get("/metrics").text
    assert (
        'churnml_http_requests_total{method="GET",route="/v1/customers/{customer_id:path}/scores"'
        in (text)
    )
    assert "churnml_http_request_duration_seconds_bucket" in text
    assert f'churnml_model_info{{family="bgnbd",version="{MODEL_NAME}/1",worker="' in text
    assert "churnml_snapshot_age_seconds" in text
    deadline = time.monotonic() + 5  # access lines are flushed every quarter second
    access = []
    while not access and time.monotonic() < deadline:
        time.sleep(0.1)
        lines = [json.loads(x) for x in server.log_lines() if x.startswith('{"ts"')]
        access = [x for x in lines if x.get("request_id") == "metrics-probe-1"]
    assert len(access) == 1
    (entry,) = access
    assert entry["route"] == "/v1/customers/{customer_id:path}/scores" and entry["status"] in (
        200,
        404,
    )
    assert entry["model_version"] == f"{MODEL_NAME}/1" and entry["latency_ms"] > 0
    assert API_KEY not in server.log_path.read_text()


@pytest.fixture(scope="module")
def lean_and_reference(served):
    """The same app with the lean lookup on and off (FastAPI's route, the reference)."""
    clients = []
    for lean in (True, False):
        settings = ServeSettings(
            api_keys=API_KEY,
            score_store=served.store_url,
            model_name=MODEL_NAME,
            reload_interval_seconds=0,
            lean_lookup=lean,
        )
        clients.append(TestClient(create_app(settings)).__enter__())
    yield clients
    for client in clients:
        client.__exit__(None, None, None)


def test_lean_lookup_answers_as_the_fastapi_route_does(lean_and_reference):
    # status, body, snapshot header, auth challenge and content type must match for known and
    # unknown ids, with and without a valid key
    for customer in ["00001", "no-such-customer", "x" * 256, "x" * 257, "a b"]:
        for key in (API_KEY, None, "wrong"):
            headers = {"X-Request-ID": "same-id"} | ({"X-API-Key": key} if key else {})
            answers = []
            for client in lean_and_reference:
                answer = client.get(f"/v1/customers/{customer}/scores", headers=headers)
                answers.append(
                    (
                        answer.status_code,
                        answer.json(),
                        answer.headers.get("x-snapshot-id"),
                        answer.headers.get("www-authenticate"),
                        answer.headers["content-type"],
                    )
                )
            assert answers[0] == answers[1], (customer, key)
