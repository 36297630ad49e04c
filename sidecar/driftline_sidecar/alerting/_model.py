"""The alert value objects: names, an alert's labels and annotations, and state transitions."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final, Literal

__all__ = [
    "ALERT_NAMES",
    "DATA_QUALITY",
    "FEATURE_DRIFT",
    "MISSING_REFERENCE",
    "PREDICTION_DRIFT",
    "Alert",
    "AlertStatus",
    "Transition",
    "fingerprint",
]

FEATURE_DRIFT: Final = "DriftlineFeatureDrift"
PREDICTION_DRIFT: Final = "DriftlinePredictionDrift"
DATA_QUALITY: Final = "DriftlineDataQuality"
MISSING_REFERENCE: Final = "DriftlineMissingReference"
ALERT_NAMES: Final = (DATA_QUALITY, FEATURE_DRIFT, MISSING_REFERENCE, PREDICTION_DRIFT)

AlertStatus = Literal["inactive", "pending", "firing", "resolved"]

# FNV-1a, 64 bit, over sorted "name 0xff value 0xff" pairs: the fingerprint Prometheus
# and Alertmanager compute for a label set (prometheus/common model.LabelSet.Fingerprint).
_FNV_OFFSET: Final = 14695981039346656037
_FNV_PRIME: Final = 1099511628211
_SEPARATOR: Final = 0xFF
_MASK: Final = (1 << 64) - 1


def fingerprint(labels: Mapping[str, str]) -> str:
    """Return the 16 hex digits Alertmanager uses as the fingerprint of ``labels``."""
    value = _FNV_OFFSET
    for name in sorted(labels):
        for part in (name, labels[name]):
            for byte in part.encode("utf-8"):
                value = ((value ^ byte) * _FNV_PRIME) & _MASK
            value = ((value ^ _SEPARATOR) * _FNV_PRIME) & _MASK
    return f"{value:016x}"


@dataclass(frozen=True)
class Alert:
    """One alert as it is delivered: labels, annotations, status and Unix times in seconds.

    ``ends_at`` is set on resolved alerts only; a firing alert has no known end.
    """

    labels: Mapping[str, str]
    annotations: Mapping[str, str]
    status: AlertStatus
    starts_at: float
    ends_at: float | None
    generator_url: str

    @property
    def alertname(self) -> str:
        """The ``alertname`` label."""
        return self.labels["alertname"]

    @property
    def severity(self) -> str:
        """The ``severity`` label."""
        return self.labels["severity"]

    @property
    def fingerprint(self) -> str:
        """Alertmanager's fingerprint of the labels."""
        return fingerprint(self.labels)


@dataclass(frozen=True)
class Transition:
    """An alert moved from ``previous`` to ``alert.status`` during one observation."""

    previous: AlertStatus
    alert: Alert

    @property
    def current(self) -> AlertStatus:
        """The status the alert moved to."""
        return self.alert.status

    @property
    def deliverable(self) -> bool:
        """Whether destinations hear about it: only firing and resolved alerts are sent."""
        return self.alert.status in ("firing", "resolved")
