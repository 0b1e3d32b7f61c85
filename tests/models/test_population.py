"""Scoring in parts: rounds of population inputs, solved once, give one whole score's rows.

Spark scores each group of customers on its own; LightGBM scorers anchor their level to the
whole population scored. These tests split a log's customers into parts in pandas, run the
rounds of ``population_inputs`` / ``solve_population`` as a driver would (the parts' rows
shuffled together), score every part with the result, and compare with one ``predict``.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from churnml.data import simulate_transactions
from churnml.models.level import LevelAdjusted
from churnml.settings import ValueSettings

AS_OF = pd.Timestamp("2021-03-31")
HORIZON = 60
NUMBERS = (
    "p_alive",
    "p_repurchase",
    "expected_purchases",
    "expected_revenue",
    "clv",
    "net_clv",
    "expected_days_to_next_purchase",
    "p_buy_30d",
)


@pytest.fixture(scope="module")
def log():
    # customers come over 400 days, so some first buy within the year before as-of
    frame, _ = simulate_transactions(3000, seed=11, acquisition_days=400, observation_days=600)
    return frame


@pytest.fixture(scope="module")
def level_blend(log):
    """A level-adjusted blend: the wrapper, the blend and its two LightGBM members."""
    value = ValueSettings(acquisition_cost=15.0)
    return LevelAdjusted(family="blend", factors={"buyers": 0.9}, value=value).fit(
        log, AS_OF, HORIZON
    )


def _parts(log):
    """Three parts: the customers who came in the last year, and the rest in two halves."""
    first = log.groupby("customer_id")["date"].min()
    late = first.index[first > AS_OF - pd.Timedelta(days=365)]
    rest = first.index.difference(late)
    assert len(late) > 50 and len(rest) > 100  # the split this test is about
    groups = [late, rest[::2], rest[1::2]]
    return [log[log["customer_id"].isin(g)].reset_index(drop=True) for g in groups]


def _solved(scorer, parts, first_date):
    population = {"first_date": str(first_date)}
    rounds = 0
    while True:
        found = [scorer.population_inputs(part, AS_OF, HORIZON, population) for part in parts]
        if all(f is None for f in found):
            return population, rounds
        inputs = pd.concat([f for f in found if f is not None])
        inputs = inputs.sample(frac=1.0, random_state=rounds)  # the order rows arrive in
        # sent to every worker as JSON: what comes back must be what was solved
        population = json.loads(json.dumps(scorer.solve_population(inputs, population)))
        rounds += 1


def _by_parts(scorer, parts, population):
    scored = [scorer.predict(part, AS_OF, HORIZON, population=population) for part in parts]
    return pd.concat(scored).sort_index()


def _assert_same(got, want):
    assert got.index.equals(want.index)
    for column in NUMBERS:
        if column in want.columns:
            np.testing.assert_allclose(
                got[column].to_numpy(float), want[column].to_numpy(float), rtol=1e-9, atol=1e-12
            )
    assert (got["next_purchase_date"] == want["next_purchase_date"]).all()
    assert ("reasons" in got.columns) == ("reasons" in want.columns)
    if "reasons" in want.columns:
        assert (got["reasons"] == want["reasons"]).all()


def test_a_level_adjusted_blend_scored_in_parts_equals_one_score(log, level_blend):
    parts = _parts(log)
    population, rounds = _solved(level_blend, parts, log["date"].min())
    assert rounds == 2  # the members' anchors, then the blend's
    assert set(population["members"]) == {"gbm", "hybrid"}
    want = level_blend.predict(log, AS_OF, HORIZON).sort_index()
    assert "reasons" in want.columns and "net_clv" in want.columns
    _assert_same(_by_parts(level_blend, parts, population), want)


@pytest.mark.parametrize("member", ["gbm", "hybrid"])
def test_a_lightgbm_scorer_scored_in_parts_equals_one_score(log, level_blend, member):
    scorer = level_blend.inner_.members_[member]
    parts = _parts(log)
    population, rounds = _solved(scorer, parts, log["date"].min())
    assert rounds == 1
    assert set(population["anchors"]) == {
        "buyers_shift",
        "year_scale",
        "season_shift",
        "purchases_scale",
        "revenue_scale",
    }
    want = scorer.predict(log, AS_OF, HORIZON).sort_index()
    _assert_same(_by_parts(scorer, parts, population), want)


def test_parts_scored_on_their_own_differ_from_one_score(log, level_blend):
    # what the rounds are for: each part anchored to itself, and the late customers' part
    # without the log's first line (no last-year window), scores otherwise
    scorer = level_blend.inner_.members_["gbm"]
    parts = _parts(log)
    alone = pd.concat([scorer.predict(part, AS_OF, HORIZON) for part in parts]).sort_index()
    want = scorer.predict(log, AS_OF, HORIZON).sort_index()
    gap = np.abs(alone["p_repurchase"] - want["p_repurchase"]).max()
    assert gap > 1e-4
    # the log's first line alone (anchors solved from the part itself) changes the features
    late = parts[0]
    no_first = scorer.population_inputs(late, AS_OF, HORIZON, {})
    with_first = scorer.population_inputs(
        late, AS_OF, HORIZON, {"first_date": str(log["date"].min())}
    )
    assert not np.allclose(no_first["p"], with_first["p"])


def test_a_btyd_scorer_needs_no_round(log):
    scorer = LevelAdjusted(family="bgnbd").fit(log, AS_OF, HORIZON)
    parts = _parts(log)
    population, rounds = _solved(scorer, parts, log["date"].min())
    assert rounds == 0
    got = pd.concat([scorer.predict(p, AS_OF, HORIZON, population=population) for p in parts])
    want = scorer.predict(log, AS_OF, HORIZON)
    for column in ("p_repurchase", "expected_revenue", "clv"):
        np.testing.assert_allclose(
            got[column].sort_index().to_numpy(), want[column].sort_index().to_numpy(), rtol=1e-12
        )
