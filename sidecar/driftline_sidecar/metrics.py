"""The sidecar's Prometheus metrics: ingest and HTTP counters, a collector over the latest state.

The drift gauges are produced by a custom collector at scrape time from the latest
evaluation of each model version, so a feature that leaves an evaluation leaves the
exposition too (no stale label sets). Names and labels are docs/telemetry.md's
"Sidecar metrics" table.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

__all__ = [
    "ColumnState",
    "ModelState",
    "SidecarMetrics",
    "StateSource",
]

_EVALUATION_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
QUALITY_CHECKS = ("missing", "non_finite", "out_of_range", "unseen_category", "type_mismatch")


@dataclass(frozen=True)
class ColumnState:
    """One column of the latest evaluation, as the metrics show it."""

    name: str
    kind: str
    """``feature`` or ``prediction`` (the profile's role)."""
    test: str | None
    statistic: float | None
    p_value: float | None
    p_adjusted: float | None
    effect_method: str | None
    effect_size: float | None
    drifted: bool
    severity: int
    quality: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class ModelState:
    """What the sidecar knows about one model version at scrape time."""

    model: str
    version: str
    window_records: int
    profile_id: str | None
    evaluated_at: float | None = None
    drifted_features: int | None = None
    columns: Sequence[ColumnState] = ()


class StateSource(Protocol):
    """Anything that can list the current state of every model version (the service)."""

    def metric_state(self) -> list[ModelState]:
        """The state of every known model version."""
        ...


class SidecarMetrics:
    """The sidecar's counters and histogram, registered in ``registry``."""

    def __init__(self, registry: CollectorRegistry) -> None:
        """Create the counters in ``registry``; call `watch` to add the drift gauges."""
        self.registry = registry
        self.records_received = Counter(
            "driftline_sidecar_records_received",
            "Records accepted by /v1/records.",
            ["model", "version"],
            registry=registry,
        )
        self.records_rejected = Counter(
            "driftline_sidecar_records_rejected",
            "Records or bodies rejected by /v1/records, by reason.",
            ["reason"],
            registry=registry,
        )
        self.requests = Counter(
            "driftline_sidecar_requests",
            "HTTP requests answered, by endpoint and status.",
            ["endpoint", "status"],
            registry=registry,
        )
        self.columns_ignored = Counter(
            "driftline_sidecar_columns_ignored",
            "Columns of accepted batches not kept: not in the reference, or over the cap.",
            ["model", "version"],
            registry=registry,
        )
        self.snapshot_failures = Counter(
            "driftline_sidecar_snapshot_failures",
            "Snapshots that could not be written or restored, by operation.",
            ["operation"],
            registry=registry,
        )
        self.evaluation_duration = Histogram(
            "driftline_evaluation_duration_seconds",
            "Time one drift evaluation took.",
            ["model", "version"],
            buckets=_EVALUATION_BUCKETS,
            registry=registry,
        )

    def watch(self, source: StateSource) -> None:
        """Expose the drift gauges computed from ``source`` at every scrape."""
        self.registry.register(_StateCollector(source))


class _StateCollector(Collector):
    def __init__(self, source: StateSource) -> None:
        self._source = source

    def describe(self) -> Iterable[Metric]:
        # An empty description keeps registration from calling collect() before the service is up.
        return []

    def collect(self) -> Iterable[Metric]:
        states = self._source.metric_state()
        return _families(states)


def _families(states: list[ModelState]) -> list[Metric]:
    column_labels = ["model", "version", "feature", "kind"]
    statistic = GaugeMetricFamily(
        "driftline_drift_statistic",
        "Test statistic of the latest evaluation.",
        labels=[*column_labels, "method"],
    )
    p_value = GaugeMetricFamily(
        "driftline_drift_p_value",
        "p-value of the latest evaluation.",
        labels=[*column_labels, "method"],
    )
    p_adjusted = GaugeMetricFamily(
        "driftline_drift_p_value_adjusted",
        "Benjamini-Hochberg adjusted p-value over the features of the latest evaluation.",
        labels=[*column_labels, "method"],
    )
    effect = GaugeMetricFamily(
        "driftline_drift_effect_size",
        "Effect size of the latest evaluation.",
        labels=[*column_labels, "method"],
    )
    detected = GaugeMetricFamily(
        "driftline_drift_detected",
        "1 when the column drifted under the decision rule.",
        labels=column_labels,
    )
    severity = GaugeMetricFamily(
        "driftline_drift_severity", "0 none, 1 info, 2 warning, 3 critical.", labels=column_labels
    )
    drifted = GaugeMetricFamily(
        "driftline_drifted_features",
        "Columns flagged in the latest evaluation.",
        labels=["model", "version"],
    )
    window = GaugeMetricFamily(
        "driftline_window_records", "Records in the current window.", labels=["model", "version"]
    )
    last = GaugeMetricFamily(
        "driftline_last_evaluation_timestamp_seconds",
        "Unix time of the latest evaluation.",
        labels=["model", "version"],
    )
    info = GaugeMetricFamily(
        "driftline_reference_info",
        "The reference profile in use.",
        labels=["model", "version", "profile_id"],
    )
    loaded = GaugeMetricFamily(
        "driftline_reference_loaded",
        "1 when the version has a reference profile, else 0.",
        labels=["model", "version"],
    )
    quality = GaugeMetricFamily(
        "driftline_data_quality_ratio",
        "Share of the window failing a data-quality check.",
        labels=["model", "version", "feature", "check"],
    )
    for state in states:
        key = [state.model, state.version]
        window.add_metric(key, state.window_records)
        loaded.add_metric(key, 0 if state.profile_id is None else 1)
        if state.profile_id is not None:
            info.add_metric([*key, state.profile_id], 1)
        if state.evaluated_at is not None:
            last.add_metric(key, state.evaluated_at)
        if state.drifted_features is not None:
            drifted.add_metric(key, state.drifted_features)
        for column in state.columns:
            labels = [*key, column.name, column.kind]
            if column.test is not None:
                _add(statistic, [*labels, column.test], column.statistic)
                _add(p_value, [*labels, column.test], column.p_value)
                _add(p_adjusted, [*labels, column.test], column.p_adjusted)
            if column.effect_method is not None:
                _add(effect, [*labels, column.effect_method], column.effect_size)
            detected.add_metric(labels, 1 if column.drifted else 0)
            severity.add_metric(labels, column.severity)
            for check, ratio in column.quality.items():
                _add(quality, [*key, column.name, check], ratio)
    return [
        statistic,
        p_value,
        p_adjusted,
        effect,
        detected,
        severity,
        drifted,
        window,
        last,
        info,
        loaded,
        quality,
    ]


def _add(family: GaugeMetricFamily, labels: list[str], value: float | None) -> None:
    if value is not None and not math.isnan(value):
        family.add_metric(labels, value)
