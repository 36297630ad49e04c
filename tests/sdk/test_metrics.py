"""The SDK metrics of docs/telemetry.md, read back with registry.get_sample_value."""

from __future__ import annotations

import io
import threading

import driftline
import pytest
from driftline._metrics import FOLD_AT
from driftline.testing import Telemetry, capture_telemetry
from prometheus_client import CollectorRegistry
from prometheus_client.openmetrics.exposition import generate_latest

from .conftest import Traced

LABELS = {"model": "m", "version": "1"}


def _configure(registry: CollectorRegistry, **kwargs: object) -> None:
    driftline.configure(registry=registry, log_output=io.StringIO(), **kwargs)  # type: ignore[arg-type]


def test_prediction_value_histogram(telemetry: Telemetry) -> None:
    """A numeric prediction lands in driftline_prediction_value under output "value"."""

    @driftline.monitor(model="m", version="1")
    def predict(features: dict[str, float]) -> float:
        return 0.42

    predict({"x": 1.0})
    labels = {**LABELS, "output": "value"}
    assert telemetry.metric("driftline_prediction_value_bucket", le="0.4", **labels) == 0
    assert telemetry.metric("driftline_prediction_value_bucket", le="0.5", **labels) == 1
    assert telemetry.metric("driftline_prediction_value_sum", **labels) == 0.42


def test_prediction_buckets_are_configurable(registry: CollectorRegistry) -> None:
    """prediction_buckets sets the le bounds of driftline_prediction_value."""
    _configure(registry, prediction_buckets=[10.0, 100.0], trace_sample_rate=0)

    @driftline.monitor(model="m", version="1")
    def predict(features: dict[str, float]) -> float:
        return 42.0

    predict({"x": 1.0})
    labels = {**LABELS, "output": "value", "le": "100.0"}
    assert registry.get_sample_value("driftline_prediction_value_bucket", labels) == 1


def test_named_outputs_and_classes(telemetry: Telemetry) -> None:
    """A dict of outputs observes numbers per output and counts labels as classes."""

    @driftline.monitor(model="m", version="1")
    def predict(features: dict[str, float]) -> dict[str, object]:
        return {"score": 0.9, "label": "churn", "flag": True}

    predict({"x": 1.0})
    score = telemetry.metric("driftline_prediction_value_count", output="score", **LABELS)
    label = telemetry.metric(
        "driftline_predicted_class_total", output="label", **{"class": "churn"}, **LABELS
    )
    flag = telemetry.metric(
        "driftline_predicted_class_total", output="flag", **{"class": "true"}, **LABELS
    )
    assert (score, label, flag) == (1, 1, 1)


def test_classes_beyond_max_classes_are_other() -> None:
    """Labels past max_classes count as class __other__."""

    @driftline.monitor(model="m", version="1")
    def predict(label: str) -> str:
        return label

    with capture_telemetry(max_classes=2) as telemetry:
        for label in ("a", "b", "c", "d", "a"):
            predict(label)
        counts = {
            name: telemetry.metric(
                "driftline_predicted_class_total", output="value", **{"class": name}, **LABELS
            )
            for name in ("a", "b", "__other__")
        }
    assert counts == {"a": 2, "b": 1, "__other__": 2}


def test_batch_predictions_are_observed(telemetry: Telemetry) -> None:
    """Every row of a batch output is observed in driftline_prediction_value."""

    @driftline.monitor(model="m", version="1", batch=True)
    def predict(rows: list[dict[str, float]]) -> list[float]:
        return [0.1, 0.6, 0.7]

    predict([{"x": 1.0}] * 3)
    labels = {**LABELS, "output": "value"}
    assert telemetry.metric("driftline_prediction_value_bucket", le="0.5", **labels) == 1
    assert telemetry.metric("driftline_prediction_value_count", **labels) == 3


def test_model_info(registry: CollectorRegistry) -> None:
    """driftline_model_info carries model, version, service and the sanitised info keys."""
    _configure(registry, service_name="svc", trace_sample_rate=0)

    @driftline.monitor(model="m", version="1", info={"git.commit": "abc", "9lives": 1})
    def predict(features: dict[str, float]) -> float:
        return 0.5

    predict({"x": 1.0})
    labels = {**LABELS, "service": "svc", "git_commit": "abc", "_9lives": "1"}
    assert registry.get_sample_value("driftline_model_info", labels) == 1


def test_exemplar_when_sampled(registry: CollectorRegistry, traced: Traced) -> None:
    """A sampled span's trace id is the latency histogram's exemplar in OpenMetrics."""
    _configure(registry, tracer_provider=traced.provider)

    @driftline.monitor(model="m", version="1")
    def predict(features: dict[str, float]) -> float:
        return 0.5

    predict({"x": 1.0})
    trace_id = format(traced.exporter.get_finished_spans()[0].context.trace_id, "032x")
    exposition = generate_latest(registry).decode()
    assert f'# {{trace_id="{trace_id}"}}' in exposition


def test_no_exemplar_without_tracing(registry: CollectorRegistry) -> None:
    """With tracing off there is no exemplar."""
    _configure(registry, trace_sample_rate=0)

    @driftline.monitor(model="m", version="1")
    def predict(features: dict[str, float]) -> float:
        return 0.5

    predict({"x": 1.0})
    assert "trace_id" not in generate_latest(registry).decode()


def test_configure_twice_keeps_counting(registry: CollectorRegistry) -> None:
    """Reconfiguring with the same registry keeps the counts (no duplicate registration)."""

    @driftline.monitor(model="m", version="1")
    def predict(features: dict[str, float]) -> float:
        return 0.5

    _configure(registry, trace_sample_rate=0)
    predict({"x": 1.0})
    _configure(registry, trace_sample_rate=0)
    predict({"x": 1.0})
    labels = {**LABELS, "outcome": "success"}
    assert registry.get_sample_value("driftline_requests_total", labels) == 2


def test_telemetry_errors_start_at_zero(registry: CollectorRegistry) -> None:
    """driftline_telemetry_errors_total exists for every signal from the start."""
    _configure(registry, trace_sample_rate=0)
    values = [
        registry.get_sample_value("driftline_telemetry_errors_total", {"signal": s})
        for s in ("trace", "log", "metric", "capture")
    ]
    assert values == [0, 0, 0, 0]


def test_pending_plain_calls_are_all_counted_at_scrape(telemetry: Telemetry) -> None:
    """Float predictions counted without a lock all show at the next scrape, fold or not."""
    values = [0.05 * (i % 21) for i in range(FOLD_AT + 7)]  # one fold, then 7 left pending

    @driftline.monitor(model="m", version="1")
    def predict(features: dict[str, float]) -> float:
        return values[int(features["i"])]

    for i in range(len(values)):
        predict({"i": float(i)})
    labels = {**LABELS, "output": "value"}
    assert telemetry.metric("driftline_requests_total", outcome="success", **LABELS) == len(values)
    assert telemetry.metric("driftline_prediction_rows_total", **LABELS) == len(values)
    assert telemetry.metric("driftline_request_duration_seconds_count", **LABELS) == len(values)
    assert telemetry.metric("driftline_prediction_value_bucket", le="0.5", **labels) == sum(
        v <= 0.5 for v in values
    )
    assert telemetry.metric("driftline_prediction_value_sum", **labels) == pytest.approx(
        sum(values)
    )


def test_a_nan_prediction_is_counted_as_a_call_but_not_a_value(telemetry: Telemetry) -> None:
    """A NaN float prediction counts as a request and has no bucket in the value histogram."""

    @driftline.monitor(model="m", version="1")
    def predict(features: dict[str, float]) -> float:
        return features["p"]

    predict({"p": float("nan")})
    predict({"p": 0.25})
    labels = {**LABELS, "output": "value"}
    assert telemetry.metric("driftline_requests_total", outcome="success", **LABELS) == 2
    assert telemetry.metric("driftline_prediction_value_count", **labels) == 1


def test_threads_appending_while_folding_lose_nothing(registry: CollectorRegistry) -> None:
    """8 threads making plain calls across many folds add up to exactly the calls they made."""
    _configure(registry)

    @driftline.monitor(model="m", version="1")
    def predict(features: dict[str, float]) -> float:
        return 0.5

    def work() -> None:
        for _ in range(3 * FOLD_AT):
            predict({"x": 1.0})

    threads = [threading.Thread(target=work) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    expected = 8 * 3 * FOLD_AT
    labels = {**LABELS, "output": "value"}
    assert (
        registry.get_sample_value("driftline_requests_total", {**LABELS, "outcome": "success"})
        == expected
    )
    assert registry.get_sample_value("driftline_prediction_value_count", labels) == expected
