from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from churnml.data import load_cdnow, load_transactions

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = ROOT.parent / "shared" / "data"
SHARED_FILES = ["uci_online_retail.csv.gz", "uci_online_retail_ii_2009_2010.csv.gz"]


def shared_file(name: str) -> Path:
    """Path of a real log in ../shared/data, or skip the test saying why."""
    path = SHARED_DATA / name
    if not path.exists():
        pytest.skip(f"real data set {name} is not available: {SHARED_DATA} is absent")
    return path


@pytest.fixture(scope="session")
def cdnow() -> pd.DataFrame:
    return load_cdnow()


@pytest.fixture(scope="session")
def cdnow_tx(cdnow):
    return load_transactions(cdnow)


def write_csv(path: Path, text: str) -> Path:
    path.write_text(text)
    return path
