"""Decorated calls against a sidecar stand-in (``HttpSink``) answering 5xx, slowly, or never.

``HttpSink`` plays the faulty server because the real sidecar cannot be told to
answer 500 or to sleep; everything on the SDK side is the real queue and shipper.
"""

from __future__ import annotations

import resource
from collections import Counter
from collections.abc import Iterator

import driftline
import pytest
from prometheus_client import CollectorRegistry

from tests.faults._traffic import CaptureCounts, Traffic
from tests.support.http_sink import HttpSink
from tests.support.ports import free_port

pytestmark = pytest.mark.integration


@pytest.fixture
def sink() -> Iterator[HttpSink]:
    """A sidecar stand-in answering 202 until told otherwise."""
    with HttpSink() as server:
        yield server


def _configure(url: str, **overrides: float) -> CollectorRegistry:
    registry = CollectorRegistry()
    settings: dict[str, float] = {
        "capture_queue_size": 100,
        "capture_batch_size": 50,
        "capture_flush_interval": 0.05,
        "capture_timeout": 1.0,
        "capture_max_retries": 2,
    }
    settings.update(overrides)
    driftline.configure(
        service_name="faults",
        sidecar_url=url,
        registry=registry,
        log_sample_rate=0.0,
        **settings,  # type: ignore[arg-type]
    )
    return registry


def _rss_kib() -> int:
    """The process's resident set size now, in KiB, from /proc."""
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS in /proc/self/status")


def test_5xx_answers_are_retried_then_dropped_and_shipping_resumes(sink: HttpSink) -> None:
    """Each body is tried 1 + capture_max_retries times on 500, then counted retries_exhausted."""
    registry = _configure(sink.url)
    traffic = Traffic(registry)
    sink.answer(500)
    traffic.run(80)
    assert driftline.flush(30.0)
    failing = CaptureCounts.read(registry)
    tries = Counter(i for request in sink.requests for i in request.ids)
    sink.answer(202)
    sink.clear()
    traffic.run(30)
    assert driftline.flush(10.0)
    after = CaptureCounts.read(registry)
    assert (
        traffic.wrong_results,
        failing.dropped["retries_exhausted"],
        set(tries.values()),
        after.sent,
        len(sink.accepted_ids()),
    ) == (0, 80, {3}, 30, 30)


def test_a_lost_answer_is_resent_at_most_max_retries_times(sink: HttpSink) -> None:
    """A 202 that arrives after capture_timeout duplicates the body, at most 1 + max_retries times.

    The SDK counts the records ``retries_exhausted`` although the server kept all
    three copies: delivery is at least once within that bound (docs/reliability.md).
    """
    registry = _configure(sink.url, capture_timeout=0.3)
    traffic = Traffic(registry)
    sink.slow(1.0)
    traffic.run(10)
    assert driftline.flush(30.0)
    requests = sink.wait_for_requests(3)
    counts = CaptureCounts.read(registry)
    copies = Counter(sink.accepted_ids())
    assert (
        len(requests),
        set(copies.values()),
        len(copies),
        counts.sent,
        counts.dropped["retries_exhausted"],
    ) == (3, {3}, 10, 0, 10)


def test_a_slow_sidecar_bounds_the_queue_and_counts_queue_full(sink: HttpSink) -> None:
    """While each POST takes 0.2 s: right results, a bounded queue, overflow counted queue_full."""
    registry = _configure(sink.url)
    traffic = Traffic(registry)
    sink.slow(0.2)
    traffic.run(2_000)
    assert driftline.flush(30.0)
    counts = CaptureCounts.read(registry)
    assert (
        traffic.wrong_results,
        traffic.max_queue_size <= counts.capacity == 100,
        counts.enqueued + counts.dropped["queue_full"],
        counts.dropped["queue_full"] > 0,
        counts.sent,
        len(sink.accepted_ids()),
    ) == (0, True, 2_000, True, counts.enqueued, counts.enqueued)


def test_memory_stays_flat_with_the_sidecar_down() -> None:
    """100 000 calls with nothing listening grow the process's RSS by less than 8 MiB.

    An unbounded queue would hold every record (several hundred bytes each, tens of
    MiB here); the bound keeps at most ``capture_queue_size`` of them.
    """
    registry = _configure(f"http://127.0.0.1:{free_port()}", capture_queue_size=1_000)
    traffic = Traffic(registry)
    traffic.run(20_000, sample_every=1_000)  # warm up: allocator pools, metric children
    before = _rss_kib()
    traffic.run(100_000, sample_every=1_000)
    grown_kib = _rss_kib() - before
    counts = CaptureCounts.read(registry)
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    assert (
        traffic.wrong_results,
        traffic.max_queue_size <= counts.capacity == 1_000,
        counts.dropped["queue_full"] > 0,
        grown_kib < 8 * 1024,
    ) == (0, True, True, True), (grown_kib, peak_kib)
