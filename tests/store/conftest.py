"""Fixtures of the score-store tests.

Every test takes its store from ``store_url``: an empty SQLite file in the test's temporary
folder by default. Overriding this fixture (say, parametrized with a PostgreSQL database that
is emptied per test) runs the same tests against another database; tests that check
something only SQLite has (WAL, its query plans) skip elsewhere.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from churnml.scoring import CONTRACT_COLUMNS
from churnml.store import ScoreStore


@pytest.fixture
def store_url(tmp_path) -> str:
    return f"sqlite:///{(tmp_path / 'scores.db').as_posix()}"


@pytest.fixture
def store(store_url):
    with ScoreStore(store_url) as opened:
        yield opened


def score_table(n: int = 6, seed: int = 0, version: str = "churnml/1") -> pd.DataFrame:
    """A score table as churnml.score writes it: contract columns, then extras."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({"customer_id": [f"{i:03d}" for i in range(n)]})
    for name in ("p_alive", "p_repurchase", "expected_purchases", "expected_revenue", "clv"):
        frame[name] = rng.random(n)
    frame["expected_days_to_next_purchase"] = rng.uniform(1, 90, n)
    frame["next_purchase_date"] = (
        pd.Timestamp("2024-01-31") + pd.to_timedelta(rng.integers(1, 90, n), unit="D")
    ).date
    frame["segment"] = rng.choice(["new", "active", "warm", "high_recall", "low_recall"], n)
    frame["value_tier"] = rng.choice(["gold", "silver", "bronze"], n)
    frame["model_version"] = version
    frame["days_to_next_purchase_p10"] = rng.uniform(1, 10, n)
    frame["p_buy_30d"] = rng.random(n)
    frame["reasons"] = [f"reason {i}" for i in range(n)]
    assert tuple(frame.columns[: len(CONTRACT_COLUMNS)]) == CONTRACT_COLUMNS
    return frame
