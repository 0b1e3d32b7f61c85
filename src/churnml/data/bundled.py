"""The CDNOW transaction log shipped inside the ``lifetimes`` package: churnml's demo data."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import pandas as pd

__all__ = ["cdnow_path", "load_cdnow"]


def cdnow_path() -> Path:
    """Return the path of ``CDNOW_master.txt`` inside the installed ``lifetimes`` package.

    Returns
    -------
    pathlib.Path
        Whitespace-separated text with header ``customer_id date number_of_cds dollar_value``.
    """
    return Path(str(resources.files("lifetimes.datasets").joinpath("CDNOW_master.txt")))


def load_cdnow() -> pd.DataFrame:
    """Load the CDNOW master log (69,659 lines, 23,570 customers, 1997-01-01 .. 1998-06-30).

    Returns
    -------
    pandas.DataFrame
        Columns ``customer_id`` (text, zero-padded as shipped), ``date``, ``amount`` (USD),
        ``quantity`` (CDs), one row per line of the original file.

    References
    ----------
    .. [1] Fader, P. S., Hardie, B. G. S. and Lee, K. L. (2005). "Counting your customers the
       easy way: an alternative to the Pareto/NBD model". Marketing Science 24(2), 275-284.
    """
    frame = pd.read_csv(cdnow_path(), sep=r"\s+", dtype=str)
    return pd.DataFrame(
        {
            "customer_id": frame["customer_id"],
            "date": pd.to_datetime(frame["date"], format="%Y%m%d"),
            "amount": frame["dollar_value"].astype(float),
            "quantity": frame["number_of_cds"].astype("int64"),
        }
    )
