"""Reading, validating and simulating transaction logs."""

from churnml.data.bundled import cdnow_path, load_cdnow
from churnml.data.fingerprint import fingerprint
from churnml.data.frames import positions, side_by_side
from churnml.data.io import RawTransactions, from_frame, read_many, read_transactions
from churnml.data.purchases import select_lines, to_purchases
from churnml.data.synthetic import (
    BGNBDParams,
    GammaGammaParams,
    simulate_retail_log,
    simulate_transactions,
)
from churnml.data.validation import (
    FLAGS,
    REASONS,
    ValidatedTransactions,
    ValidationReport,
    load_transactions,
    validate_transactions,
)

__all__ = [
    "FLAGS",
    "REASONS",
    "BGNBDParams",
    "GammaGammaParams",
    "RawTransactions",
    "ValidatedTransactions",
    "ValidationReport",
    "cdnow_path",
    "fingerprint",
    "positions",
    "side_by_side",
    "from_frame",
    "load_cdnow",
    "load_transactions",
    "read_many",
    "select_lines",
    "read_transactions",
    "simulate_retail_log",
    "simulate_transactions",
    "to_purchases",
    "validate_transactions",
]
