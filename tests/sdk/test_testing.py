"""driftline.testing: users assert on what their decorated functions emitted."""

from __future__ import annotations

import io

import driftline
from driftline import _runtime
from driftline.testing import capture_telemetry
from prometheus_client import CollectorRegistry


@driftline.monitor(model="churn", version="2")
def predict(features: dict[str, float]) -> float:
    """A model that always answers 0.8."""
    return 0.8


def test_everything_is_captured() -> None:
    """One call shows up as a span, a metric, a log event and a record."""
    with capture_telemetry() as telemetry:
        predict({"age": 41.0})
        requests = telemetry.metric(
            "driftline_requests_total", model="churn", version="2", outcome="success"
        )
    assert (len(telemetry.spans), requests, len(telemetry.logs)) == (1, 1, 1)
    (record,) = telemetry.records
    assert (record.model, record.version, record.features, record.predictions) == (
        "churn",
        "2",
        {"age": 41.0},
        {"value": 0.8},
    )
    assert record.trace_id == format(telemetry.spans[0].context.trace_id, "032x")


def test_previous_runtime_is_restored() -> None:
    """Leaving the block puts back the runtime that was configured before."""
    registry = CollectorRegistry()
    driftline.configure(registry=registry, log_output=io.StringIO(), trace_sample_rate=0)
    before = _runtime.current()
    with capture_telemetry():
        predict({"age": 1.0})
    predict({"age": 1.0})
    labels = {"model": "churn", "version": "2", "outcome": "success"}
    assert (_runtime.current(), registry.get_sample_value("driftline_requests_total", labels)) == (
        before,
        1,
    )


def test_settings_can_be_overridden() -> None:
    """Keyword arguments are configure() keys, e.g. a zero capture rate."""
    with capture_telemetry(capture_sample_rate=0.0) as telemetry:
        predict({"age": 1.0})
    assert telemetry.records == []


def test_each_block_starts_empty() -> None:
    """A second block does not see the first block's telemetry."""
    with capture_telemetry():
        predict({"age": 1.0})
    with capture_telemetry() as telemetry:
        pass
    labels = {"model": "churn", "version": "2", "outcome": "success"}
    assert (telemetry.spans, telemetry.metric("driftline_requests_total", **labels)) == ((), None)
