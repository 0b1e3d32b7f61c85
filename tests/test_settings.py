"""RunSettings: frozen, validated, and a lossless dictionary round trip."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pandas as pd
import pytest

from churnml.config import ValidationPolicy
from churnml.exceptions import ConfigError
from churnml.settings import RunSettings, SegmentRules, ValueSettings


def _everything_changed() -> RunSettings:
    return RunSettings(
        as_of="2011-09-09",
        cutoff=pd.Timestamp("2011-06-01 13:45"),
        horizon_days=60,
        max_customers=5000,
        families=("gbm", "bgnbd"),
        freq="W",
        seed=11,
        value=ValueSettings(horizon_days=180, margin=0.3, annual_discount_rate=0.05),
        segments=SegmentRules(active_days=30, warm_days=60, gold_share=0.1),
        policy=ValidationPolicy(
            returns="drop", exclude_customers=frozenset({"b", "a"}), strict=True, freq="W"
        ),
    )


def test_round_trip_through_json_is_lossless():
    settings = _everything_changed().replace(
        policy=ValidationPolicy(returns="drop", strict=True, freq="W")
    )
    payload = json.loads(json.dumps(settings.to_dict()))
    again = RunSettings.from_dict(payload)
    assert again == settings
    assert payload["cutoff"] == "2011-06-01"
    for f in dataclasses.fields(RunSettings):
        assert getattr(again, f.name) == getattr(settings, f.name), f.name


def test_max_customers_none_survives_the_round_trip():
    # None (everyone) is not "unset": the default would sample
    settings = RunSettings(max_customers=None)
    again = RunSettings.from_dict(json.loads(json.dumps(settings.to_dict())))
    assert again.max_customers is None
    assert RunSettings.from_dict({}).max_customers == RunSettings().max_customers == 200_000


def test_excluded_customer_ids_are_never_recorded():
    settings = _everything_changed()
    text = json.dumps(settings.to_dict())
    assert '"a"' not in text and '"b"' not in text
    record = settings.to_dict()["policy"]["exclude_customers"]
    assert record["count"] == 2 and len(record["sha256"]) == 64
    other = settings.replace(policy=ValidationPolicy(exclude_customers=frozenset({"a", "c"})))
    assert other.to_dict()["policy"]["exclude_customers"]["sha256"] != record["sha256"]
    # everything else comes back; the ids cannot
    again = RunSettings.from_dict(json.loads(text))
    assert again.policy.exclude_customers == frozenset()
    assert again.replace(policy=settings.policy) == settings


def test_numpy_integers_are_whole_numbers():
    settings = RunSettings(horizon_days=np.int64(30), seed=np.int32(4))
    assert settings.horizon_days == 30 and type(settings.horizon_days) is int
    assert json.dumps(settings.to_dict())


def test_frozen_and_replace_revalidates():
    settings = RunSettings()
    with pytest.raises(dataclasses.FrozenInstanceError):
        settings.seed = 3  # type: ignore[misc]
    assert settings.replace(seed=3).seed == 3
    with pytest.raises(ConfigError, match="horizon_days must be a positive whole number"):
        settings.replace(horizon_days=0)
    with pytest.raises(ConfigError, match="has no field colour"):
        settings.replace(colour="red")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"freq": "M"}, "freq must be 'D' or 'W'"),
        ({"families": "bgnbd"}, "families must be a sequence"),
        ({"seed": 1.5}, "seed must be a whole number"),
        ({"as_of": "someday"}, "as_of must be a date"),
        ({"value": {"margin": 0.3}}, "value must be a ValueSettings"),
        ({"max_customers": 0}, "max_customers must be a positive whole number"),
        ({"max_customers": 1.5}, "max_customers must be a whole number"),
    ],
)
def test_bad_settings_are_named(change, message):
    with pytest.raises(ConfigError, match=message):
        RunSettings(**change)


def test_from_dict_names_unknown_keys():
    with pytest.raises(ConfigError, match="unknown keys penalty"):
        RunSettings.from_dict({"penalty": 1})
    with pytest.raises(ConfigError, match=r"RunSettings\.from_dict"):
        RunSettings.from_dict({"value": {"margin": 0.5, "colour": 1}})
