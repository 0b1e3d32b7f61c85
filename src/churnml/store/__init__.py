"""Score snapshots in a database, read by the HTTP service and the CLI.

``ScoreStore`` writes a score table as a snapshot (one transaction: header, rows, the move of
the current-snapshot pointer), lists and activates snapshots, and reads a snapshot whole or one
customer by id. SQLAlchemy 2 Core underneath: a SQLite file by default (``scores.db``, in WAL
mode so readers never wait for a publisher), PostgreSQL through psycopg 3.
"""

from churnml.store.engine import masked_url
from churnml.store.snapshots import ScoreStore, Snapshot

__all__ = ["ScoreStore", "Snapshot", "masked_url"]
