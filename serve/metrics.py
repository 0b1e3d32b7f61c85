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
        # each worker answers a scrape with what it serves itself: the worker label keeps two
        # workers that have not reloaded together yet from passing for one
        worker = [str(os.getpid())]
        info = InfoMetricFamily("churnml_model", "The model being served.", labels=["worker"])
        if model is not None:
            family = str(model.model.meta.get("family"))
            info.add_metric(worker, {"version": model.label, "family": family})
        yield info
        age = GaugeMetricFamily(
            "churnml_snapshot_age_seconds",
            "Seconds since the served score snapshot was published.",
            labels=["worker"],
        )
        rows = GaugeMetricFamily(
            "churnml_snapshot_rows", "Customers in the served snapshot.", labels=["worker"]
        )
        ready = GaugeMetricFamily(
            "churnml_ready", "1 when a model and a snapshot are loaded.", labels=["worker"]
        )
        if snapshot is not None:
            age.add_metric(worker, max(0.0, time.time() - snapshot.created_ts))
            rows.add_metric(worker, snapshot.snapshot.n_rows)
        ready.add_metric(worker, 1.0 if self.serving.ready else 0.0)
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
