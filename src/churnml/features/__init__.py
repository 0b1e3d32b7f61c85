"""Point-in-time customer summaries, feature tables and labels."""

from churnml.features.rfm import CustomerHistory, btyd_summary, history_until
from churnml.features.windows import build_features, build_labels

__all__ = ["CustomerHistory", "btyd_summary", "build_features", "build_labels", "history_until"]
