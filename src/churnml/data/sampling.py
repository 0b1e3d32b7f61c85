"""A fixed random sample of customers, so that training cost stops growing with the log.

Past a few hundred thousand customers, the backtest, the BTYD fits and the training tables
gain nothing measurable from more customers (LightGBM reads at most 50,000 rows; BG/NBD's four
parameters are pinned down long before), but their cost keeps growing with the log. Training
on a sample of whole customers, with every line of each, keeps each customer's history intact,
so features, labels and the point-in-time cuts are exactly those of the full log for them.

The sample is a bottom-k sketch: the customers whose id hashes (with the seed) lowest. It
does not depend on row order, and as a log grows, most customers sampled before stay sampled.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from churnml.data.purchases import customer_codes, select_lines
from churnml.data.validation import ValidatedTransactions
from churnml.exceptions import ConfigError

__all__ = ["CustomerSample", "customer_hash_key", "sample_customers"]


@dataclass(frozen=True)
class CustomerSample:
    """What :func:`sample_customers` kept.

    Attributes
    ----------
    customers : int
        Customers with a line in the input.
    sampled : int
        Customers kept, with all their lines.
    lines : int
        Lines in the input.
    sampled_lines : int
        Lines kept.
    seed : int
        The seed the ids were hashed with.
    """

    customers: int
    sampled: int
    lines: int
    sampled_lines: int
    seed: int

    @property
    def scale(self) -> float:
        """Return customers in the input per customer kept.

        A sample's total times it estimates the input's total.
        """
        return self.customers / self.sampled

    def to_dict(self) -> dict[str, int | float]:
        """Return the counts as a JSON-ready dictionary (with ``scale``)."""
        return {
            "customers": self.customers,
            "sampled": self.sampled,
            "lines": self.lines,
            "sampled_lines": self.sampled_lines,
            "seed": self.seed,
            "scale": self.scale,
        }

    def note(self) -> str:
        """Say in words what was sampled."""
        return (
            f"trained on a random sample of {self.sampled:,} of {self.customers:,} customers "
            f"({self.sampled_lines:,} of {self.lines:,} lines, every line of each, seed "
            f"{self.seed}); predicted totals are the sample's times {self.scale:.3f}"
        )


def customer_hash_key(seed: int) -> str:
    """Return the key ``pandas.util.hash_array`` hashes customer ids with for a seed.

    Parameters
    ----------
    seed : int
        The sample's seed.

    Returns
    -------
    str
        16 characters, as pandas' hash takes.
    """
    return f"churnml{seed % 10**9:09d}"


def sample_customers(
    tx: ValidatedTransactions, max_customers: int | None, seed: int = 0
) -> tuple[ValidatedTransactions, CustomerSample | None]:
    """Keep every line of a fixed random ``max_customers`` customers, if there are more.

    Parameters
    ----------
    tx : ValidatedTransactions
        Validated transactions (or a cut of them).
    max_customers : int or None
        Most customers to keep; None keeps everyone.
    seed : int
        Another seed draws another sample.

    Returns
    -------
    tx : ValidatedTransactions
        ``tx`` itself when it has at most ``max_customers`` customers; else its lines of the
        sampled customers, with the same validation report and policy.
    sample : CustomerSample or None
        The counts, or None when nothing was sampled.

    Raises
    ------
    ConfigError
        ``max_customers`` is not a positive whole number.

    Examples
    --------
    >>> import churnml
    >>> tx = churnml.load_transactions(churnml.load_cdnow())
    >>> small, sample = sample_customers(tx, 1000)
    >>> sample.customers, sample.sampled, small.lines["customer_id"].nunique()
    (23502, 1000, 1000)
    """
    if max_customers is None:
        return tx, None
    if isinstance(max_customers, bool) or not isinstance(max_customers, int | np.integer):
        raise ConfigError(f"max_customers must be a whole number or None; got {max_customers!r}")
    if max_customers <= 0:
        raise ConfigError(f"max_customers must be positive; got {max_customers}")
    lines = tx.lines
    if len(lines) == 0:
        return tx, None
    ids, codes = customer_codes(lines)
    # a cut shares its parent's ids: only those with a line here are candidates
    present = np.flatnonzero(np.bincount(codes, minlength=ids.size) > 0)
    if present.size <= max_customers:
        return tx, None
    hashes = pd.util.hash_array(ids[present], hash_key=customer_hash_key(int(seed)))
    # ties between 64-bit hashes are left to the stable sort: the order of the sorted ids
    lowest = np.argsort(hashes, kind="stable")[: int(max_customers)]
    keep = np.zeros(ids.size, dtype=bool)
    keep[present[lowest]] = True
    kept = select_lines(lines, keep[codes])
    sample = CustomerSample(
        customers=int(present.size),
        sampled=int(max_customers),
        lines=len(lines),
        sampled_lines=len(kept),
        seed=int(seed),
    )
    return ValidatedTransactions(lines=kept, report=tx.report, policy=tx.policy), sample
