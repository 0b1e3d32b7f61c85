"""Connecting to the score store: SQLAlchemy engines, masked URLs, errors that name the store.

A store URL may carry a password (``postgresql+psycopg://user:secret@host/db``). Only the
masked form (``user:***@host``) ever leaves this module: in ``repr``, in logs and in every
error message.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event, exc
from sqlalchemy.engine import URL, Engine, make_url

from churnml.exceptions import ConfigError

__all__ = ["create_store_engine", "masked_url", "store_errors"]

# user:password@ in a string SQLAlchemy could not parse, which therefore cannot mask it itself
_PASSWORD = re.compile(r"(://[^:/@]*:)[^@]*@")
_EXAMPLES = "e.g. sqlite:///scores.db or postgresql+psycopg://user:password@host:5432/db"
# SQLite waits this long for another writer's lock before failing (its default is 5 s; a
# publish of a million rows holds the lock longer than that)
_SQLITE_TIMEOUT_S = 60


def masked_url(url: str | URL) -> str:
    """Return a store URL with its password replaced by ``***``.

    Parameters
    ----------
    url : str or sqlalchemy.engine.URL
        A SQLAlchemy URL.

    Returns
    -------
    str
        The URL, safe to print and log.

    Examples
    --------
    >>> masked_url("postgresql+psycopg://scores:s3cret@db.internal:5432/crm")
    'postgresql+psycopg://scores:***@db.internal:5432/crm'
    """
    try:
        parsed = url if isinstance(url, URL) else make_url(url)
    except (exc.ArgumentError, ValueError):
        return _PASSWORD.sub(r"\1***@", str(url))
    return parsed.render_as_string(hide_password=True)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    # WAL: a reader (the server) never waits for a writer (a publish) nor blocks it; the mode
    # is stored in the file, so this only changes anything on the first connection.
    cursor.execute("PRAGMA journal_mode=WAL")
    # Safe with WAL (no corruption on power loss; at most the last commit is lost) and it
    # spares an fsync per transaction.
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def create_store_engine(url: str) -> Engine:
    """Create the engine of a score store; nothing connects until it is used.

    SQLite connections switch the file to write-ahead logging (``PRAGMA journal_mode=WAL``)
    and enforce foreign keys; other databases get a pre-ping, so a restarted server costs
    one failed check instead of a failed request.

    Parameters
    ----------
    url : str
        SQLAlchemy URL.

    Returns
    -------
    sqlalchemy.engine.Engine
        The engine.

    Raises
    ------
    ConfigError
        The URL is not a SQLAlchemy URL, or its driver is not installed.
    """
    try:
        parsed = make_url(url)
    except (exc.ArgumentError, ValueError):
        raise ConfigError(
            f"score store URL {masked_url(url)!r} is not a SQLAlchemy URL ({_EXAMPLES})"
        ) from None
    sqlite = parsed.get_backend_name() == "sqlite"
    options: dict[str, Any] = {}
    if sqlite:
        options["connect_args"] = {"timeout": _SQLITE_TIMEOUT_S}
    else:
        options["pool_pre_ping"] = True
    try:
        engine = sa.create_engine(parsed, **options)
    except (exc.NoSuchModuleError, ImportError) as error:
        raise ConfigError(
            f"score store {masked_url(parsed)}: no installed driver for "
            f"{parsed.drivername!r} ({type(error).__name__}: {error}); {_EXAMPLES}"
        ) from None
    if sqlite:
        event.listen(engine, "connect", _sqlite_pragmas)
    return engine


def _reason(error: exc.DBAPIError, password: str | None) -> str:
    """Return the driver's first line, without the SQL statement SQLAlchemy appends."""
    text = str(error.orig).strip().splitlines()[0] if error.orig is not None else str(error)
    if password:
        text = text.replace(password, "***")
    return text


@contextmanager
def store_errors(shown: str, password: str | None = None) -> Iterator[None]:
    """Turn database errors into a :class:`~churnml.exceptions.ConfigError` naming the store.

    Parameters
    ----------
    shown : str
        The masked store URL.
    password : str, optional
        The URL's password, scrubbed from driver messages should one quote it.

    Yields
    ------
    None
        Inside the block, database errors are translated.

    Raises
    ------
    ConfigError
        A database error happened in the block: the message names the store and the driver's
        reason, never the SQL or the password.
    """
    try:
        yield
    except exc.DBAPIError as error:
        raise ConfigError(f"score store {shown}: {_reason(error, password)}") from None
