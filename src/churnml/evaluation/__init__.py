"""Out-of-time evaluation of churnml's models, and the champion and promotion rules."""

from churnml.evaluation.backtest import evaluate
from churnml.evaluation.metrics import (
    METRIC_NAMES,
    expected_calibration_error,
    model_metrics,
    normalized_gini,
    top_share,
)
from churnml.evaluation.plots import save_plots
from churnml.evaluation.result import Evaluation
from churnml.evaluation.selection import (
    AGGREGATE_TOLERANCE,
    CHAMPION_RULE,
    PROMOTION_RULE,
    beats,
    select_champion,
)

__all__ = [
    "AGGREGATE_TOLERANCE",
    "CHAMPION_RULE",
    "METRIC_NAMES",
    "PROMOTION_RULE",
    "Evaluation",
    "beats",
    "evaluate",
    "expected_calibration_error",
    "model_metrics",
    "normalized_gini",
    "select_champion",
    "save_plots",
    "top_share",
]
