"""Alertmanager is down when a sidecar alert fires: retried, the alert arrives once it is back.

Both are real processes: the sidecar (``driftline sidecar --config``) and
``prometheus-alertmanager``, started only after the alert fired, on the port the
sidecar was configured with.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.faults._sidecar import MODEL, VERSION, SidecarProcess, records_body, write_config
from tests.faults._sidecar import wait_until as wait
from tests.support.alertmanager import Alertmanager
from tests.support.ports import LOOPBACK, free_port
from tests.support.procs import running_process

pytestmark = pytest.mark.integration


@contextlib.contextmanager
def _alertmanager_on(port: int, workdir: Path) -> Iterator[Alertmanager]:
    """A real Alertmanager on ``port`` (``Alertmanager`` itself picks a free port: config only)."""
    model = Alertmanager()
    config = workdir / "alertmanager.yml"
    config.write_text(json.dumps(model.config()), encoding="utf-8")
    argv = [
        model.binary,
        f"--config.file={config}",
        f"--storage.path={workdir / 'data'}",
        f"--web.listen-address={LOOPBACK}:{port}",
        "--cluster.listen-address=",
    ]
    with running_process(
        argv, ready_url=f"http://{LOOPBACK}:{port}/-/ready", name="alertmanager", log_dir=workdir
    ):
        yield model


def _drift_alerts(port: int) -> list[Any]:
    from tests.support.prometheus import fetch_json

    alerts: list[Any] = fetch_json(f"http://{LOOPBACK}:{port}/api/v2/alerts")
    return [
        alert
        for alert in alerts
        if alert["labels"].get("alertname") == "DriftlineFeatureDrift"
        and alert["labels"].get("feature") == "tenure"
        and (alert["labels"].get("model"), alert["labels"].get("version")) == (MODEL, VERSION)
    ]


def _sidecar(tmp_path: Path, profile_path: Path, am_port: int, **alerting: Any) -> SidecarProcess:
    config = write_config(
        tmp_path,
        profile_path,
        interval=0.2,
        window_size=2_000,
        alerting={
            "log": False,
            "alertmanager_urls": [f"http://{LOOPBACK}:{am_port}"],
            "pending_evaluations": 1,
            "backoff": 0.2,
            "backoff_max": 0.5,
            "timeout": 1,
            **alerting,
        },
    )
    return SidecarProcess(config, tmp_path)


def _sent(sidecar: SidecarProcess, outcome: str) -> float:
    return sidecar.metric(
        "driftline_alerts_sent_total", destination="alertmanager", outcome=outcome
    )


def _failures(sidecar: SidecarProcess) -> float:
    return sidecar.metric("driftline_alert_delivery_failures_total", destination="alertmanager")


def test_an_alert_fired_while_alertmanager_is_down_is_retried_and_delivered(
    tmp_path: Path, profile_path: Path
) -> None:
    """The firing alert's delivery is retried while nothing listens and succeeds once Alertmanager
    starts on that port, without waiting for a resend."""
    am_port = free_port()
    sidecar = _sidecar(tmp_path, profile_path, am_port, max_retries=1_000, resend_interval=3_600)
    (tmp_path / "am").mkdir()
    try:
        sidecar.start()
        sidecar.send(records_body(1_000, shift=15.0))
        wait(lambda: _failures(sidecar) >= 3, message="three failed delivery attempts")
        failed_before = (_sent(sidecar, "success"), _sent(sidecar, "failed"))
        with _alertmanager_on(am_port, tmp_path / "am"):
            wait(lambda: _drift_alerts(am_port), message="the alert in Alertmanager")
            (alert,) = _drift_alerts(am_port)
            wait(lambda: _sent(sidecar, "success") >= 1, message="a counted success")
            outcome = (alert["status"]["state"], alert["labels"]["severity"] != "info")
    finally:
        sidecar.close()
    assert (failed_before, outcome) == ((0.0, 0.0), ("active", True))


def test_an_alert_whose_retries_ran_out_is_delivered_by_the_next_resend(
    tmp_path: Path, profile_path: Path
) -> None:
    """With no retries left the delivery counts as failed, yet the alert still firing is re-sent
    every resend_interval and reaches Alertmanager once it is up."""
    am_port = free_port()
    sidecar = _sidecar(tmp_path, profile_path, am_port, max_retries=0, resend_interval=1)
    (tmp_path / "am").mkdir()
    try:
        sidecar.start()
        sidecar.send(records_body(1_000, shift=15.0))
        wait(lambda: _sent(sidecar, "failed") >= 2, message="two failed deliveries")
        with _alertmanager_on(am_port, tmp_path / "am"):
            wait(lambda: _drift_alerts(am_port), message="the alert in Alertmanager")
            state = _drift_alerts(am_port)[0]["status"]["state"]
    finally:
        sidecar.close()
    assert state == "active"
