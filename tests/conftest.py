from __future__ import annotations

import os
from pathlib import Path

import pandas as pd
import pytest

from churnml.data import load_cdnow, load_transactions
from churnml.evaluation import evaluate

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = ROOT.parent / "shared" / "data"
SHARED_FILES = ["uci_online_retail.csv.gz", "uci_online_retail_ii_2009_2010.csv.gz"]


def shared_file(name: str) -> Path:
    """Path of a real log in ../shared/data, or skip the test saying why."""
    path = SHARED_DATA / name
    if not path.exists():
        pytest.skip(f"real data set {name} is not available: {SHARED_DATA} is absent")
    return path


@pytest.fixture(scope="session", autouse=True)
def mlflow_store(tmp_path_factory):
    """One real SQLite MLflow store for the whole session, never the user's ./mlruns.db.

    Creating a store runs MLflow's migrations (seconds), so tests share it and keep apart by
    registered model name instead.
    """
    folder = tmp_path_factory.mktemp("mlflow")
    uri = f"sqlite:///{(folder / 'mlruns.db').as_posix()}"
    old = os.environ.get("MLFLOW_TRACKING_URI")
    os.environ["MLFLOW_TRACKING_URI"] = uri  # subprocesses inherit it too
    yield uri
    if old is None:
        os.environ.pop("MLFLOW_TRACKING_URI", None)
    else:
        os.environ["MLFLOW_TRACKING_URI"] = old


@pytest.fixture(scope="session")
def cdnow() -> pd.DataFrame:
    return load_cdnow()


@pytest.fixture(scope="session")
def cdnow_tx(cdnow):
    return load_transactions(cdnow)


@pytest.fixture(scope="session")
def cdnow_evaluation(cdnow_tx):
    """BG/NBD and the baseline fitted on CDNOW up to 1997-12-31 and scored on the next 180 days.

    Shared by every test that needs this reference evaluation (contract output, published
    behaviour, the LightGBM comparison), so the fits run once per session.
    """
    return evaluate(cdnow_tx, "1997-12-31", 180, models=("bgnbd", "baseline"))


def write_csv(path: Path, text: str) -> Path:
    path.write_text(text)
    return path
