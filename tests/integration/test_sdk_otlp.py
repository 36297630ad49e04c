"""driftline's spans exported over OTLP/HTTP to a real receiver on 127.0.0.1.

Two real paths: ``configure(otlp_endpoint=...)``, where driftline builds its
own SDK TracerProvider because the process has no global one, and
``configure(tracer_provider=...)`` with a provider the app set up itself.
"""

from __future__ import annotations

from collections.abc import Iterator

import driftline
import pytest
from driftline._tracing import _is_real
from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator
from prometheus_client import CollectorRegistry

from tests.support.otlp_receiver import OtlpReceiver, SpanRecord

pytestmark = pytest.mark.integration

SERVICE = "otlp-test-api"


@pytest.fixture(scope="module")
def receiver() -> Iterator[OtlpReceiver]:
    """One OTLP/HTTP receiver for the module, stopped afterwards."""
    with OtlpReceiver() as server:
        yield server


@pytest.fixture(autouse=True)
def _fresh(receiver: OtlpReceiver) -> None:
    """Each test starts with no received spans and no global tracer provider."""
    receiver.clear()
    assert not _is_real(trace.get_tracer_provider()), "a test set a global TracerProvider"


@pytest.fixture
def app_provider(receiver: OtlpReceiver) -> Iterator[TracerProvider]:
    """A TracerProvider the app built itself, exporting to the receiver (never made global)."""
    provider = TracerProvider(resource=Resource.create({SERVICE_NAME: "the-app"}))
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=receiver.traces_url)))
    yield provider
    provider.shutdown()


def _configure_owned(receiver: OtlpReceiver) -> None:
    driftline.configure(
        service_name=SERVICE, otlp_endpoint=receiver.url, registry=CollectorRegistry()
    )


@driftline.monitor(model="churn", version="2.3.0")
def predict(features: dict[str, float]) -> float:
    return 0.25 * features["tenure"]


@driftline.monitor(model="churn", version="2.3.0")
def broken(features: dict[str, float]) -> float:
    raise ValueError("tenure must be positive")


@driftline.monitor(model="churn", version="2.3.0", batch=True)
def predict_batch(rows: list[dict[str, float]]) -> list[float]:
    return [0.5 for _ in rows]


def _only(spans: list[SpanRecord], name: str = "driftline.predict churn") -> SpanRecord:
    matching = [span for span in spans if span["name"] == name]
    assert len(matching) == 1, spans
    return matching[0]


def _exported_by_driftline(receiver: OtlpReceiver) -> SpanRecord:
    assert driftline.flush(5.0)
    return _only(receiver.wait_for_spans(1))


def test_owned_provider_exports_the_documented_attributes(receiver: OtlpReceiver) -> None:
    """With otlp_endpoint and no app provider, a call's span arrives with driftline.* attributes."""
    _configure_owned(receiver)
    predict({"tenure": 4.0})
    span = _exported_by_driftline(receiver)
    assert span["attributes"] == {
        "driftline.model.name": "churn",
        "driftline.model.version": "2.3.0",
        "driftline.prediction.id": driftline.last_prediction_id(),
        "driftline.outcome": "success",
    }


def test_owned_provider_span_is_internal_with_the_service_resource(
    receiver: OtlpReceiver,
) -> None:
    """driftline's own provider exports INTERNAL spans under service.name and scope driftline."""
    _configure_owned(receiver)
    predict({"tenure": 1.0})
    span = _exported_by_driftline(receiver)
    assert (span["kind"], span["resource"]["service.name"], span["scope"]) == (
        "INTERNAL",
        SERVICE,
        "driftline",
    )


def test_owned_provider_span_is_a_root_without_a_parent(receiver: OtlpReceiver) -> None:
    """Without a current span, the exported span has no parent and status UNSET."""
    _configure_owned(receiver)
    predict({"tenure": 1.0})
    span = _exported_by_driftline(receiver)
    assert (span["parent_span_id"], span["status_code"]) == ("", "UNSET")


def test_owned_provider_continues_a_propagated_trace(receiver: OtlpReceiver) -> None:
    """A W3C traceparent extracted by the app becomes the parent of driftline's span."""
    _configure_owned(receiver)
    trace_id, parent_id = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
    incoming = TraceContextTextMapPropagator().extract(
        {"traceparent": f"00-{trace_id}-{parent_id}-01"}
    )
    token = otel_context.attach(incoming)
    try:
        predict({"tenure": 1.0})
    finally:
        otel_context.detach(token)
    span = _exported_by_driftline(receiver)
    assert (span["trace_id"], span["parent_span_id"]) == (trace_id, parent_id)


def test_owned_provider_records_an_error(receiver: OtlpReceiver) -> None:
    """A raising call's span has status ERROR, its message, error.type and an exception event."""
    _configure_owned(receiver)
    with pytest.raises(ValueError, match="tenure must be positive"):
        broken({"tenure": -1.0})
    span = _exported_by_driftline(receiver)
    exception = [event for event in span["events"] if event["name"] == "exception"]
    assert (
        span["status_code"],
        span["status_message"],
        span["attributes"]["error.type"],
        span["attributes"]["driftline.outcome"],
        [event["attributes"]["exception.message"] for event in exception],
    ) == ("ERROR", "tenure must be positive", "ValueError", "error", ["tenure must be positive"])


def test_owned_provider_batch_span_has_its_size(receiver: OtlpReceiver) -> None:
    """A batch call is one span with driftline.batch.size and no single prediction id."""
    _configure_owned(receiver)
    predict_batch([{"tenure": 1.0}, {"tenure": 2.0}, {"tenure": 3.0}])
    span = _exported_by_driftline(receiver)
    assert span["attributes"]["driftline.batch.size"] == 3
    assert "driftline.prediction.id" not in span["attributes"]


def test_owned_provider_sample_rate_zero_exports_nothing(receiver: OtlpReceiver) -> None:
    """trace_sample_rate=0 turns driftline's spans off even with an otlp_endpoint."""
    driftline.configure(
        otlp_endpoint=receiver.url, trace_sample_rate=0.0, registry=CollectorRegistry()
    )
    predict({"tenure": 1.0})
    _configure_owned(receiver)  # a provider that does export, so the receiver sees traffic
    predict({"tenure": 2.0})
    span = _exported_by_driftline(receiver)
    assert [s["span_id"] for s in receiver.spans] == [span["span_id"]]


def test_app_provider_exports_the_documented_attributes(
    receiver: OtlpReceiver, app_provider: TracerProvider
) -> None:
    """With the app's provider, the span has driftline.* attributes and the app's resource."""
    driftline.configure(tracer_provider=app_provider, registry=CollectorRegistry())
    predict({"tenure": 4.0})
    assert app_provider.force_flush(5000)
    span = _only(receiver.wait_for_spans(1))
    assert (span["attributes"], span["resource"]["service.name"]) == (
        {
            "driftline.model.name": "churn",
            "driftline.model.version": "2.3.0",
            "driftline.prediction.id": driftline.last_prediction_id(),
            "driftline.outcome": "success",
        },
        "the-app",
    )


def test_app_provider_span_is_a_child_of_the_apps_span(
    receiver: OtlpReceiver, app_provider: TracerProvider
) -> None:
    """A span the app starts around the call is the parent of driftline's span, in one trace."""
    driftline.configure(tracer_provider=app_provider, registry=CollectorRegistry())
    with app_provider.get_tracer("the-app").start_as_current_span("POST /predict"):
        predict({"tenure": 4.0})
    assert app_provider.force_flush(5000)
    spans = receiver.wait_for_spans(2)
    parent, child = _only(spans, "POST /predict"), _only(spans)
    assert (child["parent_span_id"], child["trace_id"]) == (parent["span_id"], parent["trace_id"])


def test_app_provider_records_an_error(
    receiver: OtlpReceiver, app_provider: TracerProvider
) -> None:
    """With the app's provider, a raising call's span has status ERROR and an exception event."""
    driftline.configure(tracer_provider=app_provider, registry=CollectorRegistry())
    with pytest.raises(ValueError, match="tenure must be positive"):
        broken({"tenure": -1.0})
    assert app_provider.force_flush(5000)
    span = _only(receiver.wait_for_spans(1))
    assert (
        span["status_code"],
        span["attributes"]["error.type"],
        [event["name"] for event in span["events"]],
    ) == ("ERROR", "ValueError", ["exception"])
