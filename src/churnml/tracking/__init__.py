"""MLflow tracking and registry: the only part of churnml that imports mlflow.

``runs`` records train and evaluate runs and finds the latest evaluation's curves;
``registry`` logs bundles as models-from-code pyfunc models and manages the ``challenger`` /
``champion`` aliases. ``pyfunc_model.py`` is the model's code, run by MLflow when a model is
loaded; nothing imports it.
"""

from churnml.tracking.registry import (
    CHALLENGER,
    CHAMPION,
    ResolvedModel,
    champion_version,
    list_versions,
    log_bundle_model,
    model_version,
    promote,
    resolved_model,
    rollback,
    set_challenger,
)
from churnml.tracking.runs import (
    CURVES_ARTIFACT,
    StoreInBackground,
    TrackedRun,
    configure,
    environment_tags,
    get_run,
    latest_evaluation_curves,
    tracked_run,
)

__all__ = [
    "CHALLENGER",
    "CHAMPION",
    "CURVES_ARTIFACT",
    "ResolvedModel",
    "StoreInBackground",
    "TrackedRun",
    "champion_version",
    "configure",
    "environment_tags",
    "get_run",
    "latest_evaluation_curves",
    "list_versions",
    "log_bundle_model",
    "model_version",
    "promote",
    "resolved_model",
    "rollback",
    "set_challenger",
    "tracked_run",
]
