from __future__ import annotations

import pandas as pd
import pytest

from churnml.exceptions import ConfigError
from churnml.segments import SEGMENTS, SegmentRules, lifecycle_segment, value_tier


def test_lifecycle_boundaries_follow_the_brief():
    days = pd.Series([0, 45, 45, 46, 90, 91, 180, 181, 360, 361])
    orders = pd.Series([1, 1, 2, 1, 5, 1, 1, 1, 1, 9])
    seg = lifecycle_segment(days, orders).astype(str).tolist()
    assert seg == [
        "new",
        "new",
        "active",
        "warm",
        "warm",
        "high_recall",
        "high_recall",
        "low_recall",
        "low_recall",
        "lost",
    ]
    assert list(lifecycle_segment(days, orders).cat.categories) == list(SEGMENTS)


def test_thresholds_are_configurable_and_checked():
    rules = SegmentRules(active_days=10, warm_days=20, high_recall_days=30, low_recall_days=40)
    assert lifecycle_segment(pd.Series([15]), pd.Series([3]), rules).iloc[0] == "warm"
    with pytest.raises(ConfigError, match="strictly increasing"):
        SegmentRules(active_days=100, warm_days=90)
    with pytest.raises(ConfigError, match="tier shares"):
        SegmentRules(gold_share=0.8, silver_share=0.3)


def test_value_tiers_split_20_30_50():
    clv = pd.Series(range(100), index=[f"c{i}" for i in range(100)], dtype=float)
    tier = value_tier(clv)
    assert (tier == "gold").sum() == 20 and (tier == "silver").sum() == 30
    assert tier["c99"] == "gold" and tier["c79"] == "silver" and tier["c49"] == "bronze"
    assert tier.index.equals(clv.index)
