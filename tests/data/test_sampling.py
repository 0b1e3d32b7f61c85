"""sample_customers: a fixed random sample of whole customers."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from churnml.data import load_transactions, simulate_transactions
from churnml.data.purchases import select_lines
from churnml.data.sampling import sample_customers
from churnml.data.validation import ValidatedTransactions
from churnml.exceptions import ConfigError


@pytest.fixture(scope="module")
def simulated():
    frame, _ = simulate_transactions(3000, seed=11, observation_days=400)
    return load_transactions(frame)


def _lines_per_customer(tx: ValidatedTransactions) -> pd.Series:
    return tx.lines.groupby("customer_id").size()


def test_every_line_of_exactly_k_customers_is_kept(simulated):
    small, sample = sample_customers(simulated, 700, seed=0)
    assert sample is not None
    counts = _lines_per_customer(small)
    assert len(counts) == 700 == sample.sampled
    assert sample.customers == simulated.lines["customer_id"].nunique() == 3000
    # whole customers: each keeps every line it had
    pd.testing.assert_series_equal(counts, _lines_per_customer(simulated).loc[counts.index])
    assert sample.lines == len(simulated.lines) and sample.sampled_lines == len(small.lines)
    assert sample.scale == pytest.approx(3000 / 700)
    assert small.report is simulated.report and small.policy is simulated.policy
    assert "700 of 3,000 customers" in sample.note()


def test_the_sample_is_the_lowest_hashes_whatever_the_row_order(simulated):
    small, _ = sample_customers(simulated, 500, seed=3)
    # an independent bottom-k: hash each distinct id with the seed's key, keep the 500 lowest
    ids = pd.unique(simulated.lines["customer_id"].to_numpy(dtype=object))
    hashes = pd.Series(pd.util.hash_array(ids, hash_key="churnml000000003"), index=ids)
    expected = set(hashes.nsmallest(500).index)
    assert set(small.lines["customer_id"]) == expected
    shuffled = simulated.lines.sample(frac=1.0, random_state=1).reset_index(drop=True)
    again, _ = sample_customers(ValidatedTransactions(shuffled, simulated.report), 500, seed=3)
    assert set(again.lines["customer_id"]) == expected
    # another seed, another sample
    other, _ = sample_customers(simulated, 500, seed=4)
    assert set(other.lines["customer_id"]) != expected


def test_a_sample_is_representative(simulated):
    """Lines per customer in the sample match the population (a z-test, not one draw)."""
    full = _lines_per_customer(simulated)
    zs = []
    for seed in range(5):
        small, _ = sample_customers(simulated, 600, seed=seed)
        part = _lines_per_customer(small)
        # finite-population standard error of a sample mean
        se = full.std() / np.sqrt(600) * np.sqrt(1 - 600 / 3000)
        zs.append((part.mean() - full.mean()) / se)
    assert max(abs(z) for z in zs) < 4
    assert abs(np.mean(zs)) < 4 / np.sqrt(5)


def test_nothing_is_sampled_at_or_under_the_limit(simulated):
    for limit in (3000, 10_000, None):
        out, sample = sample_customers(simulated, limit)
        assert out is simulated and sample is None


def test_a_cut_counts_only_its_own_customers(simulated):
    # customers whose first line is after the cut are no candidates (a cut shares the ids)
    lines = simulated.lines
    cut = select_lines(lines, lines["date"] < pd.Timestamp("2020-03-01"))
    tx = ValidatedTransactions(cut, simulated.report)
    present = cut["customer_id"].nunique()
    assert present < 3000
    small, sample = sample_customers(tx, present - 10)
    assert sample.customers == present and small.lines["customer_id"].nunique() == present - 10


@pytest.mark.parametrize("bad", [0, -5, 2.5, True, "100"])
def test_a_bad_size_is_refused(simulated, bad):
    with pytest.raises(ConfigError, match="max_customers"):
        sample_customers(simulated, bad)
