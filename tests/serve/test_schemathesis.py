"""schemathesis over the OpenAPI schema of a real ``churnml serve``: no 5xx, no off-schema answer.

The session's server (uvicorn on 127.0.0.1, the champion and snapshot of ``tests/serve/conftest``)
is tested by schemathesis' own runner, ``schemathesis run``, in a subprocess, reading the schema
the server publishes at ``/openapi.json``. Two runs:

* **positive**: data the schema allows, sent with a valid ``X-API-Key`` (the admin key on
  ``POST /v1/admin/reload``, which needs one). Every answer must be a documented status, with
  the documented content type and body, never a 5xx; data the schema allows must not be refused
  (``positive_data_acceptance``); a route that declares the key must refuse a request without
  it or with a wrong one (``ignored_auth``).
* **negative**: data the schema forbids (wrong types, out-of-range numbers, unknown fields,
  missing fields), with the valid key: it must be refused with a 4xx (``negative_data_rejection``),
  documented, never a 5xx.

Both are bounded and reproducible: deterministic generation (Hypothesis' ``derandomize``), a
fixed number of examples per operation, no shrinking, no example database, and only the
examples, coverage and fuzzing phases (the API has no links for the stateful phase). Each run
writes schemathesis' JSON report (totals) and its NDJSON event log (cases per operation and
phase); the numbers are printed (``pytest -s``) and any failure is reported with schemathesis'
own output, which holds a ``curl`` line reproducing each failing request.

Why a subprocess rather than ``schemathesis.pytest.from_fixture`` over the ``server`` fixture: its
lazy loader (schemathesis 4.32.5, the newest) reads ``request.node._nodeid``, which pytest 9 no
longer has, so every such test fails with an ``AttributeError`` before a request is sent.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import httpx
import pytest

from tests.serve.conftest import ADMIN_KEY, API_KEY

pytestmark = pytest.mark.slow

MAX_EXAMPLES = 30  # per operation and mode in the fuzzing phase (coverage adds its own cases)
ADMIN_PATH = "/v1/admin/reload"
PHASES = "examples,coverage,fuzzing"
POSITIVE_CHECKS = [
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_headers_conformance",
    "response_schema_conformance",
    "positive_data_acceptance",
    "ignored_auth",
]
NEGATIVE_CHECKS = [
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_schema_conformance",
    "negative_data_rejection",
]
RUN_TIMEOUT_S = 120


def _config(path: Path) -> Path:
    """schemathesis.toml for both runs: the keys, and generation that is bounded and repeatable."""
    path.write_text(
        f"""\
headers = {{ "X-API-Key" = "{API_KEY}" }}
request-timeout = 30

[generation]
max-examples = {MAX_EXAMPLES}
deterministic = true
no-shrink = true
database = "none"
# the key is sent as configured above: random values for it would only test the 401 path
with-security-parameters = false

# the reload route needs an admin key (a plain one is answered 403)
[[operations]]
include-path = "{ADMIN_PATH}"
headers = {{ "X-API-Key" = "{ADMIN_KEY}" }}
"""
    )
    return path


def _operations(url: str) -> list[str]:
    schema = httpx.get(f"{url}/openapi.json", timeout=10).json()
    methods = {"get", "post", "put", "patch", "delete"}
    return sorted(
        f"{method.upper()} {path}"
        for path, item in schema["paths"].items()
        for method in item
        if method in methods
    )


def _cases_by_operation(ndjson: Path) -> dict[str, Counter]:
    """Cases generated per operation and phase, from schemathesis' event log."""
    counts: dict[str, Counter] = {}
    for line in ndjson.read_text().splitlines():
        event = json.loads(line)
        finished = event.get("ScenarioFinished")
        if not finished:
            continue
        recorder = finished["recorder"]
        cases = len(recorder.get("cases", {}))
        counts.setdefault(recorder["label"], Counter())[finished["phase"]] += cases
    return counts


def _run(url: str, folder: Path, mode: str, checks: list[str]) -> tuple[dict, dict, str]:
    """Run ``schemathesis run`` against the server; return its JSON report, cases, output."""
    folder.mkdir()
    config = _config(folder / "schemathesis.toml")
    report, events = folder / "report.json", folder / "events.ndjson"
    command = [
        sys.executable, "-m", "schemathesis.cli",
        "--config-file", str(config),
        "run", f"{url}/openapi.json",
        "--mode", mode,
        "--phases", PHASES,
        "--checks", ",".join(checks),
        "--report", "json,ndjson",
        "--report-json-path", str(report),
        "--report-ndjson-path", str(events),
        "--no-color",
    ]  # fmt: skip
    began = time.perf_counter()
    done = subprocess.run(
        command,
        cwd=folder,  # schemathesis looks for a schemathesis.toml upwards from here; none there
        env={**os.environ, "NO_COLOR": "1", "COLUMNS": "120"},
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT_S,
        check=False,
    )
    elapsed = time.perf_counter() - began
    output = done.stdout + done.stderr
    assert report.exists(), f"schemathesis wrote no report (exit {done.returncode}):\n{output}"
    result = json.loads(report.read_text())
    cases = _cases_by_operation(events)
    totals = result["test_cases"]
    print(
        f"\nschemathesis {mode}: {result['operations']['tested']}/{result['operations']['total']} "
        f"operations, {totals['generated']} cases, {totals['with_failures']} with failures "
        f"({totals['unique_failures']} unique), {len(result['errors'])} errors, "
        f"{elapsed:.1f} s (engine {result['running_time']:.1f} s)"
    )
    for label in sorted(cases):
        phases = ", ".join(f"{phase} {n}" for phase, n in sorted(cases[label].items()))
        print(f"  {label}: {sum(cases[label].values())} ({phases})")
    return result, cases, output


def _assert_clean(result: dict, cases: dict, output: str, expected_operations: list[str]) -> None:
    failures = [
        f"{f['code']} {f['title']} x{f['count']} in {', '.join(f['operations'])}"
        for f in result["failures"]
    ]
    assert not failures and not result["errors"] and result["exit_code"] == 0, (
        "schemathesis found failures:\n  "
        + "\n  ".join(failures + [f"error: {e['title']} x{e['count']}" for e in result["errors"]])
        + "\n\nits output (each failure has a curl line to reproduce it):\n"
        + output
    )
    assert result["complete"] and result["stop_reason"] == "completed"
    operations = result["operations"]
    assert operations["tested"] == operations["total"] == len(expected_operations)
    assert operations["errored"] == operations["skipped"] == 0
    # every operation really was exercised, the scoring and recall routes with many cases
    assert sorted(cases) == expected_operations
    for label, per_phase in cases.items():
        assert sum(per_phase.values()) > 0, label
    # the operations with inputs were fuzzed in earnest (30 cases each when this was written)
    for label in ("POST /v1/scores", "GET /v1/recall", "GET /v1/customers/{customer_id}/scores"):
        assert cases[label]["fuzzing"] >= MAX_EXAMPLES // 2, (label, cases[label])
    assert result["test_cases"]["generated"] == sum(sum(c.values()) for c in cases.values())


@pytest.fixture(scope="module")
def operations(server) -> list[str]:
    found = _operations(server.url)
    # the routes the issue names must be in the schema, or the runs below would not test them
    for expected in (
        "GET /healthz",
        "GET /readyz",
        "GET /metrics",
        "GET /v1/model",
        "GET /v1/customers/{customer_id}/scores",
        "POST /v1/scores",
        "GET /v1/recall",
        f"POST {ADMIN_PATH}",
    ):
        assert expected in found, f"{expected} is not in the served OpenAPI schema: {found}"
    return found


def test_valid_data_gets_documented_answers_and_never_a_5xx(server, operations, tmp_path):
    result, cases, output = _run(server.url, tmp_path / "positive", "positive", POSITIVE_CHECKS)
    _assert_clean(result, cases, output, operations)


def test_invalid_data_is_refused_with_a_documented_4xx_never_a_5xx(server, operations, tmp_path):
    result, cases, output = _run(server.url, tmp_path / "negative", "negative", NEGATIVE_CHECKS)
    _assert_clean(result, cases, output, operations)


def test_the_server_survived_both_runs(server):
    # the fuzzing sent odd bodies, headers and paths: the shared server must still be ready
    with server.client() as c:
        assert c.get("/readyz").status_code == 200
        assert c.get("/v1/model").status_code == 200
    assert server.process.poll() is None
