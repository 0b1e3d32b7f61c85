"""A naive RFM baseline: each customer's past purchase rate continues, nobody churns.

It is what "no model" gets, printed beside every model in ``churnml evaluate``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["rate_baseline"]

_MIN_EXPOSURE_DAYS = 30.0


def rate_baseline(features: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Return each customer's purchase rate per day and mean purchase value.

    Parameters
    ----------
    features : pandas.DataFrame
        Output of :func:`churnml.features.build_features`.

    Returns
    -------
    rate : numpy.ndarray
        Purchases per day: purchases / max(tenure + 1, 30) days.
    spend : numpy.ndarray
        Mean purchase value.
    """
    exposure = np.maximum(features["tenure_days"].to_numpy(float) + 1.0, _MIN_EXPOSURE_DAYS)
    rate = features["n_purchases"].to_numpy(float) / exposure
    return rate, features["avg_purchase_value"].to_numpy(float)
