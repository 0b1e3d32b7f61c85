"""Read transaction logs (CSV, CSV.gz, Parquet, or a DataFrame) into canonical column names.

Reading never interprets values: ids, dates and amounts keep their input form (text for CSV) so
that validation can count and locate every row it cannot use.
"""

from __future__ import annotations

import contextlib
import difflib
import gzip
import zlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from churnml.config import ColumnMap
from churnml.exceptions import ConfigError, DataFileError

__all__ = ["RawTransactions", "from_frame", "read_many", "read_sources", "read_transactions"]

_PARQUET_SUFFIXES = (".parquet", ".pq")
_OTHER_DELIMITERS = (";", "\t", "|", ",")


@dataclass
class RawTransactions:
    """Rows as read, renamed to canonical column names, not yet validated.

    Attributes
    ----------
    frame : pandas.DataFrame
        Canonical columns present in the input (``customer_id``, ``date``, ``amount`` and any of
        ``order_id``, ``product_id``, ``quantity``, ``channel``), in input order.
    source : str
        File path or ``"<DataFrame>"``, used in every message.
    first_line : int
        Number of the first data row as users see it (2 for a CSV with a header line, 1 for
        Parquet rows and DataFrames), so messages can name lines.
    row_word : str
        ``"line"`` for text files, ``"row"`` otherwise.
    parts : list of (str, int, int), optional
        With several sources read together: each source's name, first line number and row
        count, in order, so that messages can name ``file:line``.
    """

    frame: pd.DataFrame
    source: str
    first_line: int = 1
    row_word: str = "row"
    parts: list[tuple[str, int, int]] | None = None

    def locate(self, positions: np.ndarray) -> list[int | str]:
        """Return user-facing line or row numbers of 0-based row positions.

        Parameters
        ----------
        positions : numpy.ndarray of int
            0-based positions in ``frame``.

        Returns
        -------
        list of int or str
            Line or row numbers as users see them; ``file:line`` with several files
            (``parts``).
        """
        if not self.parts:
            return [int(p) + self.first_line for p in positions]
        starts = np.cumsum([0] + [n for _, _, n in self.parts[:-1]])
        located: list[int | str] = []
        for p in positions:
            i = int(np.searchsorted(starts, p, side="right") - 1)
            name, first, _ = self.parts[i]
            located.append(f"{name}:{int(p - starts[i]) + first}")
        return located


def _missing_column_error(
    source: str, canonical: str, wanted: str, found: list[str], option: str
) -> DataFileError:
    hint = ""
    close = difflib.get_close_matches(wanted, found, n=1, cutoff=0.6)
    case_match = [c for c in found if c.strip().lower() == wanted.lower()]
    if case_match or close:
        guess = (case_match or close)[0]
        hint = f" Did you mean '{guess}'? Pass {option} '{guess}'."
    else:
        hint = f" Name the column holding the {canonical.replace('_', ' ')} with {option}."
    shown = ", ".join(repr(c) for c in found[:20]) + (" ..." if len(found) > 20 else "")
    return DataFileError(
        source,
        f"required column '{wanted}' ({canonical}) is missing; "
        f"the columns found are {shown}.{hint}",
        column=wanted,
    )


_OPTION = {
    "customer_id": "--customer-col",
    "date": "--date-col",
    "amount": "--amount-col",
}


def _check_columns(source: str, found: list[str], columns: ColumnMap, sep: str) -> dict[str, str]:
    """Map input names to canonical names, raising a named error for a missing required column."""
    names = columns.source_names()
    if len(found) == 1:
        header = found[0]
        for delim in _OTHER_DELIMITERS:
            if delim != sep and delim in header and len(header.split(delim)) >= 3:
                shown = "tab" if delim == "\t" else repr(delim)
                raise DataFileError(
                    source,
                    f"the header has a single column {header!r}: the file seems to be separated "
                    f"by {shown}, not {sep!r}. Pass --sep {shown!s} (Python: sep={delim!r}).",
                )
    for canonical in ColumnMap.REQUIRED:
        if names[canonical] not in found:
            raise _missing_column_error(
                source, canonical, names[canonical], found, _OPTION[canonical]
            )
    rename = {}
    for canonical, name in names.items():
        if name in found:
            rename[name] = canonical
    duplicated = [c for c in set(rename) if found.count(c) > 1]
    if duplicated:
        raise DataFileError(
            source, "the header names this column more than once", column=duplicated[0]
        )
    return rename


def _is_parquet(path: Path) -> bool:
    return path.suffix.lower() in _PARQUET_SUFFIXES


def read_transactions(
    path: str | Path,
    columns: ColumnMap | None = None,
    *,
    sep: str = ",",
    encoding: str = "utf-8",
    progress: bool = False,
) -> RawTransactions:
    r"""Read a transaction log from CSV, gzip-compressed CSV or Parquet.

    Parameters
    ----------
    path : str or pathlib.Path
        The file. ``.parquet``/``.pq`` is read as Parquet; anything else as delimited text,
        decompressed by suffix (``.gz``, ``.bz2``, ``.zip``, ``.xz``, ``.zst``).
    columns : ColumnMap, optional
        Input column names; canonical names by default.
    sep : str
        Field delimiter of text files (a regular expression such as ``\\s+`` is accepted).
    encoding : str
        Text encoding of text files.
    progress : bool
        Show a progress bar (bytes read) on standard error while reading a text file.

    Returns
    -------
    RawTransactions
        Rows with canonical column names; text files keep every value as text.

    Raises
    ------
    DataFileError
        The file is missing, unreadable, empty, has no data rows, is separated by another
        delimiter, or lacks a required column. The message names the file and the column.
    """
    columns = columns or ColumnMap()
    path = Path(path)
    source = str(path)
    if not path.exists():
        raise DataFileError(source, "no such file")
    if path.is_dir():
        raise DataFileError(source, "is a folder; expected a CSV, CSV.gz or Parquet file")
    if _is_parquet(path):
        return _read_parquet(path, columns)
    return _read_csv(path, columns, sep=sep, encoding=encoding, progress=progress)


def _read_errors() -> tuple[type[BaseException], ...]:
    return (
        OSError,
        UnicodeDecodeError,
        pd.errors.ParserError,
        gzip.BadGzipFile,
        zlib.error,
        EOFError,
        ValueError,
    )


@contextlib.contextmanager
def _reading(source: str, encoding: str) -> Iterator[None]:
    """Turn the many ways a text file fails to parse into one error naming the file."""
    try:
        yield
    except pd.errors.EmptyDataError:
        raise DataFileError(
            source, "the file is empty; expected a header line naming customer_id, date, amount"
        ) from None
    except UnicodeDecodeError as exc:
        raise DataFileError(
            source, f"is not {encoding} text ({exc.reason} at byte {exc.start}); pass --encoding"
        ) from None
    except _read_errors() as exc:
        raise DataFileError(source, f"cannot be read as delimited text: {exc}") from None


def _read_csv(
    path: Path, columns: ColumnMap, *, sep: str, encoding: str, progress: bool = False
) -> RawTransactions:
    source = str(path)
    if encoding.lower().replace("_", "-") in ("utf-8", "utf8"):
        encoding = "utf-8-sig"  # a byte-order mark would otherwise stick to the first column name
    compression = _compression(path)
    with _reading(source, encoding):
        header = _read_text(path, sep, encoding, compression, nrows=0)
    rename = _check_columns(source, [str(c) for c in header.columns], columns, sep)
    with _reading(source, encoding):
        if progress:
            import rich.progress
            from rich.console import Console

            with rich.progress.open(
                path,
                "rb",
                description=f"Reading {path.name}",
                console=Console(stderr=True),
                transient=True,
            ) as handle:
                frame = _read_text(handle, sep, encoding, compression)[list(rename)]
        else:
            frame = _read_text(path, sep, encoding, compression)[list(rename)]
    if frame.empty:
        raise DataFileError(source, "has a header but no data rows")
    frame = frame.rename(columns=rename)
    return RawTransactions(frame=frame, source=source, first_line=2, row_word="line")


_COMPRESSION = {".gz": "gzip", ".bz2": "bz2", ".zip": "zip", ".xz": "xz", ".zst": "zstd"}


def _compression(path: Path) -> str | None:
    return _COMPRESSION.get(path.suffix.lower())


def _read_text(
    path_or_handle: Any, sep: str, encoding: str, compression: str | None, nrows: int | None = None
) -> pd.DataFrame:
    # No usecols: with it, pandas silently ignores surplus fields on a ragged line (an unquoted
    # "1,234.50" amount would be read as 1); reading every column makes such lines an error.
    return pd.read_csv(
        path_or_handle,
        sep=sep,
        dtype=str,
        keep_default_na=False,
        skip_blank_lines=False,
        encoding=encoding,
        compression=compression,
        nrows=nrows,
        engine="python" if len(sep) > 1 else "c",
    )


def _read_parquet(path: Path, columns: ColumnMap) -> RawTransactions:
    import pyarrow.parquet as pq

    source = str(path)
    try:
        schema = pq.read_schema(path)
    except Exception as exc:  # pyarrow raises several unrelated types for a damaged file
        raise DataFileError(source, f"cannot be read as Parquet: {exc}") from None
    rename = _check_columns(source, list(schema.names), columns, sep=",")
    try:
        frame = pd.read_parquet(path, columns=list(rename))
    except Exception as exc:
        raise DataFileError(source, f"cannot be read as Parquet: {exc}") from None
    if frame.empty:
        raise DataFileError(source, "has no data rows")
    frame = frame.rename(columns=rename).reset_index(drop=True)
    return RawTransactions(frame=frame, source=source, first_line=1, row_word="row")


def read_many(
    paths: Sequence[str | Path],
    columns: ColumnMap | None = None,
    *,
    sep: str = ",",
    encoding: str = "utf-8",
    progress: bool = False,
) -> RawTransactions:
    """Read several transaction files as one history (for example a log split by year).

    Rows are kept in file order; rows present in two files (an overlap between exports) are
    exact duplicates that validation counts and, with an order id, removes.

    Parameters
    ----------
    paths : sequence of str or pathlib.Path
        The files, each CSV, CSV.gz or Parquet, with the same column names.
    columns : ColumnMap, optional
        Input column names.
    sep, encoding : str
        As for :func:`read_transactions`.
    progress : bool
        Show a progress bar per text file.

    Returns
    -------
    RawTransactions
        One frame; messages name ``file:line``.
    """
    return read_sources(paths, columns, sep=sep, encoding=encoding, progress=progress)


def read_sources(
    sources: Sequence[str | Path | pd.DataFrame],
    columns: ColumnMap | None = None,
    *,
    sep: str = ",",
    encoding: str = "utf-8",
    progress: bool = False,
) -> RawTransactions:
    """Read files and/or DataFrames as one history, as :func:`read_many` reads files.

    Parameters
    ----------
    sources : sequence of str, pathlib.Path or pandas.DataFrame
        Files (CSV, CSV.gz or Parquet) and in-memory frames, with the same column names.
    columns : ColumnMap, optional
        Input column names.
    sep, encoding : str
        As for :func:`read_transactions`.
    progress : bool
        Show a progress bar per text file.

    Returns
    -------
    RawTransactions
        One frame in source order. With one source, exactly what reading it alone gives;
        with several, messages name ``file:line`` (``<DataFrame k>:row`` for the k-th source
        when it is a frame).

    Raises
    ------
    ConfigError
        ``sources`` is empty.
    TypeError
        A source is neither a path nor a DataFrame.

    Notes
    -----
    A :class:`~churnml.exceptions.DataFileError` from :func:`read_transactions` or
    :func:`from_frame` (a file cannot be read, a source lacks a required column or has no rows)
    propagates unchanged, naming the source concerned.
    """
    sources = list(sources)
    if not sources:
        raise ConfigError(
            "no transaction file or DataFrame was given: pass at least one path or DataFrame"
        )
    for src in sources:
        if not isinstance(src, (str, Path, pd.DataFrame)):
            raise TypeError(
                f"a transaction source must be a path or a pandas DataFrame, not "
                f"{type(src).__name__}"
            )

    def read(src: str | Path | pd.DataFrame, k: int) -> RawTransactions:
        if isinstance(src, pd.DataFrame):
            name = "<DataFrame>" if len(sources) == 1 else f"<DataFrame {k}>"
            return from_frame(src, columns, source=name)
        return read_transactions(src, columns, sep=sep, encoding=encoding, progress=progress)

    raws = [read(src, k) for k, src in enumerate(sources, start=1)]
    if len(raws) == 1:
        return raws[0]
    frame = pd.concat([r.frame for r in raws], ignore_index=True)
    for col in frame.columns:
        if frame[col].isna().any() and any(col not in r.frame.columns for r in raws):
            frame[col] = frame[col].astype(object).where(frame[col].notna(), "")
    return RawTransactions(
        frame=frame,
        source=" + ".join(r.source for r in raws),
        first_line=raws[0].first_line,
        row_word="line" if all(r.row_word == "line" for r in raws) else "row",
        parts=[(Path(r.source).name, r.first_line, len(r.frame)) for r in raws],
    )


def from_frame(
    frame: pd.DataFrame, columns: ColumnMap | None = None, source: str = "<DataFrame>"
) -> RawTransactions:
    """Wrap an in-memory DataFrame as raw transactions, checking and renaming its columns.

    Parameters
    ----------
    frame : pandas.DataFrame
        Transactions with at least the customer, date and amount columns.
    columns : ColumnMap, optional
        Input column names; canonical names by default.
    source : str
        Name used in messages.

    Returns
    -------
    RawTransactions
        A renamed copy with a fresh 0..n-1 index; row numbers in messages start at 1.

    Raises
    ------
    DataFileError
        A required column is missing or the frame has no rows.
    """
    columns = columns or ColumnMap()
    rename = _check_columns(source, [str(c) for c in frame.columns], columns, sep=",")
    if frame.empty:
        raise DataFileError(source, "has no rows")
    out = frame[list(rename)].rename(columns=rename).reset_index(drop=True)
    return RawTransactions(frame=out, source=source, first_line=1, row_word="row")
