"""Commands around the score store and the service: score --publish, snapshots, serve, recall."""

from __future__ import annotations

import json
import os

import pandas as pd
import pytest
import uvicorn
from typer.testing import CliRunner

from churnml.cli import app
from churnml.data import load_transactions, simulate_transactions
from churnml.models import BTYDScorer
from churnml.models.bundle import save_bundle
from churnml.settings import RunSettings
from tests.store.conftest import score_table

runner = CliRunner()
AS_OF = "2021-01-31"


@pytest.fixture(scope="module")
def scored_setup(tmp_path_factory):
    """A transactions CSV and a bundle folder (a BG/NBD fit, no registry: fast)."""
    folder = tmp_path_factory.mktemp("cli-store")
    frame, _ = simulate_transactions(300, seed=5, observation_days=400)
    frame.to_csv(folder / "log.csv", index=False)
    tx = load_transactions(frame, as_of=AS_OF)
    scorer = BTYDScorer(kind="bgnbd").fit(tx, AS_OF)
    settings = RunSettings(as_of=AS_OF, horizon_days=60, families=("bgnbd",))
    meta = {"family": "bgnbd", "settings": settings.to_dict(), "as_of": AS_OF}
    save_bundle(scorer, meta, folder / "model")
    return folder


def _score(folder, store, *extra):
    return runner.invoke(
        app,
        [
            "score",
            "-t",
            str(folder / "log.csv"),
            "--as-of",
            AS_OF,
            "--model",
            str(folder / "model"),
            "--out",
            str(folder / "scores.csv"),
            "--publish",
            "--store",
            store,
            *extra,
        ],
    )


def test_publish_list_activate(scored_setup, tmp_path):
    store = f"sqlite:///{(tmp_path / 'scores.db').as_posix()}"
    empty = runner.invoke(app, ["snapshots", "list", "--store", store])
    assert empty.exit_code == 0 and "No snapshots in" in empty.output

    first = _score(scored_setup, store)
    assert first.exit_code == 0, first.output
    text = " ".join(first.output.split())
    assert "Published snapshot 1 (" in text and "it is now the current snapshot" in text
    second = _score(scored_setup, store, "--keep", "2", "--horizon-days", "30")
    assert second.exit_code == 0 and "Published snapshot 2" in second.output

    listing = runner.invoke(app, ["snapshots", "list", "--store", store])
    assert listing.exit_code == 0, listing.output
    lines = [line for line in listing.output.splitlines() if "model" in line and "│" in line]
    assert len(lines) == 2 and "*" in lines[0] and "*" not in lines[1]  # newest first, current
    as_json = runner.invoke(app, ["snapshots", "list", "--store", store, "--json"])
    records = json.loads(as_json.output)
    assert [(r["id"], r["is_current"], r["horizon_days"]) for r in records] == [
        (2, True, 30),
        (1, False, 60),
    ]
    assert records[0]["model_version"] == "model" and records[0]["n_rows"] > 250

    back = runner.invoke(app, ["snapshots", "activate", "1", "--store", store])
    assert back.exit_code == 0, back.output
    assert "Snapshot 1 is now current (was 2)" in " ".join(back.output.split())
    records = json.loads(
        runner.invoke(app, ["snapshots", "list", "--store", store, "--json"]).output
    )
    assert [r["is_current"] for r in records] == [False, True]

    missing = runner.invoke(app, ["snapshots", "activate", "7", "--store", store])
    assert missing.exit_code == 2 and "no snapshot 7 (ids: 2, 1)" in " ".join(
        missing.output.split()
    )
    assert "Traceback" not in missing.output


def test_an_unreachable_store_fails_before_scoring_without_a_traceback(scored_setup):
    store = "postgresql+psycopg://crm:hunter2@127.0.0.1:1/scores"
    result = _score(scored_setup, store)
    assert result.exit_code == 2
    text = " ".join(result.output.split())
    assert "score store postgresql+psycopg://crm:***@127.0.0.1:1/scores" in text
    assert "hunter2" not in result.output and "Traceback" not in result.output
    assert "Scored" not in text  # refused before the (possibly long) scoring run


@pytest.fixture
def fake_uvicorn(monkeypatch):
    """Record what churnml serve would start, without starting a server."""
    calls = []

    def run(app_name, **kwargs):
        calls.append(
            {
                "app": app_name,
                **kwargs,
                "env": {
                    k: os.environ.get(k)
                    for k in ("CHURNML_INSECURE_NO_AUTH", "PROMETHEUS_MULTIPROC_DIR")
                },
            }
        )
        folder = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
        calls[-1]["dir_existed"] = folder is not None and os.path.isdir(folder)

    monkeypatch.setattr(uvicorn, "run", run)
    monkeypatch.delenv("CHURNML_INSECURE_NO_AUTH", raising=False)
    monkeypatch.delenv("PROMETHEUS_MULTIPROC_DIR", raising=False)
    return calls


def test_serve_refuses_to_start_without_keys(fake_uvicorn, monkeypatch):
    monkeypatch.delenv("CHURNML_API_KEYS", raising=False)
    result = runner.invoke(app, ["serve"])
    assert result.exit_code == 2 and fake_uvicorn == []
    text = " ".join(result.output.split())
    assert "set CHURNML_API_KEYS" in text and "--insecure-no-auth" in text
    monkeypatch.setenv("CHURNML_API_KEYS", " , ")
    assert runner.invoke(app, ["serve"]).exit_code == 2 and fake_uvicorn == []


def test_serve_refuses_malformed_keys_and_workers_that_would_never_reload(
    fake_uvicorn, monkeypatch
):
    # found in review: a malformed key made each worker fail at start-up, and uvicorn restarted
    # them in a loop; several workers without polling never all picked up an admin reload
    monkeypatch.setenv("CHURNML_API_KEYS", "good-key,sha256:zz")
    bad_key = runner.invoke(app, ["serve", "--workers", "2"])
    assert bad_key.exit_code == 2 and fake_uvicorn == []
    assert "API key 2" in bad_key.output and "zz" not in bad_key.output
    monkeypatch.setenv("CHURNML_API_KEYS", "good-key")
    monkeypatch.setenv("CHURNML_ADMIN_KEYS", "caf\u00e9")
    assert runner.invoke(app, ["serve"]).exit_code == 2 and fake_uvicorn == []
    monkeypatch.delenv("CHURNML_ADMIN_KEYS")
    monkeypatch.setenv("CHURNML_RELOAD_INTERVAL_SECONDS", "0")
    never = runner.invoke(app, ["serve", "--workers", "2"])
    assert never.exit_code == 2 and fake_uvicorn == []
    assert "reaches one worker only" in " ".join(never.output.split())
    assert runner.invoke(app, ["serve", "--workers", "1"]).exit_code == 0
    assert len(fake_uvicorn) == 1


def test_serve_runs_the_app_by_its_import_string(fake_uvicorn, monkeypatch):
    monkeypatch.setenv("CHURNML_API_KEYS", "k1")
    result = runner.invoke(app, ["serve", "--port", "8123"])
    assert result.exit_code == 0, result.output
    (call,) = fake_uvicorn
    assert call["app"] == "serve.app:create_app" and call["factory"] is True
    assert (call["host"], call["port"], call["workers"]) == ("127.0.0.1", 8123, 1)
    assert (call["loop"], call["http"]) == ("uvloop", "httptools")
    assert call["access_log"] is False and call["server_header"] is False
    assert call["env"] == {"CHURNML_INSECURE_NO_AUTH": None, "PROMETHEUS_MULTIPROC_DIR": None}
    assert "warning" not in result.output


def test_serve_options_set_the_environment_for_the_workers(fake_uvicorn, monkeypatch):
    monkeypatch.delenv("CHURNML_API_KEYS", raising=False)
    result = runner.invoke(
        app, ["serve", "--insecure-no-auth", "--workers", "2", "--host", "0.0.0.0"]
    )
    assert result.exit_code == 0, result.output
    (call,) = fake_uvicorn
    assert call["workers"] == 2 and call["env"]["CHURNML_INSECURE_NO_AUTH"] == "1"
    folder = call["env"]["PROMETHEUS_MULTIPROC_DIR"]
    assert folder and call["dir_existed"] and not os.path.exists(folder)  # removed on exit
    assert "PROMETHEUS_MULTIPROC_DIR" not in os.environ
    assert "CHURNML_INSECURE_NO_AUTH" not in os.environ
    text = " ".join(result.output.split())
    assert "binding to 0.0.0.0" in text and "--insecure-no-auth" in text


def test_recall_from_a_scores_csv(tmp_path):
    scores = score_table(30, seed=3)
    scores.loc[0, "customer_id"] = "0001"
    scores.loc[0, "segment"] = "warm"
    # 0.05 x 0.9 x (1 - 0.1) x 1e6 = 40,500 expected back: first in any at-risk list
    scores.loc[0, ["p_alive", "p_repurchase", "expected_revenue", "expected_purchases"]] = [
        0.9,
        0.1,
        1e6,
        1.0,
    ]
    candidates = scores["segment"].isin(["warm", "high_recall", "low_recall"]) & (
        scores["p_repurchase"] < 0.7
    )
    assert candidates.sum() >= 4
    path = tmp_path / "scores.csv"
    scores.to_csv(path, index=False)
    out = tmp_path / "out" / "recall.csv"
    args = ["recall", "--scores", str(path), "--budget", "10", "--cost-per-contact", "2.5"]
    result = runner.invoke(app, [*args, "--out", str(out), "--horizon-days", "90"])
    assert result.exit_code == 0, result.output
    ranked = pd.read_csv(out, dtype={"customer_id": str})
    assert len(ranked) == 4 and ranked["customer_id"].iloc[0] == "0001"
    assert ranked["segment"].isin(["warm", "high_recall", "low_recall"]).all()
    assert ranked["expected_profit"].iloc[0] == pytest.approx(0.05 * 0.9 * 0.9 * 1e6 - 2.5)
    assert ranked["expected_profit"].is_monotonic_decreasing
    text = " ".join(result.output.split())
    assert "4 customers to contact (warm, high_recall, low_recall), total cost 10.00" in text
    # by hand from the table: 0.05 x P(alive) x (1 - p_repurchase) x revenue / purchases
    rows = scores.set_index("customer_id").loc[ranked["customer_id"]]
    won_back = 0.05 * rows["p_alive"] * (1 - rows["p_repurchase"])
    roi = ((won_back * rows["expected_revenue"] / rows["expected_purchases"]).sum() - 10) / 10
    assert f"ROI {roi:.1%}" in text and f"{int(candidates.sum())} candidates" in text
    assert "0001" in text and "in 90 d" in text

    only_new = runner.invoke(app, [*args, "--segment", "new", "--limit", "1", "--out", str(out)])
    assert only_new.exit_code == 0, only_new.output
    assert pd.read_csv(out)["segment"].tolist() == ["new"]

    bad = runner.invoke(app, [*args[:-1], "0", "--out", str(out)])
    assert bad.exit_code == 2 and "cost_per_contact must be a positive number" in bad.output
    missing = runner.invoke(app, [*args[:2], str(tmp_path / "none.csv"), *args[3:], "--out", "x"])
    assert missing.exit_code == 2 and "no such file" in missing.output
    assert "Traceback" not in bad.output + missing.output
