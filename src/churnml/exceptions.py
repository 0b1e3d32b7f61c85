"""Errors and warnings raised by churnml.

Every error a user can cause carries enough context to fix the input without reading a traceback:
the file, the column or field, the rows concerned and what was expected. The CLI prints
``str(error)`` and exits non-zero.
"""

from __future__ import annotations

__all__ = [
    "ChurnmlError",
    "ChurnmlWarning",
    "ModelFitError",
    "ConfigError",
    "DataFileError",
    "DataValidationError",
    "InsufficientDataError",
    "NotFittedError",
]


class ChurnmlError(Exception):
    """Base class of every error churnml raises on purpose."""


class ConfigError(ChurnmlError, ValueError):
    """A parameter or option has a value churnml cannot use."""


class DataFileError(ChurnmlError):
    """A transaction file cannot be read or lacks what churnml needs.

    Parameters
    ----------
    source : str
        The file (or ``"<DataFrame>"``) concerned.
    message : str
        What is wrong and what was expected.
    column : str, optional
        The column concerned, when one is.
    """

    def __init__(self, source: str, message: str, column: str | None = None) -> None:
        self.source = source
        self.column = column
        where = f"{source}"
        if column is not None:
            where += f", column '{column}'"
        super().__init__(f"{where}: {message}")


class DataValidationError(ChurnmlError):
    """Rows were excluded while strict validation was requested, or no usable row is left.

    Parameters
    ----------
    source : str
        The file (or ``"<DataFrame>"``) concerned.
    message : str
        Counts per reason and example line numbers.
    """

    def __init__(self, source: str, message: str) -> None:
        self.source = source
        super().__init__(f"{source}: {message}")


class InsufficientDataError(ChurnmlError):
    """The data is too thin for the requested computation (for example, nothing before as-of)."""


class ModelFitError(ChurnmlError):
    """A model could not be fitted, even after the documented fallbacks."""


class NotFittedError(ChurnmlError, AttributeError):
    """A model was used (predict, save, to_json) before ``fit``.

    Like scikit-learn's, it is also an ``AttributeError``, so ``hasattr``-style checks work.
    """


class ChurnmlWarning(UserWarning):
    """Something the user should know about a result that was still produced."""
