"""The README's "CRM integration" commands work as written, on a fresh folder."""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.conftest import ROOT
from tests.serve.conftest import free_port

pytestmark = pytest.mark.slow


def _blocks() -> list[str]:
    text = (ROOT / "README.md").read_text()
    section = text.split("\n## CRM integration\n", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```bash\n(.+?)\n```", section, re.DOTALL)


def test_readme_crm_commands_work_as_written(tmp_path):
    setup, calls = _blocks()
    port = free_port()
    lines = setup.splitlines()
    assert lines[-1] == "churnml serve --workers 2 &"
    # the one liberty taken: a free port instead of 8000, which may be taken on this machine
    script = "\n".join(
        ["set -euo pipefail", *lines[:-1], f"exec churnml serve --workers 2 --port {port}"]
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "CHURNML_"))}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}"
    log = (tmp_path / "serve.log").open("wb")
    server = subprocess.Popen(
        ["bash", "-c", script], cwd=tmp_path, env=env, stdout=log, stderr=subprocess.STDOUT
    )
    try:
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            assert server.poll() is None, (tmp_path / "serve.log").read_text()
            try:
                if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            time.sleep(0.5)
        assert (tmp_path / "mlruns.db").exists() and (tmp_path / "scores.db").exists()
        key = _served_key(server.pid)
        answers = []
        for command in calls.splitlines():
            command = command.replace("127.0.0.1:8000", f"127.0.0.1:{port}")
            assert command.startswith("curl -s ")
            done = subprocess.run(
                ["bash", "-c", command.replace("curl -s ", "curl -s -w '\\n%{http_code}' ", 1)],
                env={**env, "CHURNML_API_KEYS": key},
                capture_output=True,
                text=True,
                check=True,
            )
            body, status = done.stdout.rsplit("\n", 1)
            answers.append((status, json.loads(body)))
    finally:
        server.terminate()
        server.wait(timeout=30)
        log.close()
    assert [status for status, _ in answers] == ["200"] * 5
    ready, model, row, posted, recall = (body for _, body in answers)
    assert ready["ready"] is True
    assert model["label"] == "churnml/1" and model["data_as_of"] == "1997-09-30"
    assert row["customer_id"] == "00042" and 0 <= row["p_alive"] <= 1
    assert [r["customer_id"] for r in posted["scores"]] == ["new-1"]
    assert recall["n_selected"] == 3 and recall["total_cost"] == pytest.approx(0.15)
    # the defaults: uplift 0.05, margin 1; the list is ranked by expected profit
    assert recall["uplift"] == 0.05 and recall["margin"] == 1.0
    profits = [r["expected_profit"] for r in recall["customers"]]
    assert len(profits) == 3 and profits == sorted(profits, reverse=True)
    margin = sum(p + 0.05 for p in profits)
    assert recall["expected_profit"] == pytest.approx(margin - 0.15)
    assert recall["roi"] == pytest.approx((margin - 0.15) / 0.15)
    assert recall["candidates"] >= 3 and recall["peak_contacts"] >= 0


def _served_key(pid: int) -> str:
    """The key the README's `export` made, read from the server's environment."""
    for child in [pid, *_children(pid)]:
        environ = Path(f"/proc/{child}/environ")
        if environ.exists():
            for item in environ.read_bytes().split(b"\0"):
                if item.startswith(b"CHURNML_API_KEYS="):
                    return item.split(b"=", 1)[1].decode()
    raise AssertionError(f"no CHURNML_API_KEYS in the environment of {shlex.quote(str(pid))}")


def _children(pid: int) -> list[int]:
    found = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(x) for x in found.read_text().split()] if found.exists() else []
