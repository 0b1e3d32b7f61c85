"""Evaluate out of time, recorded as an MLflow run (``churnml evaluate``)."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from churnml.config import DEFAULT_HORIZON_DAYS, EXPERIMENT
from churnml.data.validation import ValidatedTransactions
from churnml.evaluation import Evaluation, evaluation_curves, save_plots
from churnml.evaluation import evaluate as backtest
from churnml.models.catalog import MODEL_KEYS, check_keys
from churnml.settings import RunSettings, ValueSettings
from churnml.tracking import StoreInBackground, tracked_run

__all__ = ["evaluate", "settings_for"]


def settings_for(tx: ValidatedTransactions, **fields: Any) -> RunSettings:
    """Build a run's settings for these transactions.

    Unset fields take their defaults; ``freq`` defaults to the purchase unit ``tx`` was
    validated with, and ``policy`` is ``tx``'s validation policy.

    Parameters
    ----------
    tx : ValidatedTransactions
        The transactions the run reads.
    **fields
        :class:`~churnml.settings.RunSettings` fields; ``None`` means the default.

    Returns
    -------
    RunSettings
        The settings.
    """
    given = {k: v for k, v in fields.items() if v is not None}
    given.setdefault("freq", tx.policy.freq)
    return RunSettings(policy=tx.policy, **given)


def evaluate(
    tx: ValidatedTransactions,
    cutoff: Any,
    horizon_days: int = DEFAULT_HORIZON_DAYS,
    *,
    models: Sequence[str] | None = None,
    value: ValueSettings | None = None,
    freq: str | None = None,
    seed: int = 0,
    champion: bool = True,
    experiment: str = EXPERIMENT,
    track: bool = True,
    out: str | Path | None = None,
    plots_dir: str | Path | None = None,
    on_step: Callable[[str], None] | None = None,
) -> Evaluation:
    """Fit every model on data up to the cutoff and score it on (cutoff, cutoff + horizon].

    :func:`churnml.evaluation.evaluate`, with the settings checked against the catalogue and
    the whole run recorded in MLflow: parameters, data fingerprint, every metric, plots and
    the gains and calibration curves (``curves.json``, what ``churnml report`` draws).

    Parameters
    ----------
    tx : ValidatedTransactions
        Validated transactions covering the cutoff and the whole holdout window.
    cutoff : str or pandas.Timestamp
        Last day of fitting data.
    horizon_days : int
        Holdout length in days.
    models : sequence of str, optional
        Model keys (default: every key of the catalogue, the baseline included).
    value : ValueSettings, optional
        CLV settings.
    freq : {"D", "W"}, optional
        Purchase period (default: the one ``tx`` was validated with).
    seed : int
        Random seed of the models that use one.
    champion : bool
        Also report ``champion``: the family ``train`` would pick at the cutoff, chosen on an
        inner backtest that never sees the holdout.
    experiment : str
        MLflow experiment.
    track : bool
        Record the run in MLflow (default).
    out : str or pathlib.Path, optional
        Also write ``metrics.json`` (the contract's shape) here.
    plots_dir : str or pathlib.Path, optional
        Also write the plots (PNG) here; default: a ``plots`` folder beside ``out``, and no
        plots without ``out``.
    on_step : callable, optional
        Progress messages.

    Returns
    -------
    Evaluation
        Labels, predictions, metrics and diagnostics; ``run_id`` is set when tracked and
        ``files`` lists what was written.

    Examples
    --------
    >>> import churnml
    >>> tx = churnml.load_transactions(churnml.load_cdnow())
    >>> ev = churnml.evaluate(tx, "1997-12-31", 180, models=["bgnbd", "baseline"],
    ...                       champion=False, track=False)
    >>> {k: (round(m["auc"], 2), round(m["buyers_ratio"], 2)) for k, m in ev.metrics.items()}
    {'bgnbd': (0.79, 0.97), 'baseline': (0.8, 2.62)}

    The naive baseline ranks customers about as well, but predicts 2.6 times the buyers who
    came back: BG/NBD models that customers drop out.
    """
    settings = settings_for(
        tx,
        cutoff=cutoff,
        horizon_days=horizon_days,
        families=check_keys(models if models is not None else MODEL_KEYS),
        freq=freq,
        seed=seed,
        value=value,
    )
    assert settings.cutoff is not None
    kwargs: dict[str, Any] = dict(
        models=settings.families,
        value=settings.value,
        freq=settings.freq,
        seed=settings.seed,
        champion=champion,
        on_step=on_step,
    )
    if not track:
        return _write(
            backtest(tx, settings.cutoff, settings.horizon_days, **kwargs), out, plots_dir
        )
    run_name = f"evaluate at {settings.cutoff.date()}, {settings.horizon_days} d"
    # MLflow's store opens in a thread while the models are fitted (see StoreInBackground)
    store = StoreInBackground("evaluate", experiment, run_name)
    kwargs["on_step"] = store.checked(on_step)
    started = time.perf_counter()
    try:
        result = backtest(tx, settings.cutoff, settings.horizon_days, **kwargs)
    except Exception:
        with tracked_run("evaluate", store=store):
            raise  # the run is marked FAILED, as when the fit ran inside it
    seconds = round(time.perf_counter() - started, 3)
    with tracked_run("evaluate", store=store) as run:
        run.timings["evaluate"] = seconds
        # evaluate fits and scores every customer: train's sample size does not apply
        run.log_params({k: v for k, v in settings.to_dict().items() if k != "max_customers"})
        run.log_data(tx, context="evaluation")
        headline = "champion" if "champion" in result.metrics else None
        run.log_evaluation(result, headline=headline)
        run.log_curves(evaluation_curves(result))
        result.run_id = run.run_id
    return _write(result, out, plots_dir)


def _write(result: Evaluation, out: str | Path | None, plots: str | Path | None) -> Evaluation:
    if out is not None:
        result.files.append(result.write_json(out))
        plots = plots if plots is not None else Path(out).parent / "plots"
    if plots is not None:
        result.files.extend(save_plots(result, plots))
    return result
