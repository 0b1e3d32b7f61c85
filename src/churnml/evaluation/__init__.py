"""Out-of-time evaluation of churnml's models."""

from churnml.evaluation.backtest import DEFAULT_MODELS, Evaluation, evaluate, make_scorer
from churnml.evaluation.metrics import (
    METRIC_NAMES,
    expected_calibration_error,
    model_metrics,
    normalized_gini,
    top_share,
)

__all__ = [
    "DEFAULT_MODELS",
    "METRIC_NAMES",
    "Evaluation",
    "evaluate",
    "expected_calibration_error",
    "make_scorer",
    "model_metrics",
    "normalized_gini",
    "top_share",
]
