"""Publish scores to the score store, list its snapshots, choose the one served."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pandas as pd

from churnml.exceptions import ConfigError
from churnml.store import ScoreStore, Snapshot
from churnml.workflows.scoring import ScoreResult

__all__ = ["SNAPSHOT_COLUMNS", "activate_snapshot", "list_snapshots", "publish_scores"]

#: Columns of :func:`list_snapshots`, in order.
SNAPSHOT_COLUMNS = (
    "id",
    "is_current",
    "created_at",
    "model_version",
    "model_name",
    "family",
    "as_of",
    "horizon_days",
    "n_rows",
)


@contextmanager
def _opened(store: str | ScoreStore | None) -> Iterator[ScoreStore]:
    """Yield the store given, or one opened from a URL (and closed after)."""
    if isinstance(store, ScoreStore):
        yield store
        return
    if store is not None and not isinstance(store, str):
        raise ConfigError(f"store must be a URL or a ScoreStore; got {type(store).__name__}")
    opened = ScoreStore(store)
    try:
        yield opened
    finally:
        opened.dispose()


def publish_scores(
    result: ScoreResult, *, store: str | ScoreStore | None = None, keep: int | None = None
) -> Snapshot:
    """Write scores to the score store as a new snapshot and make it current.

    The snapshot records the result's model version and name, family, as-of and horizon. It
    becomes current only once every row is written (one transaction); older snapshots
    beyond ``keep`` are deleted, never the one served.

    Parameters
    ----------
    result : ScoreResult
        What :func:`score` returned.
    store : str or ScoreStore, optional
        A SQLAlchemy URL or an open store. Default: ``CHURNML_SCORE_STORE``, else
        ``sqlite:///scores.db`` in the working directory.
    keep : int, optional
        Snapshots to keep (default: ``CHURNML_SNAPSHOT_KEEP``, else 10).

    Returns
    -------
    Snapshot
        The new snapshot, now current.

    Raises
    ------
    ConfigError
        The store cannot be reached or written (the message names it, password masked), or
        ``keep`` is not a whole number of at least 1.
    DataValidationError
        The scores are not a complete score table (a contract column missing, a customer id
        repeated).
    """
    with _opened(store) as opened:
        return opened.publish(
            result.scores,
            model_version=result.model_version,
            as_of=result.as_of,
            horizon_days=result.horizon_days,
            model_name=result.model_name,
            family=result.family,
            keep=keep,
        )


def list_snapshots(store: str | ScoreStore | None = None) -> pd.DataFrame:
    """List the score store's snapshots, newest first.

    Parameters
    ----------
    store : str or ScoreStore, optional
        A SQLAlchemy URL or an open store (default as in :func:`publish_scores`).

    Returns
    -------
    pandas.DataFrame
        One row per snapshot with the columns of :data:`SNAPSHOT_COLUMNS`; ``is_current``
        marks the one the API serves. Empty when nothing has been published.

    Raises
    ------
    ConfigError
        The store cannot be reached or read.
    """
    with _opened(store) as opened:
        found = opened.snapshots()
    rows = [{name: getattr(s, name) for name in SNAPSHOT_COLUMNS} for s in found]
    frame = pd.DataFrame(rows, columns=list(SNAPSHOT_COLUMNS))
    frame["created_at"] = pd.to_datetime(frame["created_at"], utc=True)
    return frame


def activate_snapshot(snapshot_id: int, store: str | ScoreStore | None = None) -> Snapshot:
    """Make a stored snapshot the one served (a rollback, for instance).

    Parameters
    ----------
    snapshot_id : int
        The snapshot's id (see :func:`list_snapshots`).
    store : str or ScoreStore, optional
        A SQLAlchemy URL or an open store (default as in :func:`publish_scores`).

    Returns
    -------
    Snapshot
        The snapshot, now current.

    Raises
    ------
    ConfigError
        There is no such snapshot (the message lists the ids there are), or the store cannot
        be reached.
    """
    with _opened(store) as opened:
        return opened.activate(snapshot_id)
