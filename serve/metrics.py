"""Prometheus metrics through prometheus_client, across workers when there are several.

Request counts and latencies are recorded by :mod:`serve.middleware`. The model version and the
snapshot's age are read from what this worker serves at scrape time, so they are never stale.
With several workers (``churnml serve --workers N`` sets ``PROMETHEUS_MULTIPROC_DIR``) the
request metrics of all workers are summed by prometheus_client's multiprocess collector.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator

from prometheus_client import REGISTRY, CollectorRegistry, generate_latest, multiprocess
from prometheus_client.core import GaugeMetricFamily, InfoMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from serve.state import Serving

__all__ = ["metrics_text"]


class _ServingCollector:
    """The model and snapshot of this worker, read at scrape time."""

    def __init__(self, serving: Serving) -> None:
        self.serving = serving

    def collect(self) -> Iterator[Metric]:
        model, snapshot = self.serving.model, self.serving.snapshot
        info = InfoMetricFamily("churnml_model", "The model being served.")
        if model is not None:
            info.add_metric(
                [], {"version": model.label, "family": str(model.model.meta.get("family"))}
            )
        yield info
        age = GaugeMetricFamily(
            "churnml_snapshot_age_seconds", "Seconds since the served score snapshot was published."
        )
        rows = GaugeMetricFamily("churnml_snapshot_rows", "Customers in the served snapshot.")
        ready = GaugeMetricFamily("churnml_ready", "1 when a model and a snapshot are loaded.")
        if snapshot is not None:
            age.add_metric([], max(0.0, time.time() - snapshot.created_ts))
            rows.add_metric([], snapshot.snapshot.n_rows)
        ready.add_metric([], 1.0 if self.serving.ready else 0.0)
        yield age
        yield rows
        yield ready


def metrics_text(serving: Serving) -> tuple[bytes, str]:
    """Render the metrics in Prometheus' text format.

    Parameters
    ----------
    serving : Serving
        What this worker serves.

    Returns
    -------
    body : bytes
        The exposition text.
    content_type : str
        Its media type.
    """
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        requests = generate_latest(registry)
    else:
        requests = generate_latest(REGISTRY)
    state = CollectorRegistry()
    state.register(_ServingCollector(serving))
    return requests + generate_latest(state), CONTENT_TYPE_LATEST
