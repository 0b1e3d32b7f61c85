"""The model catalogue: every model key, the scorer class behind it and its defaults.

The one list of model families. Evaluation, training, persistence, the CLI's help text and
the error for an unknown key all read it; adding a family is one entry here.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from churnml.exceptions import ConfigError
from churnml.models.base import BaseScorer
from churnml.models.blend import BlendScorer
from churnml.models.gbm import GBMScorer
from churnml.models.pipeline import BTYDScorer, RateBaselineScorer
from churnml.settings import ValueSettings

__all__ = [
    "CATALOGUE",
    "FAMILIES",
    "MODEL_KEYS",
    "ModelFamily",
    "check_keys",
    "describe_keys",
    "make_scorer",
]


@dataclass(frozen=True)
class ModelFamily:
    """One entry of the catalogue.

    Parameters
    ----------
    key : str
        Model key used on the command line, in metrics and in registered versions.
    scorer : type
        The :class:`~churnml.models.base.BaseScorer` subclass.
    params : mapping
        Constructor parameters that make this family out of the class.
    label : str
        What it is, in words.
    competes : bool
        Whether it can become champion (the baseline is reported, never promoted).
    """

    key: str
    scorer: type[BaseScorer]
    params: Mapping[str, Any] = field(default_factory=dict)
    label: str = ""
    competes: bool = True

    def make(
        self, value: ValueSettings | None = None, freq: str = "D", seed: int = 0
    ) -> BaseScorer:
        """Return an unfitted scorer of this family.

        Parameters
        ----------
        value : ValueSettings, optional
            CLV settings.
        freq : {"D", "W"}
            Purchase period, for the scorers that take one (BTYD).
        seed : int
            Random seed, for the scorers that use one (LightGBM).

        Returns
        -------
        BaseScorer
            The unfitted scorer.
        """
        names = self.scorer._param_names()
        run = {"value": value, "freq": freq, "seed": seed}
        return self.scorer(**self.params, **{k: v for k, v in run.items() if k in names})


CATALOGUE: dict[str, ModelFamily] = {
    family.key: family
    for family in (
        ModelFamily("bgnbd", BTYDScorer, {"kind": "bgnbd"}, "BG/NBD + Gamma-Gamma spend"),
        ModelFamily("pareto", BTYDScorer, {"kind": "pareto"}, "Pareto/NBD + Gamma-Gamma spend"),
        ModelFamily("mbgnbd", BTYDScorer, {"kind": "mbgnbd"}, "MBG/NBD + Gamma-Gamma spend"),
        ModelFamily("gbm", GBMScorer, {"hybrid": False}, "LightGBM on point-in-time features"),
        ModelFamily(
            "hybrid", GBMScorer, {"hybrid": True}, "LightGBM boosted from BG/NBD's prediction"
        ),
        ModelFamily("blend", BlendScorer, {}, "the mean of gbm and hybrid (logits, revenue)"),
        ModelFamily(
            "baseline",
            RateBaselineScorer,
            {},
            "naive: each customer's past rate continues (reported, never champion)",
            competes=False,
        ),
    )
}
"""Every model key and its :class:`ModelFamily`, in the order tables show them."""

MODEL_KEYS: tuple[str, ...] = tuple(CATALOGUE)
"""Every model key (what ``evaluate`` compares by default)."""

FAMILIES: tuple[str, ...] = tuple(k for k, f in CATALOGUE.items() if f.competes)
"""Keys that compete for champion (what ``train`` compares by default)."""


def describe_keys(keys: Iterable[str] = MODEL_KEYS) -> str:
    """Return ``key (label), ...`` for help texts and error messages.

    Parameters
    ----------
    keys : iterable of str
        Model keys to list.

    Returns
    -------
    str
        One comma-separated line.
    """
    return "; ".join(f"{k} ({CATALOGUE[k].label})" for k in keys)


def check_keys(keys: Iterable[str], allowed: Iterable[str] = MODEL_KEYS) -> tuple[str, ...]:
    """Check model keys against the catalogue.

    Parameters
    ----------
    keys : iterable of str
        Keys to check (duplicates are dropped, order kept).
    allowed : iterable of str
        Keys accepted here (e.g. :data:`FAMILIES` for training).

    Returns
    -------
    tuple of str
        The keys.

    Raises
    ------
    ConfigError
        A key is unknown or not allowed here, or no key is given; the message lists the choices.
    """
    allowed = tuple(allowed)
    if isinstance(keys, str):
        keys = [keys]
    keys = tuple(dict.fromkeys(k.strip() for k in keys if k.strip()))
    bad = [k for k in keys if k not in allowed]
    if bad or not keys:
        what = f"unknown model {', '.join(map(repr, bad))}" if bad else "no model given"
        raise ConfigError(f"{what}; choose from: {describe_keys(allowed)}")
    return keys


def make_scorer(
    key: str, value: ValueSettings | None = None, freq: str = "D", seed: int = 0
) -> BaseScorer:
    """Return an unfitted scorer by model key.

    Parameters
    ----------
    key : str
        A key of :data:`CATALOGUE`.
    value : ValueSettings, optional
        CLV settings.
    freq : {"D", "W"}
        Purchase period of the BTYD models.
    seed : int
        Random seed of the models that use one (LightGBM); the BTYD fits are deterministic.

    Returns
    -------
    BaseScorer
        The unfitted scorer.

    Examples
    --------
    >>> from churnml import make_scorer
    >>> make_scorer("hybrid", seed=7)
    GBMScorer(hybrid=True, seed=7) [not fitted]
    """
    (key,) = check_keys([key])
    return CATALOGUE[key].make(value, freq, seed)
