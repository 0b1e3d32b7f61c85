"""Loading a model for scoring (registry or folder) and asking which version an alias names."""

from __future__ import annotations

import json
import sys

import pandas as pd
import pytest
from mlflow import MlflowClient

import churnml
from churnml.data import load_transactions, simulate_transactions
from churnml.scoring import CONTRACT_COLUMNS
from churnml.settings import RunSettings


@pytest.fixture(scope="module")
def tx():
    frame, _ = simulate_transactions(600, seed=21, observation_days=400)
    return load_transactions(frame)


@pytest.fixture(scope="module")
def bundle(tx, tmp_path_factory):
    folder = tmp_path_factory.mktemp("bundle") / "model"
    churnml.train(tx, horizon_days=60, families=["bgnbd"], track=False, export_dir=folder)
    return folder


def test_load_model_from_a_folder_scores_like_score(tx, bundle):
    loaded = churnml.load_model(str(bundle))
    meta = json.loads((bundle / "bundle.json").read_text())
    assert isinstance(loaded, churnml.LoadedModel)
    assert loaded.family == "bgnbd" and loaded.version is None and loaded.name is None
    assert loaded.label == bundle.name and loaded.uri == str(bundle)
    assert loaded.trained_at == meta["trained_at"]
    assert loaded.settings == RunSettings.from_dict(meta["settings"])
    as_of = loaded.settings.as_of
    scores = loaded.score(tx, as_of)
    assert tuple(scores.columns[: len(CONTRACT_COLUMNS)]) == CONTRACT_COLUMNS
    assert (scores["model_version"] == bundle.name).all()
    result = churnml.score(tx, as_of, model=str(bundle))
    pd.testing.assert_frame_equal(result.scores, scores)
    assert result.horizon_days == 60 and result.model_name is None
    assert (
        loaded.score(tx, as_of, horizon_days=30)["p_repurchase"].sum()
        < scores["p_repurchase"].sum()
    )
    with pytest.raises(AttributeError):
        loaded.label = "other"  # frozen: a server shares one between requests


def test_model_version_of_follows_the_alias(mlflow_store):
    name = "alias-polling"
    # the session's store, whatever URI an earlier test left MLflow pointing at
    client = MlflowClient(mlflow_store)
    client.create_registered_model(name)
    for _ in range(2):
        client.create_model_version(name, source="file:///nowhere/model")
    assert churnml.model_version_of("champion", name) is None  # no alias yet
    client.set_registered_model_alias(name, "champion", "1")
    assert churnml.model_version_of("champion", name) == "1"
    client.set_registered_model_alias(name, "champion", "2")
    assert churnml.model_version_of(model_name=name) == "2"
    assert churnml.model_version_of(f"models:/{name}@champion") == "2"
    assert churnml.model_version_of("v1", name) == "1"
    assert churnml.model_version_of("9", name) is None
    assert churnml.model_version_of("challenger", name) is None
    assert churnml.model_version_of("champion", "never-registered-here") is None
    assert churnml.model_version_of(sys.prefix, name) is None  # a folder is not a version


@pytest.mark.slow  # trains, logs and registers a model in MLflow: ~15 s
def test_load_model_from_the_registry_runs_no_stored_code(tx):
    name = "load-model-registry"
    result = churnml.train(tx, horizon_days=60, families=["bgnbd"], model_name=name)
    assert result.promoted
    before = set(sys.modules)
    loaded = churnml.load_model("champion", name)
    assert not [m for m in set(sys.modules) - before if "pyfunc_model" in m]
    assert (loaded.name, loaded.version, loaded.label) == (name, "1", f"{name}/1")
    assert loaded.run_id == result.run_id and loaded.uri == f"models:/{name}@champion"
    created = MlflowClient().get_model_version(name, "1").creation_timestamp
    assert loaded.trained_at == pd.Timestamp(created, unit="ms", tz="UTC").isoformat()
    assert loaded.meta["registry_version"] == "1"
    scored = churnml.score(tx, loaded.settings.as_of, model_name=name)
    assert scored.model_name == name and scored.model_version == f"{name}/1"
    pd.testing.assert_frame_equal(scored.scores, loaded.score(tx, loaded.settings.as_of))
