"""Decorated calls while the real sidecar process is killed (SIGKILL) or hung (SIGSTOP).

The model's results never change, the capture queue never holds more than its
bound, every lost record is counted under its reason, and shipping resumes when
the sidecar comes back (a restart, or SIGCONT).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import driftline
import pytest
from prometheus_client import CollectorRegistry

from tests.faults._sidecar import SidecarProcess, running_sidecar, write_config
from tests.faults._traffic import CaptureCounts, Traffic

pytestmark = pytest.mark.integration

QUEUE_SIZE = 200


@pytest.fixture
def sidecar(tmp_path: Path, profile_path: Path) -> Iterator[SidecarProcess]:
    """A running sidecar process without snapshots, every process stopped by pid afterwards."""
    config = write_config(tmp_path, profile_path, window_size=5_000)
    with running_sidecar(config, tmp_path) as process:
        yield process


@pytest.fixture
def registry(sidecar: SidecarProcess) -> CollectorRegistry:
    """driftline capturing to the sidecar: a 200-record queue, 0.5 s timeout, 1 retry."""
    registry = CollectorRegistry()
    driftline.configure(
        service_name="faults",
        sidecar_url=sidecar.url,
        registry=registry,
        capture_queue_size=QUEUE_SIZE,
        capture_batch_size=100,
        capture_flush_interval=0.05,
        capture_timeout=0.5,
        capture_max_retries=1,
        log_sample_rate=0.0,
    )
    return registry


def test_sigkill_mid_traffic(sidecar: SidecarProcess, registry: CollectorRegistry) -> None:
    """Across a SIGKILL and a restart: right results, bounded queue, drops by reason, resumption."""
    traffic = Traffic(registry)
    traffic.run(100)
    assert driftline.flush(10.0)
    sidecar.kill()
    traffic.run(2_000)
    assert driftline.flush(30.0)
    down = CaptureCounts.read(registry)
    sidecar.start()
    traffic.run(100)
    assert driftline.flush(10.0)
    up = CaptureCounts.read(registry)
    received = sidecar.metric("driftline_sidecar_records_received_total")
    assert (
        traffic.wrong_results,
        traffic.max_queue_size <= down.capacity == QUEUE_SIZE,
        down.enqueued + down.dropped["queue_full"],
        down.dropped["retries_exhausted"] > 0,
        down.dropped["queue_full"] > 0,
        down.sent + down.dropped["retries_exhausted"],
        sum(v for k, v in down.dropped.items() if k not in ("queue_full", "retries_exhausted")),
        (up.sent - down.sent, received, sidecar.window_records()),
    ) == (0, True, 2_100, True, True, down.enqueued, 0, (100, 100, 100))


def test_sigstop_mid_traffic(sidecar: SidecarProcess, registry: CollectorRegistry) -> None:
    """Across SIGSTOP and SIGCONT: right results, bounded queue, timeouts dropped, resumption.

    A hung sidecar still accepts connections (the kernel's backlog), so each POST
    waits for ``capture_timeout``. After SIGCONT it may still process bodies whose
    client gave up, so it can hold more records than the SDK counts as sent, but
    never more than ``capture_max_retries + 1`` copies of each: docs/reliability.md.
    """
    traffic = Traffic(registry)
    traffic.run(100)
    assert driftline.flush(10.0)
    sidecar.pause()
    try:
        traffic.run(2_000)
        assert driftline.flush(30.0)
        down = CaptureCounts.read(registry)
    finally:
        sidecar.resume()
    traffic.run(100)
    assert driftline.flush(10.0)
    up = CaptureCounts.read(registry)
    received = sidecar.metric("driftline_sidecar_records_received_total")
    lost = down.dropped["retries_exhausted"]
    assert (
        traffic.wrong_results,
        traffic.max_queue_size <= down.capacity == QUEUE_SIZE,
        down.enqueued + down.dropped["queue_full"],
        lost > 0,
        down.sent + lost,
        up.sent,
        200 <= received <= 200 + 2 * lost,
    ) == (0, True, 2_100, True, down.enqueued, 200, True)
