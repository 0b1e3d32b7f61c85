"""Customer-base models: one scorer base, one catalogue of families, BTYD and LightGBM."""

from churnml.models.base import BaseScorer
from churnml.models.blend import BlendScorer
from churnml.models.btyd import KINDS, GammaGammaModel, TransactionModel
from churnml.models.catalog import CATALOGUE, FAMILIES, MODEL_KEYS, ModelFamily, make_scorer
from churnml.models.gbm import GBMScorer
from churnml.models.level import LevelAdjusted, apply_level, learn_level
from churnml.models.pipeline import SCORE_COLUMNS, BTYDScorer, RateBaselineScorer
from churnml.settings import ValueSettings

__all__ = [
    "CATALOGUE",
    "FAMILIES",
    "KINDS",
    "MODEL_KEYS",
    "SCORE_COLUMNS",
    "BTYDScorer",
    "BaseScorer",
    "BlendScorer",
    "GBMScorer",
    "GammaGammaModel",
    "LevelAdjusted",
    "ModelFamily",
    "RateBaselineScorer",
    "TransactionModel",
    "ValueSettings",
    "apply_level",
    "learn_level",
    "make_scorer",
]
