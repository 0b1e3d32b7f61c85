"""Settings of a run: CLV valuation, segment rules and the frozen :class:`RunSettings`.

A run (``train`` or ``evaluate``) is described by one :class:`RunSettings`. Its
:meth:`~RunSettings.to_dict` is what MLflow records as parameters and model-version tags, and
:meth:`~RunSettings.from_dict` rebuilds the settings from that record, so a registered model's
configuration can be re-run exactly. Nothing here imports churnml beyond ``config`` and
``exceptions``. Customer ids excluded by the validation policy are recorded as a count and a
SHA-256 digest, never as ids.
"""

from __future__ import annotations

import hashlib
import numbers
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any, Literal

import pandas as pd

from churnml.config import DEFAULT_MAX_CUSTOMERS, ValidationPolicy, parse_day
from churnml.exceptions import ConfigError

__all__ = ["RunSettings", "SegmentRules", "ValueSettings"]


@dataclass(frozen=True)
class ValueSettings:
    """How CLV is computed.

    Parameters
    ----------
    horizon_days : int
        CLV horizon (default one year).
    margin : float
        Share of revenue that is margin, in (0, 1]. The default 1.0 makes CLV discounted
        revenue; set your gross margin.
    annual_discount_rate : float
        Yearly discount rate (default 10 %).
    acquisition_cost : float, optional
        Cost of acquiring a customer; gives net CLV and the payback time.
    """

    horizon_days: int = 365
    margin: float = 1.0
    annual_discount_rate: float = 0.10
    acquisition_cost: float | None = None

    def __post_init__(self) -> None:
        if not (isinstance(self.horizon_days, int) and self.horizon_days > 0):
            raise ConfigError(
                f"ValueSettings.horizon_days must be a positive whole number; "
                f"got {self.horizon_days!r}"
            )
        if not 0 < self.margin <= 1:
            raise ConfigError(f"ValueSettings.margin must be in (0, 1]; got {self.margin!r}")
        if not 0 <= self.annual_discount_rate < 1:
            raise ConfigError(
                "ValueSettings.annual_discount_rate must be in [0, 1); "
                f"got {self.annual_discount_rate!r}"
            )
        if self.acquisition_cost is not None and self.acquisition_cost < 0:
            raise ConfigError(
                f"ValueSettings.acquisition_cost must be >= 0; got {self.acquisition_cost!r}"
            )


@dataclass(frozen=True)
class SegmentRules:
    """Day thresholds on days since the last purchase, and tier shares on CLV.

    Parameters
    ----------
    active_days : int
        Bought within this many days: ``new`` (one purchase) or ``active`` (two or more).
    warm_days, high_recall_days, low_recall_days : int
        Upper bounds of ``warm``, ``high_recall`` and ``low_recall``; beyond the last: ``lost``.
    gold_share, silver_share : float
        Shares of customers, by descending CLV, in the gold and silver tiers.
    """

    active_days: int = 45
    warm_days: int = 90
    high_recall_days: int = 180
    low_recall_days: int = 360
    gold_share: float = 0.2
    silver_share: float = 0.3

    def __post_init__(self) -> None:
        bounds = [self.active_days, self.warm_days, self.high_recall_days, self.low_recall_days]
        if any(b <= 0 for b in bounds) or bounds != sorted(set(bounds)):
            raise ConfigError(
                "SegmentRules day thresholds must be positive and strictly increasing "
                f"(active < warm < high_recall < low_recall); got {bounds}"
            )
        if not (
            0 < self.gold_share
            and 0 <= self.silver_share
            and self.gold_share + self.silver_share <= 1
        ):
            raise ConfigError(
                "SegmentRules tier shares must satisfy 0 < gold_share, 0 <= silver_share and "
                f"gold_share + silver_share <= 1; got {self.gold_share}, {self.silver_share}"
            )


def _policy_to_dict(policy: ValidationPolicy) -> dict[str, Any]:
    out = asdict(policy)
    # Runs and models never hold a customer id: the excluded ids are recorded as a count and
    # a digest, enough to tell two runs' exclusions apart.
    ids = sorted(policy.exclude_customers)
    out["exclude_customers"] = {
        "count": len(ids),
        "sha256": hashlib.sha256("\n".join(ids).encode()).hexdigest() if ids else None,
    }
    return out


def _whole(value: Any, owner: str, name: str, positive: bool) -> int:
    """Return ``value`` as an int if it is a whole number (numpy integers included)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ConfigError(f"{owner}.{name} must be a whole number; got {value!r}")
    if positive and value <= 0:
        raise ConfigError(f"{owner}.{name} must be a positive whole number; got {value!r}")
    return int(value)


@dataclass(frozen=True)
class RunSettings:
    """Everything that defines a ``train`` or ``evaluate`` run, frozen.

    Parameters
    ----------
    as_of : pandas.Timestamp, optional
        Training as-of (``train``): the last day of data used. None until resolved from the data.
    cutoff : pandas.Timestamp, optional
        Evaluation cutoff (``evaluate``): the last day of fitting data.
    horizon_days : int
        Prediction horizon, and the length of the backtest holdout.
    families : tuple of str
        Model keys compared (see :data:`churnml.models.catalog.CATALOGUE`).
    freq : {"D", "W"}
        Purchase unit of the BTYD models.
    seed : int
        Random seed of the models that use one.
    value : ValueSettings
        CLV settings.
    segments : SegmentRules
        Lifecycle thresholds and value-tier shares.
    policy : ValidationPolicy
        How the transactions were validated.
    max_customers : int or None
        ``train`` fits on a fixed random sample of this many customers when the data has more
        (:func:`~churnml.data.sampling.sample_customers`); None fits on everyone.

    Examples
    --------
    >>> from churnml import RunSettings
    >>> s = RunSettings(as_of="1997-12-31", families=("bgnbd", "gbm"), seed=3)
    >>> s.to_dict()["as_of"], s.to_dict()["families"]
    ('1997-12-31', ['bgnbd', 'gbm'])
    >>> RunSettings.from_dict(s.to_dict()) == s
    True
    """

    as_of: pd.Timestamp | None = None
    cutoff: pd.Timestamp | None = None
    horizon_days: int = 90
    families: tuple[str, ...] = ()
    freq: Literal["D", "W"] = "D"
    seed: int = 0
    value: ValueSettings = field(default_factory=ValueSettings)
    segments: SegmentRules = field(default_factory=SegmentRules)
    policy: ValidationPolicy = field(default_factory=ValidationPolicy)
    max_customers: int | None = DEFAULT_MAX_CUSTOMERS

    def __post_init__(self) -> None:
        for name in ("as_of", "cutoff"):
            day = getattr(self, name)
            if day is not None:
                object.__setattr__(self, name, parse_day(day, name))
        object.__setattr__(
            self, "horizon_days", _whole(self.horizon_days, "RunSettings", "horizon_days", True)
        )
        if isinstance(self.families, str):
            raise ConfigError(
                f"RunSettings.families must be a sequence of model keys; got {self.families!r}"
            )
        object.__setattr__(self, "families", tuple(self.families))
        if self.freq not in ("D", "W"):
            raise ConfigError(f"RunSettings.freq must be 'D' or 'W'; got {self.freq!r}")
        object.__setattr__(self, "seed", _whole(self.seed, "RunSettings", "seed", False))
        if self.max_customers is not None:
            object.__setattr__(
                self,
                "max_customers",
                _whole(self.max_customers, "RunSettings", "max_customers", True),
            )
        for name, kind in (
            ("value", ValueSettings),
            ("segments", SegmentRules),
            ("policy", ValidationPolicy),
        ):
            if not isinstance(getattr(self, name), kind):
                raise ConfigError(
                    f"RunSettings.{name} must be a {kind.__name__}; got {getattr(self, name)!r}"
                )

    def replace(self, **changes: Any) -> RunSettings:
        """Return a copy with some fields changed (validated again).

        Parameters
        ----------
        **changes
            Field names and their new values.

        Returns
        -------
        RunSettings
            The new settings.

        Raises
        ------
        ConfigError
            A name is not a field, or a value is invalid.
        """
        unknown = set(changes) - {f.name for f in fields(self)}
        if unknown:
            raise ConfigError(f"RunSettings has no field {', '.join(sorted(unknown))}")
        return replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        """Return the settings as JSON-ready nested dictionaries (dates as ``YYYY-MM-DD``).

        Returns
        -------
        dict
            One key per field; ``value``, ``segments`` and ``policy`` are dictionaries. The
            policy's excluded customer ids appear only as ``{"count", "sha256"}``.
        """
        return {
            "as_of": None if self.as_of is None else str(self.as_of.date()),
            "cutoff": None if self.cutoff is None else str(self.cutoff.date()),
            "horizon_days": self.horizon_days,
            "families": list(self.families),
            "freq": self.freq,
            "seed": self.seed,
            "value": asdict(self.value),
            "segments": asdict(self.segments),
            "policy": _policy_to_dict(self.policy),
            "max_customers": self.max_customers,
        }

    @classmethod
    def from_dict(cls, payload: dict[str, Any]) -> RunSettings:
        """Rebuild settings from :meth:`to_dict` output.

        Parameters
        ----------
        payload : dict
            A dictionary written by :meth:`to_dict` (missing keys take their defaults).

        Returns
        -------
        RunSettings
            Equal to the settings that wrote ``payload``, except that a policy's excluded
            customer ids, recorded only as a count and digest, are not restored.

        Raises
        ------
        ConfigError
            A key is not a field, or a value is invalid.
        """
        unknown = set(payload) - {f.name for f in fields(cls)}
        if unknown:
            raise ConfigError(f"RunSettings.from_dict: unknown keys {', '.join(sorted(unknown))}")
        data = dict(payload)
        try:
            if data.get("value") is not None:
                data["value"] = ValueSettings(**data["value"])
            if data.get("segments") is not None:
                data["segments"] = SegmentRules(**data["segments"])
            if data.get("policy") is not None:
                policy = dict(data["policy"])
                ids = policy.get("exclude_customers") or ()
                # a record holds a count and digest, not the ids: it rebuilds no exclusion list
                policy["exclude_customers"] = (
                    frozenset() if isinstance(ids, dict) else frozenset(ids)
                )
                data["policy"] = ValidationPolicy(**policy)
        except TypeError as exc:
            raise ConfigError(f"RunSettings.from_dict: {exc}") from None
        keeps_none = ("as_of", "cutoff", "max_customers")
        data = {k: v for k, v in data.items() if v is not None or k in keeps_none}
        return cls(**data)
