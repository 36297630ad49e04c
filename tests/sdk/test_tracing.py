"""One span per call, child of the current span, with driftline's attributes."""

from __future__ import annotations

import io
from typing import Any

import driftline
import numpy as np
import pytest
from driftline._config import Settings
from driftline._tracing import build_tracer_source, clean_attribute_value
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.sampling import Decision, Sampler, SamplingResult
from opentelemetry.trace import StatusCode
from prometheus_client import CollectorRegistry

from .conftest import Traced


def _configure(traced: Traced, **kwargs: object) -> None:
    driftline.configure(
        tracer_provider=traced.provider,
        log_output=io.StringIO(),
        registry=CollectorRegistry(),
        **kwargs,  # type: ignore[arg-type]
    )


@driftline.monitor(model="churn", version="2.3.0")
def predict(features: dict[str, float]) -> float:
    """A model that always answers 0.5."""
    return 0.5


def test_one_span_per_call_with_attributes(traced: Traced) -> None:
    """A call makes one span with model, version, prediction id and outcome."""
    _configure(traced)
    predict({"x": 1.0})
    (span,) = traced.exporter.get_finished_spans()
    assert span.name == "driftline.predict churn"
    assert dict(span.attributes or {}) == {
        "driftline.model.name": "churn",
        "driftline.model.version": "2.3.0",
        "driftline.prediction.id": driftline.last_prediction_id(),
        "driftline.outcome": "success",
    }


def test_span_is_child_of_current_span(traced: Traced) -> None:
    """The span's parent is the span current at the call."""
    _configure(traced)
    with traced.provider.get_tracer("app").start_as_current_span("request") as parent:
        predict({"x": 1.0})
    child = traced.exporter.get_finished_spans()[0]
    assert child.parent is not None
    assert child.parent.span_id == parent.get_span_context().span_id


def test_error_span(traced: Traced) -> None:
    """A raising call's span has status ERROR, the exception event and error.type."""
    _configure(traced)

    @driftline.monitor(model="churn", version="1")
    def failing(features: dict[str, float]) -> float:
        raise ValueError("bad")

    with pytest.raises(ValueError, match="bad"):
        failing({"x": 1.0})
    (span,) = traced.exporter.get_finished_spans()
    assert span.status.status_code == StatusCode.ERROR
    assert [e.name for e in span.events] == ["exception"]
    assert (span.attributes or {})["error.type"] == "ValueError"


def test_batch_span_has_batch_size(traced: Traced) -> None:
    """A batch call makes one span with driftline.batch.size."""
    _configure(traced)

    @driftline.monitor(model="churn", version="1", batch=True)
    def predict_many(rows: list[dict[str, float]]) -> list[float]:
        return [0.5] * len(rows)

    predict_many([{"x": 1.0}] * 4)
    (span,) = traced.exporter.get_finished_spans()
    assert (span.attributes or {})["driftline.batch.size"] == 4


def test_features_only_with_opt_in(traced: Traced) -> None:
    """Features are not span attributes unless record_features_in_spans is set."""
    _configure(traced)
    predict({"x": 1.0})
    (span,) = traced.exporter.get_finished_spans()
    assert not any(k.startswith("driftline.features.") for k in span.attributes or {})


def test_features_as_attributes_with_opt_in(traced: Traced) -> None:
    """With the opt-in, features and predictions become cleaned span attributes."""
    _configure(traced, record_features_in_spans=True)
    predict({"x": 1.0, "plan": "pro", "bad": object()})
    attributes = dict(traced.exporter.get_finished_spans()[0].attributes or {})
    picked = {k: v for k, v in attributes.items() if ".features." in k or ".predictions." in k}
    assert picked == {
        "driftline.features.x": 1.0,
        "driftline.features.plan": "pro",
        "driftline.predictions.value": 0.5,
    }


def test_no_spans_at_zero_rate(traced: Traced) -> None:
    """trace_sample_rate=0 turns driftline's spans off."""
    _configure(traced, trace_sample_rate=0)
    predict({"x": 1.0})
    assert traced.exporter.get_finished_spans() == ()


def test_unconfigured_global_provider_means_no_tracer() -> None:
    """With no provider anywhere, driftline waits for one and makes no spans."""
    source, owned = build_tracer_source(Settings())
    assert source is not None
    assert (source.tracer, source.pending, owned) == (None, True, None)


def test_otlp_endpoint_builds_an_owned_provider() -> None:
    """otlp_endpoint without an app provider gives driftline its own sampled provider."""
    _, owned = build_tracer_source(
        Settings(otlp_endpoint="http://127.0.0.1:4318", trace_sample_rate=0.25)
    )
    assert owned is not None
    try:
        assert "0.25" in owned.sampler.get_description()
    finally:
        owned.shutdown()


@pytest.mark.parametrize(
    ("value", "expected"),
    [(1, 1), (1.5, 1.5), ("a", "a"), (True, True), (float("nan"), "NaN"), (None, None)],
)
def test_clean_attribute_value(value: object, expected: object) -> None:
    """Attribute values are kept when valid, left out (None) when not."""
    assert clean_attribute_value(value) == expected


def test_clean_attribute_value_numpy() -> None:
    """numpy scalars become Python values."""
    assert clean_attribute_value(np.float64(0.5)) == 0.5


class _SeenAtStart(Sampler):
    """Samples every span and keeps the attributes each span started with."""

    def __init__(self) -> None:
        self.started: list[dict[str, object]] = []

    def should_sample(
        self,
        parent_context: Any,
        trace_id: int,
        name: str,
        kind: Any = None,
        attributes: Any = None,
        links: Any = None,
        trace_state: Any = None,
    ) -> SamplingResult:
        self.started.append(dict(attributes or {}))
        return SamplingResult(Decision.RECORD_AND_SAMPLE, attributes)

    def get_description(self) -> str:
        return "seen-at-start"


def test_the_id_and_the_batch_size_are_start_attributes() -> None:
    """A sampler sees the prediction id, or a batch's size, among the span's start attributes."""
    sampler = _SeenAtStart()
    provider = TracerProvider(sampler=sampler)
    driftline.configure(
        tracer_provider=provider, log_output=io.StringIO(), registry=CollectorRegistry()
    )

    @driftline.monitor(model="churn", version="1", batch=True)
    def predict_many(rows: list[dict[str, float]]) -> list[float]:
        return [0.5] * len(rows)

    predict({"x": 1.0})
    plain_id = driftline.last_prediction_id()
    predict_many([{"x": 1.0}, {"x": 2.0}])
    plain, batch = sampler.started
    assert plain["driftline.prediction.id"] == plain_id
    assert "driftline.outcome" not in plain  # written when the span ends
    assert batch["driftline.batch.size"] == 2
