"""Model bundles: a fitted scorer as a folder of JSON and LightGBM text files, never pickles.

A bundle is what churnml registers in MLflow (as the artifacts of a models-from-code pyfunc)
and what ``churnml score --model <folder>`` reads directly. ``bundle.json`` holds the family,
the run settings and provenance; ``scorer.json`` (plus ``*.lgb.txt`` for LightGBM) the fitted
scorer, written by :meth:`~churnml.models.base.BaseScorer.save`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from churnml.exceptions import ConfigError
from churnml.models.base import BaseScorer

__all__ = ["BUNDLE_FILE", "is_bundle", "load_bundle", "save_bundle"]

BUNDLE_FILE = "bundle.json"


def is_bundle(path: str | Path) -> bool:
    """Whether ``path`` is a bundle folder.

    Parameters
    ----------
    path : str or pathlib.Path
        A folder.

    Returns
    -------
    bool
        True if it holds ``bundle.json``.
    """
    return (Path(path) / BUNDLE_FILE).is_file()


def save_bundle(scorer: BaseScorer, meta: dict[str, Any], folder: str | Path) -> Path:
    """Write a fitted scorer and its metadata into ``folder`` (created).

    Parameters
    ----------
    scorer : BaseScorer
        A fitted scorer.
    meta : dict
        JSON-serialisable metadata; must include ``family``.
    folder : str or pathlib.Path
        Destination folder.

    Returns
    -------
    pathlib.Path
        The folder.
    """
    folder = Path(folder)
    scorer.save(folder)
    (folder / BUNDLE_FILE).write_text(json.dumps(meta, indent=2, default=str) + "\n")
    return folder


def load_bundle(folder: str | Path) -> tuple[BaseScorer, dict[str, Any]]:
    """Load a bundle folder: the fitted scorer and its metadata.

    Parameters
    ----------
    folder : str or pathlib.Path
        A folder written by :func:`save_bundle`.

    Returns
    -------
    scorer : BaseScorer
        The fitted scorer.
    meta : dict
        The metadata saved with it.

    Raises
    ------
    ConfigError
        ``folder`` is not a bundle.
    """
    folder = Path(folder)
    if not is_bundle(folder):
        raise ConfigError(f"{folder} is not a churnml model bundle (no {BUNDLE_FILE} in it)")
    meta = json.loads((folder / BUNDLE_FILE).read_text())
    return BaseScorer.load(folder), meta
