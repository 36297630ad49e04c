"""Assert in your own tests what your decorated functions emitted.

    with driftline.testing.capture_telemetry() as telemetry:
        predict({"age": 41.0})
    assert telemetry.metric("driftline_requests_total", model="churn", outcome="success") == 1
    assert telemetry.spans[0].name == "driftline.predict churn"
    assert telemetry.records[0].predictions == {"value": 0.82}

Inside the block driftline runs on a private registry, a private tracer
provider with an in-memory exporter (every span sampled), a log capture and a
record sink instead of the sidecar; the previous runtime is restored on exit.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping, MutableMapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import structlog
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from prometheus_client import CollectorRegistry

from . import _runtime
from ._config import resolve_settings
from ._extract import VALUE
from ._ids import format_id

__all__ = ["CapturedRecord", "RecordedOutcome", "RecordingSink", "Telemetry", "capture_telemetry"]


@dataclass(frozen=True)
class CapturedRecord:
    """One captured prediction, as the sidecar would receive it."""

    model: str
    version: str
    role: str
    prediction_id: str
    timestamp: float
    trace_id: str | None
    features: Mapping[str, object]
    predictions: Mapping[str, object]


@dataclass(frozen=True)
class RecordedOutcome:
    """One outcome given to ``driftline.record_outcome()``, as the sidecar would receive it."""

    prediction_id: str
    actual: str | int | float | bool
    timestamp: float


def _row(columns: Mapping[str, Any], i: int) -> dict[str, object]:
    out: dict[str, object] = {}
    for name, column in columns.items():
        value = column[i]
        item = getattr(value, "item", None)
        out[name] = item() if callable(item) and getattr(value, "ndim", None) == 0 else value
    return out


@dataclass
class RecordingSink:
    """A capture sink that keeps records in memory instead of sending them; batches become rows."""

    records: list[CapturedRecord] = field(default_factory=list)
    dropped: dict[str, int] = field(default_factory=dict)
    outcomes: list[RecordedOutcome] = field(default_factory=list)

    def submit_row(
        self,
        model: str,
        version: str,
        role: str,
        prediction_id: str,
        timestamp: float,
        trace_id: str | None,
        features: Mapping[str, object],
        predictions: Mapping[str, object],
    ) -> None:
        """Keep one record."""
        self.records.append(
            CapturedRecord(
                model, version, role, prediction_id, timestamp, trace_id, features, predictions
            )
        )

    def submit_call(
        self,
        model: str,
        version: str,
        role: str,
        number: int,
        start: float,
        trace_id: str | None,
        features: Mapping[str, object],
        predictions: Mapping[str, object] | float,
    ) -> None:
        """Keep one record, its id, timestamp and predictions made as the shipper would."""
        timestamp = time.time() - (time.perf_counter() - start)
        self.submit_row(
            model,
            version,
            role,
            format_id(number, start),
            timestamp,
            trace_id,
            features,
            {VALUE: predictions} if isinstance(predictions, float) else predictions,
        )

    def submit_columns(
        self,
        model: str,
        version: str,
        role: str,
        prediction_ids: Sequence[str],
        timestamp: float,
        trace_id: str | None,
        features: Mapping[str, Any],
        predictions: Mapping[str, Any],
    ) -> None:
        """Keep one record per row of a batch."""
        for i, prediction_id in enumerate(prediction_ids):
            self.submit_row(
                model,
                version,
                role,
                prediction_id,
                timestamp,
                trace_id,
                _row(features, i),
                _row(predictions, i),
            )

    def record_dropped(self, reason: str, count: int = 1) -> None:
        """Count dropped records by reason."""
        self.dropped[reason] = self.dropped.get(reason, 0) + count

    def submit_outcome(self, prediction_id: str, actual: Any, timestamp: float) -> None:
        """Keep one outcome."""
        self.outcomes.append(RecordedOutcome(prediction_id, actual, timestamp))

    def flush(self, timeout: float) -> bool:
        """Nothing is ever queued."""
        return True

    def close(self, timeout: float) -> None:
        """Nothing to stop."""


class _LogCapture:
    """The last processor of the test logger: keeps the event dict and drops the event."""

    def __init__(self) -> None:
        self.entries: list[dict[str, Any]] = []

    def __call__(self, logger: Any, method_name: str, event_dict: MutableMapping[str, Any]) -> Any:
        self.entries.append(dict(event_dict))
        raise structlog.DropEvent


@dataclass(frozen=True)
class Telemetry:
    """What the decorated functions emitted inside ``capture_telemetry()``."""

    registry: CollectorRegistry
    exporter: InMemorySpanExporter
    sink: RecordingSink
    _logs: _LogCapture

    @property
    def spans(self) -> tuple[ReadableSpan, ...]:
        """The finished spans, oldest first."""
        return tuple(self.exporter.get_finished_spans())

    @property
    def logs(self) -> list[dict[str, Any]]:
        """The log events as dicts (``event``, ``level``, ``model``, ``prediction_id``...)."""
        return list(self._logs.entries)

    @property
    def records(self) -> list[CapturedRecord]:
        """The captured records, one per row."""
        return list(self.sink.records)

    @property
    def outcomes(self) -> list[RecordedOutcome]:
        """The outcomes given to ``driftline.record_outcome()`` and accepted, oldest first."""
        return list(self.sink.outcomes)

    @property
    def dropped(self) -> dict[str, int]:
        """Records dropped before capture, by reason (``extraction_error``)."""
        return dict(self.sink.dropped)

    def metric(self, name: str, **labels: str) -> float | None:
        """Return the value of sample ``name`` with exactly ``labels``, else None."""
        return self.registry.get_sample_value(name, labels)


@contextmanager
def capture_telemetry(**settings: Any) -> Iterator[Telemetry]:
    """Run the block with driftline's output captured in memory; restore the previous runtime after.

    Keyword arguments are configure() keys (``log_sample_rate`` defaults to 1
    here, so every call logs). Capture is on even without a sidecar.
    """
    registry = CollectorRegistry()
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    sink = RecordingSink()
    logs = _LogCapture()
    resolved = resolve_settings(
        {
            "log_sample_rate": 1.0,
            **settings,
            "registry": registry,
            "tracer_provider": provider,
            "sidecar_url": None,
        },
        environ={},
    )
    runtime = _runtime.build(resolved, capture=sink, log_processor=logs)
    previous = _runtime.install(runtime)
    try:
        yield Telemetry(registry, exporter, sink, logs)
    finally:
        _runtime.install(previous)
        provider.shutdown()
