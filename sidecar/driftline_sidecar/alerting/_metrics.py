"""The alerting metrics: deliveries by outcome, failed attempts, and alerts firing now."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Final

from prometheus_client import CollectorRegistry, Counter
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from driftline_sidecar.alerting._model import ALERT_NAMES, Alert
from driftline_sidecar.alerting._versions import VERSION_ALERT_NAMES

__all__ = ["OUTCOMES", "AlertingMetrics"]

OUTCOMES: Final = ("success", "rejected", "failed", "dropped")
_SEVERITIES: Final = ("info", "warning", "critical")


class _FiringCollector(Collector):
    """``driftline_alerts_firing``, read from the state at scrape time so it is never stale."""

    def __init__(self, active: Callable[[], Sequence[Alert]]) -> None:
        self._active = active

    def collect(self) -> Iterator[Metric]:
        family = GaugeMetricFamily(
            "driftline_alerts_firing",
            "Alerts the sidecar has firing now, by alertname and severity.",
            labels=["alertname", "severity"],
        )
        names = (*ALERT_NAMES, *VERSION_ALERT_NAMES)
        counts = dict.fromkeys(((n, s) for n in names for s in _SEVERITIES), 0)
        for alert in self._active():
            if alert.status == "firing":
                key = (alert.alertname, alert.severity)
                counts[key] = counts.get(key, 0) + 1
        for (alertname, severity), count in sorted(counts.items()):
            family.add_metric([alertname, severity], count)
        yield family


class AlertingMetrics:
    """The counters the delivery worker updates, registered in the caller's registry."""

    def __init__(self, registry: CollectorRegistry, active: Callable[[], Sequence[Alert]]) -> None:
        self.sent = Counter(
            "driftline_alerts_sent",
            "Alerts handed to a destination, by destination and final outcome.",
            ["destination", "outcome"],
            registry=registry,
        )
        self.failures = Counter(
            "driftline_alert_delivery_failures",
            "Failed delivery attempts (each retry counts), by destination.",
            ["destination"],
            registry=registry,
        )
        registry.register(_FiringCollector(active))

    def outcome(self, destination: str, outcome: str, alerts: int) -> None:
        """Count ``alerts`` alerts that reached their final ``outcome`` at ``destination``."""
        self.sent.labels(destination=destination, outcome=outcome).inc(alerts)

    def failure(self, destination: str) -> None:
        """Count one failed delivery attempt at ``destination``."""
        self.failures.labels(destination=destination).inc()
