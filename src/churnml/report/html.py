"""``report.html``: one self-contained page for campaign planners.

The page holds everything it shows: plotly.js is inlined once, before the first chart, and
nothing is loaded from the network (no CDN, web font or MathJax), so the file opens offline,
from an e-mail attachment or a shared drive alike. Every text that comes from the data (a
customer id, a reason) is HTML-escaped. Building it is pure: no file or MLflow I/O.
"""

from __future__ import annotations

import html
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pandas as pd
import plotly.graph_objects as go

from churnml._version import __version__
from churnml.campaign import (
    REPEAT_RATE_RANGE,
    REPEAT_RATE_TARGET,
    Breakeven,
    CohortRetention,
    RecallPlan,
    RepeatRates,
    segment_overview,
    value_tier_overview,
)
from churnml.evaluation import EvaluationCurves
from churnml.report.figures import (
    calibration_figure,
    clv_distribution_figure,
    cohort_retention_figure,
    gains_figure,
    profit_curve_figure,
    repeat_rate_figure,
    segments_figure,
)
from churnml.segments import VALUE_TIERS
from churnml.summary import DataSummary

__all__ = [
    "CHARTS",
    "NO_EVALUATION",
    "NO_SCORES",
    "SECTIONS",
    "ReportPage",
    "build_report_html",
    "render_report",
]

#: The report's sections, in page order.
SECTIONS = (
    "summary",
    "repeat_rate",
    "cohort_retention",
    "segments",
    "value_tiers",
    "clv_distribution",
    "recall",
    "acquisition",
    "model",
)
#: The charts, each in a ``<div class="chart" data-chart="<name>">``.
CHARTS = (
    "repeat_rate",
    "cohort_retention",
    "segments",
    "clv_distribution",
    "profit_curve",
    "gains",
    "calibration",
)
#: What the score-based sections say when no scores were given.
NO_SCORES = (
    "No scores: pass a score table (churnml report --scores scores.csv) or train a model "
    "(churnml train) to see segments, value tiers, CLV and the recall list."
)
#: What the model section says when no evaluation was given.
NO_EVALUATION = (
    "No evaluation: run churnml evaluate to see how well the model ranks customers and how "
    "well its probabilities match what they did."
)

_TITLES = {
    "summary": "At a glance",
    "repeat_rate": "Repeat rate over time",
    "cohort_retention": "Cohort retention",
    "segments": "Lifecycle segments and actions",
    "value_tiers": "Value tiers",
    "clv_distribution": "Customer lifetime value",
    "recall": "Recall list under the budget",
    "acquisition": "Acquisition cost break-even",
    "model": "How good is the model?",
}
_PLOTLY_CONFIG = {"displaylogo": False, "responsive": True}
# Charts that fail in the reader's browser say so on the page instead of leaving a blank.
_ERROR_SCRIPT = """<script>
(function () {
  function show(message) {
    document.documentElement.setAttribute("data-errors", "1");
    var box = document.getElementById("report-errors");
    if (!box) { return; }
    box.hidden = false;
    box.appendChild(document.createTextNode("Part of this page could not be drawn: " + message));
    box.appendChild(document.createElement("br"));
  }
  window.addEventListener("error", function (e) { show(e.message || String(e)); });
  window.addEventListener("unhandledrejection", function (e) { show(String(e.reason)); });
})();
</script>"""
_CSS = """
:root { --ink: #1d2433; --muted: #5b6475; --line: #e3e6ec; --accent: #1f77b4; }
* { box-sizing: border-box; }
body { margin: 0; color: var(--ink); background: #fafbfc;
  font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, Helvetica, Arial, sans-serif; }
main { max-width: 1100px; margin: 0 auto; padding: 24px 20px 60px; background: #fff; }
h1 { font-size: 28px; margin: 0 0 4px; }
h2 { font-size: 21px; margin: 36px 0 10px; padding-top: 12px; border-top: 1px solid var(--line); }
.meta { color: var(--muted); margin: 0 0 12px; }
.meta span { margin-right: 18px; white-space: nowrap; }
nav { font-size: 14px; margin: 8px 0 0; }
nav a { color: var(--accent); margin-right: 14px; text-decoration: none; }
.kpis { display: grid; grid-template-columns: repeat(auto-fill, minmax(200px, 1fr)); gap: 10px; }
.kpi { border: 1px solid var(--line); border-radius: 6px; padding: 10px 12px; }
.kpi .value { font-size: 24px; font-weight: 600; }
.kpi .label { color: var(--muted); font-size: 13px; }
.note { background: #f3f5f8; border-left: 4px solid #9aa4b5; padding: 8px 12px; }
.warning { background: #fff6e5; border-left: 4px solid #f0a020; padding: 8px 12px; }
.chart { margin: 12px 0; min-height: 200px; }
table { border-collapse: collapse; width: 100%; font-size: 13px; margin: 8px 0 16px; }
th, td { border-bottom: 1px solid var(--line); padding: 5px 8px; text-align: left;
  vertical-align: top; }
th { background: #f3f5f8; }
td.num, th.num { text-align: right; }
.wide { overflow-x: auto; }
footer { color: var(--muted); font-size: 13px; margin-top: 40px; }
"""


@dataclass(frozen=True)
class ReportPage:
    """A rendered report page and what it holds.

    Attributes
    ----------
    html : str
        The whole page.
    sections : tuple of str
        Sections shown with content (of :data:`SECTIONS`), in page order.
    charts : tuple of str
        Charts drawn (of :data:`CHARTS`).
    notes : tuple of str
        Notes shown instead of sections whose input was missing.
    """

    html: str
    sections: tuple[str, ...]
    charts: tuple[str, ...]
    notes: tuple[str, ...] = field(default_factory=tuple)


def _esc(value: object) -> str:
    return html.escape(str(value), quote=True)


def _missing(value: float | None) -> bool:
    return value is None or (isinstance(value, float) and not math.isfinite(value))


def _pct(value: float | None, digits: int = 1) -> str:
    return "n/a" if _missing(value) else f"{value:.{digits}%}"


def _num(value: float | None, digits: int = 0) -> str:
    return "n/a" if _missing(value) else f"{value:,.{digits}f}"


def _days(value: float | None) -> str:
    return "n/a" if _missing(value) else f"{value:,.0f} days"


class _Charts:
    """Chart wrappers for the page: plotly.js goes in with the first chart only."""

    def __init__(self) -> None:
        self.names: list[str] = []

    def __call__(self, name: str, fig: go.Figure) -> str:
        height = fig.layout.height or 450
        body = fig.to_html(
            full_html=False,
            include_plotlyjs=not self.names,
            include_mathjax=False,
            config=_PLOTLY_CONFIG,
            div_id=f"chart-{name}",
            default_width="100%",
            default_height=f"{height}px",
        )
        self.names.append(name)
        return f'<div class="chart" data-chart="{_esc(name)}">{body}</div>'


def _table(frame: pd.DataFrame, numeric: tuple[str, ...] = ()) -> str:
    """Render a table of display strings, every cell escaped; ``numeric`` columns align right."""

    def cell(tag: str, column: str, value: object) -> str:
        css = ' class="num"' if column in numeric else ""
        return f"<{tag}{css}>{_esc(value)}</{tag}>"

    head = "".join(cell("th", c, c) for c in frame.columns)
    rows = "".join(
        "<tr>"
        + "".join(cell("td", c, v) for c, v in zip(frame.columns, row, strict=True))
        + "</tr>"
        for row in frame.itertuples(index=False)
    )
    return (
        f'<div class="wide"><table><thead><tr>{head}</tr></thead>'
        f"<tbody>{rows}</tbody></table></div>"
    )


def _kpi(value: str, label: str) -> str:
    return (
        f'<div class="kpi"><div class="value">{_esc(value)}</div>'
        f'<div class="label">{_esc(label)}</div></div>'
    )


def _note(text: str, kind: str) -> str:
    return f'<p class="note" data-note="{_esc(kind)}">{_esc(text)}</p>'


def _summary(summary: DataSummary, rates: RepeatRates) -> str:
    stats = summary.stats
    low, high = REPEAT_RATE_RANGE
    cycle = _days(rates.cycle_days)
    if not _missing(rates.cycle_days_p25):
        cycle_label = (
            f"purchase cycle: median days between purchases "
            f"(half within {rates.cycle_days_p25:,.0f}-{rates.cycle_days_p75:,.0f})"
        )
    else:
        cycle_label = "purchase cycle: median days between purchases"
    cards = [
        _kpi(
            _num(stats.get("customers")), f"customers with a purchase up to {summary.as_of.date()}"
        ),
        _kpi(_num(stats.get("revenue"), 2), "revenue"),
        _kpi(_num(stats.get("purchases")), "purchases"),
        _kpi(_pct(rates.by_buyers), "repeat rate by buyers: bought twice or more in the window"),
        _kpi(
            _pct(rates.by_transactions),
            "repeat rate by transactions: purchases that are not a buyer's first in the window",
        ),
        _kpi(_pct(rates.repeat_buyers_revenue_share), "of the revenue comes from repeat buyers"),
        _kpi(cycle, cycle_label),
    ]
    within = stats.get("repurchase_within_90d")
    if not _missing(within):
        cards.append(_kpi(_pct(within), "bought again within 90 days of their first purchase"))
    top20 = stats.get("top_20pct_customers_revenue_share")
    if not _missing(top20):
        cards.append(_kpi(_pct(top20), "of the revenue comes from the top 20 % of customers"))
    rate = rates.by_buyers
    if _missing(rate):
        verdict = "No buyer in the window."
    elif rate < low:
        verdict = f"The repeat rate by buyers is below the usual {low:.0%}-{high:.0%} range."
    elif rate > high:
        verdict = f"The repeat rate by buyers is above the usual {low:.0%}-{high:.0%} range."
    else:
        verdict = f"The repeat rate by buyers is within the usual {low:.0%}-{high:.0%} range."
    verdict += f" A common target is {REPEAT_RATE_TARGET:.0%}."
    parts = [
        f'<div class="kpis">{"".join(cards)}</div>',
        f"<p>Repeat rates over {rates.start.date()} to {rates.end.date()} "
        f"({rates.window_days:,} days): {rates.repeat_buyers:,} of {rates.buyers:,} buyers "
        f"bought twice or more; {rates.repeat_purchases:,} of {rates.purchases:,} purchases "
        f"were not a buyer's first. {_esc(verdict)}</p>",
    ]
    if rates.warning:
        parts.append(f'<p class="warning">Careful: {_esc(rates.warning)}.</p>')
    return "".join(parts)


def _repeat_rate(monthly: pd.DataFrame, charts: _Charts) -> str:
    return charts("repeat_rate", repeat_rate_figure(monthly)) + (
        "<p>Solid lines: the repeat rates over the window from the first month to each month "
        "(by buyers: customers who bought twice or more, of those who bought; by "
        "transactions: purchases beyond each buyer's first, of all purchases). The band is "
        "the usual range of the rate by buyers, the dashed line a common target. Dotted "
        "lines: each month on its own, the share of its buyers who had bought before and of "
        "its purchases that were not a customer's first.</p>"
    )


def _cohorts(cohorts: CohortRetention, charts: _Charts) -> str:
    return charts("cohort_retention", cohort_retention_figure(cohorts)) + (
        "<p>Each row is the customers whose first purchase fell in that month (their number "
        "in brackets); each cell the share of them who bought in the n-th month after.</p>"
    )


def _segments(scores: pd.DataFrame, charts: _Charts) -> str:
    overview = segment_overview(scores)
    shown = pd.DataFrame(
        {
            "segment": overview.index.astype(str),
            "customers": overview["customers"].map(_num),
            "share": overview["share"].map(_pct),
            "expected revenue": overview["expected_revenue"].map(_num),
            "CLV": overview["clv"].map(_num),
            "CLV share": overview["clv_share"].map(_pct),
            "mean P(repurchase)": overview["mean_p_repurchase"].map(_pct),
            "suggested action": overview["action"],
        }
    )
    numeric = ("customers", "share", "expected revenue", "CLV", "CLV share", "mean P(repurchase)")
    return charts("segments", segments_figure(overview)) + _table(shown, numeric)


def _value_tiers(scores: pd.DataFrame) -> str:
    tiers = value_tier_overview(scores)
    shown = pd.DataFrame(
        {
            "value tier": tiers.index.astype(str),
            "customers": tiers["customers"].map(_num),
            "share": tiers["share"].map(_pct),
            "expected revenue": tiers["expected_revenue"].map(_num),
            "CLV": tiers["clv"].map(_num),
            "CLV share": tiers["clv_share"].map(_pct),
            "mean P(repurchase)": tiers["mean_p_repurchase"].map(_pct),
        }
    )
    numeric = ("customers", "share", "expected revenue", "CLV", "CLV share", "mean P(repurchase)")
    return "<p>Customers ranked by CLV, cut into tiers.</p>" + _table(shown, numeric)


def _clv(scores: pd.DataFrame, charts: _Charts) -> str:
    clv = pd.to_numeric(scores["clv"], errors="coerce")
    return charts("clv_distribution", clv_distribution_figure(clv)) + (
        f"<p>Mean CLV {_num(clv.mean(), 2)}, median {_num(clv.median(), 2)}: a few customers "
        "hold much of the value when the mean is far above the median.</p>"
    )


def _recall(plan: RecallPlan, charts: _Charts, top: int) -> str:
    figures = plan.to_dict()
    contacted = figures["contacted"]
    lines = [
        f"<p>A budget of <b>{_num(plan.budget, 2)}</b> at {plan.cost_per_contact:,.6g} per "
        f"contact reaches <b>{contacted:,}</b> of {plan.candidates:,} candidates. Expected "
        f"margin brought back {_num(plan.expected_margin, 2)} for a cost of "
        f"{_num(plan.cost, 2)}: expected profit <b>{_num(plan.expected_profit, 2)}</b>, "
        f"ROI <b>{_pct(figures['roi'], 0)}</b>.</p>"
    ]
    peak, peak_cost = plan.peak_contacts, figures["peak_cost"]
    if peak < contacted:
        lines.append(
            f'<p class="warning">The expected profit peaks at {peak:,} contacts (cost '
            f"{_num(peak_cost, 2)}, profit {_num(plan.peak_profit, 2)}): the last "
            f"{contacted - peak:,} contacts of the list are expected to cost more than they "
            "bring back.</p>"
        )
    elif peak > contacted:
        lines.append(
            f"<p>The expected profit keeps rising up to {peak:,} contacts: a budget of "
            f"{_num(peak_cost, 2)} would reach its peak, {_num(plan.peak_profit, 2)}.</p>"
        )
    else:
        lines.append("<p>The budget stops where the expected profit peaks.</p>")
    excluded = ", ".join(f"{_esc(k)}: {v:,}" for k, v in plan.excluded.items() if v)
    lines.append(
        f"<p>Assumptions: a contact wins back {_pct(plan.uplift, 0)} of the reachable customers "
        f"who would not buy on their own; margin {_pct(plan.margin, 0)} of revenue."
        + (f" Left out: {excluded}." if excluded else "")
        + "</p>"
    )
    lines.append(charts("profit_curve", profit_curve_figure(plan)))
    if top > 0 and len(plan.contacts):
        head = plan.contacts.head(top)
        shown = pd.DataFrame(
            {
                "rank": head["rank"].astype(int),
                "customer": head["customer_id"].astype(str),
                "segment": head["segment"].astype(str),
                "tier": head["value_tier"].astype(str),
                "P(alive)": head["p_alive"].map(lambda v: _num(v, 2)),
                "P(repurchase)": head["p_repurchase"].map(_pct),
                "expected profit": head["expected_profit"].map(lambda v: _num(v, 2)),
                "why": head["reason"].astype(str),
            }
        )
        lines.append(
            f"<p>The first {len(head):,} of the {contacted:,} customers to contact:</p>"
            + _table(shown, ("rank", "P(alive)", "P(repurchase)", "expected profit"))
        )
    return "".join(lines)


def _acquisition(b: Breakeven) -> str:
    if b.repeat_purchases_to_break_even is None:
        needed = "a repeat purchase earns nothing at this margin, so it never pays back"
    elif b.repeat_purchases_to_break_even == 0:
        needed = "the first order already pays it back"
    else:
        needed = f"{b.repeat_purchases_to_break_even:,} repeat purchase(s) pay back the rest"
    parts = [
        f"<p>Winning a customer costs <b>{_num(b.acquisition_cost, 2)}</b>. Their first order "
        f"of {_num(b.order_value, 2)} at a {_pct(b.margin, 0)} margin leaves "
        f"<b>{_num(b.after_first_order, 2)}</b>; {_esc(needed)} (repeat order "
        f"{_num(b.repeat_order_value, 2)}).</p>"
    ]
    if b.customers:
        rank = {tier: i for i, tier in enumerate(VALUE_TIERS)}
        ordered = sorted(b.by_tier.items(), key=lambda kv: rank.get(kv[0], len(rank)))
        tiers = ", ".join(f"{_esc(k)} {_pct(v, 0)}" for k, v in ordered)
        parts.append(
            f"<p>Of {b.customers:,} scored customers, <b>{_pct(b.share_paying_back, 0)}</b> "
            f"have a CLV that covers what is left after the first order"
            + (f" (by tier: {tiers})" if tiers else "")
            + f". CLV mean {_num(b.clv_mean, 2)}, median {_num(b.clv_median, 2)}.</p>"
        )
    return "".join(parts)


_HEADLINE_METRICS = {
    "auc": ("AUC", 3),
    "revenue_gini": ("revenue Gini", 3),
    "top_decile_revenue_share": ("top 10 % hold", None),
    "buyers_ratio": ("buyers predicted / actual", 2),
    "revenue_ratio": ("revenue predicted / actual", 2),
    "ece": ("calibration error", 3),
}


def _model(curves: EvaluationCurves, charts: _Charts, run_id: str | None) -> str:
    rows = []
    for name, model in curves.models.items():
        row = {"model": f"{name} (champion)" if name == curves.champion else name}
        for key, (label, digits) in _HEADLINE_METRICS.items():
            value = model.metrics.get(key)
            row[label] = _pct(value) if digits is None else _num(value, digits)
        rows.append(row)
    source = f" (MLflow run {_esc(run_id)})" if run_id else ""
    parts = [
        f"<p>Fitted on data up to {curves.cutoff.date()} and checked against what "
        f"{curves.n_customers:,} customers did in the {curves.horizon_days} days after"
        f"{source}: {curves.buyers:,} bought, for a revenue of {_num(curves.revenue, 2)}. "
        "AUC and Gini measure the ranking (1 is perfect, 0.5 and 0 random); the ratios "
        "should be close to 1.</p>"
    ]
    if rows:
        labels = tuple(label for label, _ in _HEADLINE_METRICS.values())
        parts.append(_table(pd.DataFrame(rows), labels))
    if curves.failed:
        failed = "; ".join(f"{_esc(k)}: {_esc(v)}" for k, v in curves.failed.items())
        parts.append(f'<p class="warning">Could not be fitted: {failed}</p>')
    if curves.models:
        parts.append(charts("gains", gains_figure(curves)))
        parts.append(
            "<p>The further a curve bends above the diagonal, the more revenue a campaign "
            "reaches by contacting the customers the model ranks first.</p>"
        )
        parts.append(charts("calibration", calibration_figure(curves)))
        parts.append(
            "<p>A calibrated model's points lie on the diagonal: among customers given a 30 % "
            "chance, about 30 % bought.</p>"
        )
    return "".join(parts)


def render_report(
    summary: DataSummary,
    rates: RepeatRates,
    monthly: pd.DataFrame,
    cohorts: CohortRetention,
    *,
    scores: pd.DataFrame | None = None,
    plan: RecallPlan | None = None,
    curves: EvaluationCurves | None = None,
    breakeven: Breakeven | None = None,
    context: Mapping[str, str] | None = None,
    evaluation_run_id: str | None = None,
    missing_scores: str = NO_SCORES,
    missing_evaluation: str = NO_EVALUATION,
    top: int = 50,
    title: str = "Customer retention report",
) -> ReportPage:
    """Assemble the report page from churnml's campaign, summary and evaluation results.

    Parameters
    ----------
    summary : DataSummary
        :func:`churnml.describe` of the transactions at the report's as-of.
    rates : RepeatRates
        :func:`churnml.campaign.repeat_purchase_rates` over the window the headline quotes.
    monthly : pandas.DataFrame
        :func:`churnml.campaign.monthly_repeat_rates`.
    cohorts : CohortRetention
        :func:`churnml.campaign.cohort_retention`.
    scores : pandas.DataFrame, optional
        A score table: segments, value tiers and the CLV distribution. Without it those
        sections show ``missing_scores``.
    plan : RecallPlan, optional
        :func:`churnml.campaign.plan_recall` of ``scores``: the ROI, the profit curve and the
        top of the recall list.
    curves : EvaluationCurves, optional
        The model's gains and calibration; without it the model section shows
        ``missing_evaluation``.
    breakeven : Breakeven, optional
        :func:`churnml.campaign.cac_breakeven`; the section is left out without it.
    context : mapping of str to str, optional
        Lines for the page's header (data file, model version, ...), shown as given.
    evaluation_run_id : str, optional
        MLflow run the curves come from, quoted in the model section.
    missing_scores : str
        The note shown where scores are needed and missing.
    missing_evaluation : str
        The note shown where the evaluation is missing.
    top : int
        Rows of the recall list shown.
    title : str
        Page title.

    Returns
    -------
    ReportPage
        The HTML and the sections, charts and notes it holds.
    """
    charts = _Charts()
    notes: list[str] = []
    bodies: dict[str, str] = {}
    shown: list[str] = []

    def note(section: str, text: str, kind: str) -> None:
        bodies[section] = _note(text, kind)
        if text not in notes:
            notes.append(text)

    for name, build in (
        ("summary", lambda: _summary(summary, rates)),
        ("repeat_rate", lambda: _repeat_rate(monthly, charts)),
        ("cohort_retention", lambda: _cohorts(cohorts, charts)),
    ):
        bodies[name] = build()
        shown.append(name)
    if scores is not None:
        bodies["segments"] = _segments(scores, charts)
        bodies["value_tiers"] = _value_tiers(scores)
        bodies["clv_distribution"] = _clv(scores, charts)
        shown += ["segments", "value_tiers", "clv_distribution"]
    else:
        for name in ("segments", "value_tiers", "clv_distribution"):
            note(name, missing_scores, "scores")
    if plan is not None:
        bodies["recall"] = _recall(plan, charts, top)
        shown.append("recall")
    else:
        note("recall", missing_scores, "scores")
    if breakeven is not None:
        bodies["acquisition"] = _acquisition(breakeven)
        shown.append("acquisition")
    if curves is not None:
        bodies["model"] = _model(curves, charts, evaluation_run_id)
        shown.append("model")
    else:
        note("model", missing_evaluation, "evaluation")

    order = [s for s in SECTIONS if s in bodies]
    header = "".join(
        f"<span>{_esc(k)}: {_esc(v)}</span>"
        for k, v in {
            "data": f"{summary.stats.get('first_date', '')[:10]} to "
            f"{summary.stats.get('last_date', '')[:10]}",
            "as of": str(summary.as_of.date()),
            **(context or {}),
        }.items()
    )
    toc = "".join(f'<a href="#{s}">{_esc(_TITLES[s])}</a>' for s in order)
    sections = "".join(
        f'<section id="{s}" data-section="{s}"><h2>{_esc(_TITLES[s])}</h2>{bodies[s]}</section>'
        for s in order
    )
    page = (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f'<meta name="generator" content="churnml {_esc(__version__)}">\n'
        f"<title>{_esc(title)}</title>\n<style>{_CSS}</style>\n{_ERROR_SCRIPT}\n</head>\n"
        f'<body>\n<main>\n<header><h1>{_esc(title)}</h1><p class="meta">{header}</p>'
        f"<nav>{toc}</nav></header>\n"
        '<div id="report-errors" class="warning" hidden></div>\n'
        f"{sections}\n"
        "<footer><p>A purchase is a customer's day (or week, with weekly purchases) with a "
        "positive net amount. Expected profit of "
        "a contact = uplift x P(alive) x (1 - P(repurchase)) x margin x order value - cost "
        "per contact. CLV is the expected discounted revenue (or margin) over the CLV "
        f"horizon. Made by churnml {_esc(__version__)}; the page loads nothing from the "
        "network.</p></footer>\n</main>\n</body>\n</html>\n"
    )
    return ReportPage(
        html=page,
        sections=tuple(shown),
        charts=tuple(charts.names),
        notes=tuple(notes),
    )


def build_report_html(
    summary: DataSummary,
    rates: RepeatRates,
    monthly: pd.DataFrame,
    cohorts: CohortRetention,
    **inputs: Any,
) -> str:
    """Return the report page as one self-contained HTML string.

    Parameters
    ----------
    summary : DataSummary
        :func:`churnml.describe` of the transactions at the report's as-of.
    rates : RepeatRates
        :func:`churnml.campaign.repeat_purchase_rates` over the window the headline quotes.
    monthly : pandas.DataFrame
        :func:`churnml.campaign.monthly_repeat_rates`.
    cohorts : CohortRetention
        :func:`churnml.campaign.cohort_retention`.
    **inputs
        The keyword arguments of :func:`render_report` (``scores``, ``plan``, ``curves``,
        ``breakeven``, ``context``, ...).

    Returns
    -------
    str
        The page: plotly.js inlined once, no external URL loaded.
    """
    return render_report(summary, rates, monthly, cohorts, **inputs).html
