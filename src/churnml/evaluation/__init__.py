"""Out-of-time evaluation of churnml's models, its curves, and the champion and promotion rules."""

from churnml.evaluation.backtest import evaluate
from churnml.evaluation.curves import (
    EvaluationCurves,
    ModelCurves,
    calibration_bins,
    evaluation_curves,
    gains_curve,
)
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
    "EvaluationCurves",
    "ModelCurves",
    "beats",
    "calibration_bins",
    "evaluate",
    "evaluation_curves",
    "expected_calibration_error",
    "gains_curve",
    "model_metrics",
    "normalized_gini",
    "select_champion",
    "save_plots",
    "top_share",
]
