"""Publishing scores from Python: publish_scores, list_snapshots, activate_snapshot."""

from __future__ import annotations

import pandas as pd
import pytest

import churnml
from churnml.exceptions import ConfigError
from churnml.workflows import SNAPSHOT_COLUMNS
from tests.store.conftest import score_table


def _result(version="churnml/4", n=5):
    return churnml.ScoreResult(
        scores=score_table(n, version=version),
        model_version=version,
        family="gbm",
        as_of=pd.Timestamp("2024-01-31"),
        horizon_days=60,
        n_unscored=0,
        model_name="churnml",
    )


def test_publish_list_activate(tmp_path, monkeypatch):
    url = f"sqlite:///{(tmp_path / 'scores.db').as_posix()}"
    monkeypatch.setenv("CHURNML_SCORE_STORE", url)
    assert churnml.list_snapshots().empty
    first = churnml.publish_scores(_result())
    assert (first.model_version, first.model_name, first.family) == ("churnml/4", "churnml", "gbm")
    assert (first.as_of, first.horizon_days, first.n_rows) == ("2024-01-31", 60, 5)
    with churnml.ScoreStore(url) as store:
        second = churnml.publish_scores(_result("churnml/5", 3), store=store, keep=5)
        assert store.current_id() == second.id
    listed = churnml.list_snapshots(url)
    assert list(listed.columns) == list(SNAPSHOT_COLUMNS)
    assert listed["id"].tolist() == [second.id, first.id]
    assert listed["is_current"].tolist() == [True, False]
    assert str(listed["created_at"].dt.tz) == "UTC"
    assert churnml.activate_snapshot(first.id).is_current
    assert churnml.list_snapshots()["is_current"].tolist() == [False, True]
    with pytest.raises(ConfigError, match=r"no snapshot 99 \(ids: 2, 1\)"):
        churnml.activate_snapshot(99, url)
    with pytest.raises(ConfigError, match="store must be a URL or a ScoreStore"):
        churnml.list_snapshots(store=3)
