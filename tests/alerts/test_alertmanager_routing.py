"""The example alertmanager.yml in amtool and a real Alertmanager: routes and inhibitions."""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests.alerts.catalog import REPO_ROOT
from tests.support.procs import ManagedProcess, start_on_free_port
from tests.support.prometheus import fetch_json

CONFIG = REPO_ROOT / "deploy" / "alertmanager" / "alertmanager.yml"
DRIFT = {"model": "churn", "version": "1.0.0", "service": "churn-api"}


def _amtool() -> str:
    path = shutil.which("amtool")
    if path is None:
        pytest.fail("amtool is not installed: run `make debs`")
    return path


def _receiver(*labels: str) -> str:
    result = subprocess.run(
        [_amtool(), "config", "routes", "test", f"--config.file={CONFIG}", *labels],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


@pytest.mark.parametrize(
    ("severity", "receiver"), [("critical", "pager"), ("warning", "ticket"), ("info", "null")]
)
def test_alerts_route_by_severity(severity: str, receiver: str) -> None:
    """amtool routes an alert of each severity to its receiver."""
    assert _receiver("alertname=DriftlineFeatureDrift", f"severity={severity}") == receiver


@pytest.fixture(scope="module")
def alertmanager(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Alertmanager running the example configuration on 127.0.0.1, stopped by pid afterwards."""
    workdir = tmp_path_factory.mktemp("alertmanager")
    binary = shutil.which("prometheus-alertmanager") or shutil.which("alertmanager")
    if binary is None:
        pytest.fail("Alertmanager is not installed: run `make debs`")

    def argv(port: int) -> list[str]:
        return [
            binary,
            f"--config.file={CONFIG}",
            f"--storage.path={workdir / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--cluster.listen-address=",
        ]

    process: ManagedProcess
    process, port = start_on_free_port(
        argv, ready_path="/-/ready", log_path=workdir / "alertmanager.log", name="alertmanager"
    )
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        process.stop()


def _states(url: str, expected: int) -> dict[str, dict[str, Any]]:
    """Alert status by alertname and feature, once Alertmanager holds ``expected`` alerts."""
    deadline = time.monotonic() + 30.0
    while True:
        alerts: list[dict[str, Any]] = fetch_json(f"{url}/api/v2/alerts")
        if len(alerts) >= expected or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    return {
        f"{alert['labels']['alertname']}/{alert['labels'].get('feature', '')}": alert["status"]
        for alert in alerts
    }


@pytest.mark.integration
def test_sidecar_drift_alert_inhibits_its_prometheus_twin(alertmanager: str) -> None:
    """With the sidecar's drift alert firing, the Prometheus twin for that feature is suppressed."""
    alerts = [
        {"labels": {"alertname": "DriftlineFeatureDrift", "severity": "critical", **DRIFT,
                    "feature": "tenure_months"}},
        {"labels": {"alertname": "DriftlineFeatureDriftPersistent", "severity": "warning",
                    "model": "churn", "version": "1.0.0", "feature": "tenure_months"}},
        {"labels": {"alertname": "DriftlineFeatureDriftPersistent", "severity": "warning",
                    "model": "churn", "version": "1.0.0", "feature": "plan"}},
    ]  # fmt: skip
    fetch_json(f"{alertmanager}/api/v2/alerts", method="POST", body=alerts)
    states = _states(alertmanager, expected=3)
    assert {name: status["state"] for name, status in states.items()} == {
        "DriftlineFeatureDrift/tenure_months": "active",
        "DriftlineFeatureDriftPersistent/tenure_months": "suppressed",
        "DriftlineFeatureDriftPersistent/plan": "active",
    }
