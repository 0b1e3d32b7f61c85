"""Training snapshots: as-of dates inside the training data whose label windows end by as-of."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

__all__ = ["SnapshotPlan", "plan_snapshots"]


@dataclass(frozen=True)
class SnapshotPlan:
    """Where to cut the history for training examples.

    Attributes
    ----------
    dates : list of pandas.Timestamp
        Snapshot as-of dates, newest first. The newest one's label window ends at the training
        as-of, so it is the most recent full window (used for calibration).
    label_days : int
        Length of every snapshot's label window; shorter than the requested horizon when the
        history is too short for it.
    scale : float
        ``horizon / label_days``: how much longer the requested horizon is than the labels.
    note : str or None
        What was shortened, in words, or None.
    """

    dates: list[pd.Timestamp]
    label_days: int
    scale: float
    note: str | None = None


def plan_snapshots(
    first_date: pd.Timestamp,
    as_of: pd.Timestamp,
    horizon_days: int,
    *,
    step_days: int = 30,
    max_snapshots: int = 6,
    min_history_days: int = 60,
    min_label_days: int = 30,
) -> SnapshotPlan | None:
    """Choose snapshot dates ``as_of - label_days - k * step_days`` that see enough history.

    Parameters
    ----------
    first_date : pandas.Timestamp
        First day of the data.
    as_of : pandas.Timestamp
        Training as-of; no label window may pass it.
    horizon_days : int
        Requested prediction horizon.
    step_days : int
        Days between snapshots.
    max_snapshots : int
        At most this many snapshots.
    min_history_days : int
        A snapshot needs this much history before it.
    min_label_days : int
        Shortest acceptable label window when the horizon has to be shortened.

    Returns
    -------
    SnapshotPlan or None
        None when not even one snapshot with a ``min_label_days`` window fits.
    """
    first = pd.Timestamp(first_date).normalize()
    span = int((as_of - first).days)
    label_days = int(horizon_days)
    note = None
    if span - label_days < min_history_days:
        label_days = span - min_history_days
        if label_days < min_label_days:
            return None
        note = (
            f"the history ({span} days) is too short for {horizon_days}-day labels after "
            f"{min_history_days} days of features: trained on {label_days}-day windows and "
            f"rescaled to {horizon_days} days"
        )
    dates = []
    for k in range(max_snapshots):
        snap = as_of - pd.Timedelta(days=label_days + k * step_days)
        if (snap - first).days < min_history_days:
            break
        dates.append(snap)
    return SnapshotPlan(
        dates=dates, label_days=label_days, scale=horizon_days / label_days, note=note
    )
