"""Decorated traffic for fault tests: a model function, its inputs, and the SDK's capture counts."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import driftline
from driftline._capture import DROP_REASONS
from prometheus_client import CollectorRegistry

from tests.faults._sidecar import MODEL, VERSION

__all__ = ["CaptureCounts", "Traffic", "features", "score"]


def features(i: int) -> dict[str, Any]:
    """The input of call ``i``: the reference's columns, deterministic."""
    return {
        "tenure": 20.0 + i % 10,
        "spend": 40.0 + i % 25,
        "plan": ("basic", "pro", "team")[i % 3],
    }


def score(row: dict[str, Any]) -> float:
    """The undecorated model: a pure function of its input."""
    return round(0.01 * float(row["tenure"]) + 0.001 * float(row["spend"]), 6)


predict = driftline.monitor(model=MODEL, version=VERSION)(score)


@dataclass(frozen=True)
class CaptureCounts:
    """The SDK's ``driftline_capture_*`` samples in one registry, read at once."""

    enqueued: float
    sent: float
    dropped: dict[str, float]
    queue_size: float
    capacity: float

    @classmethod
    def read(cls, registry: CollectorRegistry) -> CaptureCounts:
        """Read the samples from ``registry``."""

        def value(name: str, **labels: str) -> float:
            found = registry.get_sample_value(name, labels)
            return 0.0 if found is None else found

        return cls(
            enqueued=value("driftline_capture_records_enqueued_total"),
            sent=value("driftline_capture_records_sent_total"),
            dropped={
                reason: value("driftline_capture_records_dropped_total", reason=reason)
                for reason in DROP_REASONS
            },
            queue_size=value("driftline_capture_queue_size"),
            capacity=value("driftline_capture_queue_capacity"),
        )


@dataclass
class Traffic:
    """Runs decorated calls, checks each result against ``score`` and samples the queue size."""

    registry: CollectorRegistry
    calls: int = 0
    wrong_results: int = 0
    max_queue_size: float = 0.0

    def run(self, n: int, *, sample_every: int = 25) -> None:
        """Make ``n`` decorated calls, sampling ``driftline_capture_queue_size`` as they go."""
        for i in range(self.calls, self.calls + n):
            row = features(i)
            if predict(row) != score(row):
                self.wrong_results += 1
            if i % sample_every == 0:
                size = CaptureCounts.read(self.registry).queue_size
                self.max_queue_size = max(self.max_queue_size, size)
        self.calls += n
