"""Purchase cycles and reminders: a hand-made log, hand-made score tables, and CDNOW."""

from __future__ import annotations

import itertools
import math
from datetime import date, timedelta

import numpy as np
import pandas as pd
import pytest

import churnml
from churnml.campaign import REMINDER_COLUMNS, customer_cycles, reminders, scores_as_of
from churnml.exceptions import ConfigError, DataValidationError
from churnml.features import history_until

AS_OF = date(2024, 2, 29)
# customer, day, amount
LINES = [
    ("a", date(2024, 1, 1), 10.0),
    ("a", date(2024, 1, 11), 20.0),
    ("a", date(2024, 1, 31), 5.0),
    ("a", date(2024, 2, 1), 7.0),
    ("b", date(2024, 1, 5), 8.0),
    ("b", date(2024, 1, 5), 4.0),  # the same day: one purchase
    ("b", date(2024, 1, 25), 3.0),
    ("c", date(2024, 2, 10), 9.0),
    ("d", date(2024, 1, 10), 5.0),
    ("d", date(2024, 1, 15), 5.0),
    ("d", date(2024, 1, 20), 5.0),
    ("d", date(2024, 3, 15), 50.0),  # after as-of: never read
    ("e", date(2024, 1, 3), 10.0),
    ("e", date(2024, 1, 4), -10.0),  # a return alone on its day: no purchase
    ("e", date(2024, 2, 3), 10.0),
]


def _history():
    lines = pd.DataFrame(LINES, columns=["customer_id", "date", "amount"])
    lines["date"] = pd.to_datetime(lines["date"])
    return history_until(lines, str(AS_OF))


def _purchase_days() -> dict[str, list[date]]:
    """Each customer's purchase days up to as-of: days with a positive net amount."""
    net: dict[tuple[str, date], float] = {}
    for customer, day, amount in LINES:
        if day <= AS_OF:
            net[customer, day] = net.get((customer, day), 0.0) + amount
    days: dict[str, list[date]] = {}
    for (customer, day), amount in sorted(net.items()):
        if amount > 0:
            days.setdefault(customer, []).append(day)
    return days


def _cycles_by_hand(population=None, k=2.0):
    days = _purchase_days()
    gaps = {c: [(y - x).days for x, y in itertools.pairwise(d)] for c, d in days.items()}
    every = sorted(g for gs in gaps.values() for g in gs)
    mid = len(every) // 2
    median = every[mid] if len(every) % 2 else (every[mid - 1] + every[mid]) / 2
    big_c = median if population is None else population
    out = {}
    for customer, gs in gaps.items():
        m = len(gs)
        if k + m:
            cycle = math.exp((k * math.log(big_c) + sum(math.log(g) for g in gs)) / (k + m))
        else:  # no gap and no weight on the population: the population's all the same
            cycle = big_c
        last = days[customer][-1]
        out[customer] = {
            "n_purchases": len(days[customer]),
            "last_purchase_date": last,
            "days_since_last_purchase": (AS_OF - last).days,
            "purchase_cycle_days": cycle,
            "reminder_date": last + timedelta(days=round(cycle)),
        }
    return big_c, out


def _check(cycles: pd.DataFrame, hand: dict) -> None:
    assert cycles.index.tolist() == sorted(hand)
    for customer, row in hand.items():
        got = cycles.loc[customer]
        assert got["n_purchases"] == row["n_purchases"], customer
        assert got["last_purchase_date"].date() == row["last_purchase_date"], customer
        assert got["days_since_last_purchase"] == row["days_since_last_purchase"], customer
        assert got["purchase_cycle_days"] == pytest.approx(row["purchase_cycle_days"]), customer
        assert got["reminder_date"].date() == row["reminder_date"], customer


def test_cycles_match_a_hand_computation():
    cycles = customer_cycles(_history())
    assert list(cycles.columns) == list(churnml.campaign.CYCLE_COLUMNS)
    big_c, hand = _cycles_by_hand()
    # gaps a 10, 20, 1; b 20; d 5, 5; e 31: the median of 1 5 5 10 20 20 31 is 10
    assert big_c == 10
    _check(cycles, hand)
    # a: (10^2 x 10 x 20 x 1)^(1/5) = 20000^(1/5) = 7.25 -> due 1 Feb + 7 = 8 Feb
    assert cycles.loc["a", "purchase_cycle_days"] == pytest.approx(20000 ** (1 / 5))
    assert cycles.loc["a", "reminder_date"] == pd.Timestamp("2024-02-08")
    # b: 1 purchase day from 2 lines, then 25 Jan; e: the return day is no purchase
    assert cycles.loc["b", "n_purchases"] == 2 and cycles.loc["e", "n_purchases"] == 2
    # d: the purchase after as-of is not read
    assert cycles.loc["d", "n_purchases"] == 3
    assert cycles.loc["d", "last_purchase_date"] == pd.Timestamp("2024-01-20")
    # the one-purchase customer gets the population cycle: due 10 Feb + 10 = 20 Feb
    assert cycles.loc["c", "purchase_cycle_days"] == pytest.approx(10)
    assert cycles.loc["c", "reminder_date"] == pd.Timestamp("2024-02-20")
    assert cycles.loc["c", "days_since_last_purchase"] == 19


def test_given_population_cycle_and_prior_weight():
    _, hand = _cycles_by_hand(population=40)
    _check(customer_cycles(_history(), population_cycle_days=40), hand)
    _, own = _cycles_by_hand(k=0.0)
    cycles = customer_cycles(_history(), prior_gaps=0)
    _check(cycles, own)
    # with no weight on the population, d's cycle is its own geometric mean, 5 days
    assert cycles.loc["d", "purchase_cycle_days"] == pytest.approx(5)
    assert cycles.loc["c", "purchase_cycle_days"] == pytest.approx(10)  # no gap: C all the same


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"prior_gaps": -1}, "prior_gaps"),
        ({"population_cycle_days": 0}, "population_cycle_days"),
        ({"population_cycle_days": -3.0}, "population_cycle_days"),
    ],
)
def test_bad_cycle_parameters_are_named(kwargs, name):
    with pytest.raises(ConfigError, match=rf"^{name} must"):
        customer_cycles(_history(), **kwargs)


SCORE_AS_OF = pd.Timestamp("2024-03-01")


def _scores(due: dict[str, str | None], revenue: dict[str, float]) -> pd.DataFrame:
    customers = list(due)
    last = [SCORE_AS_OF - pd.Timedelta(days=10 + i) for i in range(len(customers))]
    return pd.DataFrame(
        {
            "customer_id": customers,
            "segment": ["warm"] * len(customers),
            "value_tier": ["gold"] * len(customers),
            "p_repurchase": [0.5] * len(customers),
            "expected_revenue": [revenue[c] for c in customers],
            "next_purchase_date": [None] * len(customers),
            "n_purchases": [3] * len(customers),
            "last_purchase_date": [d.strftime("%Y-%m-%d") for d in last],
            "days_since_last_purchase": [10 + i for i in range(len(customers))],
            "purchase_cycle_days": [20.0] * len(customers),
            "reminder_date": [due[c] for c in customers],
        }
    )


DUE = {
    "p": "2024-03-01",  # due on as-of: not ahead
    "q": "2024-03-02",  # 1 day
    "r": "2024-03-02",
    "s": "2024-03-08",  # 7 days
    "t": "2024-03-09",  # 8 days: beyond
    "u": "2024-02-20",  # past due: a recall, not a reminder
    "v": None,
    "w": "2024-03-05",  # 4 days
    "x": "2024-03-02",
}
REVENUE = {"p": 9, "q": 5, "r": 50, "s": 1, "t": 99, "u": 99, "v": 99, "w": 10, "x": 50}


def test_reminders_list_those_due_within_n_days_soonest_first():
    scores = _scores(DUE, REVENUE)
    due = reminders(scores, 7)
    # by hand: 1 <= due - as-of <= 7, then by due date, revenue (highest first), customer id
    days = {c: (pd.Timestamp(d) - SCORE_AS_OF).days for c, d in DUE.items() if d}
    listed = sorted(
        (c for c, n in days.items() if 1 <= n <= 7), key=lambda c: (days[c], -REVENUE[c], c)
    )
    assert listed == ["r", "x", "q", "w", "s"]
    assert due["customer_id"].tolist() == listed
    assert due["days_until_due"].tolist() == [days[c] for c in listed]
    assert due["reminder_date"].tolist() == [DUE[c] for c in listed]
    assert list(due.columns) == [c for c in REMINDER_COLUMNS if c in scores.columns or c in due]
    assert reminders(scores, 1)["customer_id"].tolist() == ["r", "x", "q"]
    assert reminders(scores, 8)["customer_id"].tolist() == [*listed, "t"]
    # a given as-of replaces the one read from the table
    later = reminders(scores, 4, as_of="2024-03-05")
    assert later["customer_id"].tolist() == ["s", "t"]
    assert later["days_until_due"].tolist() == [3, 4]


def test_reminders_by_the_model_use_its_next_purchase_date():
    scores = _scores(DUE, REVENUE)
    scores["next_purchase_date"] = [
        "2024-03-03",
        None,
        "2024-03-10",
        "2024-03-02",
        "2024-03-01",
        "2024-03-20",
        "2024-03-04",
        "2024-02-01",
        "2024-03-02",
    ]
    due = reminders(scores, 9, basis="model")
    # p 2, q none, r 9, s 1, t 0, u 19, v 3, w past, x 1 (s and x tie on the day: s is cheaper)
    assert due["customer_id"].tolist() == ["x", "s", "p", "v", "r"]
    assert due["days_until_due"].tolist() == [1, 1, 2, 3, 9]
    assert due["reminder_date"].tolist() == [
        "2024-03-02",
        "2024-03-02",
        "2024-03-03",
        "2024-03-04",
        "2024-03-10",
    ]


def test_scores_as_of_reads_the_date_back_and_checks_it():
    scores = _scores(DUE, REVENUE)
    assert scores_as_of(scores) == SCORE_AS_OF
    mixed = scores.copy()
    mixed.loc[2, "days_since_last_purchase"] += 1
    with pytest.raises(DataValidationError, match="one as-of date for every row; found 2"):
        scores_as_of(mixed)
    with pytest.raises(DataValidationError, match="found 0"):
        scores_as_of(scores.assign(last_purchase_date=None))
    with pytest.raises(DataValidationError, match=r"'days_since_last_purchase'.*score again"):
        scores_as_of(scores.drop(columns="days_since_last_purchase"))
    with pytest.raises(DataValidationError, match="one as-of date"):
        reminders(mixed, 7)
    assert len(reminders(mixed, 7, as_of="2024-03-01")) == 5  # a given date needs no reading


def test_old_score_files_are_told_to_score_again():
    old = _scores(DUE, REVENUE).drop(columns=list(churnml.campaign.CYCLE_COLUMNS))
    with pytest.raises(DataValidationError, match=r"'reminder_date'.*score again"):
        reminders(old, 7)
    with pytest.raises(DataValidationError, match="'next_purchase_date'"):
        reminders(old.drop(columns="next_purchase_date"), 7, basis="model", as_of="2024-03-01")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"within_days": 0}, "within_days must be at least 1"),
        ({"within_days": 2.5}, "within_days must be a whole number"),
        ({"within_days": True}, "within_days must be a whole number"),
        ({"within_days": 7, "basis": "moon"}, "basis must be"),
    ],
)
def test_bad_reminder_parameters_are_named(kwargs, message):
    with pytest.raises(ConfigError, match=message):
        reminders(_scores(DUE, REVENUE), **kwargs)


def test_cdnow_scores_carry_consistent_cycles(cdnow):
    raw = cdnow  # churnml.load_cdnow(), loaded once per session
    tx = churnml.load_transactions(raw)
    scorer = churnml.make_scorer("bgnbd").fit(tx, "1998-06-30")
    # buyers only: the 68 seen through zero-amount rows alone have no cycle to check
    scores = churnml.score_with(
        scorer, tx, "1998-06-30", 90, "v", include_no_purchase=False
    ).set_index("customer_id")
    as_of = pd.Timestamp("1998-06-30")

    # independently: purchases are customer-days with a positive net amount
    days = raw.groupby(["customer_id", "date"], as_index=False)["amount"].sum()
    days = days[days["amount"] > 0].sort_values(["customer_id", "date"])
    gaps = days.groupby("customer_id")["date"].diff().dt.days
    population = float(gaps.median())
    assert population == 34
    assert scores.index.sort_values().tolist() == sorted(days["customer_id"].unique())

    n = days.groupby("customer_id").size()
    assert (scores["n_purchases"] == n.reindex(scores.index)).all()
    last = pd.to_datetime(scores["last_purchase_date"])
    assert (last == days.groupby("customer_id")["date"].max().reindex(scores.index)).all()
    assert (last + pd.to_timedelta(scores["days_since_last_purchase"], unit="D") == as_of).all()
    assert scores_as_of(scores.reset_index()) == as_of

    one = scores["n_purchases"] == 1
    assert one.sum() > 10_000
    assert np.allclose(scores.loc[one, "purchase_cycle_days"], 34)
    # every customer: exp((2 log 34 + sum log g) / (2 + m))
    logs = np.log(gaps).groupby(days["customer_id"]).agg(["sum", "count"])
    logs = logs.reindex(scores.index)
    expected = np.exp((2 * np.log(34) + logs["sum"]) / (2 + logs["count"]))
    assert np.allclose(scores["purchase_cycle_days"], expected, rtol=1e-12)
    due = last + pd.to_timedelta(expected.round(), unit="D")
    assert (pd.to_datetime(scores["reminder_date"]) == due).all()
    # a reminder list read straight off the scores
    soon = reminders(scores.reset_index(), 30)
    ahead = (pd.to_datetime(scores["reminder_date"]) - as_of).dt.days
    assert len(soon) == int(ahead.between(1, 30).sum()) > 0


def test_without_anyone_buying_twice_there_is_no_cycle_and_no_reminder():
    lines = pd.DataFrame(
        {
            "customer_id": ["a", "b"],
            "date": pd.to_datetime(["2024-01-01", "2024-01-05"]),
            "amount": [5.0, 8.0],
        }
    )
    cycles = customer_cycles(history_until(lines, "2024-01-10"))
    assert cycles["purchase_cycle_days"].isna().all()
    assert cycles["reminder_date"].isna().all()
    scores = cycles.reset_index().assign(
        reminder_date=lambda f: f["reminder_date"].dt.strftime("%Y-%m-%d")
    )
    assert reminders(scores, 30, as_of="2024-01-10").empty
