"""Apache Spark engine (``pip install churnml[spark]``): the log's heavy passes as Spark jobs.

Validation counts, the BTYD summary and the labels run as Spark DataFrame jobs on a log that
never comes to the driver; the BTYD model is fitted on the driver from the summary's distinct
rows; ``train`` draws its customer sample in Spark and fits on it as the pandas path does;
``score`` scores each group of customers where it lies with the pandas path's own code;
``describe`` counts in Spark and assembles the summary with the pandas path's functions.
Each equals the pandas path's result on the same data (``tests/spark``). Importing this
package needs ``pyspark``; the rest of churnml does not.
"""

from churnml.spark.features import (
    btyd_summary_spark,
    build_labels_spark,
    distinct_summary,
    fit_transactions,
)
from churnml.spark.lines import SparkTransactions, read_spark, validate_spark
from churnml.spark.scoring import SparkScores, score_model_spark, score_spark, scores_to_pandas
from churnml.spark.session import local_session, spark_session
from churnml.spark.summary import describe_spark
from churnml.spark.training import fingerprint_spark, sample_spark, train_spark

__all__ = [
    "SparkScores",
    "SparkTransactions",
    "btyd_summary_spark",
    "build_labels_spark",
    "describe_spark",
    "distinct_summary",
    "fingerprint_spark",
    "fit_transactions",
    "local_session",
    "read_spark",
    "sample_spark",
    "score_model_spark",
    "score_spark",
    "scores_to_pandas",
    "spark_session",
    "train_spark",
    "validate_spark",
]
