"""The report's charts, one by one: what each draws from its input."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from churnml.campaign import REPEAT_RATE_RANGE, REPEAT_RATE_TARGET, plan_recall, segment_overview
from churnml.report import (
    calibration_figure,
    clv_distribution_figure,
    cohort_retention_figure,
    gains_figure,
    profit_curve_figure,
    repeat_rate_figure,
    segments_figure,
)
from churnml.segments import SEGMENT_ACTIONS


def test_repeat_rate_draws_both_definitions_with_the_band_and_the_target(report_inputs):
    monthly = report_inputs["monthly"]
    fig = repeat_rate_figure(monthly)
    lines = [t for t in fig.data if t.type == "scatter"]
    assert len(lines) == 4
    # solid: the brief's definitions over the growing window; dotted: each month on its own
    np.testing.assert_allclose(lines[0].y, monthly["cumulative_repeat_rate_buyers"], equal_nan=True)
    np.testing.assert_allclose(
        lines[1].y, monthly["cumulative_repeat_rate_transactions"], equal_nan=True
    )
    np.testing.assert_allclose(lines[2].y, monthly["repeat_rate_buyers"], equal_nan=True)
    np.testing.assert_allclose(lines[3].y, monthly["repeat_rate_transactions"], equal_nan=True)
    shapes = {s.type: s for s in fig.layout.shapes}
    assert (shapes["rect"].y0, shapes["rect"].y1) == REPEAT_RATE_RANGE
    assert shapes["line"].y0 == shapes["line"].y1 == REPEAT_RATE_TARGET
    # hover data keeps counts as numbers next to the partial-month text
    assert isinstance(lines[2].customdata[0][0], int | np.integer)


def test_cohort_heatmap_leaves_out_month_zero_and_names_cohort_sizes(report_inputs):
    cohorts = report_inputs["cohorts"]
    (heat,) = cohort_retention_figure(cohorts).data
    assert list(heat.x) == list(range(1, cohorts.retention.shape[1]))
    np.testing.assert_allclose(heat.z, cohorts.retention.iloc[:, 1:].to_numpy(), equal_nan=True)
    first = cohorts.sizes.index[0]
    assert heat.y[0] == f"{first} ({cohorts.sizes.iloc[0]:,})"
    few = cohort_retention_figure(cohorts, max_months=3, max_cohorts=2).data[0]
    assert list(few.x) == [1, 2, 3] and len(few.y) == 2


def test_segments_show_customers_and_clv_with_the_action_in_the_hover(report_inputs):
    overview = segment_overview(report_inputs["scores"])
    customers, clv = segments_figure(overview).data
    assert list(customers.x) == list(overview.index)
    assert list(customers.y) == overview["customers"].tolist()
    np.testing.assert_allclose(clv.y, overview["clv"])
    assert [row[2] for row in customers.customdata] == [SEGMENT_ACTIONS[s] for s in overview.index]


def test_clv_histogram_goes_logarithmic_when_skewed():
    rng = np.random.default_rng(1)
    skewed = np.concatenate([rng.lognormal(1.0, 1.8, 2000), np.zeros(30)])
    fig = clv_distribution_figure(skewed)
    (bars,) = fig.data
    assert sum(bars.y) == 2000  # every positive customer, the zeros counted in the title
    assert "30 customers with CLV 0 or less not shown" in fig.layout.title.text
    assert "log scale" in fig.layout.xaxis.title.text
    ticks = [float(t.replace(",", "")) for t in fig.layout.xaxis.ticktext]
    np.testing.assert_allclose(fig.layout.xaxis.tickvals, np.log10(ticks))
    (median_line,) = [s for s in fig.layout.shapes if s.type == "line"]
    assert median_line.x0 == pytest.approx(math.log10(np.median(skewed)))

    even = rng.normal(100, 10, 500)
    fig = clv_distribution_figure(pd.Series(even))
    assert sum(fig.data[0].y) == 500 and "log" not in fig.layout.xaxis.title.text


def test_gains_and_calibration_draw_every_model_in_one_colour_each(report_inputs):
    curves = report_inputs["curves"]
    gains = gains_figure(curves)
    names = [t.name for t in gains.data]
    assert names == ["random order"] + [
        f"{m}: {kind}" for m in curves.models for kind in ("revenue", "buyers")
    ]
    revenue = gains.data[1]
    np.testing.assert_allclose(revenue.y, curves.models["bgnbd"].gains["share_revenue"])
    assert gains.data[2].visible == "legendonly"  # buyers gains: one click away
    calibration = calibration_figure(curves)
    cal = {t.name: t for t in calibration.data}
    np.testing.assert_allclose(cal["bgnbd"].x, curves.models["bgnbd"].calibration["mean_predicted"])
    for name in curves.models:
        colours = {t.line.color for t in gains.data if t.name.startswith(f"{name}:")}
        assert colours == {cal[name].line.color}


def test_the_champion_is_named_and_drawn_thicker(report_inputs):
    curves = report_inputs["curves"]
    crowned = replace(curves, champion="bgnbd")
    fig = gains_figure(crowned)
    (line,) = [t for t in fig.data if t.name == "bgnbd (champion): revenue"]
    (other,) = [t for t in fig.data if t.name == "baseline: revenue"]
    assert line.line.width > other.line.width


def test_profit_curve_marks_the_budget_and_the_peak(report_inputs):
    plan = report_inputs["plan"]
    fig = profit_curve_figure(plan)
    curve, peak = fig.data
    affordable = len(plan.contacts)
    assert plan.peak_contacts in curve.x and affordable in curve.x
    assert (peak.x[0], peak.y[0]) == (plan.peak_contacts, plan.peak_profit)
    (budget,) = [s for s in fig.layout.shapes if s.x0 == s.x1]
    assert budget.x0 == affordable


def test_a_long_profit_curve_is_thinned_but_keeps_the_budget_and_the_peak():
    rng = np.random.default_rng(5)
    n = 5000
    scores = pd.DataFrame(
        {
            "customer_id": [f"c{i}" for i in range(n)],
            "segment": "warm",
            "value_tier": "gold",
            "p_alive": rng.random(n),
            "p_repurchase": rng.random(n) * 0.5,
            "expected_revenue": rng.gamma(2, 20, n),
            "expected_purchases": 1.0,
        }
    )
    plan = plan_recall(scores, budget=77.77, cost_per_contact=0.05, uplift=0.02)
    curve = profit_curve_figure(plan).data[0]
    assert len(curve.x) <= 602
    assert {0, n, plan.peak_contacts, len(plan.contacts)} <= set(curve.x)
