from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from lifetimes.utils import summary_data_from_transaction_data

from churnml.data import cdnow_path, load_transactions, simulate_transactions
from churnml.exceptions import InsufficientDataError
from churnml.features import btyd_summary
from churnml.features.rfm import history_until


def lifetimes_summary(lines: pd.DataFrame, as_of, freq: str = "D") -> pd.DataFrame:
    """The reference implementation, sorted like churnml's output."""
    return summary_data_from_transaction_data(
        lines,
        "customer_id",
        "date",
        monetary_value_col="amount",
        observation_period_end=as_of,
        freq=freq,
    ).sort_index()


def test_cdnow_loader_matches_published_counts(cdnow):
    assert len(cdnow) == 69_659
    assert cdnow["customer_id"].nunique() == 23_570
    assert cdnow["customer_id"].iloc[0] == "00001"  # zero padding kept
    assert cdnow["date"].min() == pd.Timestamp("1997-01-01")
    assert cdnow["date"].max() == pd.Timestamp("1998-06-30")
    assert cdnow_path().name == "CDNOW_master.txt"


def _past_monday(as_of: str | pd.Timestamp, freq: str) -> float:
    """Weeks from the Monday of the as-of week to as-of: where lifetimes' weekly T stops short."""
    return pd.Timestamp(as_of).dayofweek / 7 if freq == "W" else 0.0


def test_weekly_t_runs_to_the_as_of_day():
    """Labels start the day after as-of: a weekly T stopped at the as-of week's Monday would
    leave the days in between out of both the past and the future."""
    lines = pd.DataFrame(
        {
            "customer_id": ["a", "a"],
            "date": pd.to_datetime(["2024-01-01", "2024-01-08"]),  # Mondays
            "amount": [10.0, 20.0],
        }
    )
    for as_of, weeks in (("2024-01-15", 2.0), ("2024-01-18", 2 + 3 / 7), ("2024-01-21", 2 + 6 / 7)):
        summary = btyd_summary(lines, as_of, "W")
        assert summary.loc["a", "T"] == pytest.approx(weeks)
        assert summary.loc["a", "recency"] == 1.0


@pytest.mark.parametrize("freq", ["D", "W"])
@pytest.mark.parametrize("as_of", ["1997-09-30", "1998-06-30"])
def test_summary_equals_lifetimes_on_cdnow(cdnow_tx, freq, as_of):
    ours = btyd_summary(cdnow_tx, as_of, freq)
    lines = cdnow_tx.lines
    theirs = lifetimes_summary(lines[lines["date"] <= as_of], as_of, freq)
    theirs["T"] += _past_monday(as_of, freq)
    assert ours.index.tolist() == theirs.index.tolist()
    assert list(ours.columns) == list(theirs.columns)
    np.testing.assert_allclose(ours.to_numpy(), theirs.to_numpy(), rtol=0, atol=1e-9)


def test_summary_on_raw_cdnow_matches_lifetimes_where_purchases_are_positive(cdnow):
    # lifetimes counts a $0 line as a purchase; churnml's unit is a positive-net customer-day.
    positive = cdnow[cdnow["amount"] > 0]
    theirs = lifetimes_summary(positive, "1998-06-30")
    ours = btyd_summary(load_transactions(cdnow), "1998-06-30")
    pd.testing.assert_frame_equal(ours, theirs, check_names=False, check_index_type=False)


@pytest.mark.parametrize("freq", ["D", "W"])
def test_summary_equals_lifetimes_with_times_of_day(freq):
    from churnml.data import simulate_transactions

    log, _ = simulate_transactions(3000, seed=2, observation_days=300)
    as_of = pd.Timestamp("2020-07-15")
    lines = log[log["date"] < as_of + pd.Timedelta(days=1)]  # the whole as-of day
    theirs = lifetimes_summary(lines, as_of, freq)
    theirs["T"] += _past_monday(as_of, freq)
    ours = btyd_summary(load_transactions(log), as_of, freq)
    assert len(ours) > 2000
    np.testing.assert_allclose(ours.to_numpy(), theirs.to_numpy(), atol=1e-9)
    assert ours.index.tolist() == theirs.index.tolist()


def test_hand_computed_summary():
    lines = pd.DataFrame(
        {
            "customer_id": ["a", "a", "a", "a", "b"],
            "date": pd.to_datetime(
                ["2020-01-01", "2020-01-01", "2020-01-11", "2020-01-21", "2020-01-16"]
            ),
            "amount": [4.0, 6.0, 20.0, 40.0, 5.0],
        }
    )
    s = btyd_summary(lines, "2020-01-31")
    assert s.loc["a"].tolist() == [2.0, 20.0, 30.0, 30.0]  # 2 repeat days, mean (20+40)/2
    assert s.loc["b"].tolist() == [0.0, 0.0, 15.0, 0.0]


def test_nothing_before_as_of_is_an_error():
    lines = pd.DataFrame(
        {"customer_id": ["a"], "date": pd.to_datetime(["2020-02-01"]), "amount": [1.0]}
    )
    with pytest.raises(InsufficientDataError, match="on or before as-of 2020-01-01"):
        btyd_summary(lines, "2020-01-01")


@settings(max_examples=60, deadline=None)
@given(
    days=st.lists(
        st.tuples(st.integers(0, 4), st.integers(0, 120), st.floats(-50, 100, allow_nan=False)),
        min_size=1,
        max_size=60,
    ),
    cut=st.integers(0, 130),
    freq=st.sampled_from(["D", "W"]),
)
def test_summary_invariants(days, cut, freq):
    origin = pd.Timestamp("2021-03-01")
    lines = pd.DataFrame(
        {
            "customer_id": [f"c{c}" for c, _, _ in days],
            "date": [origin + pd.Timedelta(days=d) for _, d, _ in days],
            "amount": [a for _, _, a in days],
        }
    )
    as_of = origin + pd.Timedelta(days=cut)
    try:
        s = btyd_summary(lines, as_of, freq)
    except InsufficientDataError:
        before = lines[lines["date"] <= as_of]
        net = before.groupby(["customer_id", before["date"].dt.to_period(freq)])["amount"].sum()
        assert not (net > 0).any()
        return
    assert (s["frequency"] >= 0).all()
    assert ((s["recency"] >= 0) & (s["recency"] <= s["T"])).all()
    assert (s.loc[s["frequency"] == 0, "recency"] == 0).all()
    assert (s.loc[s["frequency"] > 0, "monetary_value"] > 0).all()
    assert s["T"].max() <= cut / (7 if freq == "W" else 1) + 1


def test_a_repeated_cut_is_the_same_read_only_history(cdnow_tx):
    """history_until hands the next caller with the same lines, day and period the last cut;
    a caller can change nothing another one reads."""
    first = history_until(cdnow_tx, "1997-09-30")
    assert history_until(cdnow_tx, pd.Timestamp("1997-09-30 00:00")) is first
    with pytest.raises(ValueError, match="read-only"):
        first.purchases.amount[0] = 0.0
    with pytest.raises(ValueError, match="read-only"):
        first.count[0] = 7
    # another day, period or lines object is cut again, and gives what a fresh cut gives
    weekly = history_until(cdnow_tx, "1997-09-30", "W")
    assert weekly is not first and weekly.purchases.freq == "W"
    copy = cdnow_tx.lines.copy()
    again = history_until(copy, "1997-09-30")
    assert again is not first
    np.testing.assert_array_equal(again.customer_ids, first.customer_ids)
    np.testing.assert_array_equal(again.purchases.amount, first.purchases.amount)
    assert history_until(copy, "1997-10-31").as_of == pd.Timestamp("1997-10-31")


def test_summaries_of_one_cut_share_its_index_but_not_its_name():
    log, _ = simulate_transactions(500, seed=3, observation_days=200)
    as_of = log["date"].max().normalize() - pd.Timedelta(days=30)
    a, b = btyd_summary(log, as_of), btyd_summary(log, as_of)
    hist = history_until(log, as_of)
    assert a.index.is_(hist.index) and b.index.is_(hist.index)  # one hash table for the cut
    assert a.index.equals(pd.Index(hist.customer_ids)) and a.index.dtype == "str"
    a.index.name = "renamed"
    assert b.index.name == "customer_id" and hist.index.name == "customer_id"
    later = btyd_summary(log, as_of + pd.Timedelta(days=1))
    assert not later.index.is_(a.index)
