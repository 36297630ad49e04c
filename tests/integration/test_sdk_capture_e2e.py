"""Capture end to end: decorated calls to a real HTTP server standing in for the sidecar.

``configure(sidecar_url=...)`` with the real queue and shipper thread, and
``otlp_endpoint`` with a real OTLP/HTTP receiver, so the captured records'
trace ids can be matched with the spans that were exported.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import driftline
import pytest
from prometheus_client import CollectorRegistry

from tests.support.http_sink import HttpSink
from tests.support.otlp_receiver import OtlpReceiver

pytestmark = pytest.mark.integration

SERVICE = "capture-e2e-api"


@pytest.fixture(scope="module")
def receiver() -> Iterator[OtlpReceiver]:
    """One OTLP/HTTP receiver for the module."""
    with OtlpReceiver() as server:
        yield server


@pytest.fixture
def sink() -> Iterator[HttpSink]:
    """A fresh sidecar stand-in answering 202, stopped after the test."""
    with HttpSink() as server:
        yield server


@pytest.fixture
def registry(receiver: OtlpReceiver, sink: HttpSink) -> CollectorRegistry:
    """driftline configured to capture to the sink and export spans to the receiver."""
    receiver.clear()
    registry = CollectorRegistry()
    driftline.configure(
        service_name=SERVICE,
        sidecar_url=sink.url,
        otlp_endpoint=receiver.url,
        registry=registry,
        capture_flush_interval=0.1,
    )
    return registry


@driftline.monitor(model="churn", version="2.3.0")
def predict(features: dict[str, float | str]) -> float:
    return 0.1 * float(features["tenure"])


@driftline.monitor(model="churn", version="2.3.0", batch=True)
def predict_batch(rows: list[dict[str, float | str]]) -> list[float]:
    return [0.1 * float(row["tenure"]) for row in rows]


def _calls(n: int) -> list[str]:
    ids = []
    for i in range(n):
        predict({"tenure": float(i), "plan": "pro" if i % 2 else "basic"})
        prediction_id = driftline.last_prediction_id()
        assert prediction_id is not None
        ids.append(prediction_id)
    return ids


def test_captured_ids_are_the_calls_prediction_ids(
    sink: HttpSink, registry: CollectorRegistry
) -> None:
    """Every call's last_prediction_id() arrives at the sidecar, in call order."""
    ids = _calls(5)
    assert driftline.flush(5.0)
    assert sink.wait_for_ids(5) == ids


def test_captured_trace_ids_match_the_exported_spans(
    sink: HttpSink, receiver: OtlpReceiver, registry: CollectorRegistry
) -> None:
    """Each record's trace id is the trace of the span exported with its prediction id."""
    _calls(3)
    assert driftline.flush(5.0)
    sink.wait_for_ids(3)
    spans = receiver.wait_for_spans(3)
    span_traces = {s["attributes"]["driftline.prediction.id"]: s["trace_id"] for s in spans}
    record_traces = {
        i: t
        for request in sink.accepted()
        for batch in request.body["batches"]
        for i, t in zip(batch["ids"], batch["trace_ids"], strict=True)
    }
    assert record_traces == span_traces


def test_captured_body_holds_the_features_and_predictions(
    sink: HttpSink, registry: CollectorRegistry
) -> None:
    """The body names the service, model, version and role, with feature and output columns."""
    _calls(2)
    assert driftline.flush(5.0)
    sink.wait_for_ids(2)
    (batch,) = [b for request in sink.accepted() for b in request.body["batches"]]
    assert (
        sink.accepted()[0].body["service"],
        batch["model"],
        batch["version"],
        batch["role"],
        batch["features"],
        batch["predictions"],
    ) == (
        SERVICE,
        "churn",
        "2.3.0",
        "champion",
        {"tenure": [0.0, 1.0], "plan": ["basic", "pro"]},
        {"value": [0.0, 0.1]},
    )


def test_batch_call_rows_arrive_with_their_ids(sink: HttpSink, registry: CollectorRegistry) -> None:
    """A batch call's rows arrive as records carrying last_prediction_ids(), in row order."""
    predict_batch([{"tenure": 1.0, "plan": "pro"}, {"tenure": 2.0, "plan": "basic"}])
    ids = list(driftline.last_prediction_ids())
    assert driftline.flush(5.0)
    assert (len(ids), sink.wait_for_ids(2)) == (2, ids)


def test_sent_records_are_counted(sink: HttpSink, registry: CollectorRegistry) -> None:
    """After the sidecar acknowledged the records, the enqueued and sent counters agree."""
    _calls(4)
    assert driftline.flush(5.0)
    sink.wait_for_ids(4)
    assert (
        registry.get_sample_value("driftline_capture_records_enqueued_total"),
        registry.get_sample_value("driftline_capture_records_sent_total"),
    ) == (4.0, 4.0)


def test_untraced_calls_arrive_with_their_ids_and_start_times(sink: HttpSink) -> None:
    """Without tracing, ids formatted by the shipper match last_prediction_id() and each
    record's timestamp is the wall-clock time its call started."""
    driftline.configure(
        service_name=SERVICE,
        sidecar_url=sink.url,
        registry=CollectorRegistry(),
        capture_flush_interval=60.0,  # one body, sent by flush() after the last call
    )
    starts, ids = [], []
    for i in range(5):
        starts.append(time.time())
        predict({"tenure": float(i), "plan": "pro"})
        ids.append(driftline.last_prediction_id())
        time.sleep(0.2)  # stamps taken when the body is encoded would be 0.2-1 s off
    assert driftline.flush(5.0)
    assert sink.wait_for_ids(5) == ids
    timestamps = [t for r in sink.accepted() for b in r.body["batches"] for t in b["timestamps"]]
    assert timestamps == pytest.approx(starts, abs=0.05)
