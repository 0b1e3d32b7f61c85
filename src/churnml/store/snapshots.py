"""Score snapshots in a database: publish, list, activate, read and look up.

A snapshot is one score table (every contract column, and every further score column) with its
model version, as-of, horizon, creation time and row count. Publishing writes the header, all
rows and the move of the current-snapshot pointer in one transaction, so a reader sees either
the old snapshot or the complete new one, never part of it. The newest ``keep`` snapshots are
kept (and always the current one); older ones are deleted with their rows in the same
transaction.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np
import orjson
import pandas as pd
import sqlalchemy as sa
from sqlalchemy import exc
from sqlalchemy.engine import Connection

from churnml.config import parse_day, score_store_url, snapshot_keep
from churnml.exceptions import ConfigError, DataValidationError
from churnml.scoring import CONTRACT_COLUMNS
from churnml.store.engine import create_store_engine, masked_url, store_errors
from churnml.store.schema import (
    FLOAT_COLUMNS,
    METADATA,
    ROWS,
    SNAPSHOTS,
    STATE,
    STATE_ID,
    TEXT_COLUMNS,
)

__all__ = ["ScoreStore", "Snapshot"]

# Rows per executemany call: large enough that the per-call cost vanishes, small enough that
# one chunk's parameters (a million rows would be over a gigabyte of dicts) stay small.
_CHUNK_ROWS = 20_000
_SOURCE = "scores"
_HEADER = (
    SNAPSHOTS.c.id,
    SNAPSHOTS.c.model_version,
    SNAPSHOTS.c.model_name,
    SNAPSHOTS.c.family,
    SNAPSHOTS.c.as_of,
    SNAPSHOTS.c.horizon_days,
    SNAPSHOTS.c.created_at,
    SNAPSHOTS.c.n_rows,
)


@dataclass(frozen=True)
class Snapshot:
    """One score snapshot in the store (its header; the rows are read with the store).

    Parameters
    ----------
    id : int
        Snapshot id, increasing with each publish and never reused.
    model_version : str
        The model that produced the scores (``churnml/3``, ``run:<id>``, ...).
    model_name : str or None
        Registered model name, when the model came from the registry.
    family : str or None
        Model family (``bgnbd``, ``gbm``, ...).
    as_of : str
        Scoring date, ``YYYY-MM-DD``.
    horizon_days : int
        Horizon of the probabilities and expectations.
    created_at : datetime.datetime
        When it was published (UTC, timezone-aware).
    n_rows : int
        Customers in the snapshot.
    is_current : bool
        Whether it is the snapshot served now.
    """

    id: int
    model_version: str
    model_name: str | None
    family: str | None
    as_of: str
    horizon_days: int
    created_at: datetime
    n_rows: int
    is_current: bool

    def to_dict(self) -> dict[str, Any]:
        """Return the header as a JSON-ready dict.

        Returns
        -------
        dict
            Every field, ``created_at`` as an ISO 8601 string with its UTC offset.
        """
        out = asdict(self)
        out["created_at"] = self.created_at.isoformat()
        return out


def _utc(value: datetime) -> datetime:
    # SQLite keeps no offset (what is stored is UTC); PostgreSQL answers in the session's zone
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def _snapshot(row: Any, current: int | None) -> Snapshot:
    return Snapshot(
        id=int(row.id),
        model_version=row.model_version,
        model_name=row.model_name,
        family=row.family,
        as_of=row.as_of,
        horizon_days=int(row.horizon_days),
        created_at=_utc(row.created_at),
        n_rows=int(row.n_rows),
        is_current=current is not None and int(row.id) == current,
    )


def _json_default(value: Any) -> Any:
    """Serialise what orjson cannot: missing-value markers as null, timestamps as ISO text."""
    if value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, pd.Timestamp):
        return value.isoformat()
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def _is_number_or_none(value: Any) -> bool:
    return value is None or (isinstance(value, int | float) and not isinstance(value, bool))


def _nullable(values: np.ndarray, missing: np.ndarray) -> list[Any]:
    out = values.astype(object)
    out[missing] = None
    return out.tolist()


@dataclass(frozen=True)
class _Prepared:
    """A score table checked and converted to what the rows table stores, column by column."""

    customer_id: np.ndarray
    floats: dict[str, np.ndarray]
    texts: dict[str, np.ndarray]
    extras: pd.DataFrame

    def __len__(self) -> int:
        return len(self.customer_id)

    @property
    def keys(self) -> tuple[str, ...]:
        """Rows-table columns of :meth:`records`' tuples, in order."""
        extra = ("extra",) if len(self.extras.columns) else ()
        return ("snapshot_id", "customer_id", *self.floats, *self.texts, *extra)

    def records(self, start: int, stop: int, snapshot_id: int) -> list[tuple[Any, ...]]:
        """Rows ``start`` to ``stop`` as tuples of :attr:`keys`, None for a missing value."""
        columns: list[list[Any]] = [
            [snapshot_id] * (stop - start),
            self.customer_id[start:stop].tolist(),
        ]
        for values in self.floats.values():
            part = values[start:stop]
            columns.append(_nullable(part, np.isnan(part)))
        for values in self.texts.values():
            part = values[start:stop]
            columns.append(_nullable(part, pd.isna(part)))
        if len(self.extras.columns):
            names = list(self.extras.columns)
            part = self.extras.iloc[start:stop]
            # orjson writes NaN and infinities as null, which is what a missing score is
            columns.append(
                [
                    orjson.dumps(
                        dict(zip(names, values, strict=True)), default=_json_default
                    ).decode()
                    for values in zip(*(part[n].tolist() for n in names), strict=True)
                ]
            )
        return list(zip(*columns, strict=True))


def _bad_rows(mask: np.ndarray | pd.Series, what: str, column: str) -> DataValidationError:
    positions = np.flatnonzero(np.asarray(mask))
    shown = ", ".join(map(str, positions[:5])) + (" ..." if len(positions) > 5 else "")
    return DataValidationError(
        _SOURCE, f"column {column!r}: {len(positions):,} row(s) {what} (row positions {shown})"
    )


def _prepare(scores: pd.DataFrame) -> _Prepared:
    """Check a score table and convert it for the rows table, or say what is wrong."""
    if not isinstance(scores, pd.DataFrame):
        raise ConfigError(f"scores must be a pandas DataFrame; got {type(scores).__name__}")
    repeated = sorted({str(c) for c in scores.columns[scores.columns.duplicated()]})
    if repeated:
        raise DataValidationError(_SOURCE, f"column(s) {repeated} appear more than once")
    missing = [c for c in CONTRACT_COLUMNS if c not in scores.columns]
    if missing:
        raise DataValidationError(
            _SOURCE,
            f"missing score column(s) {', '.join(map(repr, missing))}; a score table has "
            f"{', '.join(CONTRACT_COLUMNS)} (churnml.score's output)",
        )
    if scores.empty:
        raise DataValidationError(_SOURCE, "no rows: a snapshot needs at least one customer")

    ids = scores["customer_id"]
    if pd.api.types.is_numeric_dtype(ids) or pd.api.types.is_bool_dtype(ids):
        raise DataValidationError(
            _SOURCE,
            f"column 'customer_id' holds numbers ({ids.dtype}); customer ids are text (leading "
            "zeros matter): read the scores with dtype={'customer_id': str}",
        )
    absent = ids.isna().to_numpy()
    if absent.any():
        raise _bad_rows(absent, "have no customer id", "customer_id")
    text = ids.astype(str)
    blank = text.str.strip().eq("").to_numpy()
    if blank.any():
        raise _bad_rows(blank, "have an empty customer id", "customer_id")
    repeated_ids = text[text.duplicated(keep=False)]
    if not repeated_ids.empty:
        unique = list(dict.fromkeys(repeated_ids))
        shown = ", ".join(map(repr, unique[:5])) + (" ..." if len(unique) > 5 else "")
        raise DataValidationError(
            _SOURCE,
            f"column 'customer_id': {len(unique):,} customer id(s) appear more than once "
            f"({shown}); a snapshot holds one row per customer",
        )

    floats: dict[str, np.ndarray] = {}
    for name in FLOAT_COLUMNS:
        column = scores[name]
        try:
            values = pd.to_numeric(column, errors="raise").to_numpy(dtype=float, na_value=np.nan)
        except (ValueError, TypeError):
            bad = pd.to_numeric(column, errors="coerce").isna() & column.notna()
            raise _bad_rows(bad, "are not numbers", name) from None
        infinite = np.isinf(values)
        if infinite.any():
            raise _bad_rows(infinite, "are infinite", name)
        floats[name] = values

    texts: dict[str, np.ndarray] = {}
    dates = scores["next_purchase_date"]
    parsed = pd.to_datetime(dates, errors="coerce", format="ISO8601")
    unparsed = (parsed.isna() & dates.notna()).to_numpy()
    if unparsed.any():
        raise _bad_rows(unparsed, "are not dates", "next_purchase_date")
    texts["next_purchase_date"] = parsed.dt.strftime("%Y-%m-%d").to_numpy(dtype=object)
    for name in TEXT_COLUMNS[1:]:
        column = scores[name]
        values = column.astype(object).to_numpy(copy=True)
        if not isinstance(column.dtype, pd.StringDtype):
            present = column.notna().to_numpy()
            values[present] = [str(v) for v in values[present]]
        texts[name] = values

    extras = scores[[c for c in scores.columns if c not in CONTRACT_COLUMNS]]
    odd = [c for c in extras.columns if not isinstance(c, str)]
    if odd:
        raise DataValidationError(_SOURCE, f"column names must be text; got {odd[:5]}")
    return _Prepared(text.to_numpy(dtype=object), floats, texts, extras)


_PLACEHOLDERS = {"qmark": "?", "format": "%s", "pyformat": "%s"}


# PostgreSQL's binary COPY needs each column's type; these are the rows table's.
_COPY_TYPES = {sa.Integer: "int4", sa.Double: "float8", sa.String: "text"}


def _copy_types(keys: Sequence[str]) -> list[str]:
    return [
        next(name for kind, name in _COPY_TYPES.items() if isinstance(ROWS.c[key].type, kind))
        for key in keys
    ]


def _insert_rows(conn: Connection, keys: Sequence[str], records: list[tuple[Any, ...]]) -> None:
    """Insert one chunk of score rows, inside the caller's transaction.

    PostgreSQL through psycopg takes the rows with a binary ``COPY``, typed, so no value is
    printed and re-parsed as text. Other databases get one executemany of plain SQL with
    positional parameters: SQLAlchemy's per-row parameter processing would otherwise cost
    more than the database's own work (three quarters of a SQLite publish). Drivers with
    another parameter style take the ordinary Core path.

    Raises
    ------
    sqlalchemy.exc.DBAPIError
        The database refused the rows (the ``COPY`` path wraps the driver's error as
        SQLAlchemy does for the others).
    """
    quote = conn.dialect.identifier_preparer
    table = quote.format_table(ROWS)
    columns = ", ".join(map(quote.quote, keys))
    if conn.dialect.driver == "psycopg":
        sql = f"COPY {table} ({columns}) FROM STDIN (FORMAT BINARY)"
        dbapi = conn.dialect.loaded_dbapi
        try:
            # the connection SQLAlchemy holds, so the rows land in the same transaction
            with conn.connection.driver_connection.cursor() as cursor:  # type: ignore[union-attr]
                with cursor.copy(sql) as copy:
                    copy.set_types(_copy_types(keys))
                    for record in records:
                        copy.write_row(record)
        except dbapi.Error as error:
            # as SQLAlchemy would have wrapped it, so callers see one kind of database error
            wrapped = exc.DBAPIError.instance(sql, None, error, dbapi.Error)
            raise wrapped from error
        return
    mark = _PLACEHOLDERS.get(conn.dialect.paramstyle)
    if mark is None:
        conn.execute(ROWS.insert(), [dict(zip(keys, r, strict=True)) for r in records])
        return
    sql = f"INSERT INTO {table} ({columns}) VALUES ({', '.join([mark] * len(keys))})"
    conn.exec_driver_sql(sql, records)


def _snapshot_id(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise ConfigError(f"snapshot_id must be a whole number; got {value!r}")
    return int(value)


def _positive_int(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
        raise ConfigError(f"{name} must be a whole number of at least 1; got {value!r}")
    return int(value)


class ScoreStore:
    """Score snapshots in a SQL database (SQLite by default, PostgreSQL through psycopg).

    The tables are created on first use. Every method opens and closes its own connection,
    so one store can be shared by threads; :meth:`dispose` closes the pooled connections.

    Parameters
    ----------
    url : str, optional
        SQLAlchemy URL. Default: ``CHURNML_SCORE_STORE``, else ``sqlite:///scores.db`` in the
        working directory. PostgreSQL: ``postgresql+psycopg://user:password@host:5432/db``.

    Attributes
    ----------
    url : str
        The store's URL with any password masked (``***``): safe to print and log.

    Raises
    ------
    ConfigError
        The URL is not a SQLAlchemy URL or its driver is not installed. An unreachable
        database is reported by the first method that connects, naming the (masked) URL.

    Examples
    --------
    >>> import tempfile, pandas as pd
    >>> from churnml.scoring import CONTRACT_COLUMNS
    >>> row = dict.fromkeys(CONTRACT_COLUMNS, 0.5)
    >>> row.update(customer_id="007", next_purchase_date="2024-03-01", segment="warm",
    ...            value_tier="gold", model_version="churnml/1")
    >>> folder = tempfile.mkdtemp()
    >>> store = ScoreStore(f"sqlite:///{folder}/scores.db")
    >>> snap = store.publish(pd.DataFrame([row]), model_version="churnml/1",
    ...                      as_of="2024-01-31", horizon_days=90)
    >>> snap.id, snap.n_rows, store.current_id()
    (1, 1, 1)
    >>> store.lookup(1, "007")["segment"]
    'warm'
    >>> store.dispose()
    """

    def __init__(self, url: str | None = None) -> None:
        raw = score_store_url(url)
        self._engine = create_store_engine(raw)
        self._password = self._engine.url.password
        self.url = masked_url(self._engine.url)
        self._schema_ready = False

    def __repr__(self) -> str:
        return f"ScoreStore({self.url!r})"

    def __enter__(self) -> ScoreStore:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.dispose()

    def _errors(self) -> Any:
        return store_errors(self.url, str(self._password) if self._password else None)

    def _ensure_schema(self) -> None:
        if self._schema_ready:
            return
        with self._errors():
            try:
                METADATA.create_all(self._engine)
            except exc.DBAPIError:
                # another process created the tables at the same moment: they exist now
                METADATA.create_all(self._engine)
            with self._engine.connect() as conn:
                found = conn.execute(sa.select(STATE.c.id).where(STATE.c.id == STATE_ID)).first()
            if found is None:
                try:
                    with self._engine.begin() as conn:
                        conn.execute(STATE.insert().values(id=STATE_ID, current_snapshot_id=None))
                except exc.IntegrityError:
                    pass  # inserted by another process in between
        self._schema_ready = True

    def _current(self, conn: Connection) -> int | None:
        value = conn.execute(
            sa.select(STATE.c.current_snapshot_id).where(STATE.c.id == STATE_ID)
        ).scalar()
        return None if value is None else int(value)

    def _header(self, conn: Connection, snapshot_id: int) -> Snapshot | None:
        row = conn.execute(sa.select(*_HEADER).where(SNAPSHOTS.c.id == snapshot_id)).first()
        return None if row is None else _snapshot(row, self._current(conn))

    def _unknown(self, conn: Connection, snapshot_id: object) -> ConfigError:
        ids = conn.execute(sa.select(SNAPSHOTS.c.id).order_by(SNAPSHOTS.c.id.desc())).scalars()
        known = ", ".join(map(str, ids)) or "none; publish one with churnml score --publish"
        return ConfigError(f"score store {self.url} has no snapshot {snapshot_id!r} (ids: {known})")

    def publish(
        self,
        scores: pd.DataFrame,
        *,
        model_version: str,
        as_of: Any,
        horizon_days: int,
        model_name: str | None = None,
        family: str | None = None,
        keep: int | None = None,
        activate: bool = True,
    ) -> Snapshot:
        """Write a score table as a new snapshot and (by default) make it current.

        The header, every row, the pointer move and the pruning of old snapshots are one
        transaction: if anything fails, the store is as it was.

        Parameters
        ----------
        scores : pandas.DataFrame
            A score table (:func:`churnml.score_with` output): every column of
            :data:`~churnml.scoring.CONTRACT_COLUMNS`, one row per customer, plus any further
            score columns, which are stored too.
        model_version : str
            The model that produced the scores.
        as_of : str or datetime-like
            Scoring date.
        horizon_days : int
            Horizon of the scores.
        model_name : str, optional
            Registered model name.
        family : str, optional
            Model family.
        keep : int, optional
            Snapshots to keep, newest first (default: ``CHURNML_SNAPSHOT_KEEP``, else 10). The
            current snapshot is never deleted, even when older.
        activate : bool
            Make the new snapshot current (default). False stores it for a later
            :meth:`activate`.

        Returns
        -------
        Snapshot
            The new snapshot's header.

        Raises
        ------
        DataValidationError
            A contract column is missing, there are no rows, a customer id is missing or
            repeated (the message names the ids), or a value has the wrong type.
        ConfigError
            A parameter is invalid, or the database cannot be written (the message names the
            store).
        """
        if not isinstance(model_version, str) or not model_version.strip():
            raise ConfigError(f"model_version must be a non-empty string; got {model_version!r}")
        horizon = _positive_int(horizon_days, "horizon_days")
        kept = snapshot_keep(keep)
        day = parse_day(as_of).date().isoformat()
        prepared = _prepare(scores)
        extra_columns = orjson.dumps(list(prepared.extras.columns)).decode()
        created = datetime.now(UTC)
        self._ensure_schema()
        with self._errors(), self._engine.begin() as conn:
            snapshot_id = int(
                conn.execute(
                    SNAPSHOTS.insert().values(
                        model_version=model_version,
                        model_name=model_name,
                        family=family,
                        as_of=day,
                        horizon_days=horizon,
                        created_at=created,
                        n_rows=len(prepared),
                        extra_columns=extra_columns,
                    )
                ).inserted_primary_key[0]
            )
            for start in range(0, len(prepared), _CHUNK_ROWS):
                stop = min(start + _CHUNK_ROWS, len(prepared))
                records = prepared.records(start, stop, snapshot_id)
                _insert_rows(conn, prepared.keys, records)
            if activate:
                conn.execute(
                    STATE.update()
                    .where(STATE.c.id == STATE_ID)
                    .values(current_snapshot_id=snapshot_id)
                )
            current = self._current(conn)
            self._prune(conn, kept, current)
        return Snapshot(
            id=snapshot_id,
            model_version=model_version,
            model_name=model_name,
            family=family,
            as_of=day,
            horizon_days=horizon,
            created_at=created,
            n_rows=len(prepared),
            is_current=current == snapshot_id,
        )

    def _prune(self, conn: Connection, keep: int, current: int | None) -> None:
        ids = conn.execute(sa.select(SNAPSHOTS.c.id).order_by(SNAPSHOTS.c.id.desc())).scalars()
        doomed = [i for i in list(ids)[keep:] if i != current]
        if doomed:
            conn.execute(ROWS.delete().where(ROWS.c.snapshot_id.in_(doomed)))
            conn.execute(SNAPSHOTS.delete().where(SNAPSHOTS.c.id.in_(doomed)))

    def snapshots(self) -> list[Snapshot]:
        """List the snapshots in the store, newest first.

        Returns
        -------
        list of Snapshot
            Every snapshot's header; ``is_current`` marks the one served.

        Raises
        ------
        ConfigError
            The database cannot be read (the message names the store).
        """
        self._ensure_schema()
        current = sa.select(STATE.c.current_snapshot_id).where(STATE.c.id == STATE_ID)
        # one statement, so the list and the current marker come from the same moment
        query = sa.select(*_HEADER, current.scalar_subquery().label("current")).order_by(
            SNAPSHOTS.c.id.desc()
        )
        with self._errors(), self._engine.connect() as conn:
            rows = conn.execute(query).all()
        return [_snapshot(r, None if r.current is None else int(r.current)) for r in rows]

    def current(self) -> Snapshot | None:
        """Return the current snapshot's header.

        Returns
        -------
        Snapshot or None
            The snapshot served now, or None when none has been published.

        Raises
        ------
        ConfigError
            The database cannot be read (the message names the store).
        """
        self._ensure_schema()
        query = sa.select(*_HEADER).join(STATE, STATE.c.current_snapshot_id == SNAPSHOTS.c.id)
        with self._errors(), self._engine.connect() as conn:
            row = conn.execute(query.where(STATE.c.id == STATE_ID)).first()
        return None if row is None else _snapshot(row, int(row.id))

    def current_id(self) -> int | None:
        """Return the current snapshot's id: one indexed read, cheap enough to poll.

        Returns
        -------
        int or None
            The id, or None when no snapshot has been published.

        Raises
        ------
        ConfigError
            The database cannot be read (the message names the store).
        """
        self._ensure_schema()
        with self._errors(), self._engine.connect() as conn:
            return self._current(conn)

    def activate(self, snapshot_id: int) -> Snapshot:
        """Make a stored snapshot current (a rollback, or a snapshot published inactive).

        Parameters
        ----------
        snapshot_id : int
            The snapshot to serve.

        Returns
        -------
        Snapshot
            Its header, now current.

        Raises
        ------
        ConfigError
            There is no such snapshot (the message lists the ids there are), or the database
            cannot be written.
        """
        snapshot_id = _snapshot_id(snapshot_id)
        self._ensure_schema()
        with self._errors(), self._engine.begin() as conn:
            if self._header(conn, snapshot_id) is None:
                raise self._unknown(conn, snapshot_id)
            conn.execute(
                STATE.update().where(STATE.c.id == STATE_ID).values(current_snapshot_id=snapshot_id)
            )
            found = self._header(conn, snapshot_id)
        assert found is not None  # read in the transaction that found it
        return found

    def rows(self, snapshot_id: int) -> pd.DataFrame:
        """Read every row of a snapshot.

        Parameters
        ----------
        snapshot_id : int
            The snapshot.

        Returns
        -------
        pandas.DataFrame
            One row per customer, ordered by ``customer_id``: the columns of
            :data:`~churnml.scoring.CONTRACT_COLUMNS` in that order (``customer_id`` as text,
            ``next_purchase_date`` as ISO date text), then the extra score columns in the
            order they were published. A missing value is NaN in a number column and None or
            NaN in a text column.

        Raises
        ------
        ConfigError
            There is no such snapshot (the message lists the ids there are), or the database
            cannot be read.
        """
        snapshot_id = _snapshot_id(snapshot_id)
        self._ensure_schema()
        columns = [ROWS.c.customer_id, *(ROWS.c[name] for name in CONTRACT_COLUMNS[1:])]
        query = (
            sa.select(*columns, ROWS.c.extra)
            .where(ROWS.c.snapshot_id == snapshot_id)
            .order_by(ROWS.c.customer_id)
        )
        with self._errors(), self._engine.connect() as conn:
            header = conn.execute(
                sa.select(SNAPSHOTS.c.n_rows, SNAPSHOTS.c.extra_columns).where(
                    SNAPSHOTS.c.id == snapshot_id
                )
            ).first()
            if header is None:
                raise self._unknown(conn, snapshot_id)
            data = conn.execute(query).all()
            if len(data) != header.n_rows:
                # pruned between the two reads: say so rather than return a partial table
                raise self._unknown(conn, snapshot_id)
        values = list(zip(*data, strict=True)) if data else [()] * (len(columns) + 1)
        frame = pd.DataFrame(
            {
                "customer_id": pd.Series(values[0], dtype="str"),
                **{
                    name: pd.Series(values[i + 1], dtype=float if name in FLOAT_COLUMNS else "str")
                    for i, name in enumerate(CONTRACT_COLUMNS[1:])
                },
            }
        )
        names = orjson.loads(header.extra_columns)
        if names:
            decoded = [orjson.loads(text) if text else {} for text in values[-1]]
            extras = pd.DataFrame.from_records(decoded, columns=names)
            # a column of numbers with gaps comes back as objects; as floats it is what was sent
            for name in names:
                column = extras[name]
                if column.dtype == object and column.map(_is_number_or_none).all():
                    extras[name] = column.astype(float)
            frame = pd.concat([frame, extras], axis=1)
        return frame

    def lookup(self, snapshot_id: int, customer_id: str) -> dict[str, Any] | None:
        """Return one customer's row of a snapshot, ready to serialise as JSON.

        The read uses the primary key ``(snapshot_id, customer_id)``.

        Parameters
        ----------
        snapshot_id : int
            The snapshot.
        customer_id : str
            The customer id, as text (``"007"`` and ``"7"`` are different customers).

        Returns
        -------
        dict or None
            The contract's columns in order (numbers as float, None for a missing value,
            ``next_purchase_date`` as ``YYYY-MM-DD``), then the extra score columns; None when
            the customer is not in the snapshot.

        Raises
        ------
        ConfigError
            ``customer_id`` is not text, there is no such snapshot, or the database cannot be
            read.
        """
        if not isinstance(customer_id, str):
            raise ConfigError(
                f"customer_id must be text (leading zeros matter); got {customer_id!r}"
            )
        snapshot_id = _snapshot_id(snapshot_id)
        self._ensure_schema()
        query = sa.select(
            ROWS.c.customer_id, *(ROWS.c[name] for name in CONTRACT_COLUMNS[1:]), ROWS.c.extra
        ).where(ROWS.c.snapshot_id == snapshot_id, ROWS.c.customer_id == customer_id)
        with self._errors(), self._engine.connect() as conn:
            row = conn.execute(query).first()
            if row is None:
                if self._header(conn, snapshot_id) is None:
                    raise self._unknown(conn, snapshot_id)
                return None
        found = dict(row._mapping)
        extra = found.pop("extra")
        for name in FLOAT_COLUMNS:
            value = found[name]
            found[name] = None if value is None or not math.isfinite(value) else float(value)
        if extra:
            found.update(orjson.loads(extra))
        return found

    def dispose(self) -> None:
        """Close the store's pooled connections (it reconnects if used again)."""
        self._engine.dispose()
