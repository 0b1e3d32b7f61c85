"""Apache Spark engine (``pip install churnml[spark]``): the log's heavy passes as Spark jobs.

Validation counts, the BTYD summary and the labels run as Spark DataFrame jobs on a log that
never comes to the driver; the BTYD model is fitted on the driver from the summary's distinct
rows. Each equals the pandas path's result on the same data (``tests/spark``). Importing this
package needs ``pyspark``; the rest of churnml does not.
"""

from churnml.spark.features import (
    btyd_summary_spark,
    build_labels_spark,
    distinct_summary,
    fit_transactions,
)
from churnml.spark.lines import SparkTransactions, read_spark, validate_spark
from churnml.spark.session import local_session

__all__ = [
    "SparkTransactions",
    "btyd_summary_spark",
    "build_labels_spark",
    "distinct_summary",
    "fit_transactions",
    "local_session",
    "read_spark",
    "validate_spark",
]
