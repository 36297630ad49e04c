"""``CaptureMetrics``: the ``driftline_capture_*`` families, read from the queues at scrape time."""

from __future__ import annotations

import os
import threading
import weakref
from collections.abc import Iterable
from typing import Protocol

from prometheus_client import REGISTRY, CollectorRegistry, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.metrics_core import Metric

from ._capture_settings import DROP_REASONS

__all__ = ["CaptureMetrics", "CountSource"]


class CountSource(Protocol):
    """A capture queue as its metrics see it."""

    def _counts(self) -> tuple[int, int, dict[str, int], int, int]:
        """Return (enqueued, sent, dropped by reason, queue size, capacity), read at once."""
        ...


class CaptureMetrics:
    """The ``driftline_capture_*`` families of one registry, summed over the queues reporting to it.

    One instance per registry (``for_registry``), so configuring driftline
    again never registers a metric twice.
    """

    def __init__(self, registry: CollectorRegistry) -> None:
        self._queues: list[CountSource] = []
        self._lock = threading.Lock()
        self.send_duration = Histogram(
            "driftline_capture_send_duration_seconds",
            "Time of one POST of captured records to the sidecar, by outcome.",
            ["outcome"],
            registry=registry,
        )
        registry.register(self)

    @classmethod
    def for_registry(cls, registry: CollectorRegistry | None) -> CaptureMetrics:
        """Return the registry's instance, creating and registering it on first use."""
        target = REGISTRY if registry is None else registry
        with _METRICS_LOCK:
            metrics = _METRICS.get(target)
            if metrics is None:
                metrics = _METRICS[target] = cls(target)
            return metrics

    def attach(self, queue: CountSource) -> None:
        """Report ``queue``'s counts from now on (closed queues keep reporting their totals)."""
        with self._lock:
            self._queues.append(queue)

    def _after_fork_in_child(self) -> None:
        self._lock = threading.Lock()
        self.send_duration.clear()

    def describe(self) -> list[Metric]:
        """Return the families without samples, so the registry can refuse duplicate names."""
        return list(self._families([]))

    def collect(self) -> Iterable[Metric]:
        """Return the families with the current counts of every attached queue."""
        with self._lock:
            queues = list(self._queues)
        return self._families([q._counts() for q in queues])

    @staticmethod
    def _families(counts: list[tuple[int, int, dict[str, int], int, int]]) -> Iterable[Metric]:
        enqueued = CounterMetricFamily(
            "driftline_capture_records_enqueued",
            "Records accepted into the capture queue.",
            value=sum(c[0] for c in counts),
        )
        sent = CounterMetricFamily(
            "driftline_capture_records_sent",
            "Records the sidecar acknowledged.",
            value=sum(c[1] for c in counts),
        )
        dropped = CounterMetricFamily(
            "driftline_capture_records_dropped",
            "Captured records lost, by reason.",
            labels=["reason"],
        )
        size = GaugeMetricFamily(
            "driftline_capture_queue_size",
            "Records waiting in the capture queue now.",
            value=sum(c[3] for c in counts),
        )
        capacity = GaugeMetricFamily(
            "driftline_capture_queue_capacity",
            "The capture queue's bound, in records.",
            value=sum(c[4] for c in counts),
        )
        if counts:
            for reason in DROP_REASONS:
                dropped.add_metric([reason], sum(c[2][reason] for c in counts))
        else:
            enqueued.samples.clear()
            sent.samples.clear()
            size.samples.clear()
            capacity.samples.clear()
        return [enqueued, sent, dropped, size, capacity]


_METRICS: weakref.WeakKeyDictionary[CollectorRegistry, CaptureMetrics] = weakref.WeakKeyDictionary()
_METRICS_LOCK = threading.Lock()


def _after_fork_in_child() -> None:
    global _METRICS_LOCK
    _METRICS_LOCK = threading.Lock()
    for metrics in list(_METRICS.values()):
        metrics._after_fork_in_child()


os.register_at_fork(after_in_child=_after_fork_in_child)
