"""Score with a model from the MLflow registry (or a bundle folder).

:func:`load_model` is the one way a model is loaded for scoring, by the CLI, the Python API
and the HTTP service alike: the registry (or a folder) is resolved by
:mod:`churnml.tracking`, and the bundle is read by churnml's own loader (JSON and LightGBM
text files). MLflow's pyfunc loader is never used for scoring, so no code stored with a model
(``pyfunc_model.py``) runs.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from churnml.config import REGISTERED_MODEL, parse_day
from churnml.data.validation import ValidatedTransactions
from churnml.models.base import BaseScorer
from churnml.models.bundle import load_bundle
from churnml.scoring import NO_PURCHASE_NOTE, score_with, unscored_customers
from churnml.settings import RunSettings
from churnml.tracking import model_version, resolved_model

__all__ = ["LoadedModel", "ScoreResult", "load_model", "model_version_of", "score"]


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
        Customers seen up to as-of without a score row: 0, since those without a purchase
        are scored too (see :func:`churnml.score_with`).
    meta : dict
        The bundle's metadata (settings, training as-of, backtest) plus ``registry_version``
        and ``model_uri``.
    model_name : str or None
        Registered model name, when the model came from the registry.
    n_yet_to_buy : int
        Customers seen up to as-of without a purchase, scored as customers yet to buy (their
        ``note`` says so).
    """

    scores: pd.DataFrame
    model_version: str
    family: str
    as_of: pd.Timestamp
    horizon_days: int
    n_unscored: int
    meta: dict[str, Any] = field(default_factory=dict)
    model_name: str | None = None
    n_yet_to_buy: int = 0


@dataclass(frozen=True)
class LoadedModel:
    """A model loaded for scoring, with where it came from.

    Built by :func:`load_model`; it holds no file handles, so it can be kept and shared (a
    server keeps one and swaps it for a new one when the champion changes).

    Attributes
    ----------
    scorer : BaseScorer
        The fitted scorer.
    meta : dict
        The bundle's metadata (family, settings, training as-of, data fingerprint, backtest)
        plus ``registry_version`` and ``model_uri``.
    label : str
        What score rows record as ``model_version``: ``churnml/3`` for a registered model,
        ``run:<id>`` or the folder name otherwise.
    name, version, run_id : str or None
        Registered model name, registry version and MLflow run, when known.
    uri : str
        The MLflow URI or folder it was loaded from.
    settings : RunSettings
        The settings it was trained with (horizon, segment rules, ...).
    trained_at : str or None
        When it was made, ISO 8601 in UTC: the registry version's creation time, else the
        run's start time, else the bundle's record.
    """

    scorer: BaseScorer
    meta: dict[str, Any]
    label: str
    name: str | None
    version: str | None
    run_id: str | None
    uri: str
    settings: RunSettings
    trained_at: str | None

    @property
    def family(self) -> str:
        """The model family (``bgnbd``, ``gbm``, ...)."""
        return str(self.meta["family"])

    def score(
        self,
        tx: ValidatedTransactions,
        as_of: Any,
        horizon_days: int | None = None,
        *,
        include_no_purchase: bool = True,
        population: Mapping[str, Any] | None = None,
    ) -> pd.DataFrame:
        """Score every customer with a line on or before as-of.

        Parameters
        ----------
        tx : ValidatedTransactions
            Validated transactions up to as-of.
        as_of : str or pandas.Timestamp
            Scoring date.
        horizon_days : int, optional
            Horizon (default: the one the model was trained for).
        include_no_purchase : bool
            Also score customers whose lines hold no purchase yet (all returns, or netting
            to zero), as customers yet to buy (default); see :func:`churnml.score_with`.
        population : dict, optional
            When ``tx`` holds some of the customers, what their rows read of everyone (see
            :meth:`~churnml.models.base.BaseScorer.population_inputs`).

        Returns
        -------
        pandas.DataFrame
            The score table of :func:`churnml.score_with`, with segments by the model's
            stored :class:`~churnml.settings.SegmentRules` and ``model_version`` set to
            :attr:`label`.
        """
        horizon = int(horizon_days or self.settings.horizon_days)
        return score_with(
            self.scorer,
            tx,
            as_of,
            horizon,
            self.label,
            self.settings.segments,
            population_cycle_days=self.meta.get("purchase_cycle_days"),
            include_no_purchase=include_no_purchase,
            population=population,
        )


def load_model(model: str = "champion", model_name: str = REGISTERED_MODEL) -> LoadedModel:
    """Load a model from the MLflow registry (or a folder) for scoring.

    The bundle is read by churnml's own loader: BTYD parameters from JSON, LightGBM boosters
    from LightGBM's text format. Nothing stored with the model is executed (MLflow's
    ``pyfunc_model.py`` is never imported) and nothing is unpickled.

    Parameters
    ----------
    model : str
        ``champion`` (default), ``challenger``, a version (``3``), an MLflow URI
        (``models:/churnml@champion``, ``runs:/<id>/model``), a bundle folder or a downloaded
        MLflow model folder.
    model_name : str
        Registered model name.

    Returns
    -------
    LoadedModel
        The scorer, its metadata, settings and registry coordinates.

    Raises
    ------
    ConfigError
        No model matches ``model``; the message lists the versions and aliases that exist.
    """
    with resolved_model(model, model_name) as found:
        scorer, meta = load_bundle(found.bundle_dir)
    meta.update(registry_version=found.version, model_uri=found.uri)
    return LoadedModel(
        scorer=scorer,
        meta=meta,
        label=found.label,
        name=found.name,
        version=found.version,
        run_id=found.run_id,
        uri=found.uri,
        settings=RunSettings.from_dict(meta["settings"]),
        trained_at=found.trained_at,
    )


def model_version_of(model: str = "champion", model_name: str = REGISTERED_MODEL) -> str | None:
    """Return the registry version a model reference points to now.

    One registry call, cheap enough to poll: the HTTP service compares it with the version
    it has loaded and reloads when the champion moves.

    Parameters
    ----------
    model : str
        An alias (``champion`` by default), a version or a ``models:/`` URI.
    model_name : str
        Registered model name.

    Returns
    -------
    str or None
        The version number; None when there is no such alias or version (or ``model`` is a
        folder or ``runs:/`` URI, which are not registry versions).

    Raises
    ------
    ConfigError
        The registry cannot be read.
    """
    return model_version(model, model_name)


def score(
    tx: ValidatedTransactions,
    as_of: Any,
    *,
    horizon_days: int | None = None,
    model: str = "champion",
    model_name: str = REGISTERED_MODEL,
) -> ScoreResult:
    """Load a model from the MLflow registry (or a folder) and score every customer.

    Every customer with a line on or before as-of gets a row; one without a purchase yet is
    scored as a customer yet to buy (see :func:`churnml.score_with`).

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
    loaded = load_model(model, model_name)
    day = parse_day(as_of)
    horizon = int(horizon_days or loaded.settings.horizon_days)
    scores = loaded.score(tx, day, horizon)
    return ScoreResult(
        scores=scores,
        model_version=loaded.label,
        family=loaded.family,
        as_of=day,
        horizon_days=horizon,
        n_unscored=unscored_customers(tx, day, scores),
        meta=loaded.meta,
        model_name=loaded.name,
        n_yet_to_buy=int((scores["note"] == NO_PURCHASE_NOTE).sum()),
    )
