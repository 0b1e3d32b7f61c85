"""The score store's tables: snapshot headers, score rows and the current-snapshot pointer.

- ``churnml_snapshots``: one row per snapshot (model version, as-of, horizon, created-at in
  UTC, row count, and the names of the extra score columns in their order).
- ``churnml_score_rows``: one row per customer and snapshot. The primary key
  ``(snapshot_id, customer_id)`` is the index every by-ID lookup uses; ``customer_id`` is text
  (leading zeros matter). Each contract score column has a typed column; every further score
  column (timing quantiles, ``p_buy_*d``, ``reasons``) goes into ``extra``, a JSON object, so
  no score column is lost.
- ``churnml_store_state``: a single row whose ``current_snapshot_id`` is the snapshot served.

The tables are prefixed ``churnml_`` so the store can share a database (with MLflow's backend
store, say) without a name clash.
"""

from __future__ import annotations

import sqlalchemy as sa

from churnml.scoring import CONTRACT_COLUMNS

__all__ = [
    "FLOAT_COLUMNS",
    "METADATA",
    "ROWS",
    "SCORE_COLUMNS",
    "SNAPSHOTS",
    "STATE",
    "STATE_ID",
    "TEXT_COLUMNS",
]

#: The contract's score columns after ``customer_id``, each a typed column of the rows table.
SCORE_COLUMNS = CONTRACT_COLUMNS[1:]
#: Contract columns stored as text (``next_purchase_date`` as an ISO date, ``YYYY-MM-DD``).
TEXT_COLUMNS = ("next_purchase_date", "segment", "value_tier", "model_version")
#: Contract columns stored as double-precision numbers (NULL for a missing value).
FLOAT_COLUMNS = tuple(c for c in SCORE_COLUMNS if c not in TEXT_COLUMNS)
#: Primary key of the state table's only row.
STATE_ID = 1

METADATA = sa.MetaData()

SNAPSHOTS = sa.Table(
    "churnml_snapshots",
    METADATA,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("model_version", sa.Text, nullable=False),
    sa.Column("model_name", sa.Text, nullable=True),
    sa.Column("family", sa.Text, nullable=True),
    sa.Column("as_of", sa.String(10), nullable=False),
    sa.Column("horizon_days", sa.Integer, nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("n_rows", sa.Integer, nullable=False),
    sa.Column("extra_columns", sa.Text, nullable=False),
    # AUTOINCREMENT: SQLite never reuses the id of a deleted snapshot, so an id a server has
    # cached always means the same snapshot
    sqlite_autoincrement=True,
)

ROWS = sa.Table(
    "churnml_score_rows",
    METADATA,
    sa.Column(
        "snapshot_id", sa.Integer, sa.ForeignKey(SNAPSHOTS.c.id), primary_key=True, nullable=False
    ),
    sa.Column("customer_id", sa.Text, primary_key=True, nullable=False),
    *(sa.Column(name, sa.Double, nullable=True) for name in FLOAT_COLUMNS),
    sa.Column("next_purchase_date", sa.String(10), nullable=True),
    sa.Column("segment", sa.Text, nullable=True),
    sa.Column("value_tier", sa.Text, nullable=True),
    sa.Column("model_version", sa.Text, nullable=True),
    sa.Column("extra", sa.Text, nullable=True),
    # WITHOUT ROWID: SQLite keeps the rows in primary-key order, so a lookup is one B-tree
    # search and a snapshot's rows are read in one range scan, with no second index
    sqlite_with_rowid=False,
)

STATE = sa.Table(
    "churnml_store_state",
    METADATA,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("current_snapshot_id", sa.Integer, sa.ForeignKey(SNAPSHOTS.c.id), nullable=True),
)
