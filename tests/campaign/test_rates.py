"""Repeat-purchase rates, cycle, rates by month and cohorts against independent computations.

The references below are written in plain pandas (or by hand), never through churnml's own
purchase arrays, so a mistake in either shows up as a disagreement.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from churnml.campaign import (
    cohort_retention,
    monthly_repeat_rates,
    repeat_purchase_rates,
)
from churnml.config import ValidationPolicy
from churnml.data import load_transactions
from churnml.exceptions import ConfigError


def _log() -> pd.DataFrame:
    """A small log with a same-day pair (one purchase), a return, and a refunded day."""
    rows = [
        ("a", "2024-01-03", 10.0),
        ("a", "2024-01-03", 5.0),  # same day: one purchase of 15
        ("a", "2024-02-10", 20.0),
        ("a", "2024-04-01", 30.0),
        ("b", "2024-01-20", 40.0),
        ("c", "2024-02-05", 8.0),
        ("c", "2024-02-25", 12.0),
        ("c", "2024-03-01", 9.0),
        ("c", "2024-03-01", -9.0),  # refunded the same day: no purchase
        ("d", "2024-03-15", 50.0),
        ("d", "2024-03-20", -10.0),  # a return without a purchase that day: no purchase
        ("e", "2024-03-30", 7.0),
        ("e", "2024-04-02", 7.0),
    ]
    frame = pd.DataFrame(rows, columns=["customer_id", "date", "amount"])
    frame["date"] = pd.to_datetime(frame["date"])
    return frame


def _purchases(lines: pd.DataFrame, end: str | None = None) -> pd.DataFrame:
    """Customer-days with a positive net amount, by plain pandas."""
    if end is not None:
        lines = lines[lines["date"] <= pd.Timestamp(end)]
    net = lines.groupby(["customer_id", lines["date"].dt.normalize()])["amount"].sum()
    return net[net > 0].reset_index().sort_values(["customer_id", "date"])


def test_rates_by_hand_on_a_small_log():
    rates = repeat_purchase_rates(_log())
    # purchases: a 01-03, 02-10, 04-01 | b 01-20 | c 02-05, 02-25 | d 03-15 | e 03-30, 04-02
    assert (rates.buyers, rates.repeat_buyers) == (5, 3)
    assert (rates.purchases, rates.repeat_purchases) == (9, 4)
    assert rates.repeat_buyers_purchases == 7
    assert rates.by_buyers == pytest.approx(3 / 5)
    assert rates.by_transactions == pytest.approx(4 / 9)
    assert rates.repeat_buyers_purchase_share == pytest.approx(7 / 9)
    # revenue: a 15+20+30, b 40, c 8+12, d 50, e 7+7 (the return of d is not a purchase)
    assert rates.revenue == pytest.approx(65 + 40 + 20 + 50 + 14)
    assert rates.repeat_buyers_revenue_share == pytest.approx((65 + 20 + 14) / 189)
    # gaps: a 38, 51 | c 20 | e 3 -> median 29, quartiles by linear interpolation
    assert rates.cycle_days == pytest.approx(29.0)
    assert rates.cycle_days_p25 == pytest.approx(np.percentile([3, 20, 38, 51], 25))
    assert rates.window_days == (pd.Timestamp("2024-04-02") - pd.Timestamp("2024-01-03")).days + 1
    assert rates.warning is None


def test_a_window_counts_only_its_own_purchases_and_warns_when_short():
    rates = repeat_purchase_rates(_log(), "2024-03-01", "2024-04-02")
    # in the window: a 04-01 | d 03-15 | e 03-30, 04-02
    assert (rates.buyers, rates.repeat_buyers, rates.purchases) == (3, 1, 4)
    assert rates.window_days == 33
    # the cycle is read over all purchases up to the end, not only inside the window
    assert rates.cycle_days == pytest.approx(29.0)
    assert rates.warning is None
    short = repeat_purchase_rates(_log(), "2024-03-20", "2024-04-02")
    assert short.window_days == 14
    assert short.warning is not None and "14 days" in short.warning and "29" in short.warning
    with pytest.raises(ConfigError, match="after end"):
        repeat_purchase_rates(_log(), "2024-05-01", "2024-04-02")


def test_nothing_after_the_end_is_read():
    before = repeat_purchase_rates(_log(), end="2024-02-29")
    changed = _log()
    changed.loc[changed["date"] > "2024-02-29", "amount"] *= 7
    changed = pd.concat(
        [
            changed,
            pd.DataFrame(
                {"customer_id": ["b"], "date": [pd.Timestamp("2024-03-02")], "amount": [1.0]}
            ),
        ]
    )
    after = repeat_purchase_rates(changed, end="2024-02-29")
    assert before == after


def test_monthly_rates_by_hand():
    monthly = monthly_repeat_rates(_log())
    assert monthly.index.tolist() == ["2024-01", "2024-02", "2024-03", "2024-04"]
    # Jan: a (first), b (first). Feb: a (returning), c twice (first in Feb).
    # Mar: d (first), e (first). Apr: a (returning), e (first purchase was in March).
    assert monthly["buyers"].tolist() == [2, 2, 2, 2]
    assert monthly["returning_buyers"].tolist() == [0, 1, 0, 2]
    assert monthly["purchases"].tolist() == [2, 3, 2, 2]
    # purchases that are not the customer's first ever: Feb a, c's second; Apr a, e
    assert monthly["repeat_purchases"].tolist() == [0, 2, 0, 2]
    assert monthly["repeat_rate_buyers"].tolist() == pytest.approx([0, 0.5, 0, 1])
    assert monthly["repeat_rate_transactions"].tolist() == pytest.approx([0, 2 / 3, 0, 1])
    assert monthly["revenue"].tolist() == pytest.approx([55, 40, 57, 37])
    assert monthly["partial"].tolist() == [False, False, False, True]


def test_a_month_without_purchases_is_shown_empty():
    lines = _log()
    lines = lines[lines["date"].dt.month != 2]
    monthly = monthly_repeat_rates(lines)
    assert monthly.loc["2024-02", "buyers"] == 0
    assert np.isnan(monthly.loc["2024-02", "repeat_rate_buyers"])


def _cohorts_by_pandas(purchases: pd.DataFrame, as_of: pd.Timestamp) -> pd.DataFrame:
    month = purchases["date"].dt.to_period("M")
    first = month.groupby(purchases["customer_id"]).transform("min")
    offset = (month - first).map(lambda d: d.n)
    active = (
        pd.DataFrame({"cohort": first.astype(str), "k": offset, "c": purchases["customer_id"]})
        .drop_duplicates()
        .groupby(["cohort", "k"])["c"]
        .nunique()
        .unstack(fill_value=0)
    )
    sizes = first.groupby(purchases["customer_id"]).first().astype(str).value_counts()
    retention = active.div(sizes.reindex(active.index), axis=0)
    last = as_of.to_period("M")
    for cohort in retention.index:
        for k in retention.columns:
            if pd.Period(cohort, "M") + int(k) > last:
                retention.loc[cohort, k] = np.nan
    return retention


def test_cohort_matrix_by_hand():
    cohorts = cohort_retention(_log())
    # Jan: a, b. Feb: c. Mar: d, e. a returns in Feb (+1) and Apr (+3); e in Apr (+1).
    assert cohorts.sizes.to_dict() == {"2024-01": 2, "2024-02": 1, "2024-03": 2}
    r = cohorts.retention
    assert r.loc["2024-01"].tolist()[:4] == [1.0, 0.5, 0.0, 0.5]
    assert r.loc["2024-02"].tolist()[:3] == [1.0, 0.0, 0.0]
    assert np.isnan(r.loc["2024-02", 3])
    assert r.loc["2024-03"].tolist()[:2] == [1.0, 0.5]
    assert cohorts.partial_last_month
    payload = cohorts.to_dict()
    assert payload["cohorts"] == ["2024-01", "2024-02", "2024-03"]
    assert payload["retention"][1][3] is None


def test_cdnow_whole_period_rates(cdnow):
    """The brief's check: 49.0 % of buyers repeat and they bring 85.3 % of revenue."""
    rates = repeat_purchase_rates(cdnow)
    purchases = _purchases(cdnow)
    counts = purchases.groupby("customer_id").size()
    revenue = purchases.groupby("customer_id")["amount"].sum()
    assert rates.buyers == counts.size and rates.purchases == counts.sum()
    assert rates.by_buyers == pytest.approx((counts >= 2).mean())
    assert rates.repeat_buyers_revenue_share == pytest.approx(
        revenue[counts >= 2].sum() / revenue.sum()
    )
    assert round(rates.by_buyers, 3) == 0.490
    assert round(rates.repeat_buyers_revenue_share, 3) == 0.853
    gaps = purchases.groupby("customer_id")["date"].diff().dropna().dt.days
    assert rates.cycle_days == pytest.approx(gaps.median()) == 34.0
    assert rates.by_transactions == pytest.approx((counts - 1).sum() / counts.sum())


def test_cdnow_monthly_and_cohorts_match_pandas(cdnow):
    purchases = _purchases(cdnow)
    month = purchases["date"].dt.to_period("M").astype(str)
    first = purchases.groupby("customer_id")["date"].transform("min")
    returning = first.dt.to_period("M").astype(str) < month
    expected = purchases.assign(month=month, returning=returning).groupby("month")
    monthly = monthly_repeat_rates(cdnow)
    assert monthly["buyers"].tolist() == expected["customer_id"].nunique().tolist()
    share = (
        purchases[returning].groupby(month[returning])["customer_id"].nunique()
        / expected["customer_id"].nunique()
    ).fillna(0)
    assert monthly["repeat_rate_buyers"].to_numpy() == pytest.approx(share.to_numpy())

    cohorts = cohort_retention(cdnow)
    reference = _cohorts_by_pandas(purchases, pd.Timestamp("1998-06-30"))
    assert cohorts.sizes.index.tolist() == reference.index.tolist()
    ours = cohorts.retention.loc[:, reference.columns]
    assert np.allclose(ours.to_numpy(), reference.to_numpy(), equal_nan=True)
    # the Q1 1997 cohorts of CDNOW: about 15 % buy in the month after their first
    assert 0.10 < cohorts.retention.loc["1997-01", 1] < 0.20


def test_weekly_purchases_keep_their_calendar_month_and_their_window():
    """A weekly purchase dates from its Monday; months, cohorts and windows must not."""
    lines = _log()
    weekly = load_transactions(lines, policy=ValidationPolicy(freq="W"))
    assert weekly.policy.freq == "W"
    assert monthly_repeat_rates(weekly).equals(monthly_repeat_rates(lines))
    # 2024-03-01 is a Friday whose week starts in February: c's cohort and month stay March
    assert cohort_retention(weekly).sizes.to_dict() == {"2024-01": 2, "2024-02": 1, "2024-03": 2}
    # the window starts Tuesday 2024-01-02 (a's Wednesday purchase is inside it, though its
    # week started on Monday 1 January)
    rates = repeat_purchase_rates(lines, "2024-01-02", freq="W")
    assert rates.buyers == 5 and rates.repeat_buyers == 3
    assert rates.revenue == pytest.approx(repeat_purchase_rates(lines, "2024-01-02").revenue)


def test_cumulative_monthly_rates_end_at_the_whole_log_rates(cdnow):
    monthly = monthly_repeat_rates(cdnow)
    whole = repeat_purchase_rates(cdnow)
    assert monthly["cumulative_repeat_rate_buyers"].iloc[-1] == pytest.approx(whole.by_buyers)
    assert monthly["cumulative_repeat_rate_transactions"].iloc[-1] == pytest.approx(
        whole.by_transactions
    )
    # by buyers at the end of February 1997: by hand with pandas
    purchases = _purchases(cdnow, "1997-02-28")
    counts = purchases.groupby("customer_id").size()
    assert monthly.loc["1997-02", "cumulative_repeat_rate_buyers"] == pytest.approx(
        (counts >= 2).mean()
    )


def test_an_empty_window_has_no_rates_and_writes_valid_json():
    lines = _log()
    rates = repeat_purchase_rates(lines[lines["date"] < "2024-03-01"], "2024-03-01", "2024-03-10")
    assert rates.buyers == 0 and rates.purchases == 0
    payload = rates.to_dict()
    assert payload["by_buyers"] is None and payload["by_transactions"] is None
    json.dumps(payload, allow_nan=False)
