"""The OTLP receiver: spans exported by the real OpenTelemetry SDK come back as plain dicts."""

from __future__ import annotations

import urllib.error
import urllib.request
from collections.abc import Iterator

import pytest
from opentelemetry.exporter.otlp.proto.http import Compression
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.trace import Status, StatusCode, format_span_id, format_trace_id

from tests.support.otlp_receiver import OtlpReceiver


@pytest.fixture
def receiver() -> Iterator[OtlpReceiver]:
    """A receiver on a free 127.0.0.1 port for one test."""
    with OtlpReceiver() as otlp:
        yield otlp


def _provider(receiver: OtlpReceiver, compression: Compression) -> TracerProvider:
    provider = TracerProvider(resource=Resource.create({"service.name": "harness"}))
    exporter = OTLPSpanExporter(endpoint=receiver.traces_url, compression=compression)
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return provider


def test_nested_spans_keep_ids_and_parent(receiver: OtlpReceiver) -> None:
    """A child span arrives with the exporter's trace id, span id and its parent's span id."""
    provider = _provider(receiver, Compression.NoCompression)
    tracer = provider.get_tracer("harness")
    with tracer.start_as_current_span("parent") as parent, tracer.start_as_current_span("child"):
        pass
    provider.shutdown()
    spans = {span["name"]: span for span in receiver.wait_for_spans(2)}
    context = parent.get_span_context()
    expected = (format_trace_id(context.trace_id), format_span_id(context.span_id))
    assert (spans["child"]["trace_id"], spans["child"]["parent_span_id"]) == expected


def test_attributes_status_and_events_are_decoded(receiver: OtlpReceiver) -> None:
    """Typed attributes, an error status and an event arrive as Python values."""
    provider = _provider(receiver, Compression.Gzip)
    with provider.get_tracer("harness").start_as_current_span("predict") as span:
        span.set_attributes({"model": "churn", "rows": 3, "score": 0.5, "ok": False})
        span.set_attribute("classes", ["a", "b"])
        span.add_event("dropped", {"reason": "queue_full"})
        span.set_status(Status(StatusCode.ERROR, "boom"))
    provider.shutdown()
    [received] = receiver.wait_for_spans(1)
    assert (
        received["attributes"],
        received["status_code"],
        received["status_message"],
        [(e["name"], e["attributes"]) for e in received["events"]],
        received["resource"]["service.name"],
        received["scope"],
    ) == (
        {"model": "churn", "rows": 3, "score": 0.5, "ok": False, "classes": ["a", "b"]},
        "ERROR",
        "boom",
        [("dropped", {"reason": "queue_full"})],
        "harness",
        "harness",
    )


def test_json_body_is_rejected_with_415(receiver: OtlpReceiver) -> None:
    """A body that is not application/x-protobuf gets 415 and is listed in errors."""
    request = urllib.request.Request(
        receiver.traces_url, data=b"{}", headers={"Content-Type": "application/json"}
    )
    with pytest.raises(urllib.error.HTTPError) as info:
        urllib.request.urlopen(request, timeout=5)
    info.value.close()
    assert (info.value.code, receiver.errors) == (
        415,
        ["415: unsupported Content-Type 'application/json'"],
    )


def test_wait_for_spans_times_out_when_nothing_arrives(receiver: OtlpReceiver) -> None:
    """wait_for_spans raises TimeoutError naming the count when too few spans arrive."""
    with pytest.raises(TimeoutError, match="0 of 1 spans"):
        receiver.wait_for_spans(1, timeout=0.1)
