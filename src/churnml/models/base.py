"""The common base of churnml's models: parameters, fitted state, persistence, fallbacks.

scikit-learn style: ``__init__`` takes keyword-only parameters and only stores them, so
:meth:`Params.get_params` reads the parameter names from the ``__init__`` signature and
persistence cannot forget one. Learned state ends in ``_``; using a model before ``fit`` raises
:class:`~churnml.exceptions.NotFittedError`. Persistence is JSON (and, for LightGBM, its own
text format); nothing is pickled, and loading instantiates only churnml's registered classes.
"""

from __future__ import annotations

import inspect
import json
import os
import threading
import time
from abc import abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import asdict
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from churnml._version import __version__
from churnml.config import parse_day
from churnml.exceptions import ConfigError, NotFittedError
from churnml.models.timing import TIMING_COLUMNS
from churnml.settings import ValueSettings

__all__ = ["SCORER_FILE", "BaseScorer", "Params", "free_processors"]

#: File a scorer's :meth:`BaseScorer.save` writes in its folder.
SCORER_FILE = "scorer.json"


def _encode(value: Any) -> Any:
    if isinstance(value, ValueSettings):
        return {"ValueSettings": asdict(value)}
    return value


def _decode(value: Any) -> Any:
    if isinstance(value, dict) and set(value) == {"ValueSettings"}:
        return ValueSettings(**value["ValueSettings"])
    return value


def free_processors() -> int:
    """Return the LightGBM threads to use: the processors nobody else is keeping busy.

    OpenMP threads wait for each other at every tree level; when another process holds one of
    the processors, the waiting thread spins or sleeps for a time slice and a fit runs 3 to 30
    times slower than on one thread (measured on 2 processors, one CDNOW gbm fit at a
    learning rate of 0.05: 19 s on two threads idle, 26 s on one, 38 s on two with sleeping
    waiters (``OMP_WAIT_POLICY=PASSIVE``), 119 s on two at load 13). Other processes are
    counted from the kernel's runnable tasks at the call (the lowest of a few samples, so that
    only a steady competitor counts), not from the load average, which this process's own
    threads of the previous fit would still fill.

    Returns
    -------
    int
        At least 1, at most the processors of the affinity mask.

    Examples
    --------
    >>> from churnml.models.base import free_processors
    >>> free_processors() >= 1
    True
    """
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        usable = os.cpu_count() or 1
    return int(max(1, min(usable, usable - _busy_elsewhere())))


def _busy_elsewhere(samples: int = 5) -> int:
    """Count runnable tasks other than this thread and this process's native worker threads.

    Returns
    -------
    int
        The fewest seen over ``samples`` readings 2 ms apart, 0 where the kernel does not say.

    Notes
    -----
    Worker threads of this process that Python did not start
    (LightGBM's OpenMP team, the BLAS pool) keep spinning for a while after their last job and
    would count as a competitor: in a CDNOW ``train`` three of eight LightGBM fits, each right
    after another fit's prediction, ran on one thread for that reason. They only ever work
    for this thread, so they are left out; a thread Python started (such as the one opening
    MLflow's store) is counted, as another process is.
    """
    counts = []
    for _ in range(samples):
        try:
            with open("/proc/loadavg", encoding="ascii") as handle:
                runnable = int(handle.read().split()[3].split("/")[0])
        except (OSError, IndexError, ValueError):  # not Linux
            return 0
        counts.append(runnable - 1 - _own_workers_running())
        time.sleep(0.002)
    return max(0, min(counts))


def _own_workers_running() -> int:
    """Count the runnable threads of this process that Python did not start (0 if unknown)."""
    python = {t.native_id for t in threading.enumerate()}
    running = 0
    try:
        tasks = os.listdir("/proc/self/task")
    except OSError:
        return 0
    for tid in tasks:
        if int(tid) in python:
            continue
        try:
            with open(f"/proc/self/task/{tid}/stat", encoding="ascii", errors="replace") as h:
                state = h.read().rsplit(")", 1)[1].split()[0]
        except (OSError, IndexError):
            continue  # the thread ended meanwhile
        running += state == "R"
    return running


class Params:
    """Parameters read from the ``__init__`` signature: ``get_params``, ``set_params``, repr."""

    @classmethod
    def _param_names(cls) -> list[str]:
        signature = inspect.signature(cls.__init__)
        return [
            p.name
            for p in signature.parameters.values()
            if p.name != "self" and p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD)
        ]

    def get_params(self) -> dict[str, Any]:
        """Return the constructor parameters and their current values.

        Returns
        -------
        dict
            ``{name: value}`` for every ``__init__`` parameter.
        """
        return {name: getattr(self, name) for name in self._param_names()}

    def set_params(self, **params: Any) -> Params:
        """Set constructor parameters (before fitting).

        Parameters
        ----------
        **params
            Parameter names and values.

        Returns
        -------
        Params
            ``self``.

        Raises
        ------
        ConfigError
            A name is not a parameter of this class.
        """
        names = self._param_names()
        for key, value in params.items():
            if key not in names:
                raise ConfigError(
                    f"{type(self).__name__} has no parameter {key!r}; parameters: "
                    + ", ".join(names)
                )
            setattr(self, key, value)
        return self

    def _changed_params(self) -> dict[str, Any]:
        defaults = {
            p.name: p.default for p in inspect.signature(type(self).__init__).parameters.values()
        }
        return {k: v for k, v in self.get_params().items() if defaults.get(k) != v}

    def _fitted_note(self) -> str:
        return ""

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self._changed_params().items())
        return f"{type(self).__name__}({args}){self._fitted_note()}"


class BaseScorer(Params):
    """Base of every scorer: transactions in, one row of scores per customer out.

    Subclasses implement ``fit``, ``predict``, :meth:`_get_state` and :meth:`_set_state`, and
    set ``as_of_`` and ``diagnostics_`` in ``fit``.

    Attributes
    ----------
    as_of_ : pandas.Timestamp
        The as-of date the scorer was fitted at.
    diagnostics_ : dict
        What the fit did: parameters chosen, fallbacks, warnings.
    """

    _registry: ClassVar[dict[str, type[BaseScorer]]] = {}
    #: Parameters added after models were saved, with the value those models were fitted
    #: with (which may differ from today's default): a loaded model states what it was.
    _saved_before: ClassVar[dict[str, Any]] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        # Only churnml's own classes can be named by a saved file, and loading never imports
        # anything: a subclass defined elsewhere (a notebook, a plug-in) is not loadable.
        if not cls.__module__.startswith("churnml."):
            return
        if cls.__name__ in BaseScorer._registry:
            raise TypeError(f"two churnml scorers are named {cls.__name__}")
        BaseScorer._registry[cls.__name__] = cls

    @property
    @abstractmethod
    def name(self) -> str:
        """Model key in evaluation tables and the catalogue."""

    @property
    def is_fitted(self) -> bool:
        """Whether ``fit`` has run (or a fitted scorer was loaded)."""
        return hasattr(self, "as_of_")

    def check_fitted(self) -> None:
        """Raise if the scorer is not fitted.

        Raises
        ------
        NotFittedError
            ``fit`` has not been called.
        """
        if not self.is_fitted:
            raise NotFittedError(f"{type(self).__name__} is not fitted; call fit() first")

    def _fitted_note(self) -> str:
        if not self.is_fitted:
            return " [not fitted]"
        return f" [fitted at {self.as_of_.date()}]"

    def _start_fit(self) -> None:
        # as_of_ marks a finished fit: a refit that fails half-way must not look fitted
        self.__dict__.pop("as_of_", None)

    @abstractmethod
    def fit(self, tx: Any, as_of: Any, horizon_days: int = 90) -> BaseScorer:
        """Fit on the data up to ``as_of``; rows after it are never read.

        Parameters
        ----------
        tx : ValidatedTransactions or pandas.DataFrame
            Validated transactions.
        as_of : str or pandas.Timestamp
            End of the fitting window.
        horizon_days : int
            Prediction horizon the model is trained for (BTYD models predict any horizon).

        Returns
        -------
        BaseScorer
            ``self``, fitted.
        """

    @abstractmethod
    def predict(
        self,
        tx: Any,
        as_of: Any,
        horizon_days: int,
        *,
        population: Mapping[str, Any] | None = None,
    ) -> pd.DataFrame:
        """Score every customer with a purchase on or before ``as_of``.

        Parameters
        ----------
        tx : ValidatedTransactions or pandas.DataFrame
            Validated transactions (rows after as-of are ignored).
        as_of : str or pandas.Timestamp
            Scoring date.
        horizon_days : int
            Horizon of the probabilities and expectations.
        population : dict, optional
            What the rows read of the whole population when ``tx`` holds only some of its
            customers: :meth:`solve_population`'s result. Default: ``tx`` is everyone.

        Returns
        -------
        pandas.DataFrame
            Indexed by ``customer_id``: the contract's model columns (``p_alive``,
            ``p_repurchase``, ``expected_purchases``, ``expected_revenue``, ``clv``, timing).
        """

    @abstractmethod
    def predict_yet_to_buy(
        self, first_day: pd.Series, as_of: Any, horizon_days: int
    ) -> pd.DataFrame:
        """Score customers seen up to ``as_of`` who have no purchase yet.

        A customer whose lines all net to zero or less (returns, zero amounts) has no purchase
        for :meth:`predict` to score; each model says what it predicts for such a customer,
        from the day of their first line only.

        Parameters
        ----------
        first_day : pandas.Series
            Day number (days since 1970-01-01) of each customer's first line, indexed by
            customer.
        as_of : str or pandas.Timestamp
            Scoring date.
        horizon_days : int
            Horizon of the probabilities and expectations.

        Returns
        -------
        pandas.DataFrame
            The model columns of :meth:`predict`, indexed like ``first_day``.
        """

    @abstractmethod
    def _get_state(self, folder: Path | None) -> dict[str, Any]:
        """Fitted state as JSON-ready data (large parts may go to files in ``folder``)."""

    @abstractmethod
    def _set_state(self, state: dict[str, Any], folder: Path | None) -> None:
        """Restore what :meth:`_get_state` returned."""

    # -- persistence -----------------------------------------------------------------------
    def _payload(self, folder: Path | None) -> dict[str, Any]:
        self.check_fitted()
        return {
            "scorer": type(self).__name__,
            "churnml_version": __version__,
            "params": {k: _encode(v) for k, v in self.get_params().items()},
            "as_of": str(self.as_of_.date()),
            "diagnostics": self.diagnostics_,
            "state": self._get_state(folder),
        }

    @classmethod
    def _from_payload(cls, payload: dict[str, Any], folder: Path | None) -> Any:
        name = payload.get("scorer")
        kind = BaseScorer._registry.get(str(name))
        if kind is None or not issubclass(kind, cls):
            raise ConfigError(
                f"{cls.__name__}: the saved model is a {name!r}, not a {cls.__name__} "
                f"(known: {', '.join(sorted(BaseScorer._registry))})"
            )
        try:
            params = {**kind._saved_before, **payload["params"]}
            scorer = kind(**{k: _decode(v) for k, v in params.items()})
            scorer.diagnostics_ = payload["diagnostics"]
            scorer._set_state(payload["state"], folder)
            scorer.as_of_ = parse_day(payload["as_of"])
        except (KeyError, TypeError, ValueError) as exc:
            raise ConfigError(
                f"{name}: the saved model does not match this churnml version "
                f"({type(exc).__name__}: {exc}); retrain it"
            ) from None
        return scorer

    def to_json(self) -> str:
        """Return the fitted scorer as JSON: class, parameters, fitted state, diagnostics.

        Returns
        -------
        str
            JSON text; :meth:`from_json` rebuilds an equal scorer from it.
        """
        return json.dumps(self._payload(None), indent=2, default=str)

    @classmethod
    def from_json(cls, text: str) -> Any:
        """Rebuild a fitted scorer from :meth:`to_json` output (no code is executed).

        Parameters
        ----------
        text : str
            JSON written by :meth:`to_json`.

        Returns
        -------
        BaseScorer
            The fitted scorer, of the class named in ``text``.
        """
        return cls._from_payload(json.loads(text), None)

    def save(self, folder: str | Path) -> Path:
        """Write the fitted scorer into ``folder`` (created): ``scorer.json`` and any model files.

        Parameters
        ----------
        folder : str or pathlib.Path
            Destination folder.

        Returns
        -------
        pathlib.Path
            The path of ``scorer.json``.
        """
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / SCORER_FILE
        path.write_text(json.dumps(self._payload(folder), indent=2, default=str) + "\n")
        return path

    @classmethod
    def load(cls, folder: str | Path) -> Any:
        """Rebuild a scorer written by :meth:`save` (JSON and LightGBM text; no pickle).

        Parameters
        ----------
        folder : str or pathlib.Path
            A folder written by :meth:`save`.

        Returns
        -------
        BaseScorer
            The fitted scorer.

        Raises
        ------
        ConfigError
            ``folder`` holds no saved scorer.
        """
        folder = Path(folder)
        path = folder / SCORER_FILE
        if not path.is_file():
            raise ConfigError(f"{folder} holds no saved churnml model (no {SCORER_FILE})")
        return cls._from_payload(json.loads(path.read_text()), folder)

    # -- the one non-finite fallback ---------------------------------------------------------
    def population_inputs(
        self, tx: Any, as_of: Any, horizon_days: int, population: Mapping[str, Any]
    ) -> pd.DataFrame | None:
        """Per-customer numbers a score over everyone needs from everyone, or None.

        Most scorers score each customer from that customer's lines alone: they need
        nothing and return None. A scorer that anchors its level to the whole population
        (LightGBM's) returns the numbers its anchors are solved from. Scoring in parts
        (Spark) runs rounds until this returns None: each part's rows are gathered and
        :meth:`solve_population` solves them on the driver, then every part is scored
        with ``predict(..., population=...)``; the rows equal one ``predict`` over
        everyone.

        Parameters
        ----------
        tx : ValidatedTransactions or pandas.DataFrame
            Some (or all) of the customers' validated lines.
        as_of : str or pandas.Timestamp
            Scoring date.
        horizon_days : int
            Horizon.
        population : dict
            What is known of the population so far: ``first_date`` (the log's first line)
            and what earlier rounds solved.

        Returns
        -------
        pandas.DataFrame or None
            Numbers indexed by ``customer_id``; None when nothing (more) is needed.
        """
        return None

    def solve_population(
        self, inputs: pd.DataFrame, population: Mapping[str, Any]
    ) -> dict[str, Any]:
        """Solve one round of :meth:`population_inputs` over everyone's rows.

        Parameters
        ----------
        inputs : pandas.DataFrame
            Every part's rows of the round, together.
        population : dict
            What is known so far.

        Returns
        -------
        dict
            ``population`` with this round's solution (JSON numbers, so it can be sent to
            every worker).
        """
        return dict(population)

    def _fill_nonfinite(
        self, out: pd.DataFrame, fallback: Callable[[], pd.DataFrame]
    ) -> pd.DataFrame:
        """Replace rows holding NaN or infinity with ``fallback()``'s rows for those customers.

        ``next_purchase_date`` and ``reasons`` are not numbers; ``payback_days`` is NaN by
        design when the acquisition cost is not recovered within the CLV horizon. The count
        replaced goes to ``diagnostics_["n_nonfinite_replaced"]``.

        Returns
        -------
        pandas.DataFrame
            ``out``, with those rows replaced.
        """
        # CLV and timing a scorer was asked not to compute (``clv=False``, ``timing=False``)
        # are NaN on purpose
        skipped = [] if getattr(self, "clv", True) else ["clv", "net_clv"]
        if not getattr(self, "timing", True):
            skipped += [*TIMING_COLUMNS]
        numeric = out.drop(
            columns=["next_purchase_date", "payback_days", "reasons", *skipped], errors="ignore"
        )
        bad = ~np.isfinite(numeric.to_numpy(dtype=float)).all(axis=1)
        if hasattr(self, "diagnostics_"):
            self.diagnostics_["n_nonfinite_replaced"] = int(bad.sum())
        if not bad.any():
            return out
        replacement = fallback()
        out = out.copy()
        shared = [c for c in replacement.columns if c in out.columns]
        out.loc[bad, shared] = replacement.loc[out.index[bad], shared]
        return out
