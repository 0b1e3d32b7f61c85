"""The champion and promotion rules: which model wins a backtest, and when it replaces another.

Rules over backtest metrics only; nothing here fits a model. :func:`select_champion` judges one
backtest window; :func:`select_champion_robust` judges several rolling-origin windows (what
``churnml train`` runs), so that one lucky or unlucky window does not decide.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from churnml.evaluation.level import corrected_ratios, window_ratios
from churnml.evaluation.result import Evaluation
from churnml.models.catalog import FAMILIES

__all__ = [
    "AGGREGATE_TOLERANCE",
    "LEVEL_SLACK",
    "CHAMPION_RULE",
    "MIN_ROBUST_WINDOWS",
    "PROMOTION_RULE",
    "REFERENCE_FAMILY",
    "SUMMARY_METRICS",
    "beats",
    "beats_robust",
    "champion_table",
    "comparable_windows",
    "select_champion",
    "select_champion_robust",
    "summarize_windows",
]

#: Aggregate tolerance of the champion rule.
AGGREGATE_TOLERANCE = 0.20
#: A family whose level misses by no more than BG/NBD's plus this is within the tolerance too.
LEVEL_SLACK = 0.05
#: The family every other must not fall clearly below (the guard of the champion rule).
REFERENCE_FAMILY = "bgnbd"
#: Windows the champion rule asks for; with fewer the reason says so.
MIN_ROBUST_WINDOWS = 3
#: Metrics summarised over the backtest windows (mean, std, min, max).
SUMMARY_METRICS = (
    "auc",
    "revenue_gini",
    "brier",
    "buyers_ratio",
    "purchases_ratio",
    "revenue_ratio",
)
CHAMPION_RULE = (
    "over the rolling-origin backtest windows where every family was fitted (a window where "
    "one had too little history for its own fit and repeated BG/NBD's scores says nothing "
    "about it and is left out, unless no window is left): the highest mean AUC + normalized "
    "revenue Gini "
    "among the families whose level, after the rolling correction the other windows teach "
    "(leave-one-out: their geometric mean of actual / predicted, half-weighted as in the "
    "level rule), misses actual buyers and revenue by at most "
    f"{AGGREGATE_TOLERANCE:.0%} on average (mean |predicted / actual - 1|), or (another "
    f"family) by no more than {REFERENCE_FAMILY}'s + {LEVEL_SLACK:.0%}; never a "
    f"family whose mean AUC + Gini is below {REFERENCE_FAMILY}'s by more than the spread "
    f"(the standard deviation across windows of its AUC + Gini minus {REFERENCE_FAMILY}'s; 0 "
    "with one window). If no family is within the tolerance, the highest mean AUC + Gini "
    f"that passes the {REFERENCE_FAMILY} guard (with a warning). Fewer than "
    f"{MIN_ROBUST_WINDOWS} windows are said in the reason; with one window the level is not "
    "corrected"
)
PROMOTION_RULE = (
    "a new version becomes champion if there is none yet, or if on this run's backtest "
    "windows it beats the champion's configuration refitted on the same data: within the "
    f"aggregate tolerance (+-{AGGREGATE_TOLERANCE:.0%} buyers and revenue after the level "
    "correction, as in the champion rule) when the champion is not, else a strictly higher "
    "mean AUC + Gini; ties keep the champion. The champion's own configuration refitted on "
    "different data replaces it (a refresh: same family, freq and seed, newer or other data). "
    "--force promotes regardless"
)


def _rank(metrics: dict[str, Any]) -> tuple[bool, float] | None:
    """Return (within the aggregate tolerance, AUC + Gini), or None for unusable metrics."""
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


def _usable(metrics: Mapping[str, Any] | None) -> bool:
    if not metrics or "error" in metrics:
        return False
    score = metrics.get("auc", float("nan")) + metrics.get("revenue_gini", float("nan"))
    return math.isfinite(score)


def _fitted(evaluation: Evaluation, name: str) -> bool:
    """Whether a family was scored in a window by its own fit, not by another's fallback."""
    return _usable(evaluation.metrics.get(name)) and not (
        evaluation.diagnostics.get(name, {}).get("fell_back_to")
    )


def comparable_windows(
    evaluations: Sequence[Evaluation], families: Sequence[str]
) -> tuple[list[Evaluation], list[str]]:
    """Return the windows the champion rule compares families on, and who fell back.

    A family that could not be fitted in a window (too little history for gbm's training
    snapshots) scores there with another family's predictions (BG/NBD's). That window says
    nothing about the family as it is fitted at as-of, where the history is longer, and
    counting it would give the family the other's results. Families are therefore compared
    on the windows where every family fitted in at least one window was fitted; where there
    is no such window, on every window.

    Parameters
    ----------
    evaluations : sequence of Evaluation
        The backtest windows, newest first.
    families : sequence of str
        Candidates.

    Returns
    -------
    windows : list of Evaluation
        The windows to compare on, in the order given.
    fell_back : list of str
        Families that repeated another's scores in a window left out.
    """
    tested = [f for f in families if any(_fitted(ev, f) for ev in evaluations)]
    kept = [ev for ev in evaluations if all(_fitted(ev, f) for f in tested)]
    if not kept or len(kept) == len(evaluations):
        return list(evaluations), []
    left_out = [ev for ev in evaluations if ev not in kept]
    fell_back = [
        f for f in families if any(ev.diagnostics.get(f, {}).get("fell_back_to") for ev in left_out)
    ]
    return kept, fell_back


def _families_in(evaluations: Sequence[Evaluation]) -> list[str]:
    seen: dict[str, None] = {}
    for evaluation in evaluations:
        for name in evaluation.metrics:
            if name != "champion":
                seen.setdefault(name, None)
    return list(seen)


def _stats(values: list[float]) -> dict[str, float]:
    finite = np.array([v for v in values if math.isfinite(v)], dtype=float)
    if finite.size == 0:
        nan = float("nan")
        return {"mean": nan, "std": nan, "min": nan, "max": nan}
    return {
        "mean": float(finite.mean()),
        # one window has no spread to measure: NaN, not a reassuring 0
        "std": float(finite.std(ddof=1)) if finite.size >= 2 else float("nan"),
        "min": float(finite.min()),
        "max": float(finite.max()),
    }


def summarize_windows(
    evaluations: Sequence[Evaluation], families: Sequence[str] | None = None
) -> pd.DataFrame:
    """Summarise every family's metrics over backtest windows: mean, std, min and max.

    Parameters
    ----------
    evaluations : sequence of Evaluation
        The backtest windows (newest first, as ``churnml train`` runs them).
    families : sequence of str, optional
        Rows, in order (default: every model in the windows but ``champion``).

    Returns
    -------
    pandas.DataFrame
        One row per family: ``n_windows`` (windows where it could be scored),
        ``<metric>_mean``, ``_std``, ``_min``, ``_max`` for :data:`SUMMARY_METRICS` and for
        ``score`` (AUC + Gini). ``std`` is NaN with one window.

    Examples
    --------
    >>> import pandas as pd
    >>> from churnml.evaluation import Evaluation, summarize_windows
    >>> def window(auc):
    ...     m = {"auc": auc, "revenue_gini": 0.5, "buyers_ratio": 1.0, "revenue_ratio": 1.0}
    ...     return Evaluation(pd.Timestamp("1998-01-01"), 90, pd.DataFrame(), pd.DataFrame(),
    ...                       metrics={"bgnbd": m})
    >>> table = summarize_windows([window(0.7), window(0.8)])
    >>> table.loc["bgnbd", ["n_windows", "auc_mean", "score_max"]].round(3).tolist()
    [2.0, 0.75, 1.3]
    """
    names = list(families) if families is not None else _families_in(evaluations)
    rows = {}
    for name in names:
        per_window = [ev.metrics.get(name) for ev in evaluations]
        kept = [m for m in per_window if m and "error" not in m]
        row: dict[str, float] = {"n_windows": float(sum(_usable(m) for m in kept))}
        for metric in (*SUMMARY_METRICS, "score"):
            if metric == "score":
                values = [m["auc"] + m["revenue_gini"] for m in kept if _usable(m)]
            else:
                values = [float(m.get(metric, float("nan"))) for m in kept]
            for stat, number in _stats(values).items():
                row[f"{metric}_{stat}"] = number
        rows[name] = row
    columns = ["n_windows"] + [
        f"{m}_{s}" for m in (*SUMMARY_METRICS, "score") for s in ("mean", "std", "min", "max")
    ]
    return pd.DataFrame.from_dict(rows, orient="index", columns=columns)


def _level_miss(evaluations: Sequence[Evaluation], name: str, key: str) -> float:
    """Mean |predicted / actual - 1| after the leave-one-out level correction."""
    ratios = [window_ratios(ev, name)[key] for ev in evaluations if _usable(ev.metrics.get(name))]
    corrected = [c for c in corrected_ratios(ratios) if math.isfinite(c) and c > 0]
    if not corrected:
        return float("nan")
    # corrected ratios are actual / predicted; the tolerance reads predicted / actual, as the
    # single-window rule always did
    return float(np.mean([abs(1.0 / c - 1.0) for c in corrected]))


def _versus_reference(
    evaluations: Sequence[Evaluation], name: str, reference: str
) -> tuple[float, float, int]:
    """Mean and spread (std) of AUC + Gini minus the reference's over the windows both have."""
    diffs = []
    for ev in evaluations:
        mine, ref = ev.metrics.get(name), ev.metrics.get(reference)
        if _usable(mine) and _usable(ref):
            assert mine is not None and ref is not None
            diffs.append(mine["auc"] + mine["revenue_gini"] - (ref["auc"] + ref["revenue_gini"]))
    if not diffs:
        return float("nan"), float("nan"), 0
    spread = float(np.std(diffs, ddof=1)) if len(diffs) >= 2 else 0.0
    return float(np.mean(diffs)), spread, len(diffs)


def champion_table(
    evaluations: Sequence[Evaluation],
    families: Sequence[str] = FAMILIES,
    reference: str = REFERENCE_FAMILY,
) -> pd.DataFrame:
    """Everything :data:`CHAMPION_RULE` reads, one row per family.

    Parameters
    ----------
    evaluations : sequence of Evaluation
        The backtest windows.
    families : sequence of str
        Candidates.
    reference : str
        The guard's family (BG/NBD).

    Returns
    -------
    pandas.DataFrame
        :func:`summarize_windows` plus ``vs_reference`` (mean AUC + Gini minus the reference's
        over the windows both were scored in), ``spread`` (its standard deviation; 0 with one
        window), ``guard`` (``vs_reference >= -spread``; True without a reference),
        ``buyers_miss`` and ``revenue_miss`` (mean |predicted / actual - 1| after the
        leave-one-out level correction) and ``within`` (both misses within the tolerance, or,
        for another family than the reference, no more than the reference's plus
        :data:`LEVEL_SLACK`).
    """
    table = summarize_windows(evaluations, families)
    has_reference = any(_usable(ev.metrics.get(reference)) for ev in evaluations)
    extra = {}
    for name in table.index:
        mean, spread, _ = _versus_reference(evaluations, name, reference)
        guard = not has_reference or name == reference or (math.isfinite(mean) and mean >= -spread)
        buyers = _level_miss(evaluations, name, "buyers")
        revenue = _level_miss(evaluations, name, "revenue")
        within = all(math.isfinite(m) and m <= AGGREGATE_TOLERANCE for m in (buyers, revenue))
        extra[name] = {
            "vs_reference": 0.0 if name == reference else mean,
            "spread": 0.0 if name == reference else spread,
            "guard": bool(guard),
            "buyers_miss": buyers,
            "revenue_miss": revenue,
            "within": bool(within),
        }
    if reference in extra:
        # A level no worse than BG/NBD's is no reason to leave another family out: gbm and
        # hybrid take theirs from BG/NBD. Without this, early windows (a few months of history,
        # every level off) left only the family whose level happened to be closest, whatever
        # its ranking (UCI 2011-06-09: Pareto/NBD, AUC 0.744, over gbm's 0.759).
        ref = extra[reference]
        for name, row in extra.items():
            row["within"] = row["within"] or (
                name != reference
                and all(
                    math.isfinite(row[k])
                    and math.isfinite(ref[k])
                    and row[k] <= ref[k] + LEVEL_SLACK
                    for k in ("buyers_miss", "revenue_miss")
                )
            )
    return table.join(pd.DataFrame.from_dict(extra, orient="index"))


def select_champion_robust(
    evaluations: Sequence[Evaluation],
    families: Sequence[str] = FAMILIES,
    *,
    reference: str = REFERENCE_FAMILY,
) -> tuple[str, str, pd.DataFrame]:
    """Apply :data:`CHAMPION_RULE` to rolling-origin backtest windows.

    Parameters
    ----------
    evaluations : sequence of Evaluation
        The backtest windows, newest first.
    families : sequence of str
        Candidates.
    reference : str
        The family no champion may fall clearly below (BG/NBD).

    Returns
    -------
    name : str
        The winning model key (when no family could be scored: ``reference`` if it is a
        candidate, else the first candidate).
    reason : str
        Why, in words: its mean AUC + Gini, how it compares with the reference, which
        families the guard or the tolerance left out, and how many windows there were.
    table : pandas.DataFrame
        :func:`champion_table` with a ``chosen`` column.

    Examples
    --------
    >>> import pandas as pd
    >>> from churnml.evaluation import Evaluation, select_champion_robust
    >>> def window(gbm_auc):
    ...     level = {"buyers_ratio": 1.0, "revenue_ratio": 1.0}
    ...     metrics = {"bgnbd": {"auc": 0.80, "revenue_gini": 0.7, **level},
    ...                "gbm": {"auc": gbm_auc, "revenue_gini": 0.7, **level}}
    ...     return Evaluation(pd.Timestamp("1998-01-01"), 90, pd.DataFrame(), pd.DataFrame(),
    ...                       metrics=metrics)
    >>> select_champion_robust([window(0.82), window(0.81), window(0.83)])[0]
    'gbm'
    >>> select_champion_robust([window(0.78), window(0.79), window(0.77)])[0]
    'bgnbd'
    """
    families = list(dict.fromkeys(families))
    given = len(evaluations)
    evaluations, fell_back = comparable_windows(evaluations, families)
    table = champion_table(evaluations, families, reference)
    table["chosen"] = False
    # windows where at least one candidate could be scored (a window nobody bought in says
    # nothing about anyone)
    n = sum(any(_usable(ev.metrics.get(f)) for f in families) for ev in evaluations)
    windows = f"{n} backtest window{'s' if n != 1 else ''}"
    if fell_back:
        short = (
            f"; compared on {n} of the {given} backtest windows, where every family was "
            f"fitted ({', '.join(fell_back)} had too little history for their own fit in the "
            "others and repeated BG/NBD's scores there)"
        )
    else:
        short = (
            f"; only {windows} could be scored ({MIN_ROBUST_WINDOWS} wanted)"
            if n < MIN_ROBUST_WINDOWS
            else ""
        )
    if n == 1:
        short += "; with one window the level is not corrected"
    scored = table[(table["n_windows"] > 0) & np.isfinite(table["score_mean"])]
    if scored.empty:
        # BG/NBD by default, the most robust fit, when it is a candidate at all
        default = reference if reference in families or not families else families[0]
        return (
            default,
            f"no family could be scored in any of the {len(evaluations)} backtest window(s); "
            f"{default} by default",
            table,
        )
    guarded = scored[scored["guard"]]
    eligible = guarded[guarded["within"]]
    note = ""
    if eligible.empty:
        eligible = guarded
        note = " (no model was within the aggregate tolerance after the level correction)"
    best = str(eligible["score_mean"].idxmax())
    table.loc[best, "chosen"] = True
    row = table.loc[best]
    text = f"mean AUC + Gini = {row['score_mean']:.4f} over {int(row['n_windows'])} window(s)"
    if math.isfinite(row["score_std"]):
        text += f" (sd {row['score_std']:.4f})"
    if best != reference and reference in table.index and table.loc[reference, "n_windows"]:
        text += f"; {row['vs_reference']:+.4f} vs {reference} (spread {row['spread']:.4f})"
    dropped = scored[~scored["guard"]]
    if not dropped.empty:
        below = ", ".join(
            f"{k} ({dropped.loc[k, 'vs_reference']:+.4f}, spread {dropped.loc[k, 'spread']:.4f})"
            for k in dropped.index
        )
        text += f"; below {reference} by more than the spread: {below}"
    outside = guarded[~guarded["within"]]
    if not outside.empty and not note:
        text += "; level off by more than the tolerance: " + ", ".join(
            f"{k} (buyers {outside.loc[k, 'buyers_miss']:.0%}, "
            f"revenue {outside.loc[k, 'revenue_miss']:.0%})"
            for k in outside.index
        )
    return best, text + note + short, table


def select_champion(evaluation: Evaluation, families: Sequence[str] = FAMILIES) -> tuple[str, str]:
    """Apply :data:`CHAMPION_RULE` to a single backtest window.

    The rule of :func:`select_champion_robust` with one window: no level correction (nothing
    to learn it from), and a spread of 0, so no family below BG/NBD's AUC + Gini is chosen.

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

    Examples
    --------
    >>> import pandas as pd
    >>> from churnml.evaluation import Evaluation, select_champion
    >>> good = {"auc": 0.8, "revenue_gini": 0.7, "buyers_ratio": 1.05, "revenue_ratio": 0.9}
    >>> biased = {"auc": 0.9, "revenue_gini": 0.8, "buyers_ratio": 1.5, "revenue_ratio": 1.4}
    >>> ev = Evaluation(pd.Timestamp("1997-12-31"), 90, pd.DataFrame(), pd.DataFrame(),
    ...                 metrics={"bgnbd": good, "gbm": biased})
    >>> select_champion(ev)[0]
    'bgnbd'
    """
    name, reason, _ = select_champion_robust([evaluation], families)
    return name, reason


def _decide(
    mine: tuple[bool, float] | None, theirs: tuple[bool, float] | None, what: str
) -> tuple[bool, str]:
    if mine is None:
        return False, "the new version has no usable backtest metrics"
    if theirs is None:
        return True, "the champion's configuration could not be backtested on this data"
    text = f"{what} {mine[1]:.4f} vs champion {theirs[1]:.4f}"
    if mine[0] != theirs[0]:
        side = "new version" if mine[0] else "champion"
        return mine[0], f"only the {side} is within the aggregate tolerance ({text})"
    return mine[1] > theirs[1], text


def beats(new: dict[str, Any], champion: dict[str, Any]) -> tuple[bool, str]:
    """Apply :data:`PROMOTION_RULE` to two models' metrics on the same single backtest.

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

    Examples
    --------
    >>> from churnml.evaluation import beats
    >>> new = {"auc": 0.81, "revenue_gini": 0.75, "buyers_ratio": 1.0, "revenue_ratio": 1.1}
    >>> old = {"auc": 0.80, "revenue_gini": 0.75, "buyers_ratio": 1.0, "revenue_ratio": 1.1}
    >>> beats(new, old)[0], beats(old, old)[0]
    (True, False)
    """
    return _decide(_rank(new), _rank(champion), "AUC + Gini")


def _robust_rank(row: Mapping[str, Any] | None) -> tuple[bool, float] | None:
    if row is None or not row.get("n_windows"):
        return None
    score = float(row["score_mean"])
    return (bool(row["within"]), score) if math.isfinite(score) else None


def beats_robust(
    new: Mapping[str, Any] | None, champion: Mapping[str, Any] | None
) -> tuple[bool, str]:
    """Apply :data:`PROMOTION_RULE` to two rows of :func:`champion_table` (the same windows).

    Parameters
    ----------
    new, champion : mapping
        Rows of the new version's family and of the champion's configuration
        (``n_windows``, ``score_mean``, ``within``), or None when not backtested.

    Returns
    -------
    promote : bool
        Whether the new version wins: within the tolerance when the champion is not, else a
        strictly higher mean AUC + Gini.
    reason : str
        Both mean scores, in words.

    Examples
    --------
    >>> from churnml.evaluation import beats_robust
    >>> new = {"n_windows": 3, "score_mean": 1.52, "within": True}
    >>> old = {"n_windows": 3, "score_mean": 1.55, "within": False}
    >>> promote, why = beats_robust(new, old)
    >>> promote, why.startswith("only the new version is within the aggregate tolerance")
    (True, True)
    """
    return _decide(_robust_rank(new), _robust_rank(champion), "mean AUC + Gini")
