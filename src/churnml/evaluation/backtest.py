"""Out-of-time evaluation: fit at a cutoff, score, compare with what happened after it.

:func:`evaluate` backtests one window; :func:`backtest_windows` backtests the rolling-origin
windows ``churnml train`` chooses its champion on (:func:`window_cutoffs`), and
:func:`seasonal_cutoff` finds the same calendar window one year earlier, where a family's
seasonal level is learned.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd

from churnml.config import parse_day
from churnml.data.purchases import select_lines
from churnml.data.validation import ValidatedTransactions
from churnml.evaluation.level import SEASON_MIN_HISTORY_DAYS, learn_levels, own_season
from churnml.evaluation.metrics import model_metrics
from churnml.evaluation.result import Evaluation
from churnml.evaluation.selection import select_champion_robust
from churnml.exceptions import ChurnmlError, InsufficientDataError
from churnml.features.rfm import btyd_summary, lines_of
from churnml.features.windows import build_labels
from churnml.models.base import BaseScorer
from churnml.models.catalog import FAMILIES, MODEL_KEYS, check_keys, make_scorer
from churnml.models.gbm import share_btyd, share_prefix
from churnml.models.level import apply_level
from churnml.models.pipeline import MIN_HISTORY_DAYS, BTYDScorer
from churnml.settings import ValueSettings

__all__ = [
    "BACKTEST_WINDOWS",
    "MIN_BACKTEST_DAYS",
    "Evaluation",
    "backtest_horizon",
    "backtest_windows",
    "evaluate",
    "seasonal_cutoff",
    "transaction_params",
    "window_cutoffs",
    "window_step",
]

#: Rolling-origin windows ``churnml train`` backtests where the history allows.
BACKTEST_WINDOWS = 3
#: Shortest backtest window :func:`backtest_horizon` shortens a long horizon's windows to.
MIN_BACKTEST_DAYS = 30


def window_step(horizon_days: int) -> int:
    """Return the days between two rolling-origin cutoffs: ``max(30, horizon // 3)``.

    A month at least, so that each window starts in another month and sees other customers
    come due; a third of the horizon for long horizons, so that three windows never share more
    than two thirds of their label period and still need only ``horizon + 2 * step`` days of
    history beyond the first fit (a step of a whole horizon would push the oldest window's fit
    back to a much younger customer base, whose miss is not today's).

    Parameters
    ----------
    horizon_days : int
        The horizon.

    Returns
    -------
    int
        The step in days.

    Examples
    --------
    >>> from churnml.evaluation.backtest import window_step
    >>> window_step(90), window_step(365)
    (30, 121)
    """
    return max(30, int(horizon_days) // 3)


def window_cutoffs(
    first_day: Any,
    as_of: Any,
    horizon_days: int,
    n_windows: int = BACKTEST_WINDOWS,
    step_days: int | None = None,
) -> list[pd.Timestamp]:
    """Return the cutoffs of the rolling-origin backtest, newest first.

    ``c_j = as_of - horizon - j * step`` for ``j = 0 .. n_windows - 1``, so that every label
    window ends by as-of. The newest is always returned (whether it can be fitted is for the
    fit to say); older ones only with at least
    :data:`~churnml.models.pipeline.MIN_HISTORY_DAYS` of history before them, the BTYD
    models' gate.

    Parameters
    ----------
    first_day : str or pandas.Timestamp
        First day of the data.
    as_of : str or pandas.Timestamp
        Last day of the data the windows may use.
    horizon_days : int
        Length of each label window.
    n_windows : int
        Windows wanted.
    step_days : int, optional
        Days between cutoffs (default :func:`window_step`).

    Returns
    -------
    list of pandas.Timestamp
        Cutoffs, newest first (at least one).

    Examples
    --------
    >>> from churnml.evaluation.backtest import window_cutoffs
    >>> [str(c.date()) for c in window_cutoffs("1997-01-01", "1998-06-30", 90)]
    ['1998-04-01', '1998-03-02', '1998-01-31']
    >>> [str(c.date()) for c in window_cutoffs("1998-01-01", "1998-06-30", 90)]
    ['1998-04-01', '1998-03-02', '1998-01-31']
    >>> len(window_cutoffs("1998-02-15", "1998-06-30", 90))
    1
    """
    first, last = parse_day(first_day, "first_day"), parse_day(as_of, "as_of")
    step = int(step_days) if step_days is not None else window_step(horizon_days)
    newest = last - pd.Timedelta(days=int(horizon_days))
    cutoffs = [newest]
    for j in range(1, max(1, int(n_windows))):
        cutoff = newest - pd.Timedelta(days=j * step)
        if (cutoff - first).days < MIN_HISTORY_DAYS:
            break
        cutoffs.append(cutoff)
    return cutoffs


def backtest_horizon(
    first_day: Any, as_of: Any, horizon_days: int, n_windows: int = BACKTEST_WINDOWS
) -> int:
    """Return the length of the backtest windows: the horizon, or less when it leaves no room.

    A horizon as long as the history (273 days after 9 months of data) leaves no cutoff with
    :data:`~churnml.models.pipeline.MIN_HISTORY_DAYS` of history before it, so no family
    could be backtested and the champion would be BG/NBD by default. The windows are then
    the longest that fit ``n_windows`` of them (of :func:`window_cutoffs`), else one, and never
    shorter than :data:`MIN_BACKTEST_DAYS`: a ranking out of time on a shorter window says
    more than none. Their misses of the totals do not carry over to the horizon, so no level
    is learned from them.

    Parameters
    ----------
    first_day, as_of, n_windows
        As in :func:`window_cutoffs`.
    horizon_days : int
        The horizon asked for.

    Returns
    -------
    int
        Days of each backtest window (``horizon_days`` whenever its newest window fits).

    Examples
    --------
    >>> from churnml.evaluation.backtest import backtest_horizon
    >>> backtest_horizon("1997-01-01", "1997-09-30", 90)
    90
    >>> backtest_horizon("1997-01-01", "1997-09-30", 273)
    146
    """
    first, last = parse_day(first_day, "first_day"), parse_day(as_of, "as_of")

    def fits(days: int, wanted: int) -> bool:
        oldest = window_cutoffs(first, last, days, wanted)[-1]
        return len(window_cutoffs(first, last, days, wanted)) >= wanted and (
            (oldest - first).days >= MIN_HISTORY_DAYS
        )

    if fits(int(horizon_days), 1):
        return int(horizon_days)
    for wanted in (max(1, int(n_windows)), 1):
        for days in range(int(horizon_days) - 1, MIN_BACKTEST_DAYS - 1, -1):
            if fits(days, wanted):
                return days
    return int(horizon_days)


def seasonal_cutoff(first_day: Any, as_of: Any, horizon_days: int) -> pd.Timestamp | None:
    """Return the cutoff of the same calendar window one year before (as-of, as-of + horizon].

    Parameters
    ----------
    first_day : str or pandas.Timestamp
        First day of the data.
    as_of : str or pandas.Timestamp
        The scoring date (the training as-of).
    horizon_days : int
        The horizon; over 365 days the window a year earlier would run past as-of.

    Returns
    -------
    pandas.Timestamp or None
        ``as_of - 365 days``; None when the history before it is shorter than
        :data:`~churnml.evaluation.level.SEASON_MIN_HISTORY_DAYS` or the horizon is over a
        year.

    Examples
    --------
    >>> from churnml.evaluation.backtest import seasonal_cutoff
    >>> str(seasonal_cutoff("2009-12-01", "2011-09-30", 90).date())
    '2010-09-30'
    >>> seasonal_cutoff("1997-01-01", "1998-05-31", 90) is None  # 150 days before it
    True
    """
    first, last = parse_day(first_day, "first_day"), parse_day(as_of, "as_of")
    cutoff = last - pd.Timedelta(days=365)
    if int(horizon_days) > 365 or (cutoff - first).days < SEASON_MIN_HISTORY_DAYS:
        return None
    return cutoff


def _quiet(scorer: BaseScorer) -> BaseScorer:
    """Switch off per-customer reasons where a scorer has them: backtests never read them."""
    if "explain" in scorer._param_names():
        scorer.set_params(explain=False)
    return scorer


def _lean(scorer: BaseScorer) -> BaseScorer:
    """Switch off reasons, CLV and timing: the champion and level rules read none of them.

    CLV was 8.7 of 84 s of a train at 200,000 customers, the timing columns of every family
    about as much. An evaluation's own scores keep both; its backtest windows (and train's)
    report no ``days_to_next_mae`` or timing calibration.

    Returns
    -------
    BaseScorer
        ``scorer``, changed in place.
    """
    names = scorer._param_names()
    scorer.set_params(**{name: False for name in ("clv", "timing") if name in names})
    return _quiet(scorer)


def evaluate(
    tx: ValidatedTransactions,
    cutoff: Any,
    horizon_days: int,
    *,
    models: Sequence[str] = MODEL_KEYS,
    value: ValueSettings | None = None,
    freq: str = "D",
    on_step: Callable[[str], None] | None = None,
    champion: bool = False,
    seed: int = 0,
) -> Evaluation:
    """Fit every model on data up to the cutoff and score it on (cutoff, cutoff + horizon].

    Parameters
    ----------
    tx : ValidatedTransactions
        Validated transactions covering the cutoff and the whole holdout window.
    cutoff : str or pandas.Timestamp
        Last day of fitting data.
    horizon_days : int
        Holdout length in days.
    models : sequence of str
        Model keys of :data:`~churnml.models.catalog.CATALOGUE` (default: all of them).
    value : ValueSettings, optional
        CLV settings.
    freq : {"D", "W"}
        Purchase period.
    on_step : callable, optional
        Called with a short message before each model (for progress display).
    champion : bool
        Also report ``champion``: the family ``churnml train`` would pick at the cutoff, by
        its rule applied to an inner backtest on data up to the cutoff only (so the choice
        never sees the holdout). Costs a second round of fits.
    seed : int
        Random seed of the models that use one; same data and seed give the same metrics.

    Returns
    -------
    Evaluation
        Labels, predictions, metrics and diagnostics.

    Raises
    ------
    InsufficientDataError
        The holdout window runs past the end of the data, or nothing precedes the cutoff.
    """
    cutoff = parse_day(cutoff, "cutoff")
    scorers = [_quiet(make_scorer(name, value, freq, seed)) for name in check_keys(models)]
    # the window's own checks (a purchase before the cutoff, a holdout inside the data) come
    # before the inner windows, which would otherwise run first and fail less clearly
    frames = _window_frames(tx, cutoff, horizon_days, freq)
    inner = None
    if champion:
        # the inner windows first: Pareto/NBD at the cutoff then starts its search from its
        # fit in the newest one, a month of data earlier (3.5 of CDNOW's 33 s from scratch)
        inner = _inner_champion(tx, cutoff, horizon_days, models, value, freq, on_step, seed)
        for scorer in scorers:
            start = transaction_params(inner.windows[0]).get(scorer.name) if inner.windows else None
            if start is not None:
                scorer.set_params(start=start)
    result = _score_window(tx, cutoff, horizon_days, scorers, freq, on_step, frames=frames)
    if inner is not None:
        _add_champion(result, inner, cutoff, horizon_days, value, freq, seed)
    return result


def transaction_params(evaluation: Evaluation) -> dict[str, dict[str, float]]:
    """Return the fitted Pareto/NBD parameters of a window, to start a neighbour's fit from.

    A cutoff a month later moves the optimum little, and Pareto/NBD's Nelder-Mead search
    started there needs about a quarter of the likelihood evaluations (see
    :class:`~churnml.models.btyd.TransactionModel`); the other families fit fast from scratch.

    Parameters
    ----------
    evaluation : Evaluation
        A backtest window (families that failed there are left out).

    Returns
    -------
    dict of str to dict
        Model key to ``{"r", "alpha", "s", "beta"}``, from each fit's ``diagnostics_``.
    """
    return {
        name: dict(diag["params"])
        for name, diag in evaluation.diagnostics.items()
        if _scored(evaluation, name) and diag.get("model") == "pareto" and "params" in diag
    }


def _scored(evaluation: Evaluation, name: str) -> bool:
    """Whether a model was fitted and scored in a window (its predictions may not be kept)."""
    metrics = evaluation.metrics.get(name)
    return metrics is not None and "error" not in metrics


def _window_frames(
    tx: ValidatedTransactions | pd.DataFrame,
    cutoff: pd.Timestamp,
    horizon_days: int,
    freq: str,
    data_end: pd.Timestamp | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Return the BTYD summary at the cutoff and the labels of the window after it.

    Returns
    -------
    summary, labels : pandas.DataFrame
        As :func:`~churnml.features.btyd_summary` and :func:`~churnml.features.build_labels`.

    Raises
    ------
    InsufficientDataError
        No purchase on or before the cutoff, or the window runs past the end of the data.
    """
    summary = btyd_summary(tx, cutoff, freq)  # type: ignore[arg-type]
    # purchases are counted in the same unit the models predict (customer-days or -weeks)
    labels = build_labels(
        tx, cutoff, horizon_days, customers=summary.index, freq=freq, data_end=data_end
    )
    return summary, labels


def _score_window(
    tx: ValidatedTransactions | pd.DataFrame,
    cutoff: pd.Timestamp,
    horizon_days: int,
    scorers: Sequence[BaseScorer],
    freq: str,
    on_step: Callable[[str], None] | None,
    data_end: pd.Timestamp | None = None,
    frames: tuple[pd.DataFrame, pd.DataFrame] | None = None,
) -> Evaluation:
    """Fit the scorers at the cutoff and score them on the window after it.

    ``data_end`` is the last day the data covers when the caller knows it (the as-of of the
    windows); otherwise the validated last date, or the last line's. ``frames`` are the
    window's summary and labels when the caller has made them (:func:`_window_frames`).

    Returns
    -------
    Evaluation
        Labels, predictions, metrics and diagnostics of the window.
    """
    summary, labels = frames or _window_frames(tx, cutoff, horizon_days, freq, data_end)
    result = Evaluation(
        cutoff=cutoff, horizon_days=int(horizon_days), labels=labels, summary=summary
    )
    for scorer in scorers:
        if on_step is not None:
            on_step(f"Fitting and scoring {scorer.name}")
        started = pd.Timestamp.now()
        try:
            scorer.fit(tx, cutoff, horizon_days=horizon_days)
            pred = scorer.predict(tx, cutoff, horizon_days)
        except ChurnmlError as exc:
            result.metrics[scorer.name] = {"error": str(exc)}
            continue
        seconds = (pd.Timestamp.now() - started).total_seconds()
        if isinstance(scorer, BTYDScorer):
            share_btyd(tx, scorer)  # gbm and hybrid at this cutoff fit the same BG/NBD
        result.predictions[scorer.name] = pred
        result.metrics[scorer.name] = model_metrics(pred, labels, horizon_days=horizon_days)
        result.diagnostics[scorer.name] = {**scorer.diagnostics_, "seconds": round(seconds, 2)}
    return result


def backtest_windows(
    tx: ValidatedTransactions | pd.DataFrame,
    as_of: Any,
    horizon_days: int,
    *,
    models: Sequence[str] = FAMILIES,
    value: ValueSettings | None = None,
    freq: str = "D",
    seed: int = 0,
    n_windows: int = BACKTEST_WINDOWS,
    step_days: int | None = None,
    on_step: Callable[[str], None] | None = None,
    keep_predictions: bool = True,
) -> tuple[list[Evaluation], list[str]]:
    """Backtest models on the rolling-origin windows of :func:`window_cutoffs`.

    Parameters
    ----------
    tx : ValidatedTransactions or pandas.DataFrame
        Validated transactions up to ``as_of`` (nothing after it is read).
    as_of : str or pandas.Timestamp
        Last day the data covers (purchases or not); every label window ends by it.
    horizon_days : int
        Length of each label window.
    models : sequence of str
        Model keys.
    value : ValueSettings, optional
        CLV settings.
    freq : {"D", "W"}
        Purchase period.
    seed : int
        Random seed of the models that use one.
    n_windows : int
        Windows wanted (fewer when the history is short).
    step_days : int, optional
        Days between cutoffs (default :func:`window_step`).
    on_step : callable, optional
        Progress messages.
    keep_predictions : bool
        Keep each model's predictions in the windows (``train`` reads only their metrics and
        drops them: at 200,000 customers they hold about 200 MB a window).

    Returns
    -------
    evaluations : list of Evaluation
        One per window that could be backtested, newest first; ``seconds`` set. Their
        ``horizon_days`` is shorter than asked when the history leaves no room for it
        (:func:`backtest_horizon`).
    notes : list of str
        Windows that could not be backtested, and why; fewer windows than wanted; shorter
        windows.

    Raises
    ------
    InsufficientDataError
        ``tx`` holds no lines at all.

    Notes
    -----
    The windows are fitted oldest first, and the penalizer a BTYD family chooses out of time
    at the oldest cutoff it can search at is reused at the newer cutoffs (it saw none of their
    holdouts); their diagnostics record it as ``penalizer_chosen_at``. Pareto/NBD starts its
    search from its fit one window older (:func:`transaction_params`). Per-customer reasons
    are not computed.
    """
    as_of = parse_day(as_of, "as_of")
    first = lines_of(tx)["date"].min()
    if pd.isna(first):
        raise InsufficientDataError(f"backtest: no transactions on or before {as_of.date()}")
    notes: list[str] = []
    days = backtest_horizon(first.normalize(), as_of, horizon_days, n_windows)
    if days != horizon_days:
        notes.append(
            f"backtest: the history from {first.date()} leaves no room for a {horizon_days}-day "
            f"window after {MIN_HISTORY_DAYS} days of history, so the windows are {days} days "
            "long (they rank the families; no level is learned from them)"
        )
        horizon_days = days
    cutoffs = window_cutoffs(first, as_of, horizon_days, n_windows, step_days)
    evaluations: list[Evaluation] = []
    if len(cutoffs) < n_windows:
        notes.append(
            f"backtest: the history from {first.date()} leaves room for {len(cutoffs)} of "
            f"{n_windows} rolling windows of {horizon_days} days (each needs "
            f"{MIN_HISTORY_DAYS} days of history before its cutoff)"
        )
    penalizers: dict[str, float] = {}
    chosen_at: dict[str, str] = {}
    starts: dict[str, dict[str, float]] = {}
    # Oldest first: the BTYD penalizer each family chooses out of time at the oldest cutoff
    # serves the newer windows (chosen on earlier data, so it sees none of their holdouts),
    # which spares the search's refits; the refit at as-of searches again.
    for j, cutoff in reversed(list(enumerate(cutoffs))):
        where = f"window {j + 1}/{len(cutoffs)}, cutoff {cutoff.date()}"
        step = None if on_step is None else (lambda msg, w=where: on_step(f"{msg} ({w})"))
        scorers = []
        for name in check_keys(models):
            scorer = _lean(make_scorer(name, value, freq, seed))
            if name in penalizers:
                scorer.set_params(penalizer=penalizers[name])
            if name in starts:
                scorer.set_params(start=starts[name])
            scorers.append(scorer)
        started = time.perf_counter()
        try:
            # the data reaches as-of, even when nobody bought on its last days
            evaluation = _score_window(tx, cutoff, horizon_days, scorers, freq, step, as_of)
        except ChurnmlError as exc:
            notes.append(f"backtest at {cutoff.date()} impossible: {exc}")
            continue
        evaluation.seconds = round(time.perf_counter() - started, 3)
        if not keep_predictions:
            evaluation.predictions = {}
        starts.update(transaction_params(evaluation))
        for name, diagnostics in evaluation.diagnostics.items():
            if name in chosen_at:
                diagnostics["penalizer_chosen_at"] = chosen_at[name]
            elif "chosen" in diagnostics.get("penalizer_search", {}):
                penalizers[name] = float(diagnostics["penalizer_search"]["chosen"])
                chosen_at[name] = str(cutoff.date())
        evaluations.insert(0, evaluation)
    return evaluations, notes


def seasonal_backtest(
    tx: ValidatedTransactions | pd.DataFrame,
    as_of: Any,
    horizon_days: int,
    family: str,
    windows: Sequence[Evaluation] = (),
    *,
    value: ValueSettings | None = None,
    freq: str = "D",
    seed: int = 0,
) -> tuple[Evaluation | None, str | None]:
    """Backtest one family on the same calendar window one year before the scoring window.

    Parameters
    ----------
    tx : ValidatedTransactions or pandas.DataFrame
        Validated transactions up to ``as_of``.
    as_of : str or pandas.Timestamp
        The scoring date.
    horizon_days : int
        The horizon.
    family : str
        Model key (the champion).
    windows : sequence of Evaluation
        Backtests already run; one at the seasonal cutoff with ``family`` in it is reused.
    value : ValueSettings, optional
        CLV settings.
    freq : {"D", "W"}
        Purchase period.
    seed : int
        Random seed.

    Returns
    -------
    evaluation : Evaluation or None
        The year-ago window (None when the history does not have it).
    note : str or None
        Why there is none.
    """
    first = lines_of(tx)["date"].min()
    cutoff = seasonal_cutoff(first, as_of, horizon_days)
    if cutoff is None:
        year_ago = parse_day(as_of) - pd.Timedelta(days=365)
        why = (
            f"a {horizon_days}-day window a year earlier would run past as-of"
            if horizon_days > 365
            else f"the same window a year earlier ({year_ago.date()}) needs "
            f"{SEASON_MIN_HISTORY_DAYS} days of history before it (the data starts "
            f"{first.date()})"
        )
        return None, f"level: {why}, so the season is not known"
    for window in windows:
        if window.cutoff == cutoff and _scored(window, family):
            return window, None
    started = time.perf_counter()
    try:
        scorer = _lean(make_scorer(family, value, freq, seed))
        evaluation = _score_window(
            tx, cutoff, horizon_days, [scorer], freq, None, parse_day(as_of, "as_of")
        )
    except ChurnmlError as exc:
        return None, f"level: no backtest of {family} one year earlier ({cutoff.date()}): {exc}"
    evaluation.seconds = round(time.perf_counter() - started, 3)
    return evaluation, None


@dataclass
class _InnerChampion:
    """The family ``train`` would pick at a cutoff, from windows inside the data up to it."""

    known: pd.DataFrame
    windows: list[Evaluation]
    name: str
    diagnostics: dict[str, Any]


def _inner_champion(
    tx: Any,
    cutoff: pd.Timestamp,
    horizon_days: int,
    models: Sequence[str],
    value: ValueSettings | None,
    freq: str,
    on_step: Callable[[str], None] | None,
    seed: int,
) -> _InnerChampion:
    """Apply ``churnml train``'s rule on rolling windows inside the data up to the cutoff."""
    families = [m for m in models if m in FAMILIES]
    if on_step is not None:
        on_step("Choosing the champion on inner backtest windows")
    lines = lines_of(tx)
    known = select_lines(lines, lines["date"] < cutoff + pd.Timedelta(days=1))
    # the evaluation's own gbm and hybrid read the snapshot tables the inner windows build
    share_prefix(known, tx, cutoff)
    inner, notes = backtest_windows(
        known,
        cutoff,
        horizon_days,
        models=families,
        value=value,
        freq=freq,
        seed=seed,
        keep_predictions=False,
    )
    if inner:
        name, reason, _ = select_champion_robust(inner, families)
    else:
        name = "bgnbd" if "bgnbd" in families or not families else families[0]
        reason = f"no inner backtest possible; {name} by default"
    diagnostics: dict[str, Any] = {
        "family": name,
        "reason": reason,
        "inner_cutoff": str(inner[0].cutoff.date()) if inner else None,
        "inner_cutoffs": [str(ev.cutoff.date()) for ev in inner],
        "notes": list(notes),
    }
    return _InnerChampion(known, inner, name, diagnostics)


def _add_champion(
    result: Evaluation,
    chosen: _InnerChampion,
    cutoff: pd.Timestamp,
    horizon_days: int,
    value: ValueSettings | None,
    freq: str,
    seed: int,
) -> None:
    """Report what ``churnml train`` would have registered at the cutoff, judged on the holdout.

    Its rule on rolling windows inside the data up to the cutoff picks the family, the level
    those windows (and the year-ago window) teach rescales the family's predictions, and the
    result is scored on the holdout as ``champion``.
    """
    known, inner, name, diagnostics = (
        chosen.known,
        chosen.windows,
        chosen.name,
        chosen.diagnostics,
    )
    if name in result.metrics and "error" not in result.metrics[name]:
        own = own_season(result.diagnostics.get(name, {}))
        seasonal, note = None, None
        if not own:
            seasonal, note = seasonal_backtest(
                known, cutoff, horizon_days, name, inner, value=value, freq=freq, seed=seed
            )
        level = learn_levels(
            # windows shortened to fit the history rank the families but miss other totals
            [ev for ev in inner if ev.horizon_days == horizon_days],
            name,
            seasonal,
            clv_horizon_days=(value or ValueSettings()).horizon_days,
            own_level="its seasonal level" if own else None,
        )
        diagnostics["notes"] += [n for n in (note, *level.notes) if n]
        diagnostics["level"] = level.to_dict()
        predictions = apply_level(result.predictions[name], level.factors, value)
        result.metrics["champion"] = {
            **model_metrics(predictions, result.labels, horizon_days=horizon_days),
            "family": name,
        }
        result.predictions["champion"] = predictions
    result.diagnostics["champion"] = diagnostics
