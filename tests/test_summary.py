"""Tests of :func:`churnml.summary.describe` on hand-made logs and on the bundled CDNOW log."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from churnml.config import ValidationPolicy
from churnml.data import load_transactions
from churnml.summary import describe

# a buys every 14 days (Wednesdays), b every 21 days (Fridays): gaps 14, 14, 14, 21, 21.
EVERY_TWO_OR_THREE_WEEKS = pd.DataFrame(
    {
        "customer_id": ["a"] * 4 + ["b"] * 3,
        "date": [
            "2020-01-08",
            "2020-01-22",
            "2020-02-05",
            "2020-02-19",
            "2020-01-10",
            "2020-01-31",
            "2020-02-21",
        ],
        "amount": [10.0] * 7,
    }
)


@pytest.mark.parametrize("freq", ["D", "W"])
def test_purchase_cycle_is_in_days_for_daily_and_weekly_purchases(freq):
    tx = load_transactions(EVERY_TWO_OR_THREE_WEEKS, policy=ValidationPolicy(freq=freq))
    stats = describe(tx).stats
    assert stats["purchase_cycle_days_median"] == 14.0
    assert stats["purchase_cycle_days_p25"] == 14.0
    assert stats["purchase_cycle_days_p75"] == 21.0


def test_weekly_cycle_counts_days_between_week_starts():
    # Sunday 2020-01-12 then Monday 2020-01-13: one day apart, but in weeks starting
    # Monday 2020-01-06 and Monday 2020-01-13, which are 7 days apart.
    frame = pd.DataFrame(
        {"customer_id": ["a", "a"], "date": ["2020-01-12", "2020-01-13"], "amount": [5.0, 5.0]}
    )
    daily = describe(load_transactions(frame, policy=ValidationPolicy(freq="D"))).stats
    weekly = describe(load_transactions(frame, policy=ValidationPolicy(freq="W"))).stats
    assert daily["purchase_cycle_days_median"] == 1.0
    assert weekly["purchase_cycle_days_median"] == 7.0


def test_customers_seen_include_those_without_a_purchase():
    # a buys; b only returns (nets to -5: no purchase); c only has a zero-amount line
    # (excluded); d only has a missing amount (excluded).
    frame = pd.DataFrame(
        {
            "customer_id": ["a", "a", "b", "c", "d"],
            "date": ["2020-01-01", "2020-01-05", "2020-01-02", "2020-01-03", "2020-01-04"],
            "amount": ["10", "4", "-5", "0", "n/a"],
        }
    )
    stats = describe(load_transactions(frame)).stats
    assert stats["customers_seen"] == 4
    assert stats["customers"] == 1
    assert stats["customers_with_purchase"] == 1
    assert stats["purchases"] == 2


def test_cdnow_customers_seen_and_with_a_purchase(cdnow_tx):
    """Published facts about the CDNOW log: 23,570 customers, 23,502 with a purchase."""
    summary = describe(cdnow_tx)
    assert summary.stats["customers_seen"] == 23_570
    assert summary.stats["customers"] == 23_502
    assert summary.stats["customers_with_purchase"] == 23_502
    out = json.loads(json.dumps(summary.to_dict()))
    assert out["stats"]["customers_seen"] == 23_570
    assert out["stats"]["customers"] == 23_502


def test_cdnow_rates_months_and_cohorts_in_the_summary(cdnow_tx):
    """describe carries the brief's figures and the tables `describe --json` writes."""
    summary = describe(cdnow_tx)
    stats = summary.stats
    assert round(stats["repeat_customer_rate"], 3) == 0.490
    assert round(stats["repeat_buyers_revenue_share"], 3) == 0.853
    assert stats["repeat_customer_rate"] == summary.rates.by_buyers
    assert stats["purchase_cycle_days_median"] == 34.0
    assert summary.warnings == []
    out = json.loads(json.dumps(summary.to_dict()))
    assert len(out["monthly"]) == 18 and out["monthly"]["1998-06"]["buyers"] > 0
    assert out["cohorts"]["cohorts"][:3] == ["1997-01", "1997-02", "1997-03"]
    assert out["cohorts"]["retention"][0][0] == 1.0
    assert out["repeat_rates"]["usual_range"] == [0.2, 0.4]


def test_a_short_window_warns_and_counts_only_its_purchases(cdnow_tx):
    summary = describe(cdnow_tx, since="1998-06-15")
    assert summary.stats["rates_window"] == "1998-06-15 to 1998-06-30"
    assert len(summary.warnings) == 1 and "16 days" in summary.warnings[0]
    assert summary.rates.buyers < summary.stats["customers"]
    # a buyer needs two purchases in the two weeks to count as a repeat buyer
    assert summary.stats["repeat_customer_rate"] < 0.2
