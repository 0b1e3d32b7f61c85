"""A content fingerprint of validated transactions, so a run can say exactly what it saw."""

from __future__ import annotations

import hashlib
from typing import Any

import numpy as np
import pandas as pd

from churnml.data.validation import ValidatedTransactions

__all__ = ["HASHED_COLUMNS", "fingerprint"]

#: Columns whose values identify a transaction line (those present are hashed).
HASHED_COLUMNS = ("customer_id", "date", "amount", "order_id", "product_id", "quantity", "channel")


def fingerprint(tx: ValidatedTransactions | pd.DataFrame) -> dict[str, Any]:
    """Describe validated transactions without exposing any of them.

    Parameters
    ----------
    tx : ValidatedTransactions or pandas.DataFrame
        Validated transactions (or their lines).

    Returns
    -------
    dict
        ``sha256`` (of the kept lines, independent of row order), ``rows``, ``customers``,
        ``first_date``, ``last_date``, ``revenue`` and, with a validation report, ``source``,
        ``rows_read`` and ``excluded`` / ``flags`` counts per reason. No customer id or
        line appears in it.
    """
    lines = tx.lines if isinstance(tx, ValidatedTransactions) else tx
    cols = [c for c in HASHED_COLUMNS if c in lines.columns]
    # Row hashes are sorted so that the same lines in another order give the same digest.
    rows = np.sort(pd.util.hash_pandas_object(lines[cols], index=False).to_numpy())
    digest = hashlib.sha256(",".join(cols).encode())
    digest.update(rows.tobytes())
    out: dict[str, Any] = {
        "sha256": digest.hexdigest(),
        "rows": len(lines),
        "customers": int(lines["customer_id"].nunique()),
        "first_date": str(lines["date"].min().date()) if len(lines) else None,
        "last_date": str(lines["date"].max().date()) if len(lines) else None,
        "revenue": round(float(lines["amount"].sum()), 2),
    }
    if isinstance(tx, ValidatedTransactions):
        report = tx.report
        out.update(
            source=report.source,
            rows_read=int(report.n_input),
            excluded={k: int(v) for k, v in report.excluded.items()},
            flags={k: int(v) for k, v in report.flags.items()},
        )
    return out
