"""A BTYD fit stopped at the optimiser's iteration limit is not converged, and says so."""

from __future__ import annotations

import numpy as np
import pytest
from lifetimes import ParetoNBDFitter
from lifetimes.datasets import load_cdnow_summary

from churnml.exceptions import ConfigError
from churnml.models import TransactionModel


@pytest.fixture(scope="module")
def weekly():
    return load_cdnow_summary(index_col=[0])


@pytest.mark.parametrize("kind", ["bgnbd", "mbgnbd", "pareto"])
def test_a_fit_stopped_at_the_iteration_limit_is_not_converged(weekly, kind):
    stopped = TransactionModel(kind=kind, max_iter=3).fit(weekly)
    assert not stopped.converged_
    assert "iteration limit (3" in stopped.fit_message_
    assert np.isfinite(list(stopped.params_.values())).all()  # finite, yet no optimum
    full = TransactionModel(kind=kind).fit(weekly)
    assert full.converged_ and "iteration limit" not in full.fit_message_
    assert full.params_ != stopped.params_


def test_pareto_fit_is_lifetimes_fit(weekly):
    ours = TransactionModel(kind="pareto", penalizer=0.001).fit(weekly).params_
    rows = weekly[["frequency", "recency", "T"]].astype(float).value_counts(sort=False)
    ref = ParetoNBDFitter(penalizer_coef=0.001).fit(
        rows.index.get_level_values("frequency").to_numpy(),
        rows.index.get_level_values("recency").to_numpy(),
        rows.index.get_level_values("T").to_numpy(),
        weights=rows.to_numpy(),
        initial_params=np.ones(4),
    )
    for name, value in ref.params_.items():
        assert ours[name] == pytest.approx(value, rel=1e-12), name


def test_the_iteration_limit_is_checked_and_round_trips(weekly):
    with pytest.raises(ConfigError, match=r"TransactionModel\.max_iter must be"):
        TransactionModel(max_iter=0).fit(weekly)
    model = TransactionModel(kind="bgnbd", max_iter=500).fit(weekly)
    again = TransactionModel.from_json(model.to_json())
    assert again.max_iter == 500 and again.params_ == model.params_
