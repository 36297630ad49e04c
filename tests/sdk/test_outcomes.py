"""Ground truth: record_outcome() reaches /v1/outcomes in the v1 format; every loss is counted."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import driftline
import numpy as np
import pytest
from driftline import _runtime
from driftline._capture import CaptureQueue, CaptureSettings
from driftline._config import resolve_settings
from driftline._outcomes import OUTCOME_DROP_REASONS
from driftline.testing import Telemetry, capture_telemetry
from prometheus_client import CollectorRegistry

from tests.support.http_sink import HttpSink

MakeQueue = Callable[..., CaptureQueue]


@pytest.fixture
def sink() -> Iterator[HttpSink]:
    """A running HTTP sink on 127.0.0.1, stopped after the test."""
    with HttpSink() as running:
        yield running


@pytest.fixture
def configured(sink: HttpSink, registry: CollectorRegistry) -> Iterator[CollectorRegistry]:
    """driftline shipping to the sink (60 s interval: only flush sends); shut down after."""
    driftline.configure(
        service_name="churn-api",
        sidecar_url=sink.url,
        sidecar_token="s3cret",
        registry=registry,
        capture_flush_interval=60.0,
        capture_max_retries=0,
        log_sample_rate=0.0,
    )
    yield registry
    driftline.shutdown(1.0)


@pytest.fixture
def make_queue(sink: HttpSink, registry: CollectorRegistry) -> Iterator[MakeQueue]:
    """Build queues pointed at the sink (started unless told not to); closed after the test."""
    queues: list[CaptureQueue] = []

    def make(start: bool = True, **overrides: Any) -> CaptureQueue:
        options: dict[str, Any] = {"url": sink.url, "service_name": "churn-api"}
        queue = CaptureQueue(
            CaptureSettings(**(options | {"flush_interval": 60.0} | overrides)), registry
        )
        queues.append(queue)
        if start:
            queue.start()
        return queue

    yield make
    for queue in queues:
        queue.close(0.5)


def value(registry: CollectorRegistry, name: str, **labels: str) -> float | None:
    """Read one sample from the registry."""
    return registry.get_sample_value(name, labels)


def test_outcomes_reach_the_sidecar_in_the_v1_format(
    sink: HttpSink, configured: CollectorRegistry
) -> None:
    """Two outcomes arrive as one columnar POST /v1/outcomes body with the token."""
    driftline.record_outcome("019a-1", 1, timestamp=1795766499.0)
    driftline.record_outcome("019a-2", "churned", timestamp=1795766499.5)

    assert driftline.flush(10.0)

    [request] = sink.requests
    body = request.body
    assert (request.path, request.headers["Authorization"]) == ("/v1/outcomes", "Bearer s3cret")
    assert (body["v"], body["service"], type(body["sent_at"])) == (1, "churn-api", float)
    assert body["outcomes"] == {
        "ids": ["019a-1", "019a-2"],
        "actuals": [1, "churned"],
        "timestamps": [1795766499.0, 1795766499.5],
    }


def test_sent_outcomes_are_counted(sink: HttpSink, configured: CollectorRegistry) -> None:
    """Outcomes the sidecar acknowledged count as enqueued and sent."""
    for i in range(3):
        driftline.record_outcome(f"id{i}", 0.5)
    assert driftline.flush(10.0)

    assert (
        value(configured, "driftline_outcomes_enqueued_total"),
        value(configured, "driftline_outcomes_sent_total"),
    ) == (3, 3)


def test_numpy_and_bool_actuals_become_json_scalars(
    sink: HttpSink, configured: CollectorRegistry
) -> None:
    """numpy numbers and booleans are sent as plain JSON numbers and booleans."""
    driftline.record_outcome("a", np.float32(0.25))
    driftline.record_outcome("b", np.int64(3))
    driftline.record_outcome("c", True)
    driftline.record_outcome("d", np.bool_(False))
    assert driftline.flush(10.0)

    assert sink.requests[0].body["outcomes"]["actuals"] == [0.25, 3, True, False]


def test_default_timestamp_is_the_time_of_the_call(telemetry: Telemetry) -> None:
    """Without timestamp=, the outcome carries the Unix time of the record_outcome() call."""
    before = time.time()
    driftline.record_outcome("a", 1)
    after = time.time()

    [outcome] = telemetry.outcomes
    assert before <= outcome.timestamp <= after


def test_records_and_outcomes_go_to_their_own_paths(
    sink: HttpSink, configured: CollectorRegistry
) -> None:
    """A prediction and its outcome arrive at /v1/records and /v1/outcomes, joined by the id."""

    @driftline.monitor(model="churn", version="2.3.0")
    def predict(features: dict[str, float]) -> float:
        return 0.82

    predict({"tenure": 12.0})
    pid = driftline.last_prediction_id()
    assert pid is not None
    driftline.record_outcome(pid, 1)
    assert driftline.flush(10.0)

    by_path = {r.path: r.body for r in sink.requests}
    assert by_path["/v1/records"]["batches"][0]["ids"] == [pid]
    assert by_path["/v1/outcomes"]["outcomes"]["ids"] == [pid]


def test_without_a_sidecar_outcomes_are_counted_as_capture_off() -> None:
    """With capture off, record_outcome() does nothing but count capture_off."""
    registry = CollectorRegistry()
    driftline.configure(registry=registry, sidecar_url=None, log_sample_rate=0.0)
    try:
        driftline.record_outcome("a", 1)
        driftline.record_outcome("b", 0)
    finally:
        driftline.shutdown(1.0)

    assert value(registry, "driftline_outcomes_dropped_total", reason="capture_off") == 2


@pytest.mark.parametrize(
    ("prediction_id", "actual", "timestamp"),
    [
        ("a", float("nan"), None),
        ("a", float("inf"), None),
        ("a", np.float64("nan"), None),
        ("a", None, None),
        ("a", [1, 2], None),
        ("a", {"y": 1}, None),
        ("", 1, None),
        (7, 1, None),
        ("a", 1, float("nan")),
        ("a", 1, "yesterday"),
        ("a", 1, True),
    ],
)
def test_invalid_outcomes_are_dropped_and_counted(
    prediction_id: Any, actual: Any, timestamp: Any
) -> None:
    """A bad id, actual or timestamp is dropped as invalid without raising."""
    with capture_telemetry() as telemetry:
        driftline.record_outcome(prediction_id, actual, timestamp=timestamp)

        assert telemetry.outcomes == []
        assert telemetry.metric("driftline_outcomes_dropped_total", reason="invalid") == 1


def test_testing_keeps_recorded_outcomes(telemetry: Telemetry) -> None:
    """driftline.testing exposes the outcomes given to record_outcome()."""
    driftline.record_outcome("a", "churned", timestamp=5.0)

    assert [(o.prediction_id, o.actual, o.timestamp) for o in telemetry.outcomes] == [
        ("a", "churned", 5.0)
    ]


def test_queue_full_outcomes_are_counted_exactly(
    make_queue: MakeQueue, registry: CollectorRegistry
) -> None:
    """Beyond queue_size waiting outcomes, each new one is dropped as queue_full."""
    queue = make_queue(start=False, queue_size=4)
    for i in range(10):
        queue.submit_outcome(f"id{i}", 1, 1.0)

    assert (
        value(registry, "driftline_outcomes_enqueued_total"),
        value(registry, "driftline_outcomes_dropped_total", reason="queue_full"),
    ) == (4, 6)


def test_the_outcome_bound_is_separate_from_the_records(
    make_queue: MakeQueue, registry: CollectorRegistry
) -> None:
    """A full record queue does not stop outcomes, and the reverse."""
    queue = make_queue(start=False, queue_size=2)
    for i in range(3):
        queue.submit_row("m", "1", "champion", f"r{i}", 1.0, None, {"x": 1}, {"value": 1})
        queue.submit_outcome(f"r{i}", 1, 1.0)

    assert (
        value(registry, "driftline_capture_records_enqueued_total"),
        value(registry, "driftline_outcomes_enqueued_total"),
    ) == (2, 2)


@pytest.mark.parametrize(("compression", "gzipped"), [("auto", False), ("gzip", True)])
def test_outcome_bodies_follow_capture_compression(
    sink: HttpSink, make_queue: MakeQueue, compression: str, gzipped: bool
) -> None:
    """An outcomes body over 16 KiB is plain to the loopback sink with auto, gzipped with gzip."""
    queue = make_queue(compression=compression)
    for i in range(300):
        queue.submit_outcome(f"prediction-{i:06d}-" + "x" * 40, i, 1.0)

    assert queue.flush(10.0)

    [request] = sink.requests
    assert (request.gzipped, len(request.body["outcomes"]["ids"])) == (gzipped, 300)


def test_a_400_drops_outcomes_as_rejected(
    sink: HttpSink, make_queue: MakeQueue, registry: CollectorRegistry
) -> None:
    """Outcomes in a body the sidecar answers 4xx are dropped as rejected and not resent."""
    sink.answer(400)
    queue = make_queue()
    queue.submit_outcome("a", 1, 1.0)
    queue.submit_outcome("b", 0, 1.0)

    assert queue.flush(10.0)
    assert len(sink.requests) == 1
    assert value(registry, "driftline_outcomes_dropped_total", reason="rejected") == 2


def test_a_500_drops_outcomes_after_the_retries(
    sink: HttpSink, make_queue: MakeQueue, registry: CollectorRegistry
) -> None:
    """Outcomes still failing with 5xx after max_retries are dropped as retries_exhausted."""
    sink.answer(500)
    queue = make_queue(max_retries=1, retry_backoff=0.01)
    queue.submit_outcome("a", 1, 1.0)

    assert queue.flush(10.0)
    assert len(sink.requests) == 2
    assert value(registry, "driftline_outcomes_dropped_total", reason="retries_exhausted") == 1


def test_outcomes_after_close_are_counted_as_shutdown(
    make_queue: MakeQueue, registry: CollectorRegistry
) -> None:
    """Outcomes queued at close or submitted after it are dropped as shutdown."""
    queue = make_queue(start=False)
    queue.submit_outcome("a", 1, 1.0)
    queue.close(0.1)
    queue.submit_outcome("b", 1, 1.0)

    assert value(registry, "driftline_outcomes_dropped_total", reason="shutdown") == 2


def test_every_drop_reason_is_exported_at_zero(configured: CollectorRegistry) -> None:
    """Every reason of driftline_outcomes_dropped_total is exported, 0 when nothing was lost."""
    assert {
        reason: value(configured, "driftline_outcomes_dropped_total", reason=reason)
        for reason in OUTCOME_DROP_REASONS
    } == dict.fromkeys(OUTCOME_DROP_REASONS, 0.0)


def test_a_sink_without_outcome_support_never_raises() -> None:
    """A capture sink lacking submit_outcome makes record_outcome() a silent no-op."""

    class RowsOnly:
        def submit_row(self, *args: object) -> None:
            """Accept a row."""

    settings = resolve_settings({"registry": CollectorRegistry()}, environ={})
    previous = _runtime.install(_runtime.build(settings, capture=RowsOnly()))  # type: ignore[arg-type]
    try:
        driftline.record_outcome("a", 1)
    finally:
        _runtime.install(previous)
