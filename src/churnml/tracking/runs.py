"""MLflow runs: what every ``train`` and ``evaluate`` records.

A run holds the settings (parameters), a fingerprint of the data with the validation counts,
every backtest metric, the plots, timings, the git commit and package versions. It never holds
a customer id or a per-customer score: artifacts are aggregates only.
"""

from __future__ import annotations

import importlib.metadata
import json
import logging
import math
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from churnml._version import __version__
from churnml.config import EXPERIMENT, tracking_uri
from churnml.data.fingerprint import fingerprint
from churnml.data.validation import ValidatedTransactions
from churnml.evaluation.curves import EvaluationCurves
from churnml.evaluation.plots import save_plots
from churnml.evaluation.result import Evaluation
from churnml.evaluation.selection import SUMMARY_METRICS
from churnml.exceptions import ConfigError
from churnml.tracking.lazy_mlflow import mlflow

__all__ = [
    "CURVES_ARTIFACT",
    "PACKAGES",
    "StoreInBackground",
    "TrackedRun",
    "configure",
    "environment_tags",
    "get_run",
    "latest_evaluation_curves",
    "tracked_run",
]

#: Packages whose versions every run records.
PACKAGES = (
    "churnml",
    "pandas",
    "numpy",
    "scipy",
    "lifetimes",
    "lightgbm",
    "scikit-learn",
    "mlflow",
)
#: The artifact holding an evaluation's gains and calibration curves.
CURVES_ARTIFACT = "curves.json"
# Set on a run that logged curves, so that finding the latest takes one search, not a listing
# of every run's artifacts.
_CURVES_TAG = "churnml.curves"


def configure() -> str:
    """Point MLflow at churnml's tracking URI and quieten its start-up logging.

    Returns
    -------
    str
        The tracking URI in use.
    """
    uri = tracking_uri()
    mlflow.set_tracking_uri(uri)
    # Store creation and migrations log at INFO on every new SQLite file; users need none of it.
    for name in ("mlflow", "alembic"):
        logging.getLogger(name).setLevel(logging.WARNING)
    return uri


def _experiment_id(name: str) -> str:
    experiment = mlflow.get_experiment_by_name(name)
    if experiment is not None:
        if experiment.lifecycle_stage == "deleted":
            raise ConfigError(
                f"MLflow experiment {name!r} is deleted; restore it or pass another --experiment"
            )
        return experiment.experiment_id
    uri = mlflow.get_tracking_uri()
    location = None
    if uri.startswith("sqlite:///"):
        # Artifacts beside the database file, wherever the working directory is.
        db = Path(uri.removeprefix("sqlite:///").split("?", 1)[0]).resolve()
        location = (db.parent / "mlruns" / name).as_uri()
    # the UI opens an experiment of this kind on its training-runs view, not the GenAI one
    tags = {"mlflow.experimentKind": "custom_model_development"}
    return mlflow.create_experiment(name, artifact_location=location, tags=tags)


def _git_commit() -> str | None:
    source = Path(__file__).resolve().parent
    try:
        done = subprocess.run(
            ["git", "-C", str(source), "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
        dirty = subprocess.run(
            ["git", "-C", str(source), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    if done.returncode != 0:
        return None  # an installed wheel: the package version identifies the code
    return done.stdout.strip() + ("-dirty" if dirty.stdout.strip() else "")


def environment_tags() -> dict[str, str]:
    """Tags that pin down the code: churnml version, git commit and package versions."""
    tags = {"churnml.version": __version__}
    commit = _git_commit()
    if commit is not None:
        tags["mlflow.source.git.commit"] = commit
    for package in PACKAGES:
        try:
            tags[f"versions.{package}"] = importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            tags[f"versions.{package}"] = "not installed"
    return tags


def _flatten(prefix: str, value: Any, out: dict[str, Any]) -> None:
    if isinstance(value, Mapping):
        for key, item in value.items():
            _flatten(f"{prefix}.{key}" if prefix else str(key), item, out)
    elif isinstance(value, list | tuple):
        out[prefix] = ",".join(str(v) for v in value)
    else:
        out[prefix] = value


@dataclass
class TrackedRun:
    """The active MLflow run of a churnml command, with helpers that log churnml objects.

    Attributes
    ----------
    run_id : str
        MLflow run id.
    experiment_id : str
        Experiment the run belongs to.
    tracking_uri : str
        Where it was logged.
    timings : dict of str to float
        Seconds per step, logged as ``time.<step>_s`` metrics when the run ends.
    """

    run_id: str
    experiment_id: str
    tracking_uri: str
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def url_hint(self) -> str:
        """Where to look at the run: the UI address for servers, a command for local stores."""
        if self.tracking_uri.startswith(("http://", "https://")):
            base = self.tracking_uri.rstrip("/")
            return f"{base}/#/experiments/{self.experiment_id}/runs/{self.run_id}"
        return f"mlflow ui --backend-store-uri {self.tracking_uri}"

    @contextmanager
    def timed(self, step: str) -> Iterator[None]:
        """Time a step of the command."""
        started = time.perf_counter()
        try:
            yield
        finally:
            self.timings[step] = round(time.perf_counter() - started, 3)

    def log_params(self, params: Mapping[str, Any]) -> None:
        """Log (nested) parameters; nested keys are joined with dots."""
        flat: dict[str, Any] = {}
        _flatten("", params, flat)
        mlflow.log_params({k: "" if v is None else str(v)[:6000] for k, v in flat.items()})

    def log_data(
        self,
        tx: ValidatedTransactions,
        role: str = "data",
        context: str = "training",
        info: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Log the data fingerprint (parameters, ``<role>_fingerprint.json``, a dataset input).

        ``context`` (``training`` or ``evaluation``) labels the dataset in the MLflow UI.
        ``info`` is ``tx``'s :func:`~churnml.data.fingerprint.fingerprint` when the caller has
        it already.

        Returns
        -------
        dict
            The fingerprint.
        """
        info = fingerprint(tx) if info is None else info
        scalars = {k: v for k, v in info.items() if not isinstance(v, dict)}
        self.log_params({role: scalars})
        mlflow.log_metrics(
            {f"{role}.excluded.{k}": float(v) for k, v in info.get("excluded", {}).items()}
        )
        mlflow.log_dict(info, f"{role}_fingerprint.json")
        self._log_dataset(info, context)
        return info

    @staticmethod
    def _log_dataset(info: Mapping[str, Any], context: str) -> None:
        """Show the data in the UI's Dataset column: name, source and digest, never rows."""
        source = str(info.get("source") or "<DataFrame>")
        name = " + ".join(Path(part).name for part in source.split(" + "))
        dataset = mlflow.data.meta_dataset.MetaDataset(
            source=mlflow.data.sources.LocalArtifactDatasetSource(source),
            name=name,
            digest=info["sha256"][:16],
        )
        mlflow.log_input(dataset, context=context)

    def log_evaluation(self, evaluation: Evaluation, headline: str | None = None) -> None:
        """Log every model's backtest metrics, ``metrics.json`` and the plots.

        Parameters
        ----------
        evaluation : Evaluation
            A backtest.
        headline : str, optional
            Model whose metrics are also logged without a prefix (the champion), so that runs
            compare side by side in the MLflow UI.
        """
        metrics: dict[str, float] = {}
        for name, values in evaluation.metrics.items():
            for key, number in values.items():
                if isinstance(number, int | float) and math.isfinite(number):
                    metrics[f"{name}.{key}"] = float(number)
                    if name == headline:
                        metrics[key] = float(number)
        labels = evaluation.labels
        metrics["backtest.customers"] = float(len(labels))
        metrics["backtest.buyers"] = float(labels["bought"].sum())
        metrics["backtest.revenue"] = float(labels["revenue"].sum())
        mlflow.log_metrics(metrics)
        mlflow.log_dict(evaluation.to_dict(), "metrics.json")
        with tempfile.TemporaryDirectory() as folder:
            save_plots(evaluation, folder)
            mlflow.log_artifacts(folder, "plots")

    def log_backtests(
        self,
        evaluations: Sequence[Evaluation],
        summary: pd.DataFrame | None,
        extra: Mapping[str, Any] | None = None,
    ) -> None:
        """Log every rolling backtest window's headline metrics and their summary.

        Metrics ``window_<j>.<model>.<metric>`` (``j = 1`` is the newest window) for the
        summarised metrics, and ``summary.<model>.<column>`` for every number of the summary
        table (means, standard deviations, level misses); artifacts ``backtests.json`` (each
        window's ``metrics.json`` payload) and ``backtest_summary.json``.

        Parameters
        ----------
        evaluations : sequence of Evaluation
            The windows, newest first.
        summary : pandas.DataFrame or None
            The champion rule's table (one row per model).
        extra : mapping, optional
            More JSON written into ``backtest_summary.json`` (the level, the totals).
        """
        metrics: dict[str, float] = {}
        for j, evaluation in enumerate(evaluations, start=1):
            for name, values in evaluation.metrics.items():
                for key in SUMMARY_METRICS:
                    number = values.get(key)
                    if isinstance(number, int | float) and math.isfinite(number):
                        metrics[f"window_{j}.{name}.{key}"] = float(number)
        rows: dict[str, Any] = {}
        if summary is not None:
            rows = summary.astype(object).where(summary.notna(), None).to_dict(orient="index")
            for name, row in rows.items():
                for column, number in row.items():
                    if isinstance(number, bool):
                        number = float(number)
                    if isinstance(number, int | float) and math.isfinite(number):
                        metrics[f"summary.{name}.{column}"] = float(number)
        metrics["backtest.windows"] = float(len(evaluations))
        mlflow.log_metrics(metrics)
        mlflow.log_dict(
            json.loads(json.dumps([ev.to_dict() for ev in evaluations], default=str)),
            "backtests.json",
        )
        payload = {"windows": [str(ev.cutoff.date()) for ev in evaluations], "summary": rows}
        self.log_dict({**payload, **(extra or {})}, "backtest_summary.json")

    def log_curves(self, curves: EvaluationCurves) -> None:
        """Log an evaluation's curves as ``curves.json`` (what ``churnml report`` draws)."""
        mlflow.log_dict(curves.to_dict(), CURVES_ARTIFACT)
        mlflow.set_tag(_CURVES_TAG, CURVES_ARTIFACT)

    def set_tags(self, tags: Mapping[str, str]) -> None:
        """Set run tags."""
        mlflow.set_tags(dict(tags))

    def log_dict(self, payload: dict[str, Any], name: str) -> None:
        """Log a JSON artifact."""
        mlflow.log_dict(json.loads(json.dumps(payload, default=str)), name)


class StoreInBackground:
    """Open MLflow's store and create a command's run in a thread, while the command computes.

    Importing mlflow and its SQLAlchemy store (alembic, and the migrations of a new SQLite
    file) took 3-5 s of a CDNOW ``train`` whose modelling took about 20. The run is created
    when the command starts (its start time and status ``RUNNING`` are true), and
    :func:`tracked_run` resumes it once there is something to log. :meth:`checked` wraps the
    command's progress callback so that a store that cannot be opened (a wrong tracking URI,
    a deleted experiment) stops the command at its next step, not at its end.

    Parameters
    ----------
    command : str
        ``train`` or ``evaluate`` (tag ``churnml.command``).
    experiment : str
        Experiment name (created if missing).
    run_name : str, optional
        Run name shown in the UI.
    """

    def __init__(
        self, command: str, experiment: str = EXPERIMENT, run_name: str | None = None
    ) -> None:
        self.started = time.perf_counter()
        self._opened: tuple[str, str, str] | None = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(
            target=self._open,
            args=(command, experiment, run_name),
            name="churnml-mlflow-store",
            daemon=True,
        )
        self._thread.start()

    def _open(self, command: str, experiment: str, run_name: str | None) -> None:
        try:
            uri = configure()
            experiment_id = _experiment_id(experiment)
            # the tags mlflow.start_run gives a run it creates (user, source, git commit)
            tags = mlflow.tracking.context.registry.resolve_tags(
                {"churnml.command": command, **environment_tags()}
            )
            run = mlflow.MlflowClient().create_run(experiment_id, run_name=run_name, tags=tags)
            self._opened = (uri, experiment_id, run.info.run_id)
        except BaseException as exc:  # handed to the command's thread by check()
            self._error = exc

    def check(self) -> None:
        """Raise the error that kept the store from opening, if there was one."""
        if self._error is not None:
            raise self._error

    def wait(self) -> tuple[str, str, str]:
        """Wait for the store; return the tracking URI, experiment id and run id."""
        self._thread.join()
        self.check()
        assert self._opened is not None
        return self._opened

    def checked(self, on_step: Callable[[str], None] | None) -> Callable[[str], None]:
        """Return ``on_step`` that first raises the store's error, if there was one."""

        def step(message: str) -> None:
            self.check()
            if on_step is not None:
                on_step(message)

        return step


@contextmanager
def tracked_run(
    command: str,
    *,
    experiment: str = EXPERIMENT,
    run_name: str | None = None,
    tags: Mapping[str, str] | None = None,
    store: StoreInBackground | None = None,
) -> Iterator[TrackedRun]:
    """Open an MLflow run for a churnml command; timings are logged when it closes.

    Parameters
    ----------
    command : str
        ``train`` or ``evaluate`` (tag ``churnml.command``).
    experiment : str
        Experiment name (created if missing).
    run_name : str, optional
        Run name shown in the UI.
    tags : mapping, optional
        Extra tags.
    store : StoreInBackground, optional
        A store opened in the background, whose run (made for ``command``) this resumes;
        ``experiment`` and ``run_name`` are then the store's.

    Yields
    ------
    TrackedRun
        The open run. A failure inside marks the run FAILED and propagates.
    """
    if store is not None:
        uri, experiment_id, run_id = store.wait()
        started = store.started
        opened = mlflow.start_run(run_id=run_id)
    else:
        uri = configure()
        experiment_id = _experiment_id(experiment)
        started = time.perf_counter()
        opened = mlflow.start_run(experiment_id=experiment_id, run_name=run_name)
    with opened as run:
        if store is None:
            mlflow.set_tags({"churnml.command": command, **environment_tags()})
        if tags:
            mlflow.set_tags(dict(tags))
        tracked = TrackedRun(run.info.run_id, experiment_id, uri)
        yield tracked
        tracked.timings["total"] = round(time.perf_counter() - started, 3)
        mlflow.log_metrics({f"time.{k}_s": v for k, v in tracked.timings.items()})


def get_run(run_id: str) -> Any:
    """Fetch a logged run (its ``data.metrics``, ``data.params`` and ``data.tags``)."""
    configure()
    return mlflow.get_run(run_id)


def latest_evaluation_curves(experiment: str = EXPERIMENT) -> tuple[EvaluationCurves, str] | None:
    """Fetch the curves of the latest finished run of an experiment that logged them.

    Parameters
    ----------
    experiment : str
        MLflow experiment name.

    Returns
    -------
    tuple of (EvaluationCurves, str) or None
        The curves and the id of the run they come from; None when the experiment does not
        exist or none of its finished runs has a ``curves.json``.
    """
    configure()
    found = mlflow.get_experiment_by_name(experiment)
    if found is None or found.lifecycle_stage == "deleted":
        return None
    runs = mlflow.search_runs(
        experiment_ids=[found.experiment_id],
        filter_string=(
            f"tags.`{_CURVES_TAG}` = '{CURVES_ARTIFACT}' and attributes.status = 'FINISHED'"
        ),
        order_by=["attributes.start_time DESC"],
        max_results=20,
        output_format="list",
    )
    for run in runs:
        try:
            payload = mlflow.artifacts.load_dict(f"runs:/{run.info.run_id}/{CURVES_ARTIFACT}")
        except mlflow.exceptions.MlflowException:
            continue  # artifacts deleted or unreachable: an older run may still have them
        return EvaluationCurves.from_dict(payload), run.info.run_id
    return None
