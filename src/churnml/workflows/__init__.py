"""The public verbs: evaluate, train, score, publish, report, the registry helpers, the demo.

Each is one function that the CLI, the notebooks and the tests call; they compose the lower
layers (data, models, evaluation, scoring, tracking) and hold no modelling logic themselves.
"""

from churnml.workflows.demo import DEMO_MODEL, DemoResult, run_demo
from churnml.workflows.evaluating import evaluate
from churnml.workflows.publishing import (
    SNAPSHOT_COLUMNS,
    activate_snapshot,
    list_snapshots,
    publish_scores,
)
from churnml.workflows.registry import list_versions, promote, rollback
from churnml.workflows.reporting import ReportResult, write_report
from churnml.workflows.scoring import LoadedModel, ScoreResult, load_model, model_version_of, score
from churnml.workflows.training import TrainResult, example_transactions, train, train_with

__all__ = [
    "DEMO_MODEL",
    "SNAPSHOT_COLUMNS",
    "DemoResult",
    "LoadedModel",
    "ReportResult",
    "ScoreResult",
    "TrainResult",
    "activate_snapshot",
    "evaluate",
    "example_transactions",
    "list_snapshots",
    "list_versions",
    "load_model",
    "model_version_of",
    "promote",
    "publish_scores",
    "rollback",
    "run_demo",
    "score",
    "train",
    "train_with",
    "write_report",
]
