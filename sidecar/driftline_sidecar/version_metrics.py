"""The version-comparison and performance metrics, read from a `VersionMonitor` at scrape time.

Names and labels are docs/telemetry.md's "Sidecar metrics" table (``driftline_shadow_*``,
``driftline_version_prediction_drift_*``, ``driftline_model_performance*``,
``driftline_outcomes_total``, ``driftline_prediction_store_*``).
"""

from __future__ import annotations

import math
from collections.abc import Iterable

from prometheus_client import CollectorRegistry
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from driftline_sidecar.versions import ModelComparison, VersionMonitor

__all__ = ["register_version_metrics"]

_SHADOW = ["model", "champion_version", "challenger_version", "output"]
_PAIR = ["model", "version_a", "version_b", "output"]


def register_version_metrics(registry: CollectorRegistry, monitor: VersionMonitor) -> None:
    """Expose ``monitor``'s latest comparisons and counters in ``registry``."""
    registry.register(_VersionCollector(monitor))


class _VersionCollector(Collector):
    def __init__(self, monitor: VersionMonitor) -> None:
        self._monitor = monitor

    def describe(self) -> Iterable[Metric]:
        return []

    def collect(self) -> Iterable[Metric]:
        families = _families(self._monitor.comparisons())
        outcomes = CounterMetricFamily(
            "driftline_outcomes",
            "Outcomes received by /v1/outcomes, by how they were joined.",
            labels=["status"],
        )
        for status, count in self._monitor.outcomes.items():
            outcomes.add_metric([status], count)
        size, evictions = self._monitor.store_size()
        entries = GaugeMetricFamily(
            "driftline_prediction_store_entries", "Prediction ids held for joins and pairs."
        )
        entries.add_metric([], size)
        evicted = CounterMetricFamily(
            "driftline_prediction_store_evictions",
            "Prediction ids evicted from the store, by reason.",
            labels=["reason"],
        )
        for reason, count in sorted(evictions.items()):
            evicted.add_metric([reason], count)
        return [*families, outcomes, entries, evicted]


def _families(comparisons: list[ModelComparison]) -> list[Metric]:
    agreement = GaugeMetricFamily(
        "driftline_shadow_agreement_ratio",
        "Share of shadow pairs whose champion and challenger labels agree.",
        labels=_SHADOW,
    )
    pairs = GaugeMetricFamily(
        "driftline_shadow_pairs", "Shadow pairs in the comparison window.", labels=_SHADOW
    )
    difference = GaugeMetricFamily(
        "driftline_shadow_difference",
        "Statistic of the paired differences challenger - champion.",
        labels=[*_SHADOW, "statistic"],
    )
    paired_p = GaugeMetricFamily(
        "driftline_shadow_difference_p_value",
        "p-value of a paired test that the differences are centred on zero.",
        labels=[*_SHADOW, "test"],
    )
    statistic = GaugeMetricFamily(
        "driftline_version_prediction_drift_statistic",
        "Test statistic of version_b's predictions against version_a's.",
        labels=[*_PAIR, "method"],
    )
    p_value = GaugeMetricFamily(
        "driftline_version_prediction_drift_p_value",
        "p-value of version_b's predictions against version_a's.",
        labels=[*_PAIR, "method"],
    )
    effect = GaugeMetricFamily(
        "driftline_version_prediction_drift_effect_size",
        "Effect size of version_b's predictions against version_a's.",
        labels=[*_PAIR, "method"],
    )
    detected = GaugeMetricFamily(
        "driftline_version_prediction_drift_detected",
        "1 when version_b's predictions drifted from version_a's under the decision rule.",
        labels=_PAIR,
    )
    performance = GaugeMetricFamily(
        "driftline_model_performance",
        "Performance over the version's last joined outcomes.",
        labels=["model", "version", "metric"],
    )
    reference = GaugeMetricFamily(
        "driftline_model_performance_reference",
        "Performance on the reference profile's labelled data.",
        labels=["model", "version", "metric"],
    )
    outcomes = GaugeMetricFamily(
        "driftline_model_performance_outcomes",
        "Joined outcomes in the version's performance window.",
        labels=["model", "version"],
    )
    for comparison in comparisons:
        model = comparison.model
        for shadow in comparison.shadow:
            for output in shadow.outputs:
                labels = [model, shadow.champion_version, shadow.challenger_version, output.output]
                pairs.add_metric(labels, output.pairs)
                _add(agreement, labels, output.agreement)
                if output.difference is not None:
                    for name, value in output.difference.statistics().items():
                        _add(difference, [*labels, name], value)
                    _add(paired_p, [*labels, "wilcoxon"], output.difference.wilcoxon_p)
                    _add(paired_p, [*labels, "paired_t"], output.difference.paired_t_p)
        for drift in comparison.drift:
            labels = [model, drift.version_a, drift.version_b, drift.output]
            result = drift.result
            if result.status == "tested":
                _add(statistic, [*labels, result.test], result.statistic)
                _add(p_value, [*labels, result.test], result.p_value)
                _add(effect, [*labels, result.effect_method], result.effect_size)
                detected.add_metric(labels, 1 if result.drifted else 0)
        for entry in comparison.performance:
            key = [model, entry.version]
            outcomes.add_metric(key, entry.outcomes)
            for metric, value in sorted(entry.performance.metrics.items()):
                _add(performance, [*key, metric], value)
            for metric, value in sorted((entry.reference or {}).items()):
                _add(reference, [*key, metric], value)
    return [
        agreement,
        pairs,
        difference,
        paired_p,
        statistic,
        p_value,
        effect,
        detected,
        performance,
        reference,
        outcomes,
    ]


def _add(family: GaugeMetricFamily, labels: list[str], value: float | None) -> None:
    if value is not None and not math.isnan(value):
        family.add_metric(labels, value)
