"""The model registry for people: list versions, promote one to champion, roll back."""

from __future__ import annotations

import pandas as pd

from churnml.config import REGISTERED_MODEL
from churnml.tracking import registry

__all__ = ["list_versions", "promote", "rollback"]


def list_versions(model_name: str = REGISTERED_MODEL) -> pd.DataFrame:
    """List every registered version with its aliases, family, data and backtest metrics.

    Parameters
    ----------
    model_name : str
        Registered model name.

    Returns
    -------
    pandas.DataFrame
        One row per version, newest first: ``version``, ``aliases``, ``created``, ``run_id``,
        ``family``, ``as_of``, ``horizon_days``, ``freq``, ``seed``, ``value``, ``data_sha256``,
        ``backtest_cutoff``, ``auc``, ``revenue_gini``, ``buyers_ratio``, ``revenue_ratio``;
        empty if nothing is registered under ``model_name``.
    """
    return registry.list_versions(model_name)


def promote(version: str | int, reason: str = "by hand", model_name: str = REGISTERED_MODEL) -> str:
    """Make a version the champion, whatever the comparison says; the reason is recorded.

    Parameters
    ----------
    version : str or int
        Version number (``3`` or ``"v3"``).
    reason : str
        Why, recorded on the version as ``promotion_reason``.
    model_name : str
        Registered model name.

    Returns
    -------
    str
        The previous champion version, or ``""`` if there was none.

    Raises
    ------
    ConfigError
        There is no such version; the message lists those that exist.
    """
    return registry.promote(str(version), f"promoted by hand: {reason}", model_name)


def rollback(model_name: str = REGISTERED_MODEL) -> tuple[str, str]:
    """Give ``champion`` back to the version that held it before the current one.

    Parameters
    ----------
    model_name : str
        Registered model name.

    Returns
    -------
    demoted : str
        The version that was champion.
    restored : str
        The version that is champion again.

    Raises
    ------
    ConfigError
        There is no earlier champion to return to.
    """
    return registry.rollback(model_name)
