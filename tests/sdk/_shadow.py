"""What the shadow tests share: the champion under test, its metric labels, and a poll."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest
from driftline.testing import Telemetry

CHAMPION = {"model": "churn", "version": "2.3.0"}
LABELS = {"model": "churn", "version": "2.3.0", "challenger_version": "2.4.0"}


def shadow_metric(telemetry: Telemetry, name: str, **labels: str) -> float | None:
    """Return a ``driftline_shadow_*`` sample of the test's model."""
    return telemetry.metric(name, **LABELS, **labels)


def shadow_calls(telemetry: Telemetry, outcome: str) -> float | None:
    """Return driftline_shadow_calls_total for the test's model and ``outcome``."""
    return shadow_metric(telemetry, "driftline_shadow_calls_total", outcome=outcome)


def wait_until(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    """Poll ``condition`` until it holds; fail the test after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail("condition not met in time")
        time.sleep(0.005)
