"""The capture bound, counts under concurrent submits, fork safety and the exit flush."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import threading
import warnings
from collections.abc import Callable

from driftline._capture import CaptureQueue
from prometheus_client import CollectorRegistry

from tests.sdk.conftest import MakeQueue
from tests.support.http_sink import HttpSink


def submit(queue: CaptureQueue, pid: str) -> None:
    """Submit one row."""
    queue.submit_row("churn", "2.3.0", "champion", pid, 1.0, None, {"x": 1}, {"value": 0.5})


def submit_columns(queue: CaptureQueue, ids: list[str]) -> None:
    """Submit one columns call of len(ids) records."""
    queue.submit_columns(
        "churn", "2.3.0", "champion", ids, 1.0, None, {"x": [1] * len(ids)}, {"value": ids}
    )


def metric(registry: CollectorRegistry, name: str, **labels: str) -> float | None:
    """Read one sample from the registry."""
    return registry.get_sample_value(name, labels)


def queue_full(registry: CollectorRegistry) -> float | None:
    """Read the queue_full drop count."""
    return metric(registry, "driftline_capture_records_dropped_total", reason="queue_full")


def test_records_over_the_bound_are_dropped_exactly(
    make_queue: MakeQueue, registry: CollectorRegistry
) -> None:
    """Submitting queue_size + 7 records to a queue nobody drains drops exactly 7."""
    queue = make_queue(start=False, queue_size=100)

    for i in range(107):
        submit(queue, f"r{i}")

    assert (queue_full(registry), metric(registry, "driftline_capture_queue_size")) == (7, 100)


def test_a_columns_call_that_does_not_fit_is_dropped_whole(
    make_queue: MakeQueue, registry: CollectorRegistry
) -> None:
    """With 2 free slots, a 3-record call is dropped entirely and a 2-record call then fits."""
    queue = make_queue(start=False, queue_size=10)
    for i in range(8):
        submit(queue, f"r{i}")

    submit_columns(queue, ["a", "b", "c"])
    submit_columns(queue, ["d", "e"])

    assert (queue_full(registry), metric(registry, "driftline_capture_queue_size")) == (3, 10)


def test_concurrent_submits_are_counted_exactly_at_the_bound(
    make_queue: MakeQueue, registry: CollectorRegistry
) -> None:
    """Eight threads of rows and columns calls overfill a queue: it holds exactly its bound and
    enqueued plus dropped equals submitted."""
    queue = make_queue(start=False, queue_size=3000)
    barrier = threading.Barrier(8)

    def work(t: int) -> None:
        barrier.wait()
        for i in range(500):
            submit(queue, f"t{t}-{i}")
            if i % 5 == 0:
                submit_columns(queue, [f"t{t}-{i}-a", f"t{t}-{i}-b", f"t{t}-{i}-c"])

    threads = [threading.Thread(target=work, args=(t,)) for t in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    submitted = 8 * (500 + 100 * 3)
    enqueued = metric(registry, "driftline_capture_records_enqueued_total")
    assert (enqueued, metric(registry, "driftline_capture_queue_size")) == (3000, 3000)
    assert queue_full(registry) == submitted - 3000


def test_concurrent_submits_with_a_running_shipper_are_all_accounted_for(
    sink: HttpSink, make_queue: MakeQueue, registry: CollectorRegistry
) -> None:
    """With the shipper draining, enqueued + dropped equals submitted and the sink gets every
    enqueued record exactly once."""
    queue = make_queue(queue_size=500, batch_size=100)
    barrier = threading.Barrier(8)

    def work(t: int) -> None:
        barrier.wait()
        for i in range(1000):
            submit(queue, f"t{t}-{i}")

    threads = [threading.Thread(target=work, args=(t,)) for t in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert queue.flush(30.0)

    enqueued = metric(registry, "driftline_capture_records_enqueued_total")
    assert enqueued is not None
    assert enqueued + (queue_full(registry) or 0) == 8000
    ids = sink.accepted_ids()
    assert (len(ids), len(set(ids)), metric(registry, "driftline_capture_records_sent_total")) == (
        enqueued,
        enqueued,
        enqueued,
    )


def fork() -> int:
    """os.fork(), quiet about the multi-threaded-fork DeprecationWarning of Python 3.12+."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        return os.fork()


def run_in_child(body: Callable[[], bool]) -> int:
    """Fork; the child runs ``body`` and exits 0 when it returns True; return the exit code."""
    pid = fork()
    if pid == 0:  # pragma: no cover - the child process
        code = 1
        try:
            code = 0 if body() else 3
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status)


def test_a_forked_child_ships_its_own_records_once(sink: HttpSink, make_queue: MakeQueue) -> None:
    """After fork the child sends only its own records and the parent's are sent once, by the
    parent."""
    queue = make_queue(batch_size=1000)
    submit(queue, "parent-0")
    submit(queue, "parent-1")

    def child() -> bool:
        for i in range(3):
            submit(queue, f"child-{i}")
        return queue.flush(10.0)

    assert run_in_child(child) == 0
    assert queue.flush(10.0)

    assert sorted(sink.accepted_ids()) == ["child-0", "child-1", "child-2", "parent-0", "parent-1"]
    assert [r.ids for r in sink.requests if "child-0" in r.ids] == [
        ["child-0", "child-1", "child-2"]
    ]


def test_a_forked_child_counts_only_its_own_records(
    make_queue: MakeQueue, registry: CollectorRegistry
) -> None:
    """In the child the capture counters start from zero, so they describe its own records."""
    queue = make_queue(batch_size=1000)
    submit(queue, "parent-0")

    def child() -> bool:
        submit(queue, "child-0")
        return metric(registry, "driftline_capture_records_enqueued_total") == 1

    assert run_in_child(child) == 0


EXIT_SCRIPT = textwrap.dedent(
    """
    import sys
    from driftline._capture import CaptureQueue, CaptureSettings

    queue = CaptureQueue(CaptureSettings(
        url=sys.argv[1], service_name="exit", flush_interval=60.0,
        exit_timeout=float(sys.argv[2]), timeout=float(sys.argv[2]), max_retries=0,
    ))
    queue.start()
    for i in range(3):
        queue.submit_row("m", "1", "champion", f"e{i}", 1.0, None, {"x": i}, {"value": i})
    """
)


def test_records_are_flushed_at_interpreter_exit(sink: HttpSink) -> None:
    """A process that submits and exits normally delivers its records before it ends."""
    result = subprocess.run(
        [sys.executable, "-c", EXIT_SCRIPT, sink.url, "10"],
        capture_output=True,
        timeout=120,
        check=False,
    )

    assert (result.returncode, result.stderr) == (0, b"")
    assert sink.accepted_ids() == ["e0", "e1", "e2"]


def test_exit_does_not_hang_when_the_server_hangs(sink: HttpSink) -> None:
    """With the sidecar holding every request, the process still exits, cleanly."""
    sink.hang()

    result = subprocess.run(
        [sys.executable, "-c", EXIT_SCRIPT, sink.url, "0.3"],
        capture_output=True,
        timeout=120,
        check=False,
    )

    assert (result.returncode, result.stderr) == (0, b"")
    assert sink.accepted_ids() == []
