"""Train: backtest every model family inside the training data, pick the champion, save it.

Model bundles are folders of JSON and LightGBM text files (never pickles) under a models
directory with a ``registry.json`` listing versions and the champion. (MLflow tracking and its
registry replace this local store in the tracking issue; the bundle format stays.)
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from churnml import __version__
from churnml.config import models_dir, parse_day
from churnml.data.validation import ValidatedTransactions
from churnml.evaluation.backtest import Evaluation, evaluate, make_scorer
from churnml.exceptions import ChurnmlError, ConfigError
from churnml.features.rfm import lines_of
from churnml.models.gbm import GBMScorer
from churnml.models.pipeline import BTYDScorer, RateBaselineScorer
from churnml.models.value import ValueSettings

__all__ = [
    "CHAMPION_RULE",
    "FAMILIES",
    "TrainResult",
    "load_bundle",
    "resolve_bundle",
    "select_champion",
    "train",
]

#: Families that compete for champion (the baseline is reported, never promoted).
FAMILIES = ("bgnbd", "pareto", "mbgnbd", "gbm", "hybrid")
#: Aggregate tolerance of the champion rule.
AGGREGATE_TOLERANCE = 0.20
CHAMPION_RULE = (
    "highest AUC + normalized revenue Gini on the backtest, among models whose predicted "
    f"buyers and revenue are within +-{AGGREGATE_TOLERANCE:.0%} of actual; if none is, the "
    "highest AUC + Gini overall (with a warning)"
)


def select_champion(evaluation: Evaluation, families: Sequence[str] = FAMILIES) -> tuple[str, str]:
    """Apply :data:`CHAMPION_RULE` to a backtest.

    Parameters
    ----------
    evaluation : Evaluation
        Backtest results.
    families : sequence of str
        Candidates.

    Returns
    -------
    name : str
        The winning model key.
    reason : str
        Why, in words.
    """
    scored = {}
    for name in families:
        m = evaluation.metrics.get(name, {})
        if "error" in m or not m:
            continue
        score = m["auc"] + m["revenue_gini"]
        if not math.isfinite(score):
            continue
        within = all(
            math.isfinite(m[k]) and abs(m[k] - 1) <= AGGREGATE_TOLERANCE
            for k in ("buyers_ratio", "revenue_ratio")
        )
        scored[name] = (within, score)
    if not scored:
        return "bgnbd", "no family could be backtested; BG/NBD + Gamma-Gamma by default"
    eligible = {k: v for k, v in scored.items() if v[0]} or scored
    best = max(eligible, key=lambda k: eligible[k][1])
    note = "" if scored[best][0] else " (no model was within the aggregate tolerance)"
    return best, f"AUC + Gini = {scored[best][1]:.4f} on the backtest{note}"


@dataclass
class TrainResult:
    """What ``train`` did.

    Attributes
    ----------
    version : str
        Registered version (``v1``, ``v2``, ...).
    path : pathlib.Path
        Bundle folder.
    champion : str
        Winning family.
    reason : str
        Why it won.
    backtest : Evaluation or None
        Backtest on the last horizon of the training data (None if the history is too short).
    notes : list of str
        Fallbacks and limits met on the way.
    """

    version: str
    path: Path
    champion: str
    reason: str
    backtest: Evaluation | None
    notes: list[str] = field(default_factory=list)


def _registry(folder: Path) -> dict[str, Any]:
    path = folder / "registry.json"
    if path.exists():
        return json.loads(path.read_text())
    return {"versions": [], "champion": None}


def train(
    tx: ValidatedTransactions,
    *,
    as_of: Any = None,
    horizon_days: int = 90,
    families: Sequence[str] = FAMILIES,
    value: ValueSettings | None = None,
    out_dir: str | Path | None = None,
    on_step: Callable[[str], None] | None = None,
) -> TrainResult:
    """Backtest, select the champion by :data:`CHAMPION_RULE`, refit it on all data, save it.

    Parameters
    ----------
    tx : ValidatedTransactions
        Validated transactions; rows after ``as_of`` are ignored.
    as_of : str or pandas.Timestamp, optional
        Training as-of (default: the last date in the data).
    horizon_days : int
        Prediction horizon the models are trained and backtested for.
    families : sequence of str
        Candidate families.
    value : ValueSettings, optional
        CLV settings, stored with the bundle.
    out_dir : str or pathlib.Path, optional
        Models directory (default :func:`churnml.config.models_dir`).
    on_step : callable, optional
        Progress messages.

    Returns
    -------
    TrainResult
        Version, bundle path, champion and backtest.
    """
    lines = lines_of(tx)
    as_of = parse_day(as_of if as_of is not None else lines["date"].max())
    lines = lines[lines["date"] < as_of + pd.Timedelta(days=1)]
    train_tx = (
        ValidatedTransactions(lines=lines, report=tx.report, policy=tx.policy)
        if isinstance(tx, ValidatedTransactions)
        else lines
    )
    notes: list[str] = []
    cutoff = as_of - pd.Timedelta(days=int(horizon_days))
    backtest = None
    try:
        backtest = evaluate(
            train_tx,
            cutoff,
            horizon_days,
            models=(*families, "baseline"),
            value=value,
            on_step=on_step,
        )
        champion, reason = select_champion(backtest, families)
    except ChurnmlError as exc:
        champion, reason = "bgnbd", "no backtest possible; BG/NBD + Gamma-Gamma by default"
        notes.append(f"backtest at {cutoff.date()} impossible: {exc}")
    if on_step is not None:
        on_step(f"Refitting the champion ({champion}) on all data up to {as_of.date()}")
    scorer = make_scorer(champion, value)
    scorer.fit(train_tx, as_of, horizon_days=horizon_days)
    notes.extend(getattr(scorer, "diagnostics_", {}).get("notes", []))

    folder = Path(out_dir) if out_dir is not None else models_dir()
    folder.mkdir(parents=True, exist_ok=True)
    registry = _registry(folder)
    version = f"v{len(registry['versions']) + 1}"
    path = folder / version
    path.mkdir()
    _save_scorer(scorer, path)
    meta = {
        "version": version,
        "family": champion,
        "reason": reason,
        "rule": CHAMPION_RULE,
        "as_of": str(as_of.date()),
        "horizon_days": int(horizon_days),
        "trained_at": pd.Timestamp.now(tz="UTC").isoformat(),
        "churnml_version": __version__,
        "value": None if value is None else vars(value),
        "data": {k: v for k, v in tx.report.to_dict().items() if k != "examples"}
        if isinstance(tx, ValidatedTransactions)
        else None,
        "backtest": None if backtest is None else backtest.to_dict(),
        "notes": notes,
    }
    (path / "bundle.json").write_text(json.dumps(meta, indent=2, default=str))
    registry["versions"].append(
        {
            "version": version,
            "family": champion,
            "as_of": meta["as_of"],
            "trained_at": meta["trained_at"],
        }
    )
    registry["champion"] = version
    (folder / "registry.json").write_text(json.dumps(registry, indent=2))
    return TrainResult(version, path, champion, reason, backtest, notes)


def _save_scorer(scorer: Any, path: Path) -> None:
    if isinstance(scorer, GBMScorer):
        scorer.save(path / "gbm")
    elif isinstance(scorer, BTYDScorer):
        (path / "btyd.json").write_text(scorer.to_json())
    # the baseline has nothing to save beyond bundle.json


def resolve_bundle(model: str = "champion", out_dir: str | Path | None = None) -> Path:
    """Find a bundle folder from ``champion``, a version (``v3``) or a path.

    Raises
    ------
    ConfigError
        Nothing matches; the message lists what exists.
    """
    candidate = Path(model)
    if (candidate / "bundle.json").exists():
        return candidate
    folder = Path(out_dir) if out_dir is not None else models_dir()
    registry = _registry(folder)
    known = [v["version"] for v in registry["versions"]]
    version = registry["champion"] if model == "champion" else model
    if version is None or version not in known:
        raise ConfigError(
            f"no model {model!r} in {folder} (versions: {', '.join(known) or 'none'}; "
            "run churnml train first, or pass a bundle folder)"
        )
    return folder / version


def load_bundle(path: str | Path) -> tuple[Any, dict[str, Any]]:
    """Load a bundle folder: the fitted scorer and its metadata (JSON / LightGBM text only)."""
    path = Path(path)
    meta = json.loads((path / "bundle.json").read_text())
    family = meta["family"]
    if family in ("gbm", "hybrid"):
        scorer: Any = GBMScorer.load(path / "gbm")
    elif family == "baseline":
        value = meta.get("value")
        scorer = RateBaselineScorer(value=ValueSettings(**value) if value else ValueSettings())
    else:
        scorer = BTYDScorer.from_json((path / "btyd.json").read_text())
    return scorer, meta
