"""The public verbs: evaluate, train, score, the registry helpers and the demo.

Each is one function that the CLI, the notebooks and the tests call; they compose the lower
layers (data, models, evaluation, scoring, tracking) and hold no modelling logic themselves.
"""

from churnml.workflows.demo import DEMO_MODEL, DemoResult, run_demo
from churnml.workflows.evaluating import evaluate
from churnml.workflows.registry import list_versions, promote, rollback
from churnml.workflows.scoring import ScoreResult, score
from churnml.workflows.training import TrainResult, example_transactions, train, train_with

__all__ = [
    "DEMO_MODEL",
    "DemoResult",
    "ScoreResult",
    "TrainResult",
    "evaluate",
    "example_transactions",
    "list_versions",
    "promote",
    "rollback",
    "run_demo",
    "score",
    "train",
    "train_with",
]
