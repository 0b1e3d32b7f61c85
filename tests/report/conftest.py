"""Shared inputs of the report tests: a small simulated log, its scores and an evaluation."""

from __future__ import annotations

import pandas as pd
import pytest

from churnml.campaign import (
    cac_breakeven,
    cohort_retention,
    monthly_repeat_rates,
    plan_recall,
    repeat_purchase_rates,
)
from churnml.data import load_transactions, simulate_transactions
from churnml.evaluation import evaluate, evaluation_curves
from churnml.models import make_scorer
from churnml.scoring import score_with
from churnml.summary import describe

AS_OF = pd.Timestamp("2021-05-31")


@pytest.fixture(scope="session")
def report_tx():
    log, _ = simulate_transactions(600, seed=31, observation_days=520)
    return load_transactions(log)


@pytest.fixture(scope="session")
def report_scores(report_tx):
    scorer = make_scorer("bgnbd")
    scorer.fit(report_tx, AS_OF, horizon_days=60)
    return score_with(scorer, report_tx, AS_OF, 60, "test/1")


@pytest.fixture(scope="session")
def report_evaluation(report_tx):
    return evaluate(report_tx, "2021-02-28", 60, models=("bgnbd", "baseline"))


@pytest.fixture(scope="session")
def report_inputs(report_tx, report_scores, report_evaluation):
    """Every input of render_report, computed as write_report computes them."""
    return {
        "summary": describe(report_tx, AS_OF),
        "rates": repeat_purchase_rates(report_tx, end=AS_OF),
        "monthly": monthly_repeat_rates(report_tx, AS_OF),
        "cohorts": cohort_retention(report_tx, AS_OF),
        "scores": report_scores,
        "plan": plan_recall(report_scores, budget=5.0, cost_per_contact=0.05, horizon_days=60),
        "curves": evaluation_curves(report_evaluation),
        "breakeven": cac_breakeven(20.0, 35.0, 0.3, scores=report_scores),
    }
