"""The registered model: safe formats, lean artifacts, scoring in a fresh process, a real server."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import mlflow
import pandas as pd
import pytest
from mlflow import MlflowClient

from churnml import __version__
from churnml.data import load_transactions, simulate_transactions
from churnml.exceptions import ConfigError
from churnml.scoring import CONTRACT_COLUMNS
from churnml.workflows import list_versions, rollback, score, train

AS_OF = "2021-02-28"
# every test here trains and registers models (several seconds each): the full run only
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def log():
    frame, _ = simulate_transactions(1500, seed=5, observation_days=500)
    # distinctive ids, so that any leak of customer data into artifacts is easy to find
    frame["customer_id"] = "cust-" + frame["customer_id"]
    return frame


@pytest.fixture(scope="module")
def trained(log):
    tx = load_transactions(log, as_of=AS_OF)
    return train(tx, horizon_days=60, families=("bgnbd", "gbm"), model_name="lean", seed=3)


def _files(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if p.is_file()]


def test_registered_model_is_safe_and_lean(trained, tmp_path):
    assert trained.version == "1" and trained.promoted
    local = Path(mlflow.artifacts.download_artifacts("models:/lean@champion", dst_path=tmp_path))
    files = _files(local)
    names = {p.relative_to(local).as_posix() for p in files}
    assert "pyfunc_model.py" in names and "MLmodel" in names
    assert "artifacts/bundle/bundle.json" in names
    assert "artifacts/bundle/scorer.json" in names
    if trained.champion in ("gbm", "hybrid"):
        assert "artifacts/bundle/repurchase.lgb.txt" in names  # LightGBM's text format
    for path in files:
        head = path.read_bytes()[:2]
        # pickle protocols 2-5 start with 0x80 and the protocol number
        assert not (head[:1] == b"\x80" and head[1:2] in b"\x02\x03\x04\x05"), path
        assert path.suffix not in {".pkl", ".pickle", ".joblib", ".cloudpickle"}, path
    mlmodel = (local / "MLmodel").read_text()
    # models from code: MLflow records its cloudpickle version, but the model is the .py file
    assert "loader_module: mlflow.pyfunc.loaders.code_model" in mlmodel
    assert ".pkl" not in mlmodel
    requirements = (local / "requirements.txt").read_text().split()
    assert f"churnml=={__version__}" in requirements
    assert any(r.startswith("lightgbm==") for r in requirements)
    # no customer's id, in the model or anywhere in the run's artifacts
    run_dir = Path(mlflow.artifacts.download_artifacts(run_id=trained.run_id, dst_path=tmp_path))
    for path in [*files, *_files(run_dir)]:
        assert b"cust-" not in path.read_bytes(), f"customer data in {path}"
    example = json.loads((local / "input_example.json").read_text())
    assert all(
        str(c).startswith("example-") for c in pd.DataFrame(**example["inputs"])["customer_id"]
    )
    signature = mlflow.models.get_model_info("models:/lean@champion").signature
    assert {p.name for p in signature.params.params} == {"as_of", "horizon_days"}
    assert "customer_id" in signature.inputs.input_names()


def test_fresh_process_loads_champion_and_scores_like_churnml_score(trained, log, tmp_path):
    csv = tmp_path / "log.csv"
    log.to_csv(csv, index=False)
    out = tmp_path / "pyfunc.csv"
    code = (
        "import sys, mlflow, pandas as pd\n"
        "model = mlflow.pyfunc.load_model('models:/lean@champion')\n"
        "tx = pd.read_csv(sys.argv[1], dtype={'customer_id': str})\n"
        f"scores = model.predict(tx, params={{'as_of': '{AS_OF}', 'horizon_days': 60}})\n"
        "scores.to_csv(sys.argv[2], index=False)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, str(csv), str(out)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    fresh = pd.read_csv(out, dtype={"customer_id": str})
    result = score(load_transactions(log, as_of=AS_OF), AS_OF, model_name="lean")
    expected = result.scores
    assert result.model_version == "lean/1" and list(fresh.columns[:11]) == list(CONTRACT_COLUMNS)
    assert (fresh["model_version"] == "lean/1").all()
    numeric = [c for c in expected.columns if expected[c].dtype.kind == "f"]
    pd.testing.assert_frame_equal(
        fresh[numeric].reset_index(drop=True), expected[numeric].reset_index(drop=True)
    )
    assert fresh["customer_id"].tolist() == expected["customer_id"].tolist()


def test_pyfunc_input_is_checked_by_schema_then_by_churnml(trained, log):
    model = mlflow.pyfunc.load_model("models:/lean/1")
    few = log[log["customer_id"].isin(log["customer_id"].unique()[:5])]
    # datetimes and integer amounts are accepted; churnml's validation parses them
    typed = few.assign(date=pd.to_datetime(few["date"]), amount=few["amount"].round().astype(int))
    assert len(model.predict(typed, params={"as_of": AS_OF})) == 5
    with pytest.raises(mlflow.exceptions.MlflowException, match="amount"):
        model.predict(few.drop(columns="amount"))
    with pytest.raises(Exception, match="customer_id"):
        model.predict(few.assign(customer_id=range(len(few))))  # ids must be text
    with pytest.raises(Exception, match="unparseable date"):
        model.predict(few.assign(date="not a date"), params={"as_of": AS_OF})


def test_a_registered_blend_keeps_each_member_in_its_folder_and_scores(log, tmp_path):
    tx = load_transactions(log, as_of=AS_OF)
    result = train(tx, horizon_days=60, families=("blend",), model_name="lean-blend", seed=3)
    assert result.champion == "blend"
    local = Path(
        mlflow.artifacts.download_artifacts("models:/lean-blend@champion", dst_path=tmp_path)
    )
    names = {p.relative_to(local).as_posix() for p in _files(local)}
    for member in ("gbm", "hybrid"):
        assert f"artifacts/bundle/{member}/scorer.json" in names
    # gbm always has trees (the hybrid may keep BG/NBD's prediction, with none)
    assert "artifacts/bundle/gbm/revenue.lgb.txt" in names
    assert not [n for n in names if n.endswith((".pkl", ".pickle", ".joblib"))]
    scored = score(tx, AS_OF, model_name="lean-blend")
    assert scored.family == "blend" and scored.model_version == "lean-blend/1"
    numeric = scored.scores.select_dtypes("number").drop(columns=["payback_days"], errors="ignore")
    assert len(scored.scores) > 1000 and numeric.notna().all().all()


def test_unknown_model_references_are_named(trained, log):
    tx = load_transactions(log, as_of=AS_OF)
    with pytest.raises(ConfigError, match="neither champion, challenger"):
        score(tx, AS_OF, model="best-one", model_name="lean")
    with pytest.raises(ConfigError, match=r"registered model 'lean': 1 \[challenger,champion\]"):
        score(tx, AS_OF, model="5", model_name="lean")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def mlflow_server(tmp_path, monkeypatch):
    port = _free_port()
    mlflow_bin = Path(sys.executable).with_name("mlflow")
    process = subprocess.Popen(
        [
            str(mlflow_bin),
            "server",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            "1",
            "--backend-store-uri",
            f"sqlite:///{(tmp_path / 'server.db').as_posix()}",
            "--artifacts-destination",
            str(tmp_path / "artifacts"),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env={**os.environ, "MLFLOW_TRACKING_URI": ""},
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while True:
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=2) as response:
                if response.status == 200:
                    break
        except OSError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise RuntimeError(f"mlflow server did not start: {process.stderr.read()[-2000:]!r}")
        time.sleep(0.5)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", url)
    yield url
    process.terminate()
    process.wait(timeout=30)


def test_train_and_score_against_a_real_mlflow_server(mlflow_server, log, tmp_path):
    tx = load_transactions(log, as_of=AS_OF)
    result = train(tx, horizon_days=60, families=("bgnbd",), model_name="served")
    assert result.tracking_uri == mlflow_server and result.promoted
    client = MlflowClient(tracking_uri=mlflow_server)
    run = client.get_run(result.run_id)
    assert run.data.metrics["bgnbd.auc"] > 0.6 and run.data.params["data.customers"] == "1500"
    plots = {a.path for a in client.list_artifacts(result.run_id, "plots")}
    assert "plots/calibration.png" in plots
    assert list_versions("served")["aliases"].tolist() == ["challenger,champion"]
    served = score(tx, AS_OF, model_name="served")
    scores = served.scores
    assert served.model_version == "served/1" and len(scores) == log["customer_id"].nunique()
    # stored by the server, not in this process's working directory
    assert any((tmp_path / "artifacts").rglob("bundle.json"))


def test_force_promotes_and_rollback_restores(log):
    tx = load_transactions(log, as_of=AS_OF)
    first = train(tx, horizon_days=60, families=("bgnbd",), model_name="forced")
    again = train(tx, horizon_days=60, families=("bgnbd",), model_name="forced")
    assert first.promoted and not again.promoted and "champion 1 kept" in again.promotion
    forced = train(tx, horizon_days=60, families=("bgnbd",), model_name="forced", force=True)
    assert forced.promoted and forced.promotion == "forced (--force)"
    assert forced.previous_champion == "1"
    aliases = list_versions("forced").set_index("version")["aliases"]
    assert aliases[3] == "challenger,champion" and aliases[1] == ""
    assert rollback("forced") == ("3", "1")
    assert list_versions("forced").set_index("version")["aliases"][1] == "champion"


def test_same_configuration_on_new_data_refreshes_the_champion(log):
    # the champion's configuration refitted on other data replaces it: scoring today's customers
    # with a fit from other data would be stale, and it is not a contest between configurations
    older = load_transactions(log, as_of="2020-12-31")
    newer = load_transactions(log, as_of=AS_OF)
    first = train(older, horizon_days=60, families=("bgnbd",), model_name="refresh")
    same = train(older, horizon_days=60, families=("bgnbd",), model_name="refresh")
    fresh = train(newer, horizon_days=60, families=("bgnbd",), model_name="refresh")
    assert first.promoted and not same.promoted  # same data: a tie keeps the champion
    assert fresh.promoted and fresh.promotion.startswith("refresh: champion 1's configuration")
    champion = list_versions("refresh").set_index("version").loc[3]
    assert champion["aliases"] == "challenger,champion" and champion["as_of"] == AS_OF


def test_a_champion_from_an_older_churnml_is_replaced(log):
    # versions registered before settings were recorded can be neither re-run nor scored
    tx = load_transactions(log, as_of=AS_OF)
    first = train(tx, horizon_days=60, families=("bgnbd",), model_name="older")
    MlflowClient().delete_model_version_tag("older", first.version, "settings")
    second = train(tx, horizon_days=60, families=("bgnbd",), model_name="older")
    assert second.promoted and "registered by an older churnml" in second.promotion
    assert list_versions("older").set_index("version")["aliases"][2] == "challenger,champion"
