"""The MLflow model registry: log bundles as safe pyfunc models, challenger and champion aliases.

Each ``train`` registers a version of the registered model (``churnml`` by default) and gives it
the alias ``challenger``; ``champion`` moves only when the caller decides the new version wins
(see :func:`churnml.workflows.train`) or is told to. Every promotion is appended to a history
kept as a registered-model tag, which is what ``rollback`` walks back.

The logged model is a *model from code*: ``pyfunc_model.py`` (plain source, stored as text)
plus the bundle folder (JSON and LightGBM text files) as artifacts. Nothing is pickled, so
loading a model never unpickles code.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import json
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from churnml._version import __version__
from churnml.config import REGISTERED_MODEL
from churnml.exceptions import ConfigError
from churnml.models.bundle import is_bundle
from churnml.tracking.lazy_mlflow import mlflow
from churnml.tracking.runs import PACKAGES, configure

__all__ = [
    "CHALLENGER",
    "CHAMPION",
    "MODEL_CODE",
    "ResolvedModel",
    "champion_version",
    "input_signature",
    "list_versions",
    "log_bundle_model",
    "model_version",
    "promote",
    "resolved_model",
    "rollback",
    "set_challenger",
]

CHAMPION = "champion"
CHALLENGER = "challenger"
#: The models-from-code file MLflow stores and runs when the model is loaded.
MODEL_CODE = Path(__file__).with_name("pyfunc_model.py")
_HISTORY_TAG = "churnml.champion_history"
_KEEP_HISTORY = 200
#: Model-version tags copied from a training run, shown by ``churnml models list``.
VERSION_TAGS = (
    "family",
    "as_of",
    "horizon_days",
    "freq",
    "seed",
    "value",
    "data_sha256",
    "backtest_cutoff",
    "auc",
    "revenue_gini",
    "buyers_ratio",
    "revenue_ratio",
)


def input_signature(
    output_example: pd.DataFrame, horizon_days: int, as_of: str = ""
) -> mlflow.models.ModelSignature:
    """Build the pyfunc's signature: a transactions frame in, the score table out.

    ``customer_id`` must be text (ids are never numbers: leading zeros matter). ``date`` and
    ``amount`` accept any type, because churnml's validation parses them with errors that name
    the row, which MLflow's strict casting cannot (it refuses integer amounts, for one).
    Parameters: ``as_of`` (default: the last date in the input) and ``horizon_days``.

    Parameters
    ----------
    output_example : pandas.DataFrame
        Scores of the input example.
    horizon_days : int
        Default of the ``horizon_days`` parameter.
    as_of : str
        Default of the ``as_of`` parameter.

    Returns
    -------
    mlflow.models.ModelSignature
        Inputs, outputs and parameters.
    """
    types = mlflow.types
    inputs = types.Schema(
        [
            types.ColSpec("string", "customer_id"),
            types.ColSpec(types.schema.AnyType(), "date"),
            types.ColSpec(types.schema.AnyType(), "amount"),
            *(
                types.ColSpec(types.schema.AnyType(), name, required=False)
                for name in ("order_id", "product_id", "quantity", "channel")
            ),
        ]
    )
    outputs = mlflow.models.infer_signature(model_output=output_example).outputs
    params = types.ParamSchema(
        [
            types.ParamSpec("as_of", "string", as_of),
            types.ParamSpec("horizon_days", "long", int(horizon_days)),
        ]
    )
    return mlflow.models.ModelSignature(inputs=inputs, outputs=outputs, params=params)


def _requirements() -> list[str]:
    pins = [f"churnml=={__version__}"]
    for package in PACKAGES[1:]:
        try:
            pins.append(f"{package}=={importlib.metadata.version(package)}")
        except importlib.metadata.PackageNotFoundError:
            continue
    return pins


@contextmanager
def _pins_known(pins: list[str]) -> Iterator[None]:
    """Let MLflow check ``pins`` against the environment without mapping every package.

    ``log_model`` warns where a requirement is not installed, and to find each package's
    module it first lists the top-level modules of every installed distribution: 1.5 s of
    the 2.9 s a CDNOW ``train`` took to register its model, on the first registration of a
    process. Our pins are read from the installed distributions themselves
    (:func:`_requirements`), so their names are the map it needs. The map is MLflow's module
    cache; it is put back as it was afterwards, so that a later model of the user's own still
    has its requirements inferred from the full map.
    """
    utils = importlib.import_module("mlflow.utils.requirements_utils")
    if getattr(utils, "_MODULES_TO_PACKAGES", ...) is not None:
        yield  # already built in this process, or a version of MLflow without the cache
        return
    names = [pin.split("==")[0] for pin in pins]
    utils._MODULES_TO_PACKAGES = {name.replace("-", "_"): [name] for name in names}
    try:
        yield
    finally:
        utils._MODULES_TO_PACKAGES = None
        utils._PACKAGES_TO_MODULES = None


def log_bundle_model(
    bundle_dir: str | Path,
    *,
    input_example: pd.DataFrame,
    output_example: pd.DataFrame,
    horizon_days: int,
    as_of: str,
    name: str = REGISTERED_MODEL,
    tags: Mapping[str, Any] | None = None,
) -> str:
    """Log a bundle as a pyfunc model in the active run and register it as a new version.

    Parameters
    ----------
    bundle_dir : str or pathlib.Path
        A bundle folder (see :mod:`churnml.models.bundle`).
    input_example, output_example : pandas.DataFrame
        A synthetic transactions frame and its scores (never customer data).
    horizon_days : int
        Default horizon parameter.
    as_of : str
        The model's training as-of (the input example's as-of).
    name : str
        Registered model name.
    tags : mapping, optional
        Model-version tags (see :data:`VERSION_TAGS`).

    Returns
    -------
    str
        The new version number.

    Raises
    ------
    ConfigError
        ``bundle_dir`` is not a bundle.
    """
    if not is_bundle(bundle_dir):
        raise ConfigError(f"{bundle_dir} is not a churnml model bundle")
    pins = _requirements()
    with _pins_known(pins):
        info = mlflow.pyfunc.log_model(
            name="model",
            python_model=str(MODEL_CODE),
            artifacts={"bundle": str(bundle_dir)},
            signature=input_signature(output_example, horizon_days),
            input_example=(input_example, {"as_of": as_of, "horizon_days": int(horizon_days)}),
            pip_requirements=pins,
            metadata={"churnml_version": __version__},
        )
    # the version is created with its tags in one call (one store transaction per tag cost
    # 0.4 s of a registration)
    texts = {
        key: value if isinstance(value, str) else json.dumps(value, default=str)
        for key, value in (tags or {}).items()
        if value is not None
    }
    return str(mlflow.register_model(info.model_uri, name, tags=texts).version)


def _alias_version(name: str, alias: str) -> str | None:
    try:
        return str(mlflow.MlflowClient().get_model_version_by_alias(name, alias).version)
    except mlflow.exceptions.MlflowException:
        return None


def champion_version(name: str = REGISTERED_MODEL) -> dict[str, Any] | None:
    """Return the current champion (version, run id, tags), or None if there is none."""
    configure()
    version = _alias_version(name, CHAMPION)
    if version is None:
        return None
    mv = mlflow.MlflowClient().get_model_version(name, version)
    return {"version": version, "run_id": mv.run_id, "tags": dict(mv.tags)}


def set_challenger(version: str, name: str = REGISTERED_MODEL) -> None:
    """Give ``version`` the ``challenger`` alias."""
    configure()
    mlflow.MlflowClient().set_registered_model_alias(name, CHALLENGER, str(version))


def _history(client: mlflow.MlflowClient, name: str) -> list[str]:
    tags = client.get_registered_model(name).tags
    return json.loads(tags.get(_HISTORY_TAG, "[]"))


def _known_version(client: mlflow.MlflowClient, name: str, version: str) -> str:
    version = str(version).removeprefix("v")
    try:
        client.get_model_version(name, version)
    except mlflow.exceptions.MlflowException:
        versions = sorted(
            (int(v.version) for v in client.search_model_versions(f"name = '{name}'")),
        )
        raise ConfigError(
            f"registered model {name!r} has no version {version!r} "
            f"(versions: {', '.join(map(str, versions)) or 'none'})"
        ) from None
    return version


def promote(version: str, reason: str, name: str = REGISTERED_MODEL) -> str:
    """Make ``version`` the champion and record why.

    Returns
    -------
    str
        The previous champion version, or ``""`` if there was none.
    """
    configure()
    client = mlflow.MlflowClient()
    version = _known_version(client, name, version)
    previous = _alias_version(name, CHAMPION) or ""
    client.set_registered_model_alias(name, CHAMPION, version)
    client.set_model_version_tag(name, version, "promoted_at", pd.Timestamp.now("UTC").isoformat())
    client.set_model_version_tag(name, version, "promotion_reason", reason[:5000])
    history = [*_history(client, name), version][-_KEEP_HISTORY:]
    client.set_registered_model_tag(name, _HISTORY_TAG, json.dumps(history))
    return previous


def rollback(name: str = REGISTERED_MODEL) -> tuple[str, str]:
    """Give ``champion`` back to the version that held it before the current one.

    Returns
    -------
    (str, str)
        The version demoted and the version restored.

    Raises
    ------
    ConfigError
        There is no earlier champion to return to.
    """
    configure()
    client = mlflow.MlflowClient()
    current = _alias_version(name, CHAMPION)
    history = _history(client, name) if current else []
    # Drop the current champion's latest entry and any adjacent repeats of it.
    while history and history[-1] == current:
        history.pop()
    if current is None or not history:
        raise ConfigError(
            f"nothing to roll back to: registered model {name!r} has "
            + ("no champion" if current is None else f"had no champion before version {current}")
        )
    restored = history[-1]
    client.set_registered_model_alias(name, CHAMPION, restored)
    client.set_model_version_tag(
        name, current, "rolled_back_at", pd.Timestamp.now("UTC").isoformat()
    )
    client.set_registered_model_tag(name, _HISTORY_TAG, json.dumps(history))
    return current, restored


def list_versions(name: str = REGISTERED_MODEL) -> pd.DataFrame:
    """Every registered version with its aliases, family, data and backtest headline metrics.

    Returns
    -------
    pandas.DataFrame
        One row per version, newest first; empty if the model is not registered yet.
    """
    configure()
    client = mlflow.MlflowClient()
    try:
        aliases = client.get_registered_model(name).aliases
    except mlflow.exceptions.MlflowException:
        return pd.DataFrame(columns=["version", "aliases", "created", "run_id", *VERSION_TAGS])
    by_version: dict[str, list[str]] = {}
    for alias, version in aliases.items():
        by_version.setdefault(str(version), []).append(alias)
    rows = []
    for mv in client.search_model_versions(f"name = '{name}'"):
        rows.append(
            {
                "version": int(mv.version),
                "aliases": ",".join(sorted(by_version.get(str(mv.version), []))),
                "created": pd.Timestamp(mv.creation_timestamp, unit="ms", tz="UTC"),
                "run_id": mv.run_id,
                **{key: mv.tags.get(key) for key in VERSION_TAGS},
            }
        )
    frame = pd.DataFrame(rows)
    return frame.sort_values("version", ascending=False, ignore_index=True)


@dataclass
class ResolvedModel:
    """A model found by name, alias, version, URI or path, downloaded to a local folder.

    Attributes
    ----------
    bundle_dir : pathlib.Path
        Local bundle folder (valid inside :func:`resolved_model` only, for registry models).
    label : str
        What scores record as ``model_version``: ``churnml/3``, ``run:<id>`` or the folder.
    name, version, run_id : str or None
        Registry coordinates, when known.
    uri : str
        The MLflow URI or path it came from.
    trained_at : str or None
        When the model was made, ISO 8601 in UTC: the registry version's creation time, else
        the run's start time, else the time the bundle records.
    """

    bundle_dir: Path
    label: str
    name: str | None
    version: str | None
    run_id: str | None
    uri: str
    trained_at: str | None = None


def _iso_ms(milliseconds: int | None) -> str | None:
    if milliseconds is None:
        return None
    return pd.Timestamp(milliseconds, unit="ms", tz="UTC").isoformat()


def _model_uri(model: str, name: str) -> str:
    if "://" in model or model.startswith(("models:/", "runs:/")):
        return model
    text = model.removeprefix("v")
    if text.isdigit():
        return f"models:/{name}/{text}"
    if model in (CHAMPION, CHALLENGER):
        return f"models:/{name}@{model}"
    raise ConfigError(
        f"--model {model!r} is neither champion, challenger, a version number, an MLflow URI "
        "(models:/..., runs:/...) nor an existing folder"
    )


def _registry_version(client: mlflow.MlflowClient, uri: str) -> Any:
    """Return the model version a ``models:/name@alias`` or ``models:/name/N`` URI names."""
    path = uri.removeprefix("models:/")
    model_name = path.split("@")[0].split("/")[0]
    if "@" in path:
        return client.get_model_version_by_alias(model_name, path.split("@", 1)[1])
    return client.get_model_version(model_name, path.split("/", 1)[1])


def _label_from_uri(
    uri: str, name: str, client: mlflow.MlflowClient
) -> tuple[str, str | None, str | None, str | None]:
    """Registry version of a ``models:/`` URI: label, version, run id, creation time."""
    if not uri.startswith("models:/"):
        return uri, None, None, None
    mv = _registry_version(client, uri)
    return f"{mv.name}/{mv.version}", str(mv.version), mv.run_id, _iso_ms(mv.creation_timestamp)


# What the registry answers for a model, version or alias that does not exist.
_NOT_FOUND = ("RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE")


def model_version(model: str = CHAMPION, name: str = REGISTERED_MODEL) -> str | None:
    """Return the registry version a model reference points to now (one registry call).

    Cheap enough to poll: a server compares it with the version it has loaded.

    Parameters
    ----------
    model : str
        An alias (``champion``, ``challenger`` or any other), a version (``3`` or ``v3``) or a
        ``models:/`` URI. ``runs:/`` URIs and folders are not registry versions.
    name : str
        Registered model name for aliases and versions.

    Returns
    -------
    str or None
        The version number, or None when the alias, version or model does not exist, or the
        reference is not a registry one.

    Raises
    ------
    ConfigError
        The registry cannot be read (the message names the tracking URI).
    """
    if model.startswith("runs:/") or Path(model).is_dir():
        return None
    uri = model if model.startswith("models:/") else None
    if uri is None:
        text = model.removeprefix("v")
        uri = f"models:/{name}/{text}" if text.isdigit() else f"models:/{name}@{model}"
    configure()
    try:
        return str(_registry_version(mlflow.MlflowClient(), uri).version)
    except mlflow.exceptions.MlflowException as exc:
        if exc.error_code in _NOT_FOUND:
            return None
        raise ConfigError(
            f"the model registry at {mlflow.get_tracking_uri()} could not be read: {exc.message}"
        ) from None


@contextmanager
def resolved_model(model: str = CHAMPION, name: str = REGISTERED_MODEL) -> Iterator[ResolvedModel]:
    """Find a model and make its bundle available as a local folder.

    Parameters
    ----------
    model : str
        ``champion`` (default), ``challenger``, a version (``3`` or ``v3``), an MLflow URI
        (``models:/churnml@champion``, ``runs:/<id>/model``), a local bundle folder or a local
        MLflow model folder.
    name : str
        Registered model name for aliases and versions.

    Yields
    ------
    ResolvedModel
        The bundle folder and the label scores should record.

    Raises
    ------
    ConfigError
        Nothing matches; the message says what exists.
    """
    path = Path(model)
    if path.is_dir():
        bundle = path if is_bundle(path) else path / "artifacts" / "bundle"
        if not is_bundle(bundle):
            raise ConfigError(f"{path} is neither a churnml bundle nor a churnml MLflow model")
        meta = json.loads((bundle / "bundle.json").read_text())
        run_id = meta.get("run_id")
        label = f"run:{run_id}" if run_id else path.name
        yield ResolvedModel(bundle, label, None, None, run_id, str(path), meta.get("trained_at"))
        return
    configure()
    uri = _model_uri(model, name)
    client = mlflow.MlflowClient()
    try:
        label, version, run_id, trained_at = _label_from_uri(uri, name, client)
    except mlflow.exceptions.MlflowException:
        known = list_versions(name)
        raise ConfigError(
            f"no model {model!r} in the registry at {mlflow.get_tracking_uri()} "
            f"(registered model {name!r}: "
            + (
                ", ".join(
                    f"{r.version}" + (f" [{r.aliases}]" if r.aliases else "")
                    for r in known.itertuples()
                )
                or "no versions"
            )
            + "; run churnml train first, or pass --model <folder>)"
        ) from None
    with tempfile.TemporaryDirectory(prefix="churnml-model-") as folder:
        try:
            local = Path(mlflow.artifacts.download_artifacts(uri, dst_path=folder))
        except mlflow.exceptions.MlflowException as exc:
            raise ConfigError(f"could not download model {uri}: {exc.message}") from None
        bundle = local / "artifacts" / "bundle"
        if not is_bundle(bundle):
            raise ConfigError(f"{uri} is not a churnml model (no artifacts/bundle/bundle.json)")
        meta = json.loads((bundle / "bundle.json").read_text())
        if run_id is None:
            run_id = meta.get("run_id")
            label = f"run:{run_id}" if run_id else uri
        if trained_at is None and run_id:
            try:
                trained_at = _iso_ms(client.get_run(run_id).info.start_time)
            except mlflow.exceptions.MlflowException:
                trained_at = None  # the run was deleted; the bundle's own record remains
        yield ResolvedModel(
            bundle,
            label,
            label.split("/", 1)[0] if version else None,
            version,
            run_id,
            uri,
            trained_at or meta.get("trained_at"),
        )
