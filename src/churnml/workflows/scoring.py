"""Score with a model from the MLflow registry (or a bundle folder)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from churnml.config import REGISTERED_MODEL, parse_day
from churnml.data.validation import ValidatedTransactions
from churnml.models.bundle import load_bundle
from churnml.scoring import score_with, unscored_customers
from churnml.settings import RunSettings
from churnml.tracking import resolved_model

__all__ = ["ScoreResult", "score"]


@dataclass
class ScoreResult:
    """Scores and where they came from.

    Attributes
    ----------
    scores : pandas.DataFrame
        The contract's score columns first, then timing quantiles, ``p_buy_*d`` and any model
        columns (``reasons`` for LightGBM models).
    model_version : str
        What every row records: ``<name>/<version>`` for a registered model.
    family : str
        The model family.
    as_of : pandas.Timestamp
        Scoring date.
    horizon_days : int
        Horizon of the probabilities and expectations.
    n_unscored : int
        Customers seen up to as-of with no positive-net purchase, who get no score.
    meta : dict
        The bundle's metadata (settings, training as-of, backtest) plus ``registry_version``
        and ``model_uri``.
    """

    scores: pd.DataFrame
    model_version: str
    family: str
    as_of: pd.Timestamp
    horizon_days: int
    n_unscored: int
    meta: dict[str, Any] = field(default_factory=dict)


def score(
    tx: ValidatedTransactions,
    as_of: Any,
    *,
    horizon_days: int | None = None,
    model: str = "champion",
    model_name: str = REGISTERED_MODEL,
) -> ScoreResult:
    """Load a model from the MLflow registry (or a folder) and score every customer.

    Parameters
    ----------
    tx : ValidatedTransactions
        Validated transactions up to as-of.
    as_of : str or pandas.Timestamp
        Scoring date.
    horizon_days : int, optional
        Horizon (default: the model's).
    model : str
        ``champion`` (default), ``challenger``, a version (``3``), an MLflow URI
        (``models:/churnml@champion``, ``runs:/<id>/model``), a bundle folder or a downloaded
        MLflow model folder.
    model_name : str
        Registered model name.

    Returns
    -------
    ScoreResult
        The score table, the model version and family, and the customers left unscored.

    Raises
    ------
    ConfigError
        No model matches ``model``; the message lists the versions and aliases that exist.
    """
    with resolved_model(model, model_name) as found:
        scorer, meta = load_bundle(found.bundle_dir)
    meta.update(registry_version=found.version, model_uri=found.uri)
    settings = RunSettings.from_dict(meta["settings"])
    day = parse_day(as_of)
    horizon = int(horizon_days or settings.horizon_days)
    scores = score_with(scorer, tx, day, horizon, found.label, settings.segments)
    return ScoreResult(
        scores=scores,
        model_version=found.label,
        family=meta["family"],
        as_of=day,
        horizon_days=horizon,
        n_unscored=unscored_customers(tx, day, scores),
        meta=meta,
    )
