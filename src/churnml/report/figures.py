"""The report's charts: one function per chart, each returning a plotly figure.

Every function takes the output of a churnml function (rates, cohorts, overviews, a recall
plan, evaluation curves) and draws it; none reads a file or computes a model. A notebook can
show any of them on its own (``fig.show()``). Charts hold aggregates only, never a customer id.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.colors import qualitative
from plotly.subplots import make_subplots

from churnml.campaign import REPEAT_RATE_RANGE, REPEAT_RATE_TARGET, CohortRetention, RecallPlan
from churnml.evaluation import EvaluationCurves

__all__ = [
    "calibration_figure",
    "clv_distribution_figure",
    "cohort_retention_figure",
    "gains_figure",
    "profit_curve_figure",
    "repeat_rate_figure",
    "segments_figure",
]

# Fonts the reader's machine already has: the page loads nothing from the network.
_FONT = "system-ui, -apple-system, 'Segoe UI', Roboto, Helvetica, Arial, sans-serif"
_GREY = "#8c8c8c"
_BLUE = "#1f77b4"
_ORANGE = "#ff7f0e"
_GREEN = "#2ca02c"
_RED = "#d62728"
#: Curve points kept by the profit curve: enough for the eye, small enough for the page.
_PROFIT_POINTS = 600


def _columns(*columns: pd.Series | np.ndarray) -> np.ndarray:
    """Hover data of mixed types: an object array keeps numbers numbers next to text."""
    return np.array([list(row) for row in zip(*columns, strict=True)], dtype=object)


def _styled(fig: go.Figure, title: str, height: int) -> go.Figure:
    fig.update_layout(
        template="plotly_white",
        title={"text": title, "x": 0, "xanchor": "left", "font": {"size": 16}},
        height=height,
        margin={"l": 60, "r": 30, "t": 70, "b": 55},
        font={"family": _FONT, "size": 12},
        legend={"orientation": "h", "yanchor": "bottom", "y": 1.0, "x": 0, "xanchor": "left"},
        hovermode="closest",
    )
    return fig


def repeat_rate_figure(monthly: pd.DataFrame) -> go.Figure:
    """Draw the monthly repeat rates, by buyers and by transactions, with range and target.

    Parameters
    ----------
    monthly : pandas.DataFrame
        :func:`churnml.campaign.monthly_repeat_rates` output (indexed by ``"YYYY-MM"``).

    Returns
    -------
    plotly.graph_objects.Figure
        The two repeat rates over the window up to each month (solid; the usual 20-40 % band
        of the rate by buyers and the 27 % target line are for these), and each month's own
        returning shares (dotted; a month that as-of cuts short has an open marker).
    """
    months = pd.to_datetime(monthly.index, format="%Y-%m")
    partial = monthly["partial"].to_numpy(bool)
    fig = go.Figure()
    low, high = REPEAT_RATE_RANGE
    fig.add_hrect(
        y0=low,
        y1=high,
        fillcolor=_GREEN,
        opacity=0.08,
        line_width=0,
        annotation_text=f"usual range {low:.0%}-{high:.0%}",
        annotation_position="top left",
        annotation_font_color=_GREEN,
    )
    fig.add_hline(
        y=REPEAT_RATE_TARGET,
        line_dash="dash",
        line_color=_GREEN,
        annotation_text=f"target {REPEAT_RATE_TARGET:.0%}",
        annotation_position="bottom right",
        annotation_font_color=_GREEN,
    )
    note = np.where(partial, " (partial month)", "")
    # solid: the brief's two definitions over the window from the first month to this one
    # (what the band is for); dotted: each month's own buyers and purchases
    cumulative = {
        "cumulative_repeat_rate_buyers": (
            "by buyers, since the first month: bought twice or more",
            _BLUE,
        ),
        "cumulative_repeat_rate_transactions": (
            "by transactions, since the first month: purchases beyond a buyer's first",
            _ORANGE,
        ),
    }
    for column, (name, colour) in cumulative.items():
        if column not in monthly.columns:
            continue
        fig.add_scatter(
            x=months,
            y=monthly[column],
            name=name,
            mode="lines+markers",
            line={"color": colour, "width": 2.5},
            marker={"color": colour, "size": 5},
            customdata=_columns(note),
            hovertemplate="%{x|%b %Y}%{customdata[0]}<br>%{y:.1%}<extra></extra>",
        )
    lines = {
        "repeat_rate_buyers": (
            "that month: share of its buyers who had bought before",
            _BLUE,
            "returning_buyers",
            "buyers",
        ),
        "repeat_rate_transactions": (
            "that month: share of its purchases that are not a first",
            _ORANGE,
            "repeat_purchases",
            "purchases",
        ),
    }
    for column, (name, colour, part, total) in lines.items():
        fig.add_scatter(
            x=months,
            y=monthly[column],
            name=name,
            mode="lines+markers",
            line={"color": colour, "width": 1.2, "dash": "dot"},
            marker={
                "color": np.where(partial, "white", colour).tolist(),
                "line": {"color": colour, "width": 1.5},
                "size": np.where(partial, 8, 4).tolist(),
            },
            customdata=_columns(monthly[part], monthly[total], note),
            hovertemplate=(
                "%{x|%b %Y}%{customdata[2]}<br>%{y:.1%}: %{customdata[0]:,} of "
                f"%{{customdata[1]:,}} {total}<extra></extra>"
            ),
        )
    top = np.nanmax(monthly[["repeat_rate_buyers", "repeat_rate_transactions"]].to_numpy(float))
    top = max(high, top if np.isfinite(top) else 0.0)
    fig.update_yaxes(tickformat=".0%", range=[0, min(1.0, top * 1.1 + 0.02)], title="repeat rate")
    fig.update_xaxes(title="month", dtick="M1" if len(months) <= 24 else "M3", tickformat="%b %Y")
    fig = _styled(fig, "Repeat rate by month", 480)
    # four legend entries take two rows: room above the plot so they clear the title
    fig.update_layout(margin={"t": 110})
    return fig


def cohort_retention_figure(
    cohorts: CohortRetention, *, max_months: int = 24, max_cohorts: int = 36
) -> go.Figure:
    """Draw the share of each first-purchase cohort still buying, month by month.

    Parameters
    ----------
    cohorts : CohortRetention
        :func:`churnml.campaign.cohort_retention` output.
    max_months : int
        Months since the first purchase shown (month 0, 100 % by definition, is left out so
        that the colours show the later months).
    max_cohorts : int
        Most recent cohorts shown.

    Returns
    -------
    plotly.graph_objects.Figure
        Cohorts top to bottom (oldest first), months since the first purchase left to right.
    """
    retention = cohorts.retention.iloc[-max_cohorts:]
    sizes = cohorts.sizes.loc[retention.index]
    # month 0 is 1.0 by definition; it stays only when there is nothing else to show
    first = 1 if retention.shape[1] > 1 else 0
    shown = retention.iloc[:, first : max_months + 1]
    z = shown.to_numpy(dtype=float)
    labels = [f"{cohort} ({size:,})" for cohort, size in zip(shown.index, sizes, strict=True)]
    finite = z[np.isfinite(z)]
    top = float(np.percentile(finite, 99)) if finite.size else 1.0
    text = np.where(np.isfinite(z), np.char.mod("%.0f%%", np.nan_to_num(z) * 100), "")
    fig = go.Figure(
        go.Heatmap(
            z=z,
            x=[int(c) for c in shown.columns],
            y=labels,
            text=text,
            texttemplate="%{text}" if z.size <= 400 else None,
            textfont={"size": 9},
            colorscale="Blues",
            zmin=0,
            zmax=max(top, 1e-9),
            colorbar={"title": {"text": "still buying"}, "tickformat": ".0%"},
            hovertemplate=(
                "cohort %{y}<br>month %{x} after the first purchase: %{z:.1%} bought<extra></extra>"
            ),
            xgap=1,
            ygap=1,
        )
    )
    fig.update_yaxes(autorange="reversed", title="first purchase (customers)", type="category")
    fig.update_xaxes(title="months since the first purchase", dtick=1)
    title = "Cohort retention: share of each cohort buying in later months"
    if cohorts.partial_last_month:
        title += " (last month partial)"
    return _styled(fig, title, max(320, 140 + 22 * len(labels)))


def segments_figure(overview: pd.DataFrame) -> go.Figure:
    """Draw customers and CLV per lifecycle segment, with the suggested action.

    Parameters
    ----------
    overview : pandas.DataFrame
        :func:`churnml.campaign.segment_overview` output.

    Returns
    -------
    plotly.graph_objects.Figure
        Two bar panels: customers and summed CLV per segment.
    """
    fig = make_subplots(
        rows=1,
        cols=2,
        subplot_titles=("customers", "customer lifetime value (sum)"),
        horizontal_spacing=0.12,
    )
    segments = [str(s) for s in overview.index]
    custom = _columns(
        overview["share"], overview["clv_share"], overview["action"].astype(str),
        overview["customers"], overview["clv"],
    )  # fmt: skip
    hover = (
        "<b>%{x}</b><br>%{customdata[3]:,} customers (%{customdata[0]:.1%})<br>"
        "CLV %{customdata[4]:,.0f} (%{customdata[1]:.1%})<br>action: %{customdata[2]}"
        "<extra></extra>"
    )
    fig.add_bar(
        x=segments,
        y=overview["customers"],
        marker_color=_BLUE,
        customdata=custom,
        hovertemplate=hover,
        showlegend=False,
        row=1,
        col=1,
    )
    fig.add_bar(
        x=segments,
        y=overview["clv"],
        marker_color=_GREEN,
        customdata=custom,
        hovertemplate=hover,
        showlegend=False,
        row=1,
        col=2,
    )
    fig.update_yaxes(tickformat=",.0f")
    return _styled(fig, "Lifecycle segments: size and value", 400)


def clv_distribution_figure(clv: pd.Series | np.ndarray, *, bins: int = 40) -> go.Figure:
    """Draw the CLV histogram, on a log scale when a few customers dominate.

    Parameters
    ----------
    clv : pandas.Series or numpy.ndarray
        CLV per customer (the score table's ``clv``).
    bins : int
        Number of bars.

    Returns
    -------
    plotly.graph_objects.Figure
        Customers per CLV range, with the median marked. With a skewed distribution (the
        99th percentile more than ten times the median) the bars are even on a log scale and
        customers with a CLV of 0 or less are counted in the title instead.
    """
    values = pd.to_numeric(pd.Series(np.asarray(clv)), errors="coerce").to_numpy(float)
    values = values[np.isfinite(values)]
    positive = values[values > 0]
    median = float(np.median(values)) if values.size else math.nan
    skewed = (
        positive.size >= 20
        and float(np.median(positive)) > 0
        and float(np.percentile(positive, 99)) > 10 * float(np.median(positive))
    )
    fig = go.Figure()
    title = "Customer lifetime value"
    if skewed:
        # a long tail of near-zero values would stretch the axis over many empty decades:
        # the lowest half percent share the first bar
        logs = np.log10(np.maximum(positive, np.percentile(positive, 0.5)))
        edges = np.linspace(logs.min(), logs.max() + 1e-9, bins + 1)
        counts, _ = np.histogram(logs, edges)
        low = [f"{v:,.2f}" for v in 10 ** edges[:-1]]
        low[0] = "0"
        fig.add_bar(
            x=(edges[:-1] + edges[1:]) / 2,
            y=counts,
            width=np.diff(edges),
            marker_color=_BLUE,
            customdata=_columns(low, 10 ** edges[1:]),
            hovertemplate=(
                "CLV %{customdata[0]} to %{customdata[1]:,.2f}<br>%{y:,} customers<extra></extra>"
            ),
            showlegend=False,
        )
        decades = edges[-1] - edges[0]
        steps = (1, 2, 5) if decades <= 4 else (1,)
        ticks = [
            m * 10.0**k
            for k in range(math.floor(edges[0]), math.ceil(edges[-1]) + 1)
            for m in steps
            if edges[0] <= math.log10(m * 10.0**k) <= edges[-1]
        ]
        fig.update_xaxes(
            tickvals=[math.log10(t) for t in ticks],
            ticktext=[f"{t:,.4g}" for t in ticks],
            title="CLV per customer (log scale)",
        )
        if median > 0:
            fig.add_vline(
                x=math.log10(median),
                line_dash="dash",
                line_color=_ORANGE,
                annotation_text=f"median {median:,.2f}",
                annotation_position="top right",
            )
        left_out = values.size - positive.size
        if left_out:
            title += f" ({left_out:,} customers with CLV 0 or less not shown)"
    else:
        counts, edges = np.histogram(values, bins=bins) if values.size else ([], np.zeros(1))
        fig.add_bar(
            x=(edges[:-1] + edges[1:]) / 2,
            y=counts,
            width=np.diff(edges),
            marker_color=_BLUE,
            customdata=np.column_stack([edges[:-1], edges[1:]]) if values.size else None,
            hovertemplate=(
                "CLV %{customdata[0]:,.2f} to %{customdata[1]:,.2f}<br>%{y:,} customers"
                "<extra></extra>"
            ),
            showlegend=False,
        )
        fig.update_xaxes(title="CLV per customer")
        if np.isfinite(median):
            fig.add_vline(
                x=median,
                line_dash="dash",
                line_color=_ORANGE,
                annotation_text=f"median {median:,.2f}",
                annotation_position="top right",
            )
    fig.update_yaxes(title="customers", tickformat=",d")
    fig.update_layout(bargap=0.05)
    return _styled(fig, title, 400)


def _model_label(name: str, curves: EvaluationCurves) -> str:
    return f"{name} (champion)" if name == curves.champion else name


def _model_colour(name: str, curves: EvaluationCurves) -> str:
    """One colour per model, the same in the gains and calibration charts."""
    palette = qualitative.D3
    return palette[list(curves.models).index(name) % len(palette)]


def gains_figure(curves: EvaluationCurves) -> go.Figure:
    """Draw the share of next-window revenue captured by customers ranked by each model.

    Parameters
    ----------
    curves : EvaluationCurves
        :func:`churnml.evaluation.evaluation_curves` output (or a logged ``curves.json``).

    Returns
    -------
    plotly.graph_objects.Figure
        One revenue gains curve per model (the champion drawn thicker), the random line and,
        hidden until clicked in the legend, the buyers gains curves.
    """
    fig = go.Figure()
    fig.add_scatter(
        x=[0, 1],
        y=[0, 1],
        name="random order",
        mode="lines",
        line={"color": _GREY, "dash": "dash", "width": 1},
        hoverinfo="skip",
    )
    for name, model in curves.models.items():
        label = _model_label(name, curves)
        width = 3.5 if name == curves.champion else 2
        fig.add_scatter(
            x=model.gains["share_customers"],
            y=model.gains["share_revenue"],
            name=f"{label}: revenue",
            mode="lines",
            line={"width": width, "color": _model_colour(name, curves)},
            hovertemplate=(
                f"{label}<br>top %{{x:.0%}} of customers by predicted revenue bring "
                "%{y:.1%} of the revenue<extra></extra>"
            ),
        )
        fig.add_scatter(
            x=model.buyers_gains["share_customers"],
            y=model.buyers_gains["share_buyers"],
            name=f"{label}: buyers",
            mode="lines",
            line={"width": 1.5, "dash": "dot", "color": _model_colour(name, curves)},
            visible="legendonly",
            hovertemplate=(
                f"{label}<br>top %{{x:.0%}} of customers by P(repurchase) hold "
                "%{y:.1%} of the buyers<extra></extra>"
            ),
        )
    fig.update_xaxes(
        tickformat=".0%", range=[0, 1], title="share of customers contacted, best first"
    )
    fig.update_yaxes(tickformat=".0%", range=[0, 1.02], title="share of actual revenue captured")
    title = (
        f"Gains: who brought the revenue in the {curves.horizon_days} days after "
        f"{curves.cutoff.date()}"
    )
    return _styled(fig, title, 460)


def calibration_figure(curves: EvaluationCurves) -> go.Figure:
    """Draw predicted P(repurchase) against the share who bought, by decile.

    Parameters
    ----------
    curves : EvaluationCurves
        :func:`churnml.evaluation.evaluation_curves` output (or a logged ``curves.json``).

    Returns
    -------
    plotly.graph_objects.Figure
        One line per model and the diagonal a perfectly calibrated model follows.
    """
    fig = go.Figure()
    top = 0.0
    for name, model in curves.models.items():
        cal = model.calibration
        if cal.empty:
            continue
        top = max(top, float(cal["mean_predicted"].max()), float(cal["observed"].max()))
        label = _model_label(name, curves)
        colour = _model_colour(name, curves)
        fig.add_scatter(
            x=cal["mean_predicted"],
            y=cal["observed"],
            name=label,
            mode="lines+markers",
            line={"width": 3 if name == curves.champion else 2, "color": colour},
            marker={"color": colour},
            customdata=np.column_stack([cal["bin"], cal["n"]]),
            hovertemplate=(
                f"{label}, decile %{{customdata[0]}} (%{{customdata[1]:,}} customers)<br>"
                "predicted %{x:.1%}, bought %{y:.1%}<extra></extra>"
            ),
        )
    top = min(1.0, top * 1.05 + 0.01) if top > 0 else 1.0
    fig.add_scatter(
        x=[0, top],
        y=[0, top],
        name="perfectly calibrated",
        mode="lines",
        line={"color": _GREY, "dash": "dash", "width": 1},
        hoverinfo="skip",
    )
    fig.update_xaxes(
        tickformat=".0%", range=[0, top], title="predicted P(repurchase), mean of the decile"
    )
    fig.update_yaxes(tickformat=".0%", range=[0, top], title="share who bought")
    title = f"Calibration in the {curves.horizon_days} days after {curves.cutoff.date()}"
    return _styled(fig, title, 460)


def _thin_curve(curve: pd.DataFrame, keep: list[int], points: int) -> pd.DataFrame:
    """About ``points`` evenly spaced rows of the profit curve, with the rows in ``keep``."""
    rows = np.round(np.linspace(0, len(curve) - 1, min(points, len(curve)))).astype(int)
    rows = np.unique(np.concatenate([rows, [k for k in keep if 0 <= k < len(curve)]]))
    return curve.iloc[rows]


def profit_curve_figure(plan: RecallPlan) -> go.Figure:
    """Draw expected profit against customers contacted, with the budget and the peak.

    Parameters
    ----------
    plan : RecallPlan
        :func:`churnml.campaign.plan_recall` output.

    Returns
    -------
    plotly.graph_objects.Figure
        The profit curve over every candidate in rank order, a vertical line where the budget
        runs out and a marker where the expected profit peaks.
    """
    curve = plan.curve
    affordable = int(curve.loc[curve["within_budget"], "contacted"].max()) if len(curve) else 0
    shown = _thin_curve(curve, [affordable, plan.peak_contacts], _PROFIT_POINTS)
    fig = go.Figure()
    fig.add_scatter(
        x=shown["contacted"],
        y=shown["expected_profit"],
        name="expected profit",
        mode="lines",
        line={"color": _BLUE, "width": 2},
        customdata=np.column_stack([shown["cost"], shown["expected_margin"]]),
        hovertemplate=(
            "%{x:,} contacts: cost %{customdata[0]:,.2f}, expected margin "
            "%{customdata[1]:,.2f}<br>expected profit %{y:,.2f}<extra></extra>"
        ),
    )
    fig.add_hline(y=0, line_color=_GREY, line_width=1)
    budget_note = (
        f"budget {plan.budget:,.2f}: {affordable:,} contacts"
        if affordable < plan.candidates
        else f"budget {plan.budget:,.2f} covers all {plan.candidates:,} candidates"
    )
    fig.add_vline(
        x=affordable,
        line_dash="dash",
        line_color=_RED,
        annotation_text=budget_note,
        annotation_position="top left" if affordable > plan.peak_contacts else "top right",
        annotation_font_color=_RED,
    )
    fig.add_scatter(
        x=[plan.peak_contacts],
        y=[plan.peak_profit],
        name=f"peak: {plan.peak_contacts:,} contacts, profit {plan.peak_profit:,.2f}",
        mode="markers",
        marker={"color": _GREEN, "size": 12, "symbol": "diamond"},
        hovertemplate="peak: %{x:,} contacts, expected profit %{y:,.2f}<extra></extra>",
    )
    fig.update_xaxes(title="customers contacted, best first", tickformat=",d", rangemode="tozero")
    fig.update_yaxes(title="expected profit", tickformat=",.0f")
    return _styled(fig, "Profit curve of the recall list", 430)
