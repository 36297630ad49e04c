"""From a decorated model function through the SDK to a real sidecar process, and drift out."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import driftline
import httpx
import pytest
from opentelemetry.sdk.trace import TracerProvider
from prometheus_client import CollectorRegistry

from tests.support.ports import free_port
from tests.support.procs import running_process
from tests.support.sidecar import sidecar_argv, wait_for_evaluation

from .conftest import MODEL, VERSION, reference_data, write_config


@pytest.fixture
def sidecar(tmp_path: Path, profile_path: Path) -> Iterator[str]:
    """A real `driftline sidecar` process with a token; yields its base URL."""
    port = free_port()
    config = write_config(
        tmp_path, profile_path, port=port, interval=0.2, min_samples=100, token="e2e-token"
    )
    base = f"http://127.0.0.1:{port}"
    with running_process(sidecar_argv(config), ready_url=f"{base}/readyz", name="sidecar"):
        yield base


@pytest.fixture
def sdk(sidecar: str) -> Iterator[None]:
    """The SDK configured to ship to the sidecar, shut down after the test."""
    provider = TracerProvider()
    driftline.configure(
        service_name="e2e",
        sidecar_url=sidecar,
        sidecar_token="e2e-token",
        registry=CollectorRegistry(),
        tracer_provider=provider,
        capture_flush_interval=0.05,
    )
    try:
        yield
    finally:
        driftline.shutdown()
        provider.shutdown()


@pytest.mark.integration
@pytest.mark.usefixtures("sdk")
def test_shifted_feature_is_reported_as_drift(sidecar: str) -> None:
    """Calls with a shifted feature through the SDK show as drift on /v1/drift and /metrics."""

    @driftline.monitor(model=MODEL, version=VERSION)
    def predict(features: dict[str, object]) -> float:
        return 0.5

    data = reference_data(400, seed=7)
    for tenure, spend, plan in zip(data["tenure"], data["spend"], data["plan"], strict=True):
        predict({"tenure": float(tenure) + 15.0, "spend": float(spend), "plan": str(plan)})
    assert driftline.flush(10.0)
    document = wait_for_evaluation(sidecar)
    drifted = {column["name"] for column in document["columns"] if column["drifted"]}
    exposition = httpx.get(f"{sidecar}/metrics").text
    line = (
        'driftline_drift_detected{feature="tenure",kind="feature",'
        f'model="{MODEL}",version="{VERSION}"}} 1.0'
    )
    assert ("tenure" in drifted, line in exposition) == (True, True)
