"""Estimator-style customer-base models and the BTYD scoring pipeline."""

from churnml.models.btyd import KINDS, GammaGammaModel, TransactionModel
from churnml.models.pipeline import SCORE_COLUMNS, BTYDScorer, RateBaselineScorer
from churnml.models.value import ValueSettings

__all__ = [
    "KINDS",
    "SCORE_COLUMNS",
    "BTYDScorer",
    "GammaGammaModel",
    "RateBaselineScorer",
    "TransactionModel",
    "ValueSettings",
]
