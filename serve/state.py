"""What the service serves: the champion model and the current score snapshot, swapped whole.

A request reads ``Serving.model`` or ``Serving.snapshot`` once and keeps that object, so a reload
that assigns new ones (a single reference assignment) never changes anything under a request in
flight, and no request waits for a lock. A reload that fails leaves the old objects in place and
records why, which ``/readyz`` reports.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field
from typing import Any

import orjson
import pandas as pd

from churnml import LoadedModel, ScoreStore, Snapshot, load_model, model_version_of

__all__ = ["ModelState", "Serving", "SnapshotState", "serialise_rows"]

log = logging.getLogger("serve")


@dataclass(frozen=True)
class ModelState:
    """A loaded model and when it was loaded."""

    model: LoadedModel
    loaded_at: float

    @property
    def version(self) -> str | None:
        """Registry version, when the model came from the registry."""
        return self.model.version

    @property
    def label(self) -> str:
        """What score rows record as ``model_version``."""
        return self.model.label


@dataclass(frozen=True)
class SnapshotState:
    """A score snapshot held in memory, each row already serialised to JSON bytes."""

    snapshot: Snapshot
    frame: pd.DataFrame
    rows: dict[str, bytes]
    loaded_at: float
    created_ts: float = field(default=0.0)


def _jsonable(value: Any) -> Any:
    # NaN and NaT are "no value" in a score table, null in JSON
    if value is None or (isinstance(value, float) and value != value):
        return None
    if value is pd.NaT:
        return None
    if isinstance(value, pd.Timestamp):
        return value.date().isoformat()
    return value


def serialise_rows(frame: pd.DataFrame) -> dict[str, bytes]:
    """Serialise each score row once, keyed by customer id.

    Parameters
    ----------
    frame : pandas.DataFrame
        Score rows with a ``customer_id`` column.

    Returns
    -------
    dict of str to bytes
        The JSON of each row.
    """
    records = frame.to_dict("records")
    # orjson's bytes keep the capacity of its write buffer (4 to 8 KiB for a 500-byte row);
    # a copy of the exact length makes the snapshot held in memory 15 times smaller
    return {
        str(r["customer_id"]): bytes(
            memoryview(
                orjson.dumps(
                    {k: _jsonable(v) for k, v in r.items()}, option=orjson.OPT_SERIALIZE_NUMPY
                )
            )
        )
        for r in records
    }


class Serving:
    """The objects being served, and the reload that replaces them.

    Parameters
    ----------
    store_url : str or None
        Score store URL (None: churnml's default).
    model : str
        Alias or version to serve.
    model_name : str
        Registered model name.
    """

    def __init__(self, store_url: str | None, model: str, model_name: str) -> None:
        self.store_url = store_url
        self.model_ref = model
        self.model_name = model_name
        self.model: ModelState | None = None
        self.snapshot: SnapshotState | None = None
        self.model_error: str | None = None
        self.snapshot_error: str | None = None
        self.last_check: float | None = None
        self._store: ScoreStore | None = None
        self._lock = asyncio.Lock()

    @property
    def store(self) -> ScoreStore:
        """The score store, connected on first use."""
        if self._store is None:
            self._store = ScoreStore(self.store_url)
        return self._store

    @property
    def ready(self) -> bool:
        """Whether a model and a snapshot are loaded."""
        return self.model is not None and self.snapshot is not None

    def close(self) -> None:
        """Release the store's connections."""
        if self._store is not None:
            self._store.dispose()

    # The blocking halves run in a worker thread (asyncio.to_thread), so the event loop keeps
    # answering requests with the old objects while the new ones load.
    def _check_model(self, force: bool) -> str:
        try:
            wanted = model_version_of(self.model_ref, self.model_name)
        except Exception as exc:
            log.exception("model check failed")
            self.model_error = f"the model registry could not be read ({type(exc).__name__})"
            return "error"
        if wanted is None and not self.model_ref.isdigit():
            self.model_error = (
                f"registered model {self.model_name!r} has no {self.model_ref!r} version"
            )
            return "error"
        current = self.model.version if self.model else None
        if not force and self.model is not None and str(wanted) == str(current):
            self.model_error = None
            return "unchanged"
        try:
            loaded = load_model(self.model_ref, self.model_name)
        except Exception as exc:
            log.exception("model load failed")
            self.model_error = (
                f"{self.model_name} {self.model_ref} (version {wanted}) failed to load "
                f"({type(exc).__name__}); still serving "
                + (self.model.label if self.model else "no model")
            )
            return "error"
        self.model = ModelState(loaded, time.time())
        self.model_error = None
        return "loaded"

    def _check_snapshot(self, force: bool) -> str:
        try:
            wanted = self.store.current_id()
        except Exception as exc:
            log.exception("snapshot check failed")
            self.snapshot_error = f"the score store could not be read ({type(exc).__name__})"
            return "error"
        if wanted is None:
            self.snapshot_error = (
                "the score store has no current snapshot (publish one with churnml score --publish)"
            )
            return "error"
        current = self.snapshot.snapshot.id if self.snapshot else None
        if not force and wanted == current:
            self.snapshot_error = None
            return "unchanged"
        try:
            snapshot = next(s for s in self.store.snapshots() if s.id == wanted)
            frame = self.store.rows(wanted)
            rows = serialise_rows(frame)
        except Exception as exc:
            log.exception("snapshot load failed")
            self.snapshot_error = (
                f"snapshot {wanted} failed to load ({type(exc).__name__}); still serving "
                + (f"snapshot {current}" if current is not None else "no snapshot")
            )
            return "error"
        self.snapshot = SnapshotState(
            snapshot, frame, rows, time.time(), snapshot.created_at.timestamp()
        )
        self.snapshot_error = None
        return "loaded"

    def _refresh(self, force: bool) -> dict[str, str]:
        outcome = {"model": self._check_model(force), "snapshot": self._check_snapshot(force)}
        self.last_check = time.time()
        return outcome

    async def refresh(self, force: bool = False) -> dict[str, str]:
        """Load a new champion or snapshot if either changed (or always, with ``force``).

        Parameters
        ----------
        force : bool
            Reload even if nothing changed.

        Returns
        -------
        dict
            ``{"model": ..., "snapshot": ...}``, each ``loaded``, ``unchanged`` or ``error``.
        """
        async with self._lock:
            outcome = await asyncio.to_thread(self._refresh, force)
        for part, result in outcome.items():
            if result == "loaded":
                log.info("%s loaded", part)
        return outcome

    async def poll(self, interval: float) -> None:
        """Refresh every ``interval`` seconds until cancelled.

        Parameters
        ----------
        interval : float
            Seconds between checks.
        """
        while True:
            await asyncio.sleep(interval)
            try:
                await self.refresh()
            except Exception:  # the poller must outlive any one failure
                log.exception("reload failed")
