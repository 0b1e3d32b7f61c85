"""Train: backtest every family inside the training data, pick a winner, register it in MLflow.

``train`` is one MLflow run. It backtests every family on the last horizon of the data, picks the
winner by :data:`CHAMPION_RULE`, refits it on all the data, logs the bundle as a registered model
version with alias ``challenger``, and moves ``champion`` to it only if it beats the current
champion's configuration re-run on the *same* backtest (:data:`PROMOTION_RULE`), or when forced.
"""

from __future__ import annotations

import functools
import json
import math
import shutil
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from churnml import __version__
from churnml.config import EXPERIMENT, REGISTERED_MODEL, parse_day
from churnml.data.fingerprint import fingerprint
from churnml.data.validation import ValidatedTransactions, load_transactions
from churnml.evaluation.backtest import DEFAULT_MODELS, Evaluation, evaluate, make_scorer
from churnml.exceptions import ChurnmlError
from churnml.features.rfm import lines_of
from churnml.models.bundle import save_bundle
from churnml.models.gbm import GBMScorer
from churnml.models.pipeline import BTYDScorer
from churnml.models.value import ValueSettings

__all__ = [
    "CHAMPION_RULE",
    "FAMILIES",
    "PROMOTION_RULE",
    "TrainResult",
    "beats",
    "example_transactions",
    "run_evaluation",
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
PROMOTION_RULE = (
    "a new version becomes champion if there is none yet, or if on this run's backtest it beats "
    "the champion's configuration refitted on the same data: within the aggregate tolerance "
    f"(+-{AGGREGATE_TOLERANCE:.0%} buyers and revenue) when the champion is not, else a strictly "
    "higher AUC + Gini; ties keep the champion. The champion's own configuration refitted on "
    "different data replaces it (a refresh: same family, freq and seed, newer or other data). "
    "--force promotes regardless"
)


def _rank(metrics: dict[str, Any]) -> tuple[bool, float] | None:
    """(within the aggregate tolerance, AUC + Gini), or None if the metrics are unusable."""
    if not metrics or "error" in metrics:
        return None
    score = metrics["auc"] + metrics["revenue_gini"]
    if not math.isfinite(score):
        return None
    within = all(
        math.isfinite(metrics[k]) and abs(metrics[k] - 1) <= AGGREGATE_TOLERANCE
        for k in ("buyers_ratio", "revenue_ratio")
    )
    return within, score


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
        rank = _rank(evaluation.metrics.get(name, {}))
        if rank is not None:
            scored[name] = rank
    if not scored:
        return "bgnbd", "no family could be backtested; BG/NBD + Gamma-Gamma by default"
    eligible = {k: v for k, v in scored.items() if v[0]} or scored
    best = max(eligible, key=lambda k: eligible[k][1])
    note = "" if scored[best][0] else " (no model was within the aggregate tolerance)"
    return best, f"AUC + Gini = {scored[best][1]:.4f} on the backtest{note}"


def beats(new: dict[str, Any], champion: dict[str, Any]) -> tuple[bool, str]:
    """Apply :data:`PROMOTION_RULE` to two models' metrics on the same backtest.

    Parameters
    ----------
    new, champion : dict
        Backtest metrics of the new version and of the champion's configuration.

    Returns
    -------
    promote : bool
        Whether the new version wins.
    reason : str
        Both scores, in words.
    """
    mine, theirs = _rank(new), _rank(champion)
    if mine is None:
        return False, "the new version has no usable backtest metrics"
    if theirs is None:
        return True, "the champion's configuration could not be backtested on this data"
    text = f"AUC + Gini {mine[1]:.4f} vs champion {theirs[1]:.4f}"
    if mine[0] != theirs[0]:
        side = "new version" if mine[0] else "champion"
        return mine[0], f"only the {side} is within the aggregate tolerance ({text})"
    return mine[1] > theirs[1], text


@dataclass
class TrainResult:
    """What ``train`` did.

    Attributes
    ----------
    champion : str
        Winning family of the backtest (the family of the new version).
    reason : str
        Why it won.
    backtest : Evaluation or None
        Backtest on the last horizon of the training data (None if the history is too short).
    version : str or None
        Registered version (None with ``track=False``).
    run_id : str or None
        MLflow run id.
    promoted : bool
        Whether the new version became ``champion``.
    promotion : str
        Why it was or was not promoted.
    previous_champion : str or None
        The champion version before this run.
    model_name : str
        Registered model name.
    tracking_uri : str or None
        Where the run was logged.
    bundle_dir : pathlib.Path or None
        Local copy of the bundle (``export_dir``).
    notes : list of str
        Fallbacks and limits met on the way.
    """

    champion: str
    reason: str
    backtest: Evaluation | None
    version: str | None = None
    run_id: str | None = None
    promoted: bool = False
    promotion: str = ""
    previous_champion: str | None = None
    model_name: str = REGISTERED_MODEL
    tracking_uri: str | None = None
    bundle_dir: Path | None = None
    notes: list[str] = field(default_factory=list)


def example_transactions(as_of: Any) -> pd.DataFrame:
    """Make up a small transaction log ending at ``as_of``: the registered model's input example.

    The model's artifacts must never carry customers' data, so the example is synthetic:
    four customers (one-off, regular, lapsed, big spender) with ids ``example-1`` ... ``-4``.
    """
    day = parse_day(as_of)
    rows = [
        ("example-1", 20, 25.0),
        ("example-2", 200, 40.0),
        ("example-2", 120, 35.5),
        ("example-2", 45, 42.0),
        ("example-2", 5, 38.0),
        ("example-3", 400, 19.9),
        ("example-3", 330, 22.5),
        ("example-4", 90, 310.0),
        ("example-4", 30, 280.0),
    ]
    return pd.DataFrame(
        {
            "customer_id": [r[0] for r in rows],
            "date": [str((day - pd.Timedelta(days=r[1])).date()) for r in rows],
            "amount": [r[2] for r in rows],
        }
    )


def _model_params(scorer: Any) -> dict[str, Any]:
    """Hyper-parameters and fitted parameters worth comparing across runs."""
    out: dict[str, Any] = {}
    btyd = scorer if isinstance(scorer, BTYDScorer) else getattr(scorer, "btyd_", None)
    if isinstance(scorer, GBMScorer):
        out["gbm"] = scorer.settings()
    if isinstance(btyd, BTYDScorer):
        out["btyd"] = {
            "kind": btyd.kind,
            "penalizer": btyd.penalizer_,
            **{k: round(float(v), 6) for k, v in btyd.transaction_.params_.items()},
        }
        if btyd.spend_ is not None:
            out["spend"] = {k: round(float(v), 6) for k, v in btyd.spend_.params_.items()}
    return out


def _trim(lines: pd.DataFrame, tx: Any, as_of: pd.Timestamp) -> Any:
    kept = lines[lines["date"] < as_of + pd.Timedelta(days=1)]
    if isinstance(tx, ValidatedTransactions):
        return ValidatedTransactions(lines=kept, report=tx.report, policy=tx.policy)
    return kept


def train(
    tx: ValidatedTransactions,
    *,
    as_of: Any = None,
    horizon_days: int = 90,
    families: Sequence[str] = FAMILIES,
    value: ValueSettings | None = None,
    freq: str = "D",
    seed: int = 0,
    force: bool = False,
    model_name: str = REGISTERED_MODEL,
    experiment: str = EXPERIMENT,
    export_dir: str | Path | None = None,
    track: bool = True,
    on_step: Callable[[str], None] | None = None,
) -> TrainResult:
    """Backtest, select by :data:`CHAMPION_RULE`, refit on all data, register, maybe promote.

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
        CLV settings, stored with the model.
    freq : {"D", "W"}
        Purchase period of the BTYD models.
    seed : int
        Random seed (LightGBM); same data and seed give the same metrics.
    force : bool
        Promote the new version to champion whatever the comparison says.
    model_name : str
        Registered model name.
    experiment : str
        MLflow experiment.
    export_dir : str or pathlib.Path, optional
        Also write the bundle folder here (``churnml score --model <folder>`` reads it).
    track : bool
        Log to MLflow and register (default). ``False`` only fits and exports: for quick
        experiments without a store.
    on_step : callable, optional
        Progress messages.

    Returns
    -------
    TrainResult
        Champion family, backtest, registered version and the promotion decision.
    """
    lines = lines_of(tx)
    as_of = parse_day(as_of if as_of is not None else lines["date"].max())
    train_tx = _trim(lines, tx, as_of)
    value = value or ValueSettings()
    fit = functools.partial(
        _fit_and_export,
        train_tx,
        as_of,
        horizon_days,
        families,
        value,
        freq,
        seed,
        export_dir,
        on_step,
        model_name=model_name,
    )
    if not track:
        return fit(run=None)
    # mlflow takes seconds to import; only commands that track pay for it
    from churnml.tracking.runs import tracked_run

    with tracked_run(
        "train", experiment=experiment, run_name=f"train to {as_of.date()}, {horizon_days} d"
    ) as run:
        run.log_params(
            {
                "as_of": str(as_of.date()),
                "horizon_days": int(horizon_days),
                "families": list(families),
                "freq": freq,
                "seed": seed,
                "value": asdict(value),
                "registered_model": model_name,
                "force": force,
            }
        )
        run.log_data(train_tx)
        return fit(run=run, force=force)


def _fit_and_export(
    train_tx: Any,
    as_of: pd.Timestamp,
    horizon_days: int,
    families: Sequence[str],
    value: ValueSettings,
    freq: str,
    seed: int,
    export_dir: str | Path | None,
    on_step: Callable[[str], None] | None,
    *,
    run: Any,
    model_name: str,
    force: bool = False,
) -> TrainResult:
    notes: list[str] = []
    cutoff = as_of - pd.Timedelta(days=int(horizon_days))
    backtest = None
    timings: dict[str, float] = run.timings if run is not None else {}
    started = pd.Timestamp.now()
    try:
        backtest = evaluate(
            train_tx,
            cutoff,
            horizon_days,
            models=(*families, "baseline"),
            value=value,
            freq=freq,
            seed=seed,
            on_step=on_step,
        )
        champion, reason = select_champion(backtest, families)
    except ChurnmlError as exc:
        champion, reason = "bgnbd", "no backtest possible; BG/NBD + Gamma-Gamma by default"
        notes.append(f"backtest at {cutoff.date()} impossible: {exc}")
    timings["backtest"] = (pd.Timestamp.now() - started).total_seconds()
    if on_step is not None:
        on_step(f"Refitting the champion ({champion}) on all data up to {as_of.date()}")
    started = pd.Timestamp.now()
    scorer = make_scorer(champion, value, freq, seed)
    scorer.fit(train_tx, as_of, horizon_days=horizon_days)
    timings["fit"] = (pd.Timestamp.now() - started).total_seconds()
    notes.extend(getattr(scorer, "diagnostics_", {}).get("notes", []))
    data = fingerprint(train_tx)
    meta = {
        "family": champion,
        "reason": reason,
        "rule": CHAMPION_RULE,
        "as_of": str(as_of.date()),
        "horizon_days": int(horizon_days),
        "freq": freq,
        "seed": seed,
        "trained_at": pd.Timestamp.now(tz="UTC").isoformat(),
        "churnml_version": __version__,
        "value": asdict(value),
        "data": data,
        "backtest": None
        if backtest is None
        else {k: v for k, v in backtest.to_dict().items() if k != "diagnostics"},
        "notes": notes,
        "run_id": None if run is None else run.run_id,
        "registered_model": model_name,
    }
    result = TrainResult(champion, reason, backtest, model_name=model_name, notes=notes)
    with tempfile.TemporaryDirectory(prefix="churnml-bundle-") as tmp:
        bundle = save_bundle(scorer, meta, Path(tmp) / "bundle")
        if export_dir is not None:
            result.bundle_dir = Path(export_dir)
            shutil.copytree(bundle, result.bundle_dir, dirs_exist_ok=True)
        if run is not None:
            _register(run, result, scorer, bundle, meta, train_tx, force, on_step)
    return result


def _register(
    run: Any,
    result: TrainResult,
    scorer: Any,
    bundle: Path,
    meta: dict[str, Any],
    train_tx: Any,
    force: bool,
    on_step: Callable[[str], None] | None,
) -> None:
    """Log the backtest and the model, register a version and decide on promotion."""
    from churnml.scoring import score_with
    from churnml.tracking import registry

    backtest, family, name = result.backtest, result.champion, result.model_name
    run.log_params({"champion_family": family, "model": _model_params(scorer)})
    if backtest is not None:
        run.log_evaluation(backtest, headline=family)
    run.log_dict({"notes": result.notes, "reason": result.reason}, "notes.json")
    if on_step is not None:
        on_step("Registering the model in MLflow")
    example = example_transactions(meta["as_of"])
    example_scores = score_with(
        scorer, load_transactions(example), meta["as_of"], meta["horizon_days"], "example"
    )
    headline = {} if backtest is None else backtest.metrics.get(family, {})
    current = registry.champion_version(name)
    with run.timed("register"):
        version = registry.log_bundle_model(
            bundle,
            input_example=example,
            output_example=example_scores,
            horizon_days=meta["horizon_days"],
            as_of=meta["as_of"],
            name=name,
            tags={
                "family": family,
                "as_of": meta["as_of"],
                "horizon_days": str(meta["horizon_days"]),
                "freq": meta["freq"],
                "seed": str(meta["seed"]),
                "value": meta["value"],
                "data_sha256": meta["data"]["sha256"],
                "backtest_cutoff": None if backtest is None else str(backtest.cutoff.date()),
                **{
                    k: f"{headline[k]:.4f}"
                    for k in ("auc", "revenue_gini", "buyers_ratio", "revenue_ratio")
                    if isinstance(headline.get(k), float)
                },
            },
        )
        registry.set_challenger(version, name)
    result.version, result.run_id = version, run.run_id
    result.tracking_uri = run.tracking_uri
    result.previous_champion = None if current is None else current["version"]
    if force:
        promote, why = True, "forced (--force)"
    elif current is None:
        promote, why = True, "first version: no champion yet"
    else:
        promote, why = _challenge(current, result, meta, train_tx, on_step)
    if promote:
        registry.promote(version, why, name)
    result.promoted, result.promotion = promote, why
    run.set_tags(
        {
            "churnml.registered_version": version,
            "churnml.promoted": str(promote).lower(),
            "churnml.promotion": why[:5000],
        }
    )


def _challenge(
    current: dict[str, Any],
    result: TrainResult,
    meta: dict[str, Any],
    train_tx: Any,
    on_step: Callable[[str], None] | None,
) -> tuple[bool, str]:
    """Compare the new version with the champion's configuration on this run's backtest."""
    backtest = result.backtest
    version, tags = current["version"], current["tags"]
    if backtest is None:
        return False, f"no backtest on this data, so champion {version} is kept"
    family = tags.get("family")
    if family is None:
        return False, f"champion {version} has no family tag to re-run; promote by hand"
    freq, seed = tags.get("freq", "D"), int(tags.get("seed", 0))
    new_family = result.champion
    same_config = new_family == family and (freq, seed) == (meta["freq"], meta["seed"])
    if same_config and tags.get("data_sha256") != meta["data"]["sha256"]:
        # Not a contest: the configuration that won before, fitted on the data at hand. Keeping
        # the old fit would score today's customers with parameters from other data.
        return True, (
            f"refresh: champion {version}'s configuration ({family}) refitted on other data "
            f"(as of {meta['as_of']}; champion's as of {tags.get('as_of')})"
        )
    # Value settings only change CLV, which the rule does not score; freq and seed change fits.
    if family in backtest.metrics and (freq, seed) == (meta["freq"], meta["seed"]):
        theirs = backtest.metrics[family]
    else:
        if on_step is not None:
            on_step(f"Backtesting the champion's configuration ({family}) on the same data")
        value = json.loads(tags["value"]) if tags.get("value") else None
        again = evaluate(
            train_tx,
            backtest.cutoff,
            backtest.horizon_days,
            models=(family,),
            value=ValueSettings(**value) if value else None,
            freq=freq,
            seed=seed,
        )
        theirs = again.metrics[family]
    wins, text = beats(backtest.metrics.get(new_family, {}), theirs)
    verdict = "promoted" if wins else f"champion {version} kept"
    return wins, f"{verdict}: {new_family} vs champion {version} ({family}): {text}"


def run_evaluation(
    tx: ValidatedTransactions,
    cutoff: Any,
    horizon_days: int,
    *,
    models: Sequence[str] | None = None,
    value: ValueSettings | None = None,
    freq: str = "D",
    seed: int = 0,
    champion: bool = True,
    experiment: str = EXPERIMENT,
    track: bool = True,
    on_step: Callable[[str], None] | None = None,
) -> Evaluation:
    """:func:`churnml.evaluation.evaluate`, recorded as an MLflow run (``churnml evaluate``).

    Parameters
    ----------
    tx, cutoff, horizon_days, models, value, freq, seed, champion, on_step
        As for :func:`churnml.evaluation.evaluate` (``models`` defaults to all of them).
    experiment : str
        MLflow experiment.
    track : bool
        Log the run (default).

    Returns
    -------
    Evaluation
        The evaluation; ``run_id`` is set when tracked.
    """
    models = tuple(models or DEFAULT_MODELS)
    kwargs = dict(models=models, value=value, freq=freq, seed=seed, champion=champion)
    if not track:
        return evaluate(tx, cutoff, horizon_days, on_step=on_step, **kwargs)
    from churnml.tracking.runs import tracked_run

    day = parse_day(cutoff, "cutoff")
    with tracked_run(
        "evaluate", experiment=experiment, run_name=f"evaluate at {day.date()}, {horizon_days} d"
    ) as run:
        run.log_params(
            {
                "cutoff": str(day.date()),
                "horizon_days": int(horizon_days),
                "models": list(models),
                "freq": freq,
                "seed": seed,
                "value": asdict(value or ValueSettings()),
            }
        )
        run.log_data(tx, context="evaluation")
        with run.timed("evaluate"):
            result = evaluate(tx, day, horizon_days, on_step=on_step, **kwargs)
        headline = "champion" if "champion" in result.metrics else None
        run.log_evaluation(result, headline=headline)
        result.run_id = run.run_id
    return result
