"""Model bundles: a fitted scorer as a folder of JSON and LightGBM text files, never pickles.

A bundle is what churnml registers in MLflow (as the artifacts of a models-from-code pyfunc)
and what ``churnml score --model <folder>`` reads directly. ``bundle.json`` holds the family,
settings and provenance; ``btyd.json`` or ``gbm/`` the fitted parameters.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from churnml.exceptions import ConfigError
from churnml.models.gbm import GBMScorer
from churnml.models.pipeline import BTYDScorer, RateBaselineScorer
from churnml.models.value import ValueSettings

__all__ = ["BUNDLE_FILE", "is_bundle", "load_bundle", "save_bundle"]

BUNDLE_FILE = "bundle.json"


def is_bundle(path: str | Path) -> bool:
    """Whether ``path`` is a bundle folder."""
    return (Path(path) / BUNDLE_FILE).is_file()


def save_bundle(scorer: Any, meta: dict[str, Any], folder: str | Path) -> Path:
    """Write a fitted scorer and its metadata into ``folder`` (created).

    Parameters
    ----------
    scorer : BTYDScorer, GBMScorer or RateBaselineScorer
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
    folder.mkdir(parents=True, exist_ok=True)
    if isinstance(scorer, GBMScorer):
        scorer.save(folder / "gbm")
    elif isinstance(scorer, BTYDScorer):
        (folder / "btyd.json").write_text(scorer.to_json())
    # the baseline has nothing to save beyond its value settings in bundle.json
    (folder / BUNDLE_FILE).write_text(json.dumps(meta, indent=2, default=str) + "\n")
    return folder


def load_bundle(folder: str | Path) -> tuple[Any, dict[str, Any]]:
    """Load a bundle folder: the fitted scorer and its metadata.

    Raises
    ------
    ConfigError
        ``folder`` is not a bundle.
    """
    folder = Path(folder)
    if not is_bundle(folder):
        raise ConfigError(f"{folder} is not a churnml model bundle (no {BUNDLE_FILE} in it)")
    meta = json.loads((folder / BUNDLE_FILE).read_text())
    family = meta["family"]
    if family in ("gbm", "hybrid"):
        scorer: Any = GBMScorer.load(folder / "gbm")
    elif family == "baseline":
        value = meta.get("value")
        scorer = RateBaselineScorer(value=ValueSettings(**value) if value else ValueSettings())
    else:
        scorer = BTYDScorer.from_json((folder / "btyd.json").read_text())
    return scorer, meta
