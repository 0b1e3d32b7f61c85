"""churnml's MLflow model, defined in code ("models from code").

MLflow stores this file as text beside the bundle (JSON and LightGBM text files) and runs it
when the model is loaded, so no pickled object is ever deserialised. Nothing in churnml imports
this module; ``churnml.tracking.registry`` hands its path to ``mlflow.pyfunc.log_model``.

Use::

    model = mlflow.pyfunc.load_model("models:/churnml@champion")
    scores = model.predict(transactions, params={"as_of": "2011-12-09", "horizon_days": 90})

``transactions`` has the contract's input columns (``customer_id`` as text, ``date``,
``amount``, optional ``order_id``, ``product_id``, ``quantity``, ``channel``). The result has
the contract's score columns, ``model_version`` included.
"""

from __future__ import annotations

from typing import Any

import mlflow
import pandas as pd
from mlflow.pyfunc import PythonModel

from churnml.data.validation import load_transactions
from churnml.models.bundle import load_bundle
from churnml.scoring import score_with
from churnml.settings import RunSettings


class ChurnmlModel(PythonModel):
    """Score a transactions frame with a churnml bundle."""

    def load_context(self, context: Any) -> None:
        """Load the bundle and find which registry version it is."""
        self.scorer, self.meta = load_bundle(context.artifacts["bundle"])
        self.label = _registry_label(self.meta.get("run_id"), self.meta.get("registered_model"))
        self.settings = RunSettings.from_dict(self.meta["settings"])

    def predict(
        self, context: Any, model_input: pd.DataFrame, params: dict[str, Any] | None = None
    ) -> pd.DataFrame:
        """Validate the transactions and return one score row per customer."""
        params = params or {}
        as_of = params.get("as_of") or None
        tx = load_transactions(pd.DataFrame(model_input), as_of=as_of)
        horizon = int(params.get("horizon_days") or self.settings.horizon_days)
        day = as_of if as_of is not None else tx.report.last_date
        return score_with(
            self.scorer,
            tx,
            day,
            horizon,
            self.label,
            self.settings.segments,
            population_cycle_days=self.meta.get("purchase_cycle_days"),
        )


def _registry_label(run_id: str | None, name: str | None) -> str:
    """``<name>/<version>`` of the registered version logged by ``run_id``, else ``run:<id>``."""
    if not run_id:
        return "unregistered"
    try:
        versions = mlflow.MlflowClient().search_model_versions(f"run_id = '{run_id}'")
    except Exception:
        versions = []
    matches = [v for v in versions if name is None or v.name == name]
    if matches:
        return f"{matches[0].name}/{matches[0].version}"
    return f"run:{run_id}"


mlflow.models.set_model(ChurnmlModel())
