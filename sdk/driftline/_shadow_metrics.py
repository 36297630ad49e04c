"""``driftline_shadow_*``: per (model, version, challenger version) counts, built at scrape time."""

from __future__ import annotations

import itertools
import threading
import weakref
from bisect import bisect_left
from collections.abc import Iterator
from typing import Final

from prometheus_client import CollectorRegistry
from prometheus_client.metrics_core import CounterMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector

from ._counts import taken
from ._metrics import DURATION_BUCKETS, histogram_buckets

__all__ = [
    "SHADOW_OUTCOMES",
    "SKIP_REASONS",
    "ShadowMetrics",
    "ShadowStats",
    "shadow_metrics_for",
]

SHADOW_OUTCOMES: Final = ("success", "error", "timeout", "skipped")
"""Every value of the ``outcome`` label of ``driftline_shadow_calls_total``."""
SKIP_REASONS: Final = ("queue_full", "cpu_budget")
"""Every value of the ``reason`` label of ``driftline_shadow_skipped_total``."""


class ShadowStats:
    """The shadow counts of one (model, version, challenger version) in one registry."""

    __slots__ = (
        "challenger_version",
        "counts",
        "durations",
        "lock",
        "model",
        "over_budget",
        "skipped",
        "total",
        "version",
    )

    def __init__(self, model: str, version: str, challenger_version: str) -> None:
        self.model = model
        self.version = version
        self.challenger_version = challenger_version
        self.lock = threading.Lock()
        # next(...) is atomic in CPython: the champion's thread counts a skip without a lock.
        self.skipped = itertools.count()  # the queue was full
        self.over_budget = itertools.count()  # the CPU budget was spent
        self.counts = dict.fromkeys(SHADOW_OUTCOMES[:3], 0)
        self.durations = [0] * (len(DURATION_BUCKETS) + 1)
        self.total = 0.0

    def finish(self, outcome: str, duration: float, *, count: bool = True) -> None:
        """Observe a challenger call that returned or raised; count its outcome if ``count``."""
        index = bisect_left(DURATION_BUCKETS, duration)
        with self.lock:
            if count:
                self.counts[outcome] += 1
            self.durations[index] += 1
            self.total += duration

    def timed_out(self) -> None:
        """Count a call that passed its deadline (its duration is observed when it returns)."""
        with self.lock:
            self.counts["timeout"] += 1

    def not_started(self) -> None:
        """Count as ``error`` a call whose challenger could not be started (nothing to time)."""
        with self.lock:
            self.counts["error"] += 1

    def snapshot(self) -> tuple[dict[str, int], dict[str, int], list[int], float]:
        """Return (counts by outcome, skips by reason, duration bucket counts, duration sum)."""
        with self.lock:
            counts = dict(self.counts)
            durations, total = list(self.durations), self.total
        skips = {"queue_full": taken(self.skipped), "cpu_budget": taken(self.over_budget)}
        counts["skipped"] = sum(skips.values())
        return counts, skips, durations, total


class ShadowMetrics(Collector):
    """The ``driftline_shadow_*`` families of one registry."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self._lock = threading.Lock()
        self._stats: dict[tuple[str, str, str], ShadowStats] = {}
        registry.register(self)

    def stats(self, model: str, version: str, challenger_version: str) -> ShadowStats:
        """Return the counts of (model, version, challenger version), created on first use."""
        key = (model, version, challenger_version)
        with self._lock:
            stats = self._stats.get(key)
            if stats is None:
                stats = self._stats[key] = ShadowStats(*key)
            return stats

    def describe(self) -> list[Metric]:
        """Return the families without samples, so the registry can refuse duplicate names."""
        return list(self._families([]))

    def collect(self) -> Iterator[Metric]:
        """Yield the families with every (model, version, challenger version)'s counts."""
        with self._lock:
            all_stats = list(self._stats.values())
        yield from self._families(all_stats)

    @staticmethod
    def _families(all_stats: list[ShadowStats]) -> Iterator[Metric]:
        labels = ["model", "version", "challenger_version"]
        calls = CounterMetricFamily(
            "driftline_shadow_calls",
            "Shadow (challenger) calls, by outcome; skipped: queue full or CPU budget spent.",
            labels=[*labels, "outcome"],
        )
        skipped = CounterMetricFamily(
            "driftline_shadow_skipped",
            "Shadow calls skipped, by reason: queue_full or cpu_budget.",
            labels=[*labels, "reason"],
        )
        duration = HistogramMetricFamily(
            "driftline_shadow_duration_seconds",
            "Wall time of challenger calls that returned or raised, late ones included.",
            labels=labels,
        )
        for stats in all_stats:
            key = [stats.model, stats.version, stats.challenger_version]
            counts, skips, durations, total = stats.snapshot()
            for outcome in SHADOW_OUTCOMES:
                calls.add_metric([*key, outcome], counts[outcome])
            for reason in SKIP_REASONS:
                skipped.add_metric([*key, reason], skips[reason])
            duration.add_metric(key, histogram_buckets(DURATION_BUCKETS, durations), total)
        yield from (calls, skipped, duration)


_by_registry: weakref.WeakKeyDictionary[CollectorRegistry, ShadowMetrics] = (
    weakref.WeakKeyDictionary()
)
_by_registry_lock = threading.Lock()


def shadow_metrics_for(registry: CollectorRegistry) -> ShadowMetrics:
    """Return the shadow metrics of ``registry``, registering them on first use."""
    with _by_registry_lock:
        metrics = _by_registry.get(registry)
        if metrics is None:
            metrics = _by_registry[registry] = ShadowMetrics(registry)
        return metrics
