"""Estimator-style customer-base models."""

from churnml.models.btyd import GammaGammaModel, TransactionModel

__all__ = ["GammaGammaModel", "TransactionModel"]
