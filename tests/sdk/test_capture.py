"""The capture queue against a real HTTP sink: delivery, batching, metrics and lifecycle."""

from __future__ import annotations

import gzip
import json
import threading
from typing import Any

import numpy as np
import pytest
from driftline._capture import DROP_REASONS, CaptureQueue, CaptureSettings
from driftline._wire import GZIP_THRESHOLD
from prometheus_client import CollectorRegistry

from tests.sdk.conftest import MakeQueue
from tests.support.http_sink import HttpSink

TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"


@pytest.fixture
def queue_options() -> dict[str, Any]:
    """Queues of this module give up on a request after 2 s."""
    return {"timeout": 2.0}


def submit(queue: CaptureQueue, pid: str, **features: object) -> None:
    """Submit one row with the given features and a fixed prediction."""
    queue.submit_row("churn", "2.3.0", "champion", pid, 1.5, None, features, {"value": 0.5})


def value(registry: CollectorRegistry, name: str, **labels: str) -> float | None:
    """Read one sample from the registry."""
    return registry.get_sample_value(name, labels)


def test_records_arrive_intact(sink: HttpSink, make_queue: MakeQueue) -> None:
    """Submitted rows reach the sink as one v1 body with ids, columns, nulls and NaN strings."""
    queue = make_queue()
    queue.submit_row(
        "churn", "2.3.0", "champion", "a", 1.5, TRACE, {"tenure": 12.0, "plan": "pro"}, {"value": 1}
    )
    queue.submit_row(
        "churn", "2.3.0", "champion", "b", 2.5, None, {"tenure": float("nan")}, {"value": 0}
    )

    assert queue.flush(10.0)

    [request] = sink.requests
    assert (request.path, request.headers["Content-Type"]) == ("/v1/records", "application/json")
    assert (request.body["v"], request.body["service"]) == (1, "churn-api")
    assert request.body["batches"] == [
        {
            "model": "churn",
            "version": "2.3.0",
            "role": "champion",
            "ids": ["a", "b"],
            "timestamps": [1.5, 2.5],
            "trace_ids": [TRACE, None],
            "features": {"tenure": [12.0, "NaN"], "plan": ["pro", None]},
            "predictions": {"value": [1, 0]},
        }
    ]


def test_column_submissions_arrive_as_columns(sink: HttpSink, make_queue: MakeQueue) -> None:
    """One submit_columns call of numpy arrays arrives as n records."""
    queue = make_queue()
    queue.submit_columns(
        "churn",
        "2.3.0",
        "challenger",
        ["a", "b", "c"],
        7.0,
        None,
        {"x": np.array([1.0, np.inf, 3.0])},
        {"value": np.array([True, False, True])},
    )

    assert queue.flush(10.0)

    [batch] = sink.requests[0].body["batches"]
    assert (batch["role"], batch["ids"], batch["features"], batch["predictions"]) == (
        "challenger",
        ["a", "b", "c"],
        {"x": [1.0, "Infinity", 3.0]},
        {"value": [True, False, True]},
    )


def test_a_full_batch_is_sent_without_waiting_for_the_interval(
    sink: HttpSink, make_queue: MakeQueue
) -> None:
    """With a 60 s interval, reaching batch_size sends a body of exactly batch_size records."""
    queue = make_queue(batch_size=10)
    for i in range(25):
        submit(queue, f"r{i}", x=i)

    sink.wait_for_ids(20)

    assert [len(r.ids) for r in sink.requests] == [10, 10]
    assert queue.flush(10.0)
    assert [len(r.ids) for r in sink.requests] == [10, 10, 5]


def test_a_partial_batch_is_sent_after_the_flush_interval(
    sink: HttpSink, make_queue: MakeQueue
) -> None:
    """Fewer than batch_size records are sent once the interval passes, without a flush."""
    queue = make_queue(batch_size=1000, flush_interval=0.05)
    for i in range(3):
        submit(queue, f"r{i}", x=i)

    assert sink.wait_for_ids(3) == ["r0", "r1", "r2"]


def test_a_columns_entry_larger_than_a_batch_is_split(
    sink: HttpSink, make_queue: MakeQueue
) -> None:
    """A 25-record columns call with batch_size 10 goes out as bodies of 10, 10 and 5, in order."""
    queue = make_queue(batch_size=10)
    ids = [f"r{i}" for i in range(25)]
    queue.submit_columns(
        "churn", "2.3.0", "champion", ids, 1.0, None, {"x": np.arange(25)}, {"value": ids}
    )

    assert queue.flush(10.0)

    assert [len(r.ids) for r in sink.requests] == [10, 10, 5]
    assert sink.accepted_ids() == ids
    assert [x for r in sink.requests for x in r.body["batches"][0]["features"]["x"]] == list(
        range(25)
    )


def test_large_bodies_are_gzipped(sink: HttpSink, make_queue: MakeQueue) -> None:
    """With compression on, a body over 16 KiB is sent gzipped and decodes to every record."""
    queue = make_queue(compression="gzip")
    for i in range(200):
        submit(queue, f"r{i}", text="x" * 100)

    assert queue.flush(10.0)

    [request] = sink.requests
    assert (request.gzipped, request.headers["Content-Encoding"]) == (True, "gzip")
    assert len(json.loads(gzip.decompress(request.raw))["batches"][0]["ids"]) == 200


@pytest.mark.parametrize("compression", ["auto", "none"])
def test_bodies_to_a_loopback_sidecar_are_not_compressed(
    sink: HttpSink, make_queue: MakeQueue, compression: str
) -> None:
    """With auto (the sink is on 127.0.0.1) or none, a body over 16 KiB goes out as plain JSON."""
    queue = make_queue(compression=compression)
    for i in range(200):
        submit(queue, f"r{i}", text="x" * 100)

    assert queue.flush(10.0)

    [request] = sink.requests
    assert (request.gzipped, "Content-Encoding" in request.headers) == (False, False)
    assert len(request.raw) > GZIP_THRESHOLD
    assert len(json.loads(request.raw)["batches"][0]["ids"]) == 200


@pytest.mark.parametrize(
    ("url", "gzipped"),
    [
        ("http://127.0.0.1:8765", False),
        ("http://127.8.9.10:8765", False),
        ("http://[::1]:8765", False),
        ("http://localhost:8765", False),
        ("http://LOCALHOST:8765", False),
        ("http://sidecar.localhost:8765", False),
        ("http://localhost.:8765", False),
        ("http://[::ffff:127.0.0.1]:8765", False),
        ("http://sidecar:8765", True),
        ("http://10.0.0.7:8765", True),
        ("https://drift.example:443/base", True),
    ],
)
def test_auto_compression_is_off_for_loopback_hosts_only(url: str, gzipped: bool) -> None:
    """capture_compression auto gzips unless the sidecar's host is loopback."""
    assert CaptureSettings(url=url, service_name="svc").gzip == gzipped


def test_a_body_over_the_sidecars_limit_is_sent_again_in_halves(
    sink: HttpSink, make_queue: MakeQueue, registry: CollectorRegistry
) -> None:
    """A 413 answer splits the body in halves until each fits; every record arrives, once."""
    sink.limit(20_000)
    queue = make_queue(compression="none")
    ids = [f"r{i}" for i in range(200)]
    for prediction_id in ids:
        submit(queue, prediction_id, text="x" * 300)

    assert queue.flush(10.0)

    sizes = [len(r.ids) for r in sink.requests if r.status == 202]
    assert (sink.accepted_ids(), max(sizes) < 200) == (ids, True)
    assert value(registry, "driftline_capture_records_sent_total") == 200
    assert value(registry, "driftline_capture_records_dropped_total", reason="rejected") == 0


def test_only_a_single_record_over_the_limit_is_rejected(
    sink: HttpSink, make_queue: MakeQueue, registry: CollectorRegistry
) -> None:
    """A record that alone is over the limit is dropped as rejected; its neighbours arrive."""
    sink.limit(5_000)
    queue = make_queue(compression="none")
    for i in range(8):
        submit(queue, f"r{i}", text="x" * (10_000 if i == 5 else 10))

    assert queue.flush(10.0)

    assert sink.accepted_ids() == ["r0", "r1", "r2", "r3", "r4", "r6", "r7"]
    assert value(registry, "driftline_capture_records_dropped_total", reason="rejected") == 1


def test_the_token_is_sent_as_a_bearer_header(sink: HttpSink, make_queue: MakeQueue) -> None:
    """With a token configured, every request carries Authorization: Bearer <token>."""
    queue = make_queue(token="s3cret")
    submit(queue, "a")

    assert queue.flush(10.0)

    assert sink.requests[0].headers["Authorization"] == "Bearer s3cret"


def test_no_authorization_header_without_a_token(sink: HttpSink, make_queue: MakeQueue) -> None:
    """Without a token, requests carry no Authorization header."""
    queue = make_queue()
    submit(queue, "a")

    assert queue.flush(10.0)

    assert "Authorization" not in sink.requests[0].headers


def test_a_url_path_prefix_is_kept(sink: HttpSink, make_queue: MakeQueue) -> None:
    """A sidecar URL with a path posts to {url}/v1/records under that path."""
    queue = make_queue(url=sink.url + "/sidecar/")
    submit(queue, "a")

    assert queue.flush(10.0)

    assert sink.requests[0].path == "/sidecar/v1/records"


def test_sent_records_are_counted(
    sink: HttpSink, make_queue: MakeQueue, registry: CollectorRegistry
) -> None:
    """Acknowledged records count as enqueued and sent, and one successful POST is timed."""
    queue = make_queue()
    for i in range(3):
        submit(queue, f"r{i}")

    assert queue.flush(10.0)

    assert (
        value(registry, "driftline_capture_records_enqueued_total"),
        value(registry, "driftline_capture_records_sent_total"),
        value(registry, "driftline_capture_queue_size"),
        value(registry, "driftline_capture_send_duration_seconds_count", outcome="success"),
    ) == (3.0, 3.0, 0.0, 1.0)


def test_every_drop_reason_is_exported_from_the_start(
    make_queue: MakeQueue, registry: CollectorRegistry
) -> None:
    """All six drop reasons are exported at zero before anything is dropped."""
    make_queue()

    assert {
        reason: value(registry, "driftline_capture_records_dropped_total", reason=reason)
        for reason in DROP_REASONS
    } == dict.fromkeys(DROP_REASONS, 0.0)


def test_queue_capacity_is_exported(make_queue: MakeQueue, registry: CollectorRegistry) -> None:
    """The capacity gauge shows the configured queue_size."""
    make_queue(queue_size=1234)

    assert value(registry, "driftline_capture_queue_capacity") == 1234.0


def test_queue_size_counts_waiting_records(
    make_queue: MakeQueue, registry: CollectorRegistry
) -> None:
    """The queue size gauge counts records, a columns call counting each of its rows."""
    queue = make_queue(start=False)
    submit(queue, "a")
    queue.submit_columns("churn", "2.3.0", "champion", ["b", "c"], 1.0, None, {}, {})

    assert value(registry, "driftline_capture_queue_size") == 3.0


def test_two_queues_on_one_registry_share_the_metrics(
    make_queue: MakeQueue, registry: CollectorRegistry
) -> None:
    """A second queue on the same registry registers nothing twice and its counts add up."""
    first, second = make_queue(start=False), make_queue(start=False)
    submit(first, "a")
    submit(second, "b")

    assert value(registry, "driftline_capture_records_enqueued_total") == 2.0


def test_extraction_errors_are_recorded(make_queue: MakeQueue, registry: CollectorRegistry) -> None:
    """record_dropped("extraction_error", 3) adds 3 to that reason."""
    queue = make_queue(start=False)

    queue.record_dropped("extraction_error", 3)

    assert (
        value(registry, "driftline_capture_records_dropped_total", reason="extraction_error") == 3
    )


def test_an_unknown_drop_reason_is_refused(make_queue: MakeQueue) -> None:
    """A reason outside the documented set is a driftline bug and raises ValueError."""
    queue = make_queue(start=False)

    with pytest.raises(ValueError, match="reason must be one of"):
        queue.record_dropped("oops")


def test_unsized_prediction_ids_are_an_encode_error(
    make_queue: MakeQueue, registry: CollectorRegistry
) -> None:
    """submit_columns with ids that have no length counts one encode_error and does not raise."""
    queue = make_queue(start=False)

    queue.submit_columns("m", "1", "champion", iter(["a"]), 1.0, None, {}, {})  # type: ignore[arg-type]

    assert value(registry, "driftline_capture_records_dropped_total", reason="encode_error") == 1


def test_unencodable_records_are_dropped_and_the_rest_sent(
    sink: HttpSink, make_queue: MakeQueue, registry: CollectorRegistry
) -> None:
    """A record with an unencodable value is counted encode_error; its neighbours arrive."""
    queue = make_queue()
    submit(queue, "a", x=1)
    submit(queue, "b", x=object())
    submit(queue, "c", x=3)

    assert queue.flush(10.0)

    assert sink.accepted_ids() == ["a", "c"]
    assert value(registry, "driftline_capture_records_dropped_total", reason="encode_error") == 1


def test_the_shipper_is_a_named_daemon_thread(make_queue: MakeQueue) -> None:
    """start() runs one daemon thread named driftline-shipper."""
    make_queue()

    shippers = [t for t in threading.enumerate() if t.name == "driftline-shipper"]

    assert [t.daemon for t in shippers] == [True]


def test_flush_returns_true_with_nothing_queued(make_queue: MakeQueue) -> None:
    """Flushing an empty queue succeeds at once."""
    assert make_queue().flush(0.0)


def test_flush_without_a_shipper_returns_false(make_queue: MakeQueue) -> None:
    """A queue whose shipper never started cannot flush its records."""
    queue = make_queue(start=False)
    submit(queue, "a")

    assert not queue.flush(0.1)


def test_close_sends_what_is_queued(sink: HttpSink, make_queue: MakeQueue) -> None:
    """close() flushes queued records before stopping the shipper."""
    queue = make_queue()
    submit(queue, "a")

    queue.close(10.0)

    assert sink.accepted_ids() == ["a"]
    assert not [t for t in threading.enumerate() if t.name == "driftline-shipper"]


def test_records_queued_without_a_shipper_are_dropped_on_close(
    make_queue: MakeQueue, registry: CollectorRegistry
) -> None:
    """Closing a never-started queue drops its records as shutdown."""
    queue = make_queue(start=False)
    submit(queue, "a")
    submit(queue, "b")

    queue.close(0.1)

    assert value(registry, "driftline_capture_records_dropped_total", reason="shutdown") == 2
    assert value(registry, "driftline_capture_queue_size") == 0


def test_submits_after_close_are_dropped_as_shutdown(
    make_queue: MakeQueue, registry: CollectorRegistry
) -> None:
    """A record submitted after close() is counted as a shutdown drop, not queued."""
    queue = make_queue()
    queue.close(1.0)

    submit(queue, "late")

    assert value(registry, "driftline_capture_records_dropped_total", reason="shutdown") == 1
    assert value(registry, "driftline_capture_records_enqueued_total") == 0


@pytest.mark.parametrize(
    ("field", "bad"),
    [
        ("url", "ftp://x"),
        ("queue_size", 0),
        ("batch_size", 0),
        ("flush_interval", 0.0),
        ("timeout", -1.0),
        ("max_retries", -1),
        ("compression", "zstd"),
    ],
)
def test_invalid_settings_are_refused(field: str, bad: object) -> None:
    """CaptureSettings rejects an invalid value with a ValueError naming the field."""
    options: dict[str, Any] = {"url": "http://127.0.0.1:1", "service_name": "s", field: bad}

    with pytest.raises(ValueError, match=f"^{field}:"):
        CaptureSettings(**options)
