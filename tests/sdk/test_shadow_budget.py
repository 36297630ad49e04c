"""Shadow mode's CPU budget: calls are skipped, and counted by reason, once the budget is spent."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import driftline
import pytest
from driftline import ConfigurationError, Shadow
from driftline._shadow_budget import BURST_SECONDS, CpuBudget
from driftline.testing import Telemetry

from tests.sdk._shadow import CHAMPION, shadow_metric
from tests.sdk.test_shadow_process import champion, doubling_challenger


def burning_challenger(features: dict[str, float]) -> float:
    """Use at least 2 ms of this thread's CPU time, then return 0.9."""
    start = time.thread_time()
    while time.thread_time() - start < 0.002:
        pass
    return 0.9


@pytest.fixture(autouse=True)
def drained() -> Iterator[None]:
    """Let every shadow call of the test settle before the next test."""
    yield
    driftline.flush(30.0)


def test_a_fresh_budget_lets_calls_run() -> None:
    """A budget nothing was spent from is not exhausted."""
    assert CpuBudget(0.1).exhausted() is False


def test_spending_more_than_the_bucket_exhausts_the_budget() -> None:
    """Spending more CPU than the bucket holds exhausts the budget until the debt is refilled."""
    budget = CpuBudget(0.1)
    before = time.monotonic()
    budget.spend(10.0)

    assert budget.exhausted() is True
    assert budget.resume_at >= before + (10.0 - 0.1 * BURST_SECONDS) / 0.1


def test_spending_within_the_bucket_keeps_the_budget_open() -> None:
    """Spending less than the bucket holds leaves the budget open."""
    budget = CpuBudget(0.1)
    budget.spend(0.1 * BURST_SECONDS / 2)

    assert (budget.exhausted(), budget.resume_at) == (False, 0.0)


def test_calls_past_the_budget_are_skipped_as_cpu_budget(telemetry: Telemetry) -> None:
    """Once a challenger used more CPU than its budget, later calls are skipped with that reason."""
    shadow = Shadow(burning_challenger, version="2.4.0", cpu_budget=1e-6)
    predict = driftline.monitor(**CHAMPION, shadow=shadow)(champion)

    predict({"x": 1.0})
    assert driftline.flush(30.0)
    results = [predict({"x": 1.0}) for _ in range(4)]
    assert driftline.flush(30.0)

    assert results == [0.5] * 4
    assert [
        shadow_metric(telemetry, "driftline_shadow_calls_total", outcome="success"),
        shadow_metric(telemetry, "driftline_shadow_calls_total", outcome="skipped"),
        shadow_metric(telemetry, "driftline_shadow_skipped_total", reason="cpu_budget"),
        shadow_metric(telemetry, "driftline_shadow_skipped_total", reason="queue_full"),
    ] == [1, 4, 4, 0]


def test_no_budget_never_skips(telemetry: Telemetry) -> None:
    """With cpu_budget=None the same challenger runs on every call.

    20 calls of at least 2 ms of CPU each are four times the default bucket
    (0.1 of a core for 0.1 s), so the default budget would skip some of them.
    """
    shadow = Shadow(burning_challenger, version="2.4.0", cpu_budget=None)
    predict = driftline.monitor(**CHAMPION, shadow=shadow)(champion)

    for _ in range(20):
        predict({"x": 1.0})
        assert driftline.flush(30.0)

    assert shadow_metric(telemetry, "driftline_shadow_calls_total", outcome="success") == 20


def test_the_budget_counts_the_process_worker_thread(telemetry: Telemetry) -> None:
    """With isolation="process" the worker thread's own CPU time (pickling and the pipe) is
    spent from the budget, so a tiny budget skips the next calls."""
    shadow = Shadow(
        doubling_challenger, version="2.4.0", isolation="process", timeout=30.0, cpu_budget=1e-9
    )
    predict = driftline.monitor(**CHAMPION, shadow=shadow)(champion)

    predict({"x": 1.0})
    assert driftline.flush(30.0)
    for _ in range(3):
        predict({"x": 1.0})
    assert driftline.flush(30.0)

    assert [
        shadow_metric(telemetry, "driftline_shadow_calls_total", outcome="success"),
        shadow_metric(telemetry, "driftline_shadow_skipped_total", reason="cpu_budget"),
    ] == [1, 3]


def test_a_full_queue_is_skipped_as_queue_full(telemetry: Telemetry) -> None:
    """Calls beyond queue_size are counted under reason queue_full."""
    gate = threading.Event()

    def challenger(features: dict[str, float]) -> float:
        gate.wait()
        return 0.9

    shadow = Shadow(challenger, version="2.4.0", queue_size=2, timeout=30.0)
    predict = driftline.monitor(**CHAMPION, shadow=shadow)(champion)
    try:
        for _ in range(5):
            predict({"x": 1.0})
    finally:
        gate.set()
    assert driftline.flush(30.0)

    assert [
        shadow_metric(telemetry, "driftline_shadow_skipped_total", reason="queue_full"),
        shadow_metric(telemetry, "driftline_shadow_skipped_total", reason="cpu_budget"),
        shadow_metric(telemetry, "driftline_shadow_calls_total", outcome="skipped"),
    ] == [3, 0, 3]


@pytest.mark.parametrize("value", [0, -0.1, float("nan"), float("inf"), "0.1", True])
def test_a_bad_cpu_budget_is_refused(value: Any) -> None:
    """Shadow() refuses a cpu_budget that is not None or a positive finite number."""
    with pytest.raises(ConfigurationError) as caught:
        Shadow(champion, version="2.4.0", cpu_budget=value)
    assert caught.value.key == "shadow.cpu_budget"
