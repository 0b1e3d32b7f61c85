"""The recall list by expected profit: budget, order, ROI, peak, exclusions, reasons, checks.

Every figure is checked against ``_by_hand``, a plain-Python computation of the documented
formulas (no pandas, no numpy), or against numbers worked out in the comments.
"""

from __future__ import annotations

import itertools
import math
import statistics
from fractions import Fraction

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from churnml.campaign import RECALL_COLUMNS, RecallPlan, plan_recall, recall_list
from churnml.exceptions import ConfigError, DataValidationError

AT_RISK = ("warm", "high_recall", "low_recall")
ALL_SEGMENTS = ("new", "active", "warm", "high_recall", "low_recall", "lost")
FIELDS = (
    "customer_id",
    "segment",
    "value_tier",
    "p_alive",
    "p_repurchase",
    "expected_revenue",
    "expected_purchases",
)


def _frame(rows: list[tuple]) -> pd.DataFrame:
    return pd.DataFrame([dict(zip(FIELDS, row, strict=True)) for row in rows])


def _missing(x) -> bool:
    return x is None or (isinstance(x, float) and math.isnan(x))


def _by_hand(
    rows,
    *,
    budget,
    cost,
    uplift,
    margin,
    segments=AT_RISK,
    include_likely_buyers=False,
    limit=None,
    stop_at_peak=False,
):
    """The plan, in plain Python, from the formulas of the issue."""
    excluded = {"segment": 0, "likely": 0, "missing": 0}
    pool = []
    for cid, segment, _tier, p_alive, p_rep, revenue, purchases in rows:
        if segment not in segments:
            excluded["segment"] += 1
        elif not _missing(p_rep) and p_rep >= 0.7 and not include_likely_buyers:
            excluded["likely"] += 1
        elif _missing(p_alive) or _missing(p_rep) or _missing(revenue):
            excluded["missing"] += 1
        else:
            if not _missing(purchases) and purchases > 1e-9:
                value = revenue / purchases
            elif p_rep > 1e-9:  # the revenue expected given a return
                value = revenue / p_rep
            else:
                value = None
            pool.append([cid, p_alive, p_rep, value])
    known = [value for *_, value in pool if value is not None]
    fallback = statistics.median(known) if known else 0.0
    candidates = []
    for cid, p_alive, p_rep, value in pool:
        order_value = fallback if value is None else value
        p_won_back = uplift * p_alive * (1 - p_rep)
        expected_margin = p_won_back * margin * order_value
        candidates.append(
            {
                "customer_id": cid,
                "order_value": order_value,
                "p_won_back": p_won_back,
                "expected_margin": expected_margin,
                "expected_profit": expected_margin - cost,
            }
        )
    candidates.sort(key=lambda c: (-c["expected_profit"], -c["p_won_back"], c["customer_id"]))
    # the cumulative profit after 0, 1, 2, ... contacts and its first maximum
    curve, total = [0.0], 0.0
    for c in candidates:
        total += c["expected_profit"]
        curve.append(total)
    peak = 0
    for k, value in enumerate(curve):
        if value > curve[peak]:
            peak = k
    affordable = Fraction(repr(budget)) // Fraction(repr(cost))  # exact, as people write prices
    n = min(len(candidates), affordable, len(candidates) if limit is None else limit)
    if stop_at_peak:
        n = min(n, peak)
    chosen = candidates[:n]
    margin_sum = sum(c["expected_margin"] for c in chosen)
    cost_total = n * cost
    profit = margin_sum - n * cost
    return {
        "contacts": chosen,
        "candidates": len(candidates),
        "excluded": excluded,
        "curve": curve,
        "peak": peak,
        "expected_margin": margin_sum,
        "cost": cost_total,
        "expected_profit": profit,
        "roi": profit / cost_total if cost_total else None,
    }


# a: warm,        order 60/2 = 30,  p_won_back .1 x .9 x .8  = .072,  margin .072 x .5 x 30 = 1.08
# b: high_recall, order 40/1 = 40,  p_won_back .1 x .5 x .9  = .045,  margin .9
# c: low_recall,  order 10/.5 = 20, p_won_back .1 x .3 x .95 = .0285, margin .285
# d: warm but p_repurchase .8 (likely buyer), order 150, p_won_back .016, margin 1.2
# e: active, g: lost (not recalled); h: warm without p_alive (missing score)
# f: high_recall, order 12/3 = 4,   p_won_back .1 x .6 x .6  = .036,  margin .072
ROWS = [
    ("a", "warm", "gold", 0.9, 0.2, 60.0, 2.0),
    ("b", "high_recall", "silver", 0.5, 0.1, 40.0, 1.0),
    ("c", "low_recall", "bronze", 0.3, 0.05, 10.0, 0.5),
    ("d", "warm", "gold", 0.8, 0.8, 600.0, 4.0),
    ("e", "active", "gold", 0.95, 0.3, 100.0, 2.0),
    ("f", "high_recall", "bronze", 0.6, 0.4, 12.0, 3.0),
    ("g", "lost", "bronze", 0.05, 0.01, 5.0, 1.0),
    ("h", "warm", "silver", float("nan"), 0.3, 20.0, 1.0),
]
PARAMS = {"uplift": 0.1, "margin": 0.5, "cost_per_contact": 0.5}


def _plan(rows=ROWS, **kwargs) -> RecallPlan:
    return plan_recall(_frame(rows), **{**PARAMS, **kwargs})


def _hand(rows=ROWS, **kwargs):
    params = {"uplift": 0.1, "margin": 0.5, "cost": 0.5, **kwargs}
    return _by_hand(rows, **params)


def _assert_matches(plan: RecallPlan, hand) -> None:
    contacts = plan.contacts
    assert contacts["customer_id"].tolist() == [c["customer_id"] for c in hand["contacts"]]
    for name in ("order_value", "p_won_back", "expected_margin", "expected_profit"):
        assert contacts[name].tolist() == pytest.approx([c[name] for c in hand["contacts"]])
    assert plan.candidates == hand["candidates"]
    assert plan.expected_margin == pytest.approx(hand["expected_margin"])
    assert plan.cost == pytest.approx(hand["cost"])
    assert plan.expected_profit == pytest.approx(hand["expected_profit"])
    if hand["roi"] is None:
        assert math.isnan(plan.roi) and plan.to_dict()["roi"] is None
    else:
        assert plan.roi == pytest.approx(hand["roi"])
        assert plan.to_dict()["roi"] == pytest.approx(hand["roi"])
    assert plan.peak_contacts == hand["peak"]
    assert plan.peak_profit == pytest.approx(hand["curve"][hand["peak"]])
    assert plan.curve["contacted"].tolist() == list(range(hand["candidates"] + 1))
    assert plan.curve["expected_profit"].tolist() == pytest.approx(hand["curve"])


def test_the_roi_matches_a_hand_computation():
    plan = _plan(budget=1.5, horizon_days=90)
    hand = _hand(budget=1.5)
    _assert_matches(plan, hand)
    assert list(plan.contacts.columns) == list(RECALL_COLUMNS)
    # profits a .58, b .40, c -.215, f -.428: 1.5 // .5 = 3 contacts
    assert plan.contacts["customer_id"].tolist() == ["a", "b", "c"]
    assert plan.contacts["rank"].tolist() == [1, 2, 3]
    assert plan.contacts["expected_profit"].tolist() == pytest.approx([0.58, 0.4, -0.215])
    assert plan.contacts["expected_value"].tolist() == pytest.approx([0.58, 0.4, -0.215])
    assert plan.contacts["cost"].tolist() == [0.5] * 3
    assert plan.contacts["cumulative_cost"].tolist() == pytest.approx([0.5, 1.0, 1.5])
    assert plan.contacts["cumulative_profit"].tolist() == pytest.approx([0.58, 0.98, 0.765])
    # margin 1.08 + .9 + .285 = 2.265 for a cost of 1.5: profit .765, ROI .765 / 1.5 = .51
    assert plan.expected_margin == pytest.approx(2.265)
    assert plan.expected_profit == pytest.approx(0.765)
    assert plan.roi == pytest.approx(0.51)
    # the curve: 0, .58, .98, .765, .337 -> peak at 2 contacts (cost 1.0, profit .98)
    assert plan.curve["expected_profit"].tolist() == pytest.approx([0, 0.58, 0.98, 0.765, 0.337])
    assert plan.curve["cost"].tolist() == pytest.approx([0, 0.5, 1.0, 1.5, 2.0])
    assert plan.curve["within_budget"].tolist() == [True, True, True, True, False]
    assert plan.peak_contacts == 2 and plan.peak_profit == pytest.approx(0.98)
    figures = plan.to_dict()
    assert figures["peak_cost"] == pytest.approx(1.0) and figures["contacted"] == 3
    assert (figures["uplift"], figures["margin"], figures["budget"]) == (0.1, 0.5, 1.5)
    # b, e, g, h: 2 not in a recalled segment, d likely to buy anyway, h without a score
    assert plan.excluded == {
        "segment not recalled": 2,
        "likely to buy anyway (p_repurchase >= 0.7)": 1,
        "missing score": 1,
    }
    assert plan.candidates + sum(plan.excluded.values()) == len(ROWS)


def test_likely_buyers_are_kept_when_asked():
    plan = _plan(budget=100, include_likely_buyers=True)
    _assert_matches(plan, _hand(budget=100, include_likely_buyers=True))
    # d: .016 x .5 x 150 = 1.2, profit .7, now first
    assert plan.contacts["customer_id"].tolist() == ["d", "a", "b", "c", "f"]
    assert "likely to buy anyway (p_repurchase >= 0.7)" not in plan.excluded
    # cumulative .7, 1.28, 1.68, 1.465, 1.037: the peak moves to 3
    assert plan.peak_contacts == 3 and plan.peak_profit == pytest.approx(1.68)
    assert "d" not in _plan(budget=100).contacts["customer_id"].tolist()


def test_stop_at_peak_cuts_only_below_the_budget():
    full = _plan(budget=100)
    assert full.contacts["customer_id"].tolist() == ["a", "b", "c", "f"]  # shown, not hidden
    at_peak = _plan(budget=100, stop_at_peak=True)
    _assert_matches(at_peak, _hand(budget=100, stop_at_peak=True))
    assert at_peak.contacts["customer_id"].tolist() == ["a", "b"]
    assert at_peak.expected_profit == pytest.approx(0.98) and at_peak.roi == pytest.approx(0.98)
    # a budget of one contact stops before the peak: nothing to cut
    one = _plan(budget=0.7, stop_at_peak=True)
    assert one.contacts["customer_id"].tolist() == ["a"] and one.peak_contacts == 2


def test_no_profitable_contact_peaks_at_zero():
    # at 2 a contact, every expected margin (at most 1.08) is below its cost
    plan = _plan(budget=4, cost_per_contact=2)
    _assert_matches(plan, _hand(budget=4, cost=2.0))
    assert plan.peak_contacts == 0 and plan.peak_profit == 0
    assert plan.to_dict()["peak_cost"] == 0
    assert len(plan.contacts) == 2 and plan.roi == pytest.approx((1.08 + 0.9 - 4) / 4)
    assert _plan(budget=4, cost_per_contact=2, stop_at_peak=True).contacts.empty


def test_an_empty_list_has_no_roi():
    plan = _plan(budget=0)
    assert plan.contacts.empty and plan.cost == 0 and plan.expected_profit == 0
    assert math.isnan(plan.roi) and plan.to_dict()["roi"] is None
    assert plan.candidates == 4 and plan.peak_contacts == 2  # the curve is drawn all the same


def test_limit_and_segment_filter():
    two = _plan(budget=100, limit=2)
    assert two.contacts["customer_id"].tolist() == ["a", "b"]
    assert _plan(budget=100, limit=0).contacts.empty
    only_high = _plan(budget=100, segment="high_recall")
    _assert_matches(only_high, _hand(budget=100, segments=("high_recall",)))
    assert only_high.contacts["customer_id"].tolist() == ["b", "f"]
    assert only_high.excluded["segment not recalled"] == 6
    active_and_lost = _plan(budget=100, segment=["active", "lost"])
    assert active_and_lost.contacts["customer_id"].tolist() == ["e", "g"]
    # e: .1 x .95 x .7 x .5 x 50 = 1.6625 - .5; g: .1 x .05 x .99 x .5 x 5 = .012375 - .5
    assert active_and_lost.contacts["expected_profit"].tolist() == pytest.approx(
        [1.1625, -0.487625]
    )
    assert active_and_lost.excluded["segment not recalled"] == 6


def test_missing_scores_are_counted_not_ranked():
    rows = [
        *ROWS[:3],
        ("x", "warm", "gold", 0.5, None, 10.0, 1.0),
        ("y", "low_recall", "gold", 0.5, 0.1, None, 1.0),
    ]
    plan = _plan(rows, budget=100)
    assert plan.contacts["customer_id"].tolist() == ["a", "b", "c"]
    assert plan.excluded["missing score"] == 2


def test_order_value_falls_back_to_revenue_given_a_return_then_to_the_median():
    rows = [
        ("a", "warm", "gold", 0.9, 0.2, 60.0, 2.0),  # 30
        ("b", "warm", "gold", 0.5, 0.1, 40.0, 1.0),  # 40
        ("c", "warm", "gold", 0.3, 0.05, 10.0, 0.5),  # 20
        ("d", "warm", "gold", 0.4, 0.3, 100.0, 4.0),  # 25
        ("n", "warm", "gold", 0.7, 0.2, 99.0, float("nan")),  # 99 / 0.2 = 495
        ("z", "warm", "gold", 0.7, 0.0, 99.0, 0.0),  # neither: median(20, 25, 30, 40, 495) = 30
    ]
    plan = _plan(rows, budget=100)
    _assert_matches(plan, _hand(rows, budget=100))
    values = plan.contacts.set_index("customer_id")["order_value"]
    assert values["n"] == pytest.approx(495) and values["z"] == pytest.approx(30)
    assert values["a"] == pytest.approx(30) and values["c"] == pytest.approx(20)


def test_without_expected_purchases_a_return_is_worth_revenue_over_p_repurchase():
    scores = _frame(ROWS[:3]).drop(columns="expected_purchases")
    plan = plan_recall(scores, budget=10, cost_per_contact=0.1)
    expected = scores.set_index("customer_id")
    got = plan.contacts.set_index("customer_id")["order_value"]
    for cid, value in got.items():
        row = expected.loc[cid]
        assert value == pytest.approx(row["expected_revenue"] / row["p_repurchase"])


def test_reasons_name_the_segment_the_cycle_and_the_model_drivers():
    scores = _frame(ROWS[:3]).assign(
        days_since_last_purchase=[90, 40, 200],
        purchase_cycle_days=[30.0, 16.0, np.nan],
        reasons=[
            "last purchase 90 days ago (lowers); 2 purchases so far (raises); spend 60 (raises)",
            "",
            None,
        ],
    )
    out = recall_list(scores, budget=100, horizon_days=90, **PARAMS).set_index("customer_id")
    a, b, c = out.loc["a", "reason"], out.loc["b", "reason"], out.loc["c", "reason"]
    assert a.startswith("warm, ") and b.startswith("high_recall, ")
    assert c.startswith("low_recall, ")
    # 90 / 30 = 3.0 cycles; 40 / 16 = 2.5
    assert "90 days since last purchase, 3.0x their 30-day cycle" in a
    assert "40 days since last purchase, 2.5x their 16-day cycle" in b
    assert "200 days since last purchase" in c and "cycle" not in c  # no cycle, no ratio
    assert "20% in 90 d" in a and "P(alive) 0.90" in a  # buys on their own 20 % in 90 days
    # the model's top two drivers, not the third
    assert a.endswith("; model: last purchase 90 days ago (lowers); 2 purchases so far (raises)")
    assert "spend 60" not in a and "model:" not in b and "model:" not in c
    assert out["days_since_last_purchase"].tolist() == [90, 40, 200]
    plain = recall_list(_frame(ROWS[:3]), budget=100, **PARAMS)
    assert "days since last purchase" not in " ".join(plain["reason"])
    assert " in 90 d" not in " ".join(plain["reason"])  # no horizon given, none quoted
    assert plain["purchase_cycle_days"].isna().all()


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"budget": -1}, "budget"),
        ({"budget": float("nan")}, "budget"),
        ({"budget": "10"}, "budget"),
        ({"budget": True}, "budget"),
        ({"cost_per_contact": 0}, "cost_per_contact"),
        ({"cost_per_contact": -2}, "cost_per_contact"),
        ({"cost_per_contact": float("inf")}, "cost_per_contact"),
        ({"uplift": 1.5}, "uplift"),
        ({"uplift": -0.1}, "uplift"),
        ({"margin": 2}, "margin"),
        ({"margin": None}, "margin"),
        ({"limit": -1}, "limit"),
        ({"limit": 1.5}, "limit"),
        ({"horizon_days": 0}, "horizon_days"),
        ({"segment": "sleepy"}, "segment"),
        ({"segment": ["warm", "sleepy"]}, "segment"),
        ({"segment": []}, "segment"),
    ],
)
def test_bad_parameters_are_named(kwargs, name):
    with pytest.raises(ConfigError, match=rf"^{name} must"):
        plan_recall(_frame(ROWS), **{"budget": 10, "cost_per_contact": 1, **kwargs})


def test_missing_columns_are_named():
    scores = _frame(ROWS).drop(columns=["expected_revenue", "p_alive"])
    with pytest.raises(DataValidationError, match="missing column") as caught:
        plan_recall(scores, budget=1, cost_per_contact=1)
    assert "'expected_revenue'" in str(caught.value) and "'p_alive'" in str(caught.value)


@pytest.mark.parametrize(
    ("budget", "cost", "n"),
    [(0.3, 0.1, 3), (0.15, 0.05, 3), (0.9, 0.3, 3), (0.7, 0.1, 7), (1.0, 0.05, 20)],
)
def test_decimal_budgets_buy_what_they_say(budget, cost, n):
    # 0.3 / 0.1 is 2.9999... in binary floating point; people mean 3
    rows = [(f"{i:02d}", "warm", "gold", 0.5, 0.1, 10.0 + i, 1.0) for i in range(30)]
    plan = plan_recall(_frame(rows), budget=budget, cost_per_contact=cost)
    assert len(plan.contacts) == n
    assert plan.contacts["cumulative_cost"].iloc[-1] <= budget
    assert plan.cost == pytest.approx(n * cost)


def test_an_astronomical_budget_buys_everyone():
    # found by schemathesis through GET /v1/recall: 1e30 / 1 overflowed decimal division
    everyone = _plan(budget=1e30, cost_per_contact=1.0)
    tiny_cost = _plan(budget=1e300, cost_per_contact=1e-3)
    assert len(everyone.contacts) == len(tiny_cost.contacts) == 4


_ROW = st.tuples(
    st.sampled_from(ALL_SEGMENTS),
    st.sampled_from(["gold", "silver", "bronze"]),
    st.one_of(st.floats(0, 1), st.just(float("nan"))),
    st.floats(0, 1),
    st.floats(0, 1000),
    st.one_of(st.floats(0.01, 10), st.just(0.0), st.just(float("nan"))),
)
_COST = st.one_of(st.sampled_from([0.1, 0.05, 0.3, 0.07, 0.01, 1.0, 2.5]), st.floats(0.01, 100))
_BUDGET = st.one_of(st.integers(0, 500).map(lambda k: k / 100), st.floats(0, 1e4))


@settings(max_examples=150, deadline=None)
@given(
    rows=st.lists(_ROW, max_size=15),
    budget=_BUDGET,
    cost=_COST,
    uplift=st.floats(0, 1),
    margin=st.floats(0, 1),
    limit=st.one_of(st.none(), st.integers(0, 20)),
    stop_at_peak=st.booleans(),
)
def test_never_over_budget_sorted_and_as_computed_by_hand(
    rows, budget, cost, uplift, margin, limit, stop_at_peak
):
    rows = [(f"c{i:02d}", *row) for i, row in enumerate(rows)]
    kwargs = {"limit": limit, "stop_at_peak": stop_at_peak}
    plan = plan_recall(
        _frame(rows) if rows else pd.DataFrame(columns=FIELDS),
        budget=budget,
        cost_per_contact=cost,
        uplift=uplift,
        margin=margin,
        **kwargs,
    )
    hand = _by_hand(rows, budget=budget, cost=cost, uplift=uplift, margin=margin, **kwargs)
    out = plan.contacts
    # never over the budget, and not cut short of what it buys
    assert plan.cost <= budget
    if len(out):
        assert out["cumulative_cost"].max() <= budget
    assert out["rank"].tolist() == list(range(1, len(out) + 1))
    assert out["segment"].isin(AT_RISK).all()
    assert (out["p_repurchase"] < 0.7).all()
    # sorted by expected profit
    profits = out["expected_profit"].tolist()
    assert all(x >= y for x, y in itertools.pairwise(profits))
    # the same customers as by hand (up to the order of exact ties), with the same figures
    assert plan.candidates == hand["candidates"]
    assert plan.candidates + sum(plan.excluded.values()) == len(rows)
    assert plan.excluded.get("missing score", 0) == hand["excluded"]["missing"]
    assert plan.excluded["segment not recalled"] == hand["excluded"]["segment"]
    hand_profit = {c["customer_id"]: c["expected_profit"] for c in hand["contacts"]}
    peak_value = max(hand["curve"])
    # a peak reached twice within float noise may be either one
    assert hand["curve"][plan.peak_contacts] == pytest.approx(peak_value, rel=1e-9, abs=1e-9)
    if not stop_at_peak or plan.peak_contacts == hand["peak"]:
        assert len(out) == len(hand["contacts"])
        assert profits == pytest.approx(list(hand_profit.values()), rel=1e-9, abs=1e-9)
        assert plan.expected_profit == pytest.approx(hand["expected_profit"], rel=1e-9, abs=1e-9)
        if hand["roi"] is not None:
            assert plan.roi == pytest.approx(hand["roi"], rel=1e-9, abs=1e-9)
        else:
            assert math.isnan(plan.roi)
    assert plan.curve["expected_profit"].tolist() == pytest.approx(
        hand["curve"], rel=1e-9, abs=1e-9
    )


def test_a_customer_listed_twice_is_an_error_and_a_missing_id_is_counted():
    scores = _frame(ROWS[:3])
    twice = pd.concat([scores, scores.iloc[[0]]])
    with pytest.raises(DataValidationError, match="unique"):
        plan_recall(twice, budget=10, cost_per_contact=0.1)
    no_id = scores.astype({"customer_id": object})
    no_id.loc[no_id.index[0], "customer_id"] = None
    plan = plan_recall(no_id, budget=10, cost_per_contact=0.1)
    assert plan.excluded.get("missing customer_id") == 1
    assert "nan" not in plan.contacts["customer_id"].tolist()
