"""Settings shared by every layer: column names, validation policies and default paths.

Nothing here imports the rest of churnml.
"""

from __future__ import annotations

import hashlib
import numbers
import os
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Literal

import pandas as pd

from churnml.exceptions import ConfigError

__all__ = [
    "DEFAULT_HORIZON_DAYS",
    "parse_day",
    "FEATURE_WINDOWS_DAYS",
    "DEFAULT_MAX_CUSTOMERS",
    "ColumnMap",
    "ValidationPolicy",
    "REGISTERED_MODEL",
    "EXPERIMENT",
    "SCORE_STORE_ENV",
    "DEFAULT_SCORE_STORE",
    "SNAPSHOT_KEEP_ENV",
    "DEFAULT_SNAPSHOT_KEEP",
    "models_dir",
    "score_store_url",
    "snapshot_keep",
    "tracking_uri",
    "API_KEYS_ENV",
    "api_key_digests",
]

REGISTERED_MODEL = "churnml"
"""Name of the registered model in the MLflow registry."""
#: MLflow experiment that train and evaluate runs go to.
EXPERIMENT = "churnml"

#: Environment variable holding the score store's SQLAlchemy URL.
SCORE_STORE_ENV = "CHURNML_SCORE_STORE"
DEFAULT_SCORE_STORE = "sqlite:///scores.db"
"""Score store used when neither an argument nor ``CHURNML_SCORE_STORE`` names one.

A SQLite file in the working directory, beside MLflow's default ``mlruns.db``.
"""
#: Environment variable holding how many score snapshots the store keeps.
SNAPSHOT_KEEP_ENV = "CHURNML_SNAPSHOT_KEEP"
#: Snapshots kept when neither an argument nor ``CHURNML_SNAPSHOT_KEEP`` says how many.
DEFAULT_SNAPSHOT_KEEP = 10

#: Default prediction horizon in days.
DEFAULT_HORIZON_DAYS = 90
#: Customers ``train`` fits on at most: a fixed random sample of them past this (see
#: :mod:`churnml.data.sampling`); scoring always reads everyone.
DEFAULT_MAX_CUSTOMERS = 200_000
#: Trailing windows (days before as-of) for the machine-learning feature table.
FEATURE_WINDOWS_DAYS = (30, 90, 180, 365)


def parse_day(value: object, name: str = "as_of") -> pd.Timestamp:
    """Parse a date given by a user into midnight of that day.

    Parameters
    ----------
    value : object
        A date string (``YYYY-MM-DD``), ``datetime`` or ``pandas.Timestamp``.
    name : str
        The parameter's name, for the message.

    Returns
    -------
    pandas.Timestamp
        Midnight of the day, timezone-naive.

    Raises
    ------
    ConfigError
        ``value`` is not a date.
    """
    try:
        day = pd.Timestamp(value)  # type: ignore[arg-type]
    except (ValueError, TypeError):
        day = pd.NaT
    if pd.isna(day):
        raise ConfigError(f"{name} must be a date such as 2011-09-09; got {value!r}")
    if day.tzinfo is not None:
        day = day.tz_localize(None)
    return day.normalize()


def models_dir() -> Path:
    """Return the folder where model bundles and score snapshots go by default.

    ``CHURNML_MODELS_DIR`` overrides it; otherwise ``./models`` in the working directory.

    Returns
    -------
    pathlib.Path
        The folder (not created here).
    """
    return Path(os.environ.get("CHURNML_MODELS_DIR", "models"))


@dataclass(frozen=True)
class ColumnMap:
    """Names of the input columns, mapped onto churnml's canonical names.

    Parameters
    ----------
    customer_id, date, amount : str
        Required columns.
    order_id, product_id, quantity, channel : str
        Optional columns; used when present in the input.
    """

    customer_id: str = "customer_id"
    date: str = "date"
    amount: str = "amount"
    order_id: str = "order_id"
    product_id: str = "product_id"
    quantity: str = "quantity"
    channel: str = "channel"

    REQUIRED = ("customer_id", "date", "amount")
    OPTIONAL = ("order_id", "product_id", "quantity", "channel")

    def source_names(self) -> dict[str, str]:
        """Map canonical column names to the names in the input.

        Returns
        -------
        dict of str to str
            ``{canonical name: name in the input}`` for every column.
        """
        return {f.name: getattr(self, f.name) for f in fields(self)}


Duplicates = Literal["auto", "drop", "keep"]
Returns = Literal["net", "drop"]


@dataclass(frozen=True)
class ValidationPolicy:
    """How validation treats rows that are not plain purchases.

    Parameters
    ----------
    returns : {"net", "drop"}
        ``"net"`` (default) keeps negative amounts and nets them against the customer's purchases of
        the same day; ``"drop"`` excludes them under reason ``return``.
    duplicates : {"auto", "drop", "keep"}
        Exact duplicate lines. ``"auto"`` drops them when an order id identifies lines (a repeated
        line of the same order is a logging error) and keeps them otherwise (two identical orders on
        one day are plausible), flagging them in the report either way.
    exclude_customers : frozenset of str
        Customer ids to exclude (test accounts).
    exclude_customer_pattern : str, optional
        Regular expression; customer ids that match it in full are excluded.
    max_customer_revenue : float, optional
        Customers whose total net revenue exceeds this are excluded as outliers.
    strict : bool
        Raise instead of excluding any row.
    freq : {"D", "W"}
        The purchase unit: a customer-day (BTYD convention) or a customer-week.
    date_format : str, optional
        ``strftime`` format of the date column; inferred from the data when omitted.
    """

    returns: Returns = "net"
    duplicates: Duplicates = "auto"
    exclude_customers: frozenset[str] = field(default_factory=frozenset)
    exclude_customer_pattern: str | None = None
    max_customer_revenue: float | None = None
    strict: bool = False
    freq: Literal["D", "W"] = "D"
    date_format: str | None = None

    def __post_init__(self) -> None:
        allowed = {
            "returns": ("net", "drop"),
            "duplicates": ("auto", "drop", "keep"),
            "freq": ("D", "W"),
        }
        for name, options in allowed.items():
            value = getattr(self, name)
            if value not in options:
                raise ConfigError(
                    f"ValidationPolicy.{name} must be one of {', '.join(map(repr, options))}; "
                    f"got {value!r}"
                )
        if self.max_customer_revenue is not None and not self.max_customer_revenue > 0:
            raise ConfigError(
                "ValidationPolicy.max_customer_revenue must be a positive number; "
                f"got {self.max_customer_revenue!r}"
            )
        if not isinstance(self.exclude_customers, frozenset):
            object.__setattr__(self, "exclude_customers", frozenset(self.exclude_customers))


def tracking_uri() -> str:
    """Return the MLflow tracking URI churnml logs to.

    ``MLFLOW_TRACKING_URI`` overrides it; otherwise a SQLite store ``mlruns.db`` in the working
    directory, with run artifacts in ``./mlruns`` beside it. These are MLflow's own defaults,
    so ``mlflow ui`` started in the same folder shows every run without options.

    Returns
    -------
    str
        A tracking URI (``sqlite:///...``, ``http://...``, ``file:...``).
    """
    uri = os.environ.get("MLFLOW_TRACKING_URI", "").strip()
    if uri:
        return uri
    return f"sqlite:///{(Path.cwd() / 'mlruns.db').as_posix()}"


def score_store_url(url: str | None = None) -> str:
    """Return the SQLAlchemy URL of the score store.

    Parameters
    ----------
    url : str, optional
        An explicit URL, used as given when not empty.

    Returns
    -------
    str
        ``url``, else ``CHURNML_SCORE_STORE``, else :data:`DEFAULT_SCORE_STORE`
        (``sqlite:///scores.db``, relative to the working directory).
    """
    for candidate in (url, os.environ.get(SCORE_STORE_ENV)):
        if candidate is not None and candidate.strip():
            return candidate.strip()
    return DEFAULT_SCORE_STORE


def snapshot_keep(keep: int | None = None) -> int:
    """Return how many score snapshots the store keeps.

    Parameters
    ----------
    keep : int, optional
        An explicit count, used when given.

    Returns
    -------
    int
        ``keep``, else ``CHURNML_SNAPSHOT_KEEP``, else :data:`DEFAULT_SNAPSHOT_KEEP`.

    Raises
    ------
    ConfigError
        The count is not a whole number of at least 1.
    """
    name = "keep"
    value: object = keep
    if keep is None:
        text = os.environ.get(SNAPSHOT_KEEP_ENV, "").strip()
        if not text:
            return DEFAULT_SNAPSHOT_KEEP
        name = SNAPSHOT_KEEP_ENV
        try:
            value = int(text)
        except ValueError:
            value = text
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ConfigError(f"{name} must be a whole number of snapshots, at least 1; got {value!r}")
    return int(value)


#: Environment variable holding the HTTP API's keys (comma-separated).
API_KEYS_ENV = "CHURNML_API_KEYS"
_HASH_PREFIX = "sha256:"


def api_key_digests(keys: str) -> tuple[bytes, ...]:
    """SHA-256 digests of comma-separated API keys, each plaintext or ``sha256:<hex>``.

    The HTTP service compares a presented key's digest with these; ``churnml serve`` reads
    the same way before starting, so a malformed entry stops it with a clear error.

    Parameters
    ----------
    keys : str
        The environment variable's value (``CHURNML_API_KEYS`` or ``CHURNML_ADMIN_KEYS``).

    Returns
    -------
    tuple of bytes
        One 32-byte digest per key; empty entries are skipped.

    Raises
    ------
    ConfigError
        An entry is ``sha256:`` without 64 hexadecimal digits after it, or a plaintext key has
        characters outside printable ASCII (an HTTP header could not carry it). The message
        gives the entry's position, never its value.

    Examples
    --------
    >>> import hashlib
    >>> plain = api_key_digests("s3cret")
    >>> hashed = api_key_digests("sha256:" + hashlib.sha256(b"s3cret").hexdigest())
    >>> plain == hashed
    True
    """
    out = []
    for position, entry in enumerate((k.strip() for k in keys.split(",")), start=1):
        if not entry:
            continue
        if entry.startswith(_HASH_PREFIX):
            try:
                digest = bytes.fromhex(entry.removeprefix(_HASH_PREFIX))
            except ValueError:
                digest = b""
            if len(digest) != hashlib.sha256().digest_size:
                raise ConfigError(
                    f"API key {position} starts with {_HASH_PREFIX!r} but is not followed by "
                    "64 hexadecimal digits"
                )
            out.append(digest)
        elif not (entry.isascii() and entry.isprintable()):
            raise ConfigError(
                f"API key {position} has characters outside printable ASCII, which an "
                "X-API-Key header cannot carry"
            )
        else:
            out.append(hashlib.sha256(entry.encode()).digest())
    return tuple(out)
