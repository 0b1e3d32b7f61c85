"""Out-of-time evaluation of churnml's models, its curves, and the champion and promotion rules."""

from churnml.evaluation.backtest import (
    BACKTEST_WINDOWS,
    backtest_windows,
    evaluate,
    seasonal_backtest,
    window_cutoffs,
)
from churnml.evaluation.curves import (
    EvaluationCurves,
    ModelCurves,
    calibration_bins,
    evaluation_curves,
    gains_curve,
)
from churnml.evaluation.level import LEVEL_RULE, LevelFit, learn_levels
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
    REFERENCE_FAMILY,
    beats,
    beats_robust,
    champion_table,
    comparable_windows,
    select_champion,
    select_champion_robust,
    summarize_windows,
)

__all__ = [
    "AGGREGATE_TOLERANCE",
    "BACKTEST_WINDOWS",
    "CHAMPION_RULE",
    "LEVEL_RULE",
    "METRIC_NAMES",
    "PROMOTION_RULE",
    "REFERENCE_FAMILY",
    "Evaluation",
    "EvaluationCurves",
    "LevelFit",
    "ModelCurves",
    "backtest_windows",
    "beats",
    "beats_robust",
    "champion_table",
    "comparable_windows",
    "calibration_bins",
    "evaluate",
    "evaluation_curves",
    "expected_calibration_error",
    "gains_curve",
    "learn_levels",
    "model_metrics",
    "normalized_gini",
    "seasonal_backtest",
    "select_champion",
    "select_champion_robust",
    "summarize_windows",
    "save_plots",
    "top_share",
    "window_cutoffs",
]
