"""A local Spark session set up as churnml's Spark jobs expect."""

from __future__ import annotations

import os
import sys

from pyspark.sql import SparkSession

__all__ = ["local_session", "spark_session"]


def local_session(cores: int = 2, app_name: str = "churnml") -> SparkSession:
    """Start (or return) a local Spark session: ``local[cores]``, UTC, no web UI.

    On a cluster, ``spark-submit`` makes the session; churnml's functions take any.

    Parameters
    ----------
    cores : int
        Worker threads.
    app_name : str
        The application's name.

    Returns
    -------
    pyspark.sql.SparkSession
        The session.
    """
    # Python workers must be this interpreter (the one with churnml, pandas and pyarrow), not
    # whichever python3 comes first on the path
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    return (
        SparkSession.builder.master(f"local[{int(cores)}]")
        .appName(app_name)
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        # naive wall-clock timestamps, as validation makes them, whatever the machine's zone
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.sql.shuffle.partitions", str(max(2, 2 * int(cores))))
        .config("spark.sql.execution.arrow.pyspark.enabled", "true")
        .getOrCreate()
    )


def spark_session(cores: int = 2) -> SparkSession:
    """Return the session ``spark-submit`` started, or else a :func:`local_session`.

    Parameters
    ----------
    cores : int
        Worker threads of a local session.

    Returns
    -------
    pyspark.sql.SparkSession
        The session.
    """
    # spark-submit runs the driver with a gateway to its JVM, which holds the cluster's
    # master and settings: a master set here would override them
    if os.environ.get("PYSPARK_GATEWAY_PORT"):
        return SparkSession.builder.getOrCreate()
    return local_session(cores)
