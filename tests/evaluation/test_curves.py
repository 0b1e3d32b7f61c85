"""Gains and calibration curves of an evaluation, checked against hand computations."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from churnml.evaluation import (
    METRIC_NAMES,
    Evaluation,
    EvaluationCurves,
    calibration_bins,
    evaluation_curves,
    gains_curve,
    model_metrics,
    top_share,
)
from churnml.evaluation.plots import save_plots
from churnml.exceptions import ConfigError


def _evaluation(revenue, predictions: dict[str, dict[str, list[float]]]) -> Evaluation:
    """An evaluation of customers c0, c1, ... with the given window revenue."""
    revenue = np.asarray(revenue, dtype=float)
    index = pd.Index([f"c{i}" for i in range(revenue.size)], name="customer_id")
    labels = pd.DataFrame(
        {
            "bought": revenue > 0,
            "n_purchases": (revenue > 0).astype(float),
            "revenue": revenue,
            "days_to_next": np.where(revenue > 0, 10.0, np.nan),
        },
        index=index,
    )
    preds = {}
    for name, columns in predictions.items():
        frame = pd.DataFrame(columns, index=index)
        frame["expected_purchases"] = frame["p_repurchase"]
        frame["expected_days_to_next_purchase"] = 20.0
        preds[name] = frame
    ev = Evaluation(
        cutoff=pd.Timestamp("2024-01-31"),
        horizon_days=30,
        labels=labels,
        summary=pd.DataFrame(index=index, data={"frequency": 0}),
        predictions=preds,
    )
    ev.metrics = {name: model_metrics(pred, labels) for name, pred in preds.items()}
    return ev


REVENUE = [0.0, 50.0, 10.0, 40.0, 0.0]


@pytest.fixture
def tiny() -> Evaluation:
    return _evaluation(
        REVENUE,
        {
            # ranks by the actual revenue: the best any model can do
            "perfect": {
                "expected_revenue": [0.0, 5.0, 1.0, 4.0, 0.5],
                "p_repurchase": [0.1, 0.9, 0.6, 0.8, 0.2],
            },
            # ranks c0 first, then c2, c4, c1, c3
            "poor": {
                "expected_revenue": [9.0, 2.0, 8.0, 1.0, 7.0],
                "p_repurchase": [0.7, 0.3, 0.6, 0.2, 0.5],
            },
        },
    )


def test_gains_follow_the_ranking_by_predicted_revenue(tiny):
    curves = evaluation_curves(tiny)
    assert list(curves.models) == ["perfect", "poor"]
    # by hand: revenue 100 in all; perfect order c1 (50), c3 (40), c2 (10), then c4, c0 (0)
    perfect = curves.models["perfect"].gains
    np.testing.assert_allclose(perfect["share_customers"], [0, 0.2, 0.4, 0.6, 0.8, 1.0])
    np.testing.assert_allclose(perfect["share_revenue"], [0, 0.5, 0.9, 1.0, 1.0, 1.0])
    # poor order c0 (0), c2 (10), c4 (0), c1 (50), c3 (40)
    poor = curves.models["poor"].gains
    np.testing.assert_allclose(poor["share_revenue"], [0, 0, 0.1, 0.1, 0.6, 1.0])
    # the perfect ranking captures revenue fastest: never below another ranking
    assert (perfect["share_revenue"] >= poor["share_revenue"]).all()
    rng = np.random.default_rng(0)
    for _ in range(20):
        _, other = gains_curve(np.array(REVENUE), rng.normal(size=5))
        assert (perfect["share_revenue"].to_numpy() >= other - 1e-12).all()


def test_buyers_gains_rank_by_p_repurchase(tiny):
    curves = evaluation_curves(tiny)
    # buyers are c1, c2, c3; perfect's p_repurchase ranks them first
    buyers = curves.models["perfect"].buyers_gains["share_buyers"]
    np.testing.assert_allclose(buyers, [0, 1 / 3, 2 / 3, 1, 1, 1])
    # poor's order by p_repurchase: c0, c2, c4, c1, c3
    poor = curves.models["poor"].buyers_gains["share_buyers"]
    np.testing.assert_allclose(poor, [0, 0, 1 / 3, 1 / 3, 2 / 3, 1])


def test_tied_scores_form_a_straight_segment_whatever_the_row_order():
    actual = np.array([0.0, 0.0, 30.0, 10.0])
    share, captured = gains_curve(actual, np.zeros(4))
    np.testing.assert_allclose(captured, share)  # no ranking: the random line
    # a tie between the two best customers: the average of their two orders
    _, captured = gains_curve(np.array([30.0, 10.0, 0.0]), np.array([1.0, 1.0, 0.0]))
    np.testing.assert_allclose(captured, [0, 0.5, 1.0, 1.0])
    _, same = gains_curve(np.array([10.0, 30.0, 0.0]), np.array([1.0, 1.0, 0.0]))
    np.testing.assert_allclose(same, captured)


def test_a_thinned_curve_keeps_exact_points_and_both_ends():
    rng = np.random.default_rng(3)
    revenue = np.where(rng.random(1000) < 0.3, rng.gamma(2.0, 30.0, 1000), 0.0)
    score = revenue + rng.normal(0, 20, 1000)
    ev = _evaluation(revenue, {"m": {"expected_revenue": score, "p_repurchase": rng.random(1000)}})
    gains = evaluation_curves(ev, points=101).models["m"].gains
    assert len(gains) == 101
    assert gains.iloc[0].tolist() == [0.0, 0.0] and gains.iloc[-1].tolist() == [1.0, 1.0]
    _, full_captured = gains_curve(revenue, score)
    for row in gains.itertuples():
        k = round(row.share_customers * 1000)
        assert row.share_revenue == pytest.approx(full_captured[k])
    # the point at 10 % of customers is the top-decile revenue share of the metrics
    at_10 = gains.loc[np.isclose(gains["share_customers"], 0.1), "share_revenue"].item()
    assert at_10 == pytest.approx(top_share(revenue, score, 0.1))
    assert len(evaluation_curves(ev, points=11).models["m"].gains) == 11


def _qcut_calibration(y: np.ndarray, p: np.ndarray) -> pd.DataFrame:
    """Deciles as pandas makes them, written independently of the code under test."""
    frame = pd.DataFrame({"y": y, "p": p})
    frame["decile"] = pd.qcut(frame["p"], 10, labels=False, duplicates="drop")
    grouped = frame.groupby("decile")
    return pd.DataFrame(
        {
            "mean_predicted": grouped["p"].mean(),
            "observed": grouped["y"].mean(),
            "n": grouped.size(),
        }
    ).reset_index(drop=True)


@pytest.mark.parametrize("ties", [False, True])
def test_calibration_deciles_match_pandas_qcut(ties):
    rng = np.random.default_rng(7)
    p = rng.beta(2, 5, 997)
    if ties:  # many equal predictions (a coarse model): some deciles merge
        p = np.round(p, 1)
    y = (rng.random(p.size) < p).astype(int)
    got = calibration_bins(y, p)
    expected = _qcut_calibration(y, p)
    assert got["bin"].tolist() == list(range(1, len(expected) + 1))
    assert got["n"].tolist() == expected["n"].tolist()
    np.testing.assert_allclose(got["mean_predicted"], expected["mean_predicted"])
    np.testing.assert_allclose(got["observed"], expected["observed"])
    if not ties:
        assert len(got) == 10 and got["n"].sum() == p.size


def test_calibration_of_an_evaluation_uses_p_repurchase_and_bought(tiny):
    calibration = evaluation_curves(tiny).models["perfect"].calibration
    bought = np.array(REVENUE) > 0
    p = tiny.predictions["perfect"]["p_repurchase"].to_numpy()
    # five customers in ten quantile bins: one customer per non-empty bin, lowest p first
    order = np.argsort(p)
    np.testing.assert_allclose(calibration["mean_predicted"], p[order])
    np.testing.assert_allclose(calibration["observed"], bought[order].astype(float))
    assert calibration["n"].tolist() == [1] * 5


def test_round_trip_through_json_is_exact_and_strict(tiny):
    tiny.metrics["broken"] = {"error": "could not fit"}
    tiny.metrics["champion"] = {**tiny.metrics["perfect"], "family": "perfect"}
    tiny.predictions["champion"] = tiny.predictions["perfect"]
    curves = evaluation_curves(tiny)
    assert list(curves.models) == ["perfect", "poor"]  # the champion is a name, not a copy
    assert curves.champion == "perfect" and curves.failed == {"broken": "could not fit"}
    assert (curves.n_customers, curves.buyers, curves.revenue) == (5, 3, 100.0)
    payload = curves.to_dict()
    text = json.dumps(payload, allow_nan=False)  # NaN metrics are written as null
    assert payload["cutoff"] == "2024-01-31" and payload["version"] == 1
    assert set(payload["models"]["poor"]["metrics"]) == set(METRIC_NAMES)
    back = EvaluationCurves.from_dict(json.loads(text))
    assert back.cutoff == curves.cutoff and back.horizon_days == 30
    assert (back.champion, back.failed) == (curves.champion, curves.failed)
    for name, model in curves.models.items():
        again = back.models[name]
        pd.testing.assert_frame_equal(again.gains, model.gains)
        pd.testing.assert_frame_equal(again.buyers_gains, model.buyers_gains)
        pd.testing.assert_frame_equal(again.calibration, model.calibration)
        assert again.metrics == model.metrics


def test_a_newer_layout_is_refused(tiny):
    payload = evaluation_curves(tiny).to_dict()
    payload["version"] = 99
    with pytest.raises(ConfigError, match="upgrade churnml"):
        EvaluationCurves.from_dict(payload)


def test_models_can_be_chosen_and_unknown_ones_are_named(tiny):
    assert list(evaluation_curves(tiny, models=["poor"]).models) == ["poor"]
    with pytest.raises(ConfigError, match=r"'gbm'.*it has 'perfect', 'poor'"):
        evaluation_curves(tiny, models=["gbm"])


def test_the_matplotlib_plots_draw_from_the_same_helpers(tiny, tmp_path):
    written = save_plots(tiny, tmp_path)
    assert {p.name for p in written} >= {"calibration.png", "gains.png"}
