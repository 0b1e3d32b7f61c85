"""``report.html``: the campaign planners' page, built from churnml's results (no I/O).

:mod:`~churnml.report.figures` draws each chart as a plotly figure;
:mod:`~churnml.report.html` assembles them, with the headline figures and the tables, into one
self-contained page. :func:`churnml.workflows.reporting.write_report` gathers the inputs and
writes the file.
"""

from churnml.report.figures import (
    calibration_figure,
    clv_distribution_figure,
    cohort_retention_figure,
    gains_figure,
    profit_curve_figure,
    repeat_rate_figure,
    segments_figure,
)
from churnml.report.html import (
    CHARTS,
    NO_EVALUATION,
    NO_SCORES,
    SECTIONS,
    ReportPage,
    build_report_html,
    render_report,
)

__all__ = [
    "CHARTS",
    "NO_EVALUATION",
    "NO_SCORES",
    "SECTIONS",
    "ReportPage",
    "build_report_html",
    "calibration_figure",
    "clv_distribution_figure",
    "cohort_retention_figure",
    "gains_figure",
    "profit_curve_figure",
    "render_report",
    "repeat_rate_figure",
    "segments_figure",
]
