"""The capture queue when the sidecar is down, hanging, slow, failing or refusing."""

from __future__ import annotations

from typing import Any

import pytest
from driftline import _transport
from driftline._capture import CaptureQueue
from driftline._transport import Transport
from prometheus_client import CollectorRegistry

from tests.sdk.conftest import MakeQueue
from tests.support.http_sink import HttpSink


@pytest.fixture
def queue_options() -> dict[str, Any]:
    """Short timeouts and backoff, so that failures show within a test."""
    return {"timeout": 0.3, "retry_backoff": 0.01, "retry_backoff_max": 0.05}


def submit(queue: CaptureQueue, pid: str) -> None:
    """Submit one row."""
    queue.submit_row("churn", "2.3.0", "champion", pid, 1.0, None, {"x": 1}, {"value": 0.5})


def dropped(registry: CollectorRegistry, reason: str) -> float | None:
    """Read driftline_capture_records_dropped_total for one reason."""
    return registry.get_sample_value("driftline_capture_records_dropped_total", {"reason": reason})


def metric(registry: CollectorRegistry, name: str, **labels: str) -> float | None:
    """Read one sample from the registry."""
    return registry.get_sample_value(name, labels)


def test_a_500_is_retried_then_dropped_as_retries_exhausted(
    sink: HttpSink, make_queue: MakeQueue, registry: CollectorRegistry
) -> None:
    """With max_retries=2 a body answered 500 is tried three times, then its records are dropped."""
    sink.answer(500)
    queue = make_queue(max_retries=2)
    submit(queue, "a")
    submit(queue, "b")

    assert queue.flush(10.0)

    assert [r.ids for r in sink.requests] == [["a", "b"]] * 3
    assert dropped(registry, "retries_exhausted") == 2
    assert metric(
        registry, "driftline_capture_send_duration_seconds_count", outcome="server_error"
    ) == (3)


def test_a_body_posted_as_it_was_encoded_is_retried_whole(
    sink: HttpSink,
    make_queue: MakeQueue,
    registry: CollectorRegistry,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A body whose first POST went out in the call that encoded it (the connection being
    kept open) and was answered 500 is sent again byte for byte, each POST timed once."""
    combined = []
    post_entries = Transport.post_entries

    def counting(self: Transport, *args: Any) -> Any:
        done = post_entries(self, *args)
        combined.append(done is not None)
        return done

    monkeypatch.setattr(Transport, "post_entries", counting)
    monkeypatch.setattr(_transport, "KEEP_ALIVE_IDLE", 60.0)  # however slow the machine
    queue = make_queue(max_retries=2)
    submit(queue, "a")
    assert queue.flush(10.0)  # the first body opens the connection
    sink.answer(500)
    submit(queue, "b")
    submit(queue, "c")

    assert queue.flush(10.0)

    later = sink.requests[1:]
    assert (combined, [r.ids for r in later]) == ([False, True], [["b", "c"]] * 3)
    assert len({r.raw for r in later}) == 1
    assert dropped(registry, "retries_exhausted") == 2
    assert metric(
        registry, "driftline_capture_send_duration_seconds_count", outcome="server_error"
    ) == (3)


def test_a_400_is_dropped_as_rejected_and_never_resent(
    sink: HttpSink, make_queue: MakeQueue, registry: CollectorRegistry
) -> None:
    """A body answered 400 is sent once and its records count as rejected."""
    sink.answer(400)
    queue = make_queue(max_retries=5)
    submit(queue, "a")
    submit(queue, "b")

    assert queue.flush(10.0)

    assert (len(sink.requests), dropped(registry, "rejected")) == (1, 2)
    assert metric(
        registry, "driftline_capture_send_duration_seconds_count", outcome="client_error"
    ) == (1)


def test_a_stopped_server_is_a_connection_error(
    sink: HttpSink, make_queue: MakeQueue, registry: CollectorRegistry
) -> None:
    """With the port closed, submit does not raise and the body ends as retries_exhausted."""
    sink.stop()
    queue = make_queue(max_retries=1)

    submit(queue, "a")

    assert queue.flush(10.0)
    assert dropped(registry, "retries_exhausted") == 1
    assert metric(
        registry, "driftline_capture_send_duration_seconds_count", outcome="connection_error"
    ) == (2)


def test_sending_resumes_when_the_server_comes_back(
    sink: HttpSink, make_queue: MakeQueue, registry: CollectorRegistry
) -> None:
    """Records submitted while the port is closed arrive once it opens again on the same port."""
    sink.stop()
    queue = make_queue(max_retries=1000)
    submit(queue, "a")
    submit(queue, "b")
    registry_failures = "driftline_capture_send_duration_seconds_count"
    while not metric(registry, registry_failures, outcome="connection_error"):
        queue.flush(0.05)  # wait until at least one attempt failed

    sink.start()

    assert queue.flush(10.0)
    assert sink.accepted_ids() == ["a", "b"]
    assert metric(registry, "driftline_capture_records_sent_total") == 2


def test_submit_does_not_block_while_the_server_hangs(
    sink: HttpSink, make_queue: MakeQueue, registry: CollectorRegistry
) -> None:
    """While the shipper is stuck in a hung request, new submits are queued and return."""
    sink.hang()
    queue = make_queue(max_retries=1000, timeout=30.0)
    submit(queue, "a")
    queue.flush(0.0)  # ship "a" now, without waiting for the interval
    sink.wait_for_requests(1)

    for i in range(5):
        submit(queue, f"late{i}")

    # The hang is still in place: the submits above returned without it being released.
    assert sink.hanging
    assert metric(registry, "driftline_capture_queue_size") == 5
    assert metric(registry, "driftline_capture_records_enqueued_total") == 6


def test_sending_resumes_after_a_hang(
    sink: HttpSink, make_queue: MakeQueue, registry: CollectorRegistry
) -> None:
    """A hung request times out, is retried, and every record arrives once the server answers."""
    sink.hang()
    queue = make_queue(max_retries=1000)
    submit(queue, "a")
    queue.flush(0.0)
    sink.wait_for_requests(2)  # the first attempt timed out and was retried
    submit(queue, "b")

    sink.release()
    sink.answer(202)

    assert queue.flush(10.0)
    assert sorted(sink.accepted_ids()) == ["a", "b"]
    timeouts = metric(
        registry, "driftline_capture_send_duration_seconds_count", outcome="connection_error"
    )
    assert timeouts is not None
    assert timeouts >= 1


def test_a_slow_server_within_the_timeout_succeeds(
    sink: HttpSink, make_queue: MakeQueue, registry: CollectorRegistry
) -> None:
    """A server answering after 0.2 s with a 2 s timeout gets every record on the first try."""
    sink.slow(0.2)
    queue = make_queue(timeout=2.0)
    submit(queue, "a")

    assert queue.flush(10.0)
    assert (len(sink.requests), metric(registry, "driftline_capture_records_sent_total")) == (1, 1)


def test_the_queue_fills_while_retrying_and_counts_queue_full_exactly(
    sink: HttpSink, make_queue: MakeQueue, registry: CollectorRegistry
) -> None:
    """With the shipper stuck on one body, a queue of 10 takes 10 more records and drops 3."""
    sink.hang()
    queue = make_queue(queue_size=10, batch_size=1, max_retries=1000, timeout=30.0)
    submit(queue, "in-flight")
    sink.wait_for_requests(1)

    for i in range(13):
        submit(queue, f"r{i}")

    assert dropped(registry, "queue_full") == 3
    assert metric(registry, "driftline_capture_queue_size") == 10


def test_close_while_hanging_drops_what_is_left_as_shutdown(
    sink: HttpSink, make_queue: MakeQueue, registry: CollectorRegistry
) -> None:
    """close() gives up on a hung request: queued and in-flight records count as shutdown."""
    sink.hang()
    queue = make_queue(batch_size=1, max_retries=1000, timeout=30.0)
    submit(queue, "in-flight")
    sink.wait_for_requests(1)
    submit(queue, "queued")

    queue.close(0.2)

    assert dropped(registry, "shutdown") == 2
    assert metric(registry, "driftline_capture_queue_size") == 0


def test_close_during_backoff_drops_the_body_as_shutdown(
    sink: HttpSink, make_queue: MakeQueue, registry: CollectorRegistry
) -> None:
    """A body waiting for its next retry when close() runs out of time counts as shutdown."""
    sink.answer(500)
    queue = make_queue(max_retries=1000, retry_backoff=30.0, retry_backoff_max=30.0)
    submit(queue, "a")
    queue.flush(0.0)
    sink.wait_for_requests(1)

    queue.close(0.2)

    assert (dropped(registry, "shutdown"), dropped(registry, "retries_exhausted")) == (1, 0)


def test_every_record_is_accounted_for_after_failures(
    sink: HttpSink, make_queue: MakeQueue, registry: CollectorRegistry
) -> None:
    """After a mix of 500s and successes, enqueued equals sent plus dropped plus queued."""
    sink.answer(500)
    queue = make_queue(batch_size=3, max_retries=1)
    for i in range(7):
        submit(queue, f"a{i}")
    assert queue.flush(10.0)
    sink.answer(202)
    for i in range(5):
        submit(queue, f"b{i}")
    assert queue.flush(10.0)

    total_dropped = sum(
        s.value
        for m in registry.collect()
        if m.name == "driftline_capture_records_dropped"
        for s in m.samples
    )
    assert metric(registry, "driftline_capture_records_enqueued_total") == 12
    assert (metric(registry, "driftline_capture_records_sent_total"), total_dropped) == (5, 7)
