"""report.html: every chart and section with full inputs, notes without, escaping, no URL."""

from __future__ import annotations

import re

import pandas as pd
import pytest

from churnml.campaign import (
    cac_breakeven,
    cohort_retention,
    monthly_repeat_rates,
    plan_recall,
    repeat_purchase_rates,
)
from churnml.data import load_transactions
from churnml.evaluation import EvaluationCurves
from churnml.report import CHARTS, NO_EVALUATION, NO_SCORES, SECTIONS, render_report
from churnml.segments import SEGMENT_ACTIONS
from churnml.summary import describe


def _base(inputs):
    return [inputs[k] for k in ("summary", "rates", "monthly", "cohorts")]


def _extras(inputs):
    return {k: inputs[k] for k in ("scores", "plan", "curves", "breakeven")}


def _chart_names(page: str) -> list[str]:
    return re.findall(r'<div class="chart" data-chart="([^"]+)">', page)


@pytest.fixture(scope="module")
def full(report_inputs):
    return render_report(*_base(report_inputs), **_extras(report_inputs), top=10)


def test_full_inputs_draw_every_chart_once_and_every_section(full):
    assert _chart_names(full.html) == list(CHARTS)
    assert full.charts == CHARTS and full.sections == SECTIONS and full.notes == ()
    for section in SECTIONS:
        assert f'<section id="{section}" data-section="{section}">' in full.html
    assert 'data-note="' not in full.html
    # each chart is drawn by its own newPlot call into its own div
    for name in CHARTS:
        assert len(re.findall(rf'Plotly\.newPlot\(\s*"chart-{name}"', full.html)) == 1


def test_plotly_js_is_inlined_once_before_the_first_chart(full):
    page = full.html
    marker = "plotly.js v"  # the bundle's licence header
    assert page.count(marker) == 1
    assert page.index(marker) < page.index("Plotly.newPlot(")
    assert page.index(marker) > page.index('data-chart="repeat_rate"')
    assert len(page) > 3_000_000  # the bundle itself, not a reference to it


def test_the_page_loads_nothing_from_the_network(full):
    page = full.html
    lowered = page.lower()
    for loader in ("<script src=", "<link", "@import", "<iframe", "<img"):
        assert loader not in lowered, loader
    # plotly.js holds URL strings (and CSS url()) in its code; outside the scripts, none
    markup = re.sub(r"<script\b.*?</script>", "", page, flags=re.DOTALL)
    assert "http://" not in markup and "https://" not in markup and "url(" not in markup
    assert "mathjax" not in markup.lower()
    assert markup.startswith("<!DOCTYPE html>") and '<meta charset="utf-8">' in markup


def test_the_headline_quotes_both_repeat_rates_and_the_cycle(full, report_inputs):
    rates, stats = report_inputs["rates"], report_inputs["summary"].stats
    page = full.html
    assert f"{stats['customers']:,}" in page and f"{stats['revenue']:,.2f}" in page
    assert f"{rates.by_buyers:.1%}" in page and f"{rates.by_transactions:.1%}" in page
    assert f"{rates.repeat_buyers_revenue_share:.1%}" in page
    assert f"{rates.cycle_days:,.0f} days" in page
    assert f"{rates.start.date()} to {rates.end.date()}" in page


def test_a_window_shorter_than_the_cycle_carries_the_warning(report_inputs, report_tx):
    assert report_inputs["rates"].warning is None
    end = report_inputs["summary"].as_of
    rates = repeat_purchase_rates(report_tx, start=end - pd.Timedelta(days=7), end=end)
    assert rates.warning
    inputs = {**report_inputs, "rates": rates}
    page = render_report(*_base(inputs)).html
    assert 'class="warning">Careful: the window (8 days) is shorter than the purchase cycle' in page


def test_tables_list_segments_with_actions_tiers_breakeven_and_the_recall_list(full, report_inputs):
    page = full.html
    for segment, action in SEGMENT_ACTIONS.items():
        assert f"<td>{segment}</td>" in page and f"<td>{action}</td>" in page
    for tier in ("gold", "silver", "bronze"):
        assert f"<td>{tier}</td>" in page
    plan = report_inputs["plan"]
    top = plan.contacts.head(10)
    for customer in top["customer_id"]:
        assert f"<td>{customer}</td>" in page
    assert f"The first {len(top):,} of the {len(plan.contacts):,} customers" in page
    roi = plan.to_dict()["roi"]
    assert f"ROI <b>{roi:.0%}</b>" in page
    assert f"{plan.peak_contacts:,} contacts" in page
    assert "Winning a customer costs <b>20.00</b>" in page


def test_missing_scores_and_evaluation_leave_notes_instead_of_charts(report_inputs):
    page = render_report(*_base(report_inputs))
    assert page.charts == ("repeat_rate", "cohort_retention")
    assert _chart_names(page.html) == ["repeat_rate", "cohort_retention"]
    assert page.sections == ("summary", "repeat_rate", "cohort_retention")
    assert page.notes == (NO_SCORES, NO_EVALUATION)
    assert page.html.count('data-note="scores"') == 4  # segments, tiers, CLV, recall
    assert page.html.count('data-note="evaluation"') == 1
    assert 'id="acquisition"' not in page.html  # no acquisition cost given: no section
    # the caller's own wording (what to run) replaces the default
    custom = render_report(
        *_base(report_inputs),
        missing_scores="No scores: pass --scores",
        missing_evaluation="No evaluation in experiment 'x & y': run churnml evaluate",
    )
    assert "No scores: pass --scores" in custom.html
    assert "experiment &#x27;x &amp; y&#x27;: run churnml evaluate" in custom.html


def test_customer_ids_and_context_are_escaped(report_inputs):
    scores = report_inputs["scores"].copy()
    evil = "<script>alert('id')</script>"
    best = report_inputs["plan"].contacts["customer_id"].iloc[0]
    scores.loc[scores["customer_id"] == best, "customer_id"] = evil
    plan = plan_recall(scores, budget=5.0, cost_per_contact=0.05)
    assert plan.contacts["customer_id"].iloc[0] == evil
    page = render_report(
        *_base(report_inputs),
        scores=scores,
        plan=plan,
        context={"data <file>": "a&b.csv"},
        title="Report <for> Q3",
    ).html
    assert evil not in page and "alert('id')" not in page
    assert "<td>&lt;script&gt;alert(&#x27;id&#x27;)&lt;/script&gt;</td>" in page
    assert "data &lt;file&gt;: a&amp;b.csv" in page
    assert "<title>Report &lt;for&gt; Q3</title>" in page


def test_a_chart_error_in_the_browser_is_shown_not_swallowed(full):
    # the page records script errors on <html data-errors> and in a visible box
    assert '<div id="report-errors" class="warning" hidden></div>' in full.html
    assert 'window.addEventListener("error"' in full.html


def test_a_tiny_log_with_nothing_to_recall_still_renders():
    lines = pd.DataFrame(
        {
            "customer_id": ["a", "a", "b"],
            "date": pd.to_datetime(["2024-01-02", "2024-01-20", "2024-01-05"]),
            "amount": [10.0, 5.0, 8.0],
        }
    )
    tx = load_transactions(lines)
    day = pd.Timestamp("2024-01-31")
    scores = pd.DataFrame(
        {
            "customer_id": ["a", "b"],
            "segment": ["active", "new"],  # neither is recalled
            "value_tier": ["gold", "bronze"],
            "p_alive": [0.9, 0.5],
            "p_repurchase": [0.8, 0.3],
            "expected_revenue": [5.0, 0.0],
            "clv": [20.0, 0.0],
        }
    )
    plan = plan_recall(scores, budget=1.0, cost_per_contact=0.1)
    assert plan.candidates == 0
    no_models = EvaluationCurves(cutoff=day, horizon_days=30, n_customers=0, buyers=0, revenue=0)
    page = render_report(
        describe(tx, day),
        repeat_purchase_rates(tx, end=day),
        monthly_repeat_rates(tx, day),
        cohort_retention(tx, day),
        scores=scores,
        plan=plan,
        curves=no_models,
        breakeven=cac_breakeven(5.0, 10.0, 0.5),
    )
    assert page.sections == SECTIONS
    assert page.charts == CHARTS[:5]  # no model curves: no gains or calibration chart
    assert "reaches <b>0</b> of 0 candidates" in page.html
