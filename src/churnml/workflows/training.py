"""Train: backtest every family inside the training data, pick a winner, register it in MLflow.

``train`` is one MLflow run. It backtests every family on rolling-origin windows inside the data
(:func:`~churnml.evaluation.backtest.backtest_windows`), picks the winner by
:data:`~churnml.evaluation.CHAMPION_RULE`, refits it on all the data (falling back to the next
family by the rule, and at last to the baseline, when a refit fails), learns its level from the
windows (:data:`~churnml.evaluation.LEVEL_RULE`) and wraps it in
:class:`~churnml.models.level.LevelAdjusted`, logs the bundle as a registered model version with
alias ``challenger``, and moves ``champion`` to it only if it beats the current champion's
configuration re-run on the *same* windows (:data:`~churnml.evaluation.PROMOTION_RULE`), or when
forced.
"""

from __future__ import annotations

import json
import shutil
import tempfile
import time
from collections.abc import Callable, Sequence
from contextlib import nullcontext
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from churnml._version import __version__
from churnml.campaign import purchase_gaps
from churnml.config import DEFAULT_MAX_CUSTOMERS, EXPERIMENT, REGISTERED_MODEL, parse_day
from churnml.data.fingerprint import fingerprint
from churnml.data.purchases import select_lines
from churnml.data.sampling import CustomerSample, sample_customers
from churnml.data.validation import ValidatedTransactions, load_transactions
from churnml.evaluation import (
    CHAMPION_RULE,
    LEVEL_RULE,
    Evaluation,
    LevelFit,
    beats_robust,
    champion_table,
    learn_levels,
    select_champion_robust,
)
from churnml.evaluation import evaluate as backtest
from churnml.evaluation.backtest import (
    BACKTEST_WINDOWS,
    backtest_windows,
    seasonal_backtest,
    transaction_params,
    window_step,
)
from churnml.evaluation.level import own_season
from churnml.exceptions import ChurnmlError, ConfigError
from churnml.features.rfm import history_until, lines_of
from churnml.models import (
    FAMILIES,
    BaseScorer,
    BTYDScorer,
    GBMScorer,
    LevelAdjusted,
    make_scorer,
)
from churnml.models.bundle import save_bundle
from churnml.models.catalog import check_keys
from churnml.scoring import score_with
from churnml.settings import RunSettings, SegmentRules, ValueSettings
from churnml.tracking import StoreInBackground, TrackedRun, registry, tracked_run
from churnml.workflows.evaluating import settings_for

__all__ = ["TrainResult", "example_transactions", "train", "train_with"]

#: Headline backtest metrics copied onto each registered version (``churnml models list``).
_HEADLINE = ("auc", "revenue_gini", "buyers_ratio", "revenue_ratio")


@dataclass
class TrainResult:
    """What ``train`` did.

    Attributes
    ----------
    champion : str
        The family of the new version: the winner of the backtest, or the next one by the rule
        (at last ``baseline``) when the winner's refit failed (``notes`` say why).
    reason : str
        Why it won.
    backtest : Evaluation or None
        The newest backtest window (on the last horizon of the training data; None if no
        window could be backtested).
    settings : RunSettings
        The run's settings (as-of resolved from the data).
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
    backtests : list of Evaluation
        Every rolling-origin backtest window, newest first (``backtest`` is the first): labels,
        metrics and diagnostics. The models' predictions are not kept (about 200 MB a window
        at 200,000 customers); :func:`churnml.evaluate` at a window's cutoff gives them.
    backtest_summary : pandas.DataFrame or None
        The champion rule's table: one row per family, each metric's mean, std, min and max
        over the windows, the comparison with BG/NBD, the level misses and ``chosen``.
    level : LevelFit or None
        The level factors the registered model applies, the windows they came from and the
        interval of the totals.
    totals : dict or None
        Predicted totals over the horizon after as-of (``buyers``, ``purchases``, ``revenue``),
        each ``{"predicted", "low", "high"}``.
    timings : dict of str to float
        Seconds per step: each backtest window (``backtest.window_1`` is the newest), the
        year-ago window, the refit, the totals.
    sample : CustomerSample or None
        The customers the backtest and the fit read, when the data had more than
        ``settings.max_customers`` (None: everyone). ``totals`` are then the sample's scaled
        to every customer.
    """

    champion: str
    reason: str
    backtest: Evaluation | None
    settings: RunSettings
    version: str | None = None
    run_id: str | None = None
    promoted: bool = False
    promotion: str = ""
    previous_champion: str | None = None
    model_name: str = REGISTERED_MODEL
    tracking_uri: str | None = None
    bundle_dir: Path | None = None
    notes: list[str] = field(default_factory=list)
    backtests: list[Evaluation] = field(default_factory=list)
    backtest_summary: pd.DataFrame | None = None
    level: LevelFit | None = None
    totals: dict[str, dict[str, float | None]] | None = None
    timings: dict[str, float] = field(default_factory=dict)
    sample: CustomerSample | None = None


def example_transactions(as_of: Any) -> pd.DataFrame:
    """Make up a small transaction log ending at ``as_of``: the registered model's input example.

    The model's artifacts must never carry customers' data, so the example is synthetic:
    four customers (one-off, regular, lapsed, big spender) with ids ``example-1`` ... ``-4``.

    Parameters
    ----------
    as_of : str or pandas.Timestamp
        The last day of the example.

    Returns
    -------
    pandas.DataFrame
        ``customer_id``, ``date`` (text), ``amount``.
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


def _model_params(scorer: BaseScorer) -> dict[str, Any]:
    """Hyper-parameters and fitted parameters worth comparing across runs."""
    out: dict[str, Any] = {}
    if isinstance(scorer, LevelAdjusted):
        out["level"] = dict(scorer.factors_)
        scorer = scorer.inner_
    btyd = scorer if isinstance(scorer, BTYDScorer) else getattr(scorer, "btyd_", None)
    if isinstance(scorer, GBMScorer):
        out["gbm"] = {k: v for k, v in scorer.get_params().items() if k != "value"}
    if isinstance(btyd, BTYDScorer):
        out["btyd"] = {
            "kind": btyd.kind,
            "penalizer": btyd.penalizer_,
            **{k: round(float(v), 6) for k, v in btyd.transaction_.params_.items()},
        }
        if btyd.spend_ is not None:
            out["spend"] = {k: round(float(v), 6) for k, v in btyd.spend_.params_.items()}
    return out


def _until(tx: ValidatedTransactions, as_of: pd.Timestamp) -> ValidatedTransactions:
    lines = lines_of(tx)
    kept = select_lines(lines, lines["date"] < as_of + pd.Timedelta(days=1))
    return ValidatedTransactions(lines=kept, report=tx.report, policy=tx.policy)


def train(
    tx: ValidatedTransactions,
    *,
    as_of: Any = None,
    horizon_days: int = 90,
    families: Sequence[str] | None = None,
    freq: str | None = None,
    seed: int = 0,
    value: ValueSettings | None = None,
    segments: SegmentRules | None = None,
    force: bool = False,
    model_name: str = REGISTERED_MODEL,
    experiment: str = EXPERIMENT,
    export_dir: str | Path | None = None,
    track: bool = True,
    on_step: Callable[[str], None] | None = None,
    windows: int = BACKTEST_WINDOWS,
    max_customers: int | None = DEFAULT_MAX_CUSTOMERS,
    sample: CustomerSample | None = None,
    data: dict[str, Any] | None = None,
) -> TrainResult:
    """Backtest, select the champion family, refit on all data, register, maybe promote.

    Parameters
    ----------
    tx : ValidatedTransactions
        Validated transactions; rows after ``as_of`` are ignored.
    as_of : str or pandas.Timestamp, optional
        Training as-of (default: the last date in the data).
    horizon_days : int
        Prediction horizon the models are trained and backtested for.
    families : sequence of str, optional
        Candidate families (default: every competing family of the catalogue).
    freq : {"D", "W"}, optional
        Purchase period of the BTYD models (default: the one ``tx`` was validated with).
    seed : int
        Random seed (LightGBM); same data and seed give the same metrics.
    value : ValueSettings, optional
        CLV settings, stored with the model.
    segments : SegmentRules, optional
        Lifecycle thresholds and tier shares, stored with the model and used when scoring.
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
    windows : int
        Rolling-origin backtest windows wanted (fewer when the history is short; see
        :func:`~churnml.evaluation.backtest.window_cutoffs`).
    max_customers : int or None
        With more customers than this, the backtest and the fits read every line of a fixed
        random sample of this many (:func:`~churnml.data.sampling.sample_customers`), and the
        run says so; the predicted totals are scaled to every customer. None reads everyone.
    sample, data
        As for :func:`train_with`: ``tx`` is already this sample of a larger log whose
        fingerprint is ``data`` (the Spark engine's :func:`~churnml.spark.train_spark`).

    Returns
    -------
    TrainResult
        Champion family, backtests, level, registered version and the promotion decision.

    See Also
    --------
    train_with : the same, from a :class:`~churnml.settings.RunSettings`.

    Examples
    --------
    >>> import churnml
    >>> tx = churnml.load_transactions(churnml.load_cdnow())
    >>> result = churnml.train(tx, families=["bgnbd"], track=False)
    >>> result.champion, str(result.settings.as_of.date()), result.backtest.horizon_days
    ('bgnbd', '1998-06-30', 90)
    """
    settings = settings_for(
        tx,
        as_of=as_of if as_of is not None else lines_of(tx)["date"].max(),
        horizon_days=horizon_days,
        families=families,
        freq=freq,
        seed=seed,
        value=value,
        segments=segments,
    ).replace(max_customers=max_customers)
    return train_with(
        tx,
        settings,
        force=force,
        model_name=model_name,
        experiment=experiment,
        export_dir=export_dir,
        track=track,
        on_step=on_step,
        windows=windows,
        sample=sample,
        data=data,
    )


def train_with(
    tx: ValidatedTransactions,
    settings: RunSettings,
    *,
    force: bool = False,
    model_name: str = REGISTERED_MODEL,
    experiment: str = EXPERIMENT,
    export_dir: str | Path | None = None,
    track: bool = True,
    on_step: Callable[[str], None] | None = None,
    windows: int = BACKTEST_WINDOWS,
    sample: CustomerSample | None = None,
    data: dict[str, Any] | None = None,
) -> TrainResult:
    """Train with settings given as one :class:`~churnml.settings.RunSettings`.

    Parameters
    ----------
    tx : ValidatedTransactions
        Validated transactions.
    settings : RunSettings
        As-of (required), horizon, families, freq, seed, value and segment settings.
    force, model_name, experiment, export_dir, track, on_step, windows
        As for :func:`train`.
    sample : CustomerSample, optional
        ``tx`` is already this sample of a larger log (the Spark engine draws it): it is not
        sampled again.
    data : dict, optional
        The whole log's :func:`~churnml.data.fingerprint.fingerprint`, when ``tx`` is a
        sample of it (default: ``tx``'s own).

    Returns
    -------
    TrainResult
        As for :func:`train`.

    Raises
    ------
    ConfigError
        ``settings.as_of`` is not set, or a family is not a competing key of the catalogue.
    """
    if settings.as_of is None:
        raise ConfigError("train_with needs settings.as_of; train() resolves it from the data")
    # only competing families; none given means all of them
    settings = settings.replace(families=check_keys(settings.families or FAMILIES, FAMILIES))
    as_of = settings.as_of
    train_tx = _until(tx, as_of)
    if sample is None:
        fit_tx, sample = sample_customers(train_tx, settings.max_customers, settings.seed)
    else:
        fit_tx = train_tx
    run_name = f"train to {as_of.date()}, {settings.horizon_days} d"
    # MLflow's store opens in a thread while the models are fitted (see StoreInBackground)
    store = StoreInBackground("train", experiment, run_name) if track else None
    try:
        result, scorer = _select_and_fit(
            fit_tx,
            settings,
            on_step if store is None else store.checked(on_step),
            windows,
            sample,
        )
    except Exception:
        if store is not None:
            with tracked_run("train", store=store):
                raise  # the run is marked FAILED, as when the fit ran inside it
        raise
    opened = tracked_run("train", store=store) if store is not None else None
    with opened or nullcontext() as run, tempfile.TemporaryDirectory() as tmp:
        if run is not None:
            run.timings.update(result.timings)
            run.log_params(
                {
                    **settings.to_dict(),
                    "registered_model": model_name,
                    "force": force,
                    "backtest_windows": windows,
                    "backtest_step_days": window_step(settings.horizon_days),
                    "sample": None if sample is None else sample.to_dict(),
                }
            )
        # hashing every line once is 1.5 s per million: the run and the bundle share it
        data = fingerprint(train_tx) if data is None else data
        if run is not None:
            run.log_data(train_tx, info=data)
        result.model_name = model_name
        # the purchase cycle's median is the sample's: the whole log's would cost another
        # pass over every line for one median
        meta = _bundle_meta(result, fit_tx, run, model_name, data)
        bundle = save_bundle(scorer, meta, Path(tmp) / "bundle")
        if export_dir is not None:
            result.bundle_dir = Path(export_dir)
            shutil.copytree(bundle, result.bundle_dir, dirs_exist_ok=True)
        if run is not None:
            # the champion's configuration is re-run on the windows of this run: the sample's
            _register(run, result, scorer, bundle, meta, fit_tx, force, on_step)
    return result


def _fallback_order(
    champion: str, table: pd.DataFrame | None, families: Sequence[str]
) -> list[str]:
    """Order the families to refit: best first by the rule, then the baseline."""
    order = [champion]
    if table is not None:
        ranked = table.loc[[f for f in table.index if f in families]].copy()
        ranked["usable"] = ranked["n_windows"] > 0
        ranked = ranked.sort_values(
            ["usable", "guard", "within", "score_mean"], ascending=False, kind="stable"
        )
        order += [f for f in ranked.index if f not in order]
    order += [f for f in families if f not in order]
    return [*order, "baseline"]


def _fit_first(
    tx: ValidatedTransactions,
    settings: RunSettings,
    order: Sequence[str],
    notes: list[str],
    on_step: Callable[[str], None] | None,
    newest: Evaluation | None = None,
) -> tuple[str, BaseScorer, list[str]]:
    """Refit the families in order until one fits; return it and why the others did not."""
    assert settings.as_of is not None
    failed: list[str] = []
    for family in order:
        if on_step is not None:
            on_step(f"Refitting {family} on all data up to {settings.as_of.date()}")
        scorer = make_scorer(family, settings.value, settings.freq, settings.seed)
        # Pareto/NBD starts from its fit in the newest window, a horizon earlier: the same
        # optimum for a quarter of the work
        start = None if newest is None else transaction_params(newest).get(family)
        if start is not None:
            scorer.set_params(start=start)
        try:
            scorer.fit(tx, settings.as_of, horizon_days=settings.horizon_days)
        except ChurnmlError as exc:
            # LightGBM's own refusals (a label column of zeros) reach here as ChurnmlError
            # too: GBMScorer says what happened in words
            failed.append(family)
            notes.append(f"{family} could not be refitted on all data: {exc}")
            continue
        return family, scorer, failed
    raise ChurnmlError("no model could be fitted, not even the baseline")  # pragma: no cover


def _own_level(scorer: BaseScorer) -> str | None:
    """Say what seasonal level a fitted family set itself, if it did."""
    if not own_season(scorer.diagnostics_):
        return None
    return "BG/NBD's level at the scoring date times its miss in the same window a year earlier"


def _select_and_fit(
    tx: ValidatedTransactions,
    settings: RunSettings,
    on_step: Callable[[str], None] | None,
    windows: int = BACKTEST_WINDOWS,
    sample: CustomerSample | None = None,
) -> tuple[TrainResult, BaseScorer]:
    """Backtest the families on rolling windows, pick the winner, refit it, learn its level.

    ``tx`` is the sample when ``sample`` is given: the totals are scaled to every customer.

    Returns
    -------
    TrainResult, BaseScorer
        The run's result (without registry fields) and the level-adjusted champion.
    """
    assert settings.as_of is not None
    timings: dict[str, float] = {}
    notes: list[str] = [] if sample is None else [sample.note()]
    horizon = settings.horizon_days
    started = time.perf_counter()
    evaluations, window_notes = backtest_windows(
        tx,
        settings.as_of,
        horizon,
        models=(*settings.families, "baseline"),
        value=settings.value,
        freq=settings.freq,
        seed=settings.seed,
        n_windows=windows,
        on_step=on_step,
        keep_predictions=False,
    )
    notes.extend(window_notes)
    for j, evaluation in enumerate(evaluations, start=1):
        timings[f"backtest.window_{j}"] = float(evaluation.seconds or 0.0)
    timings["backtest"] = round(time.perf_counter() - started, 3)
    table = None
    if evaluations:
        champion, reason, table = select_champion_robust(evaluations, settings.families)
    else:
        # BG/NBD by default, the most robust fit, when it is a candidate at all
        champion = "bgnbd" if "bgnbd" in settings.families else settings.families[0]
        reason = f"no backtest possible; {champion} by default"
    started = time.perf_counter()
    order = _fallback_order(champion, table, settings.families)
    family, inner, failed = _fit_first(
        tx, settings, order, notes, on_step, evaluations[0] if evaluations else None
    )
    timings["fit"] = round(time.perf_counter() - started, 3)
    if failed:
        then = (
            "the naive baseline, the last fallback" if family == "baseline" else "next by the rule"
        )
        reason = f"{reason}; refit failed for {', '.join(failed)} (see notes), so {family} ({then})"
    notes.extend(inner.diagnostics_.get("notes", []))
    started = time.perf_counter()
    level = None
    if evaluations:
        if on_step is not None:
            on_step(f"Learning {family}'s level from the backtest windows")
        seasonal, note = None, None
        if not own_season(inner.diagnostics_):
            seasonal, note = seasonal_backtest(
                tx,
                settings.as_of,
                horizon,
                family,
                evaluations,
                value=settings.value,
                freq=settings.freq,
                seed=settings.seed,
            )
        if note:
            notes.append(note)
        level = learn_levels(
            # windows shortened to fit the history rank the families but miss other totals
            [ev for ev in evaluations if ev.horizon_days == horizon],
            family,
            seasonal,
            clv_horizon_days=settings.value.horizon_days,
            own_level=_own_level(inner),
        )
        notes.extend(level.notes)
    timings["level"] = round(time.perf_counter() - started, 3)
    if level is None:
        notes.append("level: no backtest window, so the totals are not corrected")
    started = time.perf_counter()
    scorer = LevelAdjusted.around(
        inner, None if level is None else level.factors, tx, settings.horizon_days
    )
    adjusted = scorer.totals_["adjusted"]
    if sample is not None:
        adjusted = {k: v * sample.scale for k, v in adjusted.items()}
    totals = None if level is None else level.totals(adjusted)
    timings["totals"] = round(time.perf_counter() - started, 3)
    result = TrainResult(
        family,
        reason,
        evaluations[0] if evaluations else None,
        settings,
        notes=notes,
        backtests=evaluations,
        backtest_summary=table,
        level=level,
        totals=totals,
        timings=timings,
        sample=sample,
    )
    return result, scorer


def _table_records(table: pd.DataFrame | None) -> list[dict[str, Any]] | None:
    """Return a summary table as JSON-ready rows (NaN as None)."""
    if table is None:
        return None
    frame = table.astype(object).where(table.notna(), None)
    return [{"family": name, **row} for name, row in frame.to_dict(orient="index").items()]


def _bundle_meta(
    result: TrainResult,
    tx: ValidatedTransactions,
    run: TrackedRun | None,
    model_name: str,
    data: dict[str, Any],
) -> dict[str, Any]:
    settings, evaluation = result.settings, result.backtest
    as_of = settings.as_of if settings.as_of is not None else lines_of(tx)["date"].max()
    gaps = purchase_gaps(history_until(tx, as_of))
    return {
        "family": result.champion,
        "reason": result.reason,
        "rule": CHAMPION_RULE,
        "settings": settings.to_dict(),
        "as_of": settings.to_dict()["as_of"],
        "horizon_days": settings.horizon_days,
        # the population's purchase cycle, which personal cycles shrink toward when the model
        # scores a few customers at a time (the API)
        "purchase_cycle_days": float(np.median(gaps)) if gaps.size else None,
        "trained_at": pd.Timestamp.now(tz="UTC").isoformat(),
        "churnml_version": __version__,
        "data": data,
        "sample": None if result.sample is None else result.sample.to_dict(),
        "backtest": None
        if evaluation is None
        else {k: v for k, v in evaluation.to_dict().items() if k != "diagnostics"},
        # every rolling window (newest first, "backtest" repeats the first), what the rule read
        # and the level the model applies, with the interval of its totals
        "backtests": [
            {k: v for k, v in ev.to_dict().items() if k != "diagnostics"} for ev in result.backtests
        ],
        "backtest_summary": _table_records(result.backtest_summary),
        "level": None if result.level is None else result.level.to_dict(),
        "level_rule": LEVEL_RULE,
        "totals": result.totals,
        "notes": result.notes,
        "run_id": None if run is None else run.run_id,
        "registered_model": model_name,
    }


def _version_tags(result: TrainResult, meta: dict[str, Any]) -> dict[str, Any]:
    """Tags of a registered version: the settings whole, and the fields ``models list`` shows."""
    settings = result.settings.to_dict()
    evaluation = result.backtest
    headline = {} if evaluation is None else evaluation.metrics.get(result.champion, {})
    return {
        "family": result.champion,
        "settings": json.dumps(settings),
        **{k: str(settings[k]) for k in ("as_of", "horizon_days", "freq", "seed")},
        "value": settings["value"],
        "data_sha256": meta["data"]["sha256"],
        "backtest_cutoff": None if evaluation is None else str(evaluation.cutoff.date()),
        **{k: f"{headline[k]:.4f}" for k in _HEADLINE if isinstance(headline.get(k), float)},
        "backtest_windows": str(len(result.backtests)),
        **_summary_tags(result),
    }


def _summary_tags(result: TrainResult) -> dict[str, str]:
    """Return the champion's means over the windows (what the rule read) and level factors."""
    table, family = result.backtest_summary, result.champion
    tags = {}
    if table is not None and family in table.index:
        for column in ("score_mean", "auc_mean", "revenue_gini_mean"):
            value = float(table.loc[family, column])
            if np.isfinite(value):
                tags[column] = f"{value:.4f}"
    if result.level is not None:
        tags["level"] = json.dumps(result.level.factors)
    return tags


def _register(
    run: TrackedRun,
    result: TrainResult,
    scorer: BaseScorer,
    bundle: Path,
    meta: dict[str, Any],
    tx: ValidatedTransactions,
    force: bool,
    on_step: Callable[[str], None] | None,
) -> None:
    """Log the backtest and the model, register a version and decide on promotion."""
    settings, name = result.settings, result.model_name
    run.log_params({"champion_family": result.champion, "model": _model_params(scorer)})
    if on_step is not None:
        on_step("Registering the model in MLflow")
    example = example_transactions(settings.as_of)
    example_scores = score_with(
        scorer,
        load_transactions(example),
        settings.as_of,
        settings.horizon_days,
        "example",
        settings.segments,
    )
    current = registry.champion_version(name)
    with run.timed("register"):
        version = registry.log_bundle_model(
            bundle,
            input_example=example,
            output_example=example_scores,
            horizon_days=settings.horizon_days,
            as_of=meta["as_of"],
            name=name,
            tags=_version_tags(result, meta),
        )
        registry.set_challenger(version, name)
    # The backtest metrics go in after the model: MLflow's log_model copies every metric the
    # run holds onto the logged model, one history query per metric (2.3 s of CDNOW's train).
    if result.backtest is not None:
        run.log_evaluation(result.backtest, headline=result.champion)
    if result.backtests:
        run.log_backtests(
            result.backtests,
            result.backtest_summary,
            {
                "level": None if result.level is None else result.level.to_dict(),
                "totals": result.totals,
                "timings": result.timings,
            },
        )
    run.log_dict({"notes": result.notes, "reason": result.reason}, "notes.json")
    result.version, result.run_id = version, run.run_id
    result.tracking_uri = run.tracking_uri
    result.previous_champion = None if current is None else current["version"]
    if force:
        promote, why = True, "forced (--force)"
    elif current is None:
        promote, why = True, "first version: no champion yet"
    else:
        promote, why = _challenge(current, result, meta, tx, on_step)
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
    tx: ValidatedTransactions,
    on_step: Callable[[str], None] | None,
) -> tuple[bool, str]:
    """Compare the new version with the champion's configuration on this run's windows."""
    evaluations, mine = result.backtests, result.settings
    version, tags = current["version"], current["tags"]
    if not evaluations:
        return False, f"no backtest on this data, so champion {version} is kept"
    try:
        family = tags["family"]
        theirs = RunSettings.from_dict(json.loads(tags["settings"]))
    except (KeyError, ValueError, TypeError):
        # Written by an older churnml (no or other settings): its configuration cannot be
        # re-run, and its bundle cannot be scored by this version, so it cannot stay champion.
        return True, (
            f"champion {version} was registered by an older churnml without readable settings "
            "and cannot be re-run or scored; replaced"
        )
    new_family = result.champion
    same_fit = (theirs.freq, theirs.seed) == (mine.freq, mine.seed)
    if new_family == family and same_fit and tags.get("data_sha256") != meta["data"]["sha256"]:
        # Not a contest: the configuration that won before, fitted on the data at hand. Keeping
        # the old fit would score today's customers with parameters from other data.
        return True, (
            f"refresh: champion {version}'s configuration ({family}) refitted on other data "
            f"(as of {meta['as_of']}; champion's as of {theirs.to_dict()['as_of']})"
        )
    # Value settings only change CLV, which the rule does not score; freq and seed change fits.
    key = family
    windows = list(evaluations)
    if not (same_fit and all(family in ev.metrics for ev in evaluations)):
        if on_step is not None:
            on_step(f"Backtesting the champion's configuration ({family}) on the same windows")
        key = f"champion {version} ({family})"
        windows = []
        for evaluation in evaluations:
            try:
                again = backtest(
                    tx,
                    evaluation.cutoff,
                    evaluation.horizon_days,
                    models=(family,),
                    value=theirs.value,
                    freq=theirs.freq,
                    seed=theirs.seed,
                ).metrics[family]
            except ChurnmlError as exc:
                again = {"error": str(exc)}
            windows.append(replace(evaluation, metrics={**evaluation.metrics, key: again}))
    table = champion_table(windows, list(dict.fromkeys([new_family, key])))
    rows = table.to_dict(orient="index")
    wins, text = beats_robust(rows.get(new_family), rows.get(key))
    verdict = "promoted" if wins else f"champion {version} kept"
    n = len(windows)
    return wins, (
        f"{verdict}: {new_family} vs champion {version} ({family}) over {n} backtest "
        f"window{'s' if n != 1 else ''}: {text}"
    )
