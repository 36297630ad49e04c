"""Delivery of sidecar alerts to a real Alertmanager, a real webhook server and the log."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import structlog
from driftline_sidecar.alerting import (
    Alert,
    Alerter,
    AlertingSettings,
    Batch,
    LogDestination,
)
from prometheus_client import CollectorRegistry

from tests.sidecar.test_alerting_support import drifted, evaluation, quiet
from tests.support.alertmanager import Alertmanager
from tests.support.ports import LOOPBACK, free_port
from tests.support.procs import running_process
from tests.support.webhook import WebhookRecorder

_FAST = {"backoff": 0.05, "backoff_max": 0.2, "timeout": 2.0, "log": False}


def _alerter(registry: CollectorRegistry, **overrides: Any) -> Alerter:
    settings = AlertingSettings(**{"pending_evaluations": 1, **_FAST, **overrides})
    return Alerter(settings, registry)


@pytest.fixture
def registry() -> CollectorRegistry:
    """A fresh registry per test."""
    return CollectorRegistry()


def _sent(registry: CollectorRegistry, destination: str, outcome: str) -> float:
    value = registry.get_sample_value(
        "driftline_alerts_sent_total", {"destination": destination, "outcome": outcome}
    )
    return value or 0.0


def _failures(registry: CollectorRegistry, destination: str) -> float:
    value = registry.get_sample_value(
        "driftline_alert_delivery_failures_total", {"destination": destination}
    )
    return value or 0.0


def _wait(predicate: Any, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError("condition not met")
        time.sleep(0.05)


@pytest.fixture
def firing_in_alertmanager(registry: CollectorRegistry) -> Iterator[tuple[Alertmanager, Alerter]]:
    """A real Alertmanager holding one DriftlineFeatureDrift alert sent by an Alerter."""
    with Alertmanager() as am:
        alerter = _alerter(registry, alertmanager_urls=(am.url,))
        alerter.start()
        try:
            alerter.observe(
                "churn", "2.3.0", evaluation(drifted("age", "critical")), has_profile=True
            )
            am.wait_for_alerts()
            yield am, alerter
        finally:
            alerter.close(5.0)


@pytest.mark.integration
def test_firing_alert_shows_in_alertmanager_with_its_labels(
    firing_in_alertmanager: tuple[Alertmanager, Alerter],
) -> None:
    """GET /api/v2/alerts lists the alert with exactly the labels the sidecar rendered."""
    am, alerter = firing_in_alertmanager

    (listed,) = am.alerts()
    assert listed["labels"] == dict(alerter.active_alerts()[0].labels)


@pytest.mark.integration
def test_firing_alert_shows_in_alertmanager_with_its_annotations(
    firing_in_alertmanager: tuple[Alertmanager, Alerter],
) -> None:
    """GET /api/v2/alerts lists the alert with summary, description, runbook and dashboard links."""
    am, alerter = firing_in_alertmanager

    (listed,) = am.alerts()
    assert listed["annotations"] == dict(alerter.active_alerts()[0].annotations)


@pytest.mark.integration
def test_alertmanager_fingerprint_equals_ours(
    firing_in_alertmanager: tuple[Alertmanager, Alerter],
) -> None:
    """Alertmanager computes the same fingerprint the webhook payload carries."""
    am, alerter = firing_in_alertmanager

    (listed,) = am.alerts()
    assert listed["fingerprint"] == alerter.active_alerts()[0].fingerprint


@pytest.mark.integration
def test_resolved_alert_leaves_alertmanager(
    firing_in_alertmanager: tuple[Alertmanager, Alerter], registry: CollectorRegistry
) -> None:
    """Once the drift is gone the resolve (endsAt = now) is sent and the alert is inactive."""
    am, alerter = firing_in_alertmanager

    alerter.observe("churn", "2.3.0", evaluation(quiet("age")), has_profile=True)

    assert am.wait_for_alerts(lambda alerts: alerts == []) == []


@pytest.mark.integration
def test_webhook_payload_has_the_shape_alertmanager_sends(registry: CollectorRegistry) -> None:
    """Our webhook body has the same fields, at both levels, as Alertmanager's own webhook."""
    with (
        WebhookRecorder() as from_am,
        WebhookRecorder() as from_us,
        Alertmanager(webhook_url=from_am.url) as am,
    ):
        alerter = _alerter(registry, alertmanager_urls=(am.url,), webhook_urls=(from_us.url,))
        alerter.start()
        try:
            alerter.observe("churn", "2", evaluation(drifted("age")), has_profile=True)
            (theirs,) = from_am.wait_for(lambda payloads: len(payloads) >= 1, timeout=30)
            (ours,) = from_us.wait_for(lambda payloads: len(payloads) >= 1, timeout=30)
        finally:
            alerter.close(5.0)

    assert (sorted(ours), sorted(ours["alerts"][0])) == (
        sorted(theirs),
        sorted(theirs["alerts"][0]),
    )


@pytest.mark.integration
def test_webhook_receives_firing_then_resolved(registry: CollectorRegistry) -> None:
    """The webhook gets a firing message, then a resolved one with a real endsAt."""
    with WebhookRecorder() as hook:
        alerter = _alerter(registry, webhook_urls=(hook.url,))
        alerter.start()
        try:
            alerter.observe("churn", "2", evaluation(drifted("age")), has_profile=True)
            alerter.observe("churn", "2", evaluation(quiet("age")), has_profile=True)
            payloads = hook.wait_for(lambda ps: len(ps) >= 2)
        finally:
            alerter.close(5.0)

    assert [
        (p["status"], p["alerts"][0]["endsAt"] == "0001-01-01T00:00:00Z") for p in payloads
    ] == [
        ("firing", True),
        ("resolved", False),
    ]


@pytest.mark.integration
def test_firing_alert_is_resent_by_the_worker(registry: CollectorRegistry) -> None:
    """Without new evaluations, the worker re-sends a firing alert every resend_interval."""
    with WebhookRecorder() as hook:
        alerter = _alerter(registry, webhook_urls=(hook.url,), resend_interval=0.2)
        alerter.start()
        try:
            alerter.observe("churn", "2", evaluation(drifted("age")), has_profile=True)
            payloads = hook.wait_for(lambda ps: len(ps) >= 3)
        finally:
            alerter.close(5.0)

    assert {p["alerts"][0]["fingerprint"] for p in payloads} == {
        alerter.active_alerts()[0].fingerprint
    }


def _alertmanager_argv(port: int, workdir: Path) -> list[str]:
    config = workdir / "alertmanager.yml"
    config.write_text(
        json.dumps({"route": {"receiver": "null"}, "receivers": [{"name": "null"}]}),
        encoding="utf-8",
    )
    return [
        "prometheus-alertmanager",
        f"--config.file={config}",
        f"--storage.path={workdir / 'data'}",
        f"--web.listen-address={LOOPBACK}:{port}",
        "--cluster.listen-address=",
    ]


@pytest.mark.integration
def test_alertmanager_down_counts_retries_and_delivers_once_back(
    registry: CollectorRegistry, tmp_path: Path
) -> None:
    """With Alertmanager down, failed attempts are counted; started later, it gets the alert."""
    port = free_port()
    url = f"http://{LOOPBACK}:{port}"
    alerter = _alerter(registry, alertmanager_urls=(url,), max_retries=1000)
    alerter.start()
    try:
        alerter.observe("churn", "2", evaluation(drifted("age")), has_profile=True)
        _wait(lambda: _failures(registry, "alertmanager") >= 2)
        with running_process(_alertmanager_argv(port, tmp_path), ready_url=f"{url}/-/ready"):
            _wait(lambda: _sent(registry, "alertmanager", "success") == 1)
    finally:
        alerter.close(5.0)

    assert (
        _sent(registry, "alertmanager", "failed"),
        _failures(registry, "alertmanager") >= 2,
    ) == (
        0.0,
        True,
    )


class _StuckServer:
    """An HTTP server whose POST handler waits until ``release`` is set."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.entered = threading.Event()
        stuck = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                stuck.entered.set()
                stuck.release.wait(30)
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                """Quiet."""

        self.server = ThreadingHTTPServer((LOOPBACK, 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self.url = f"http://{LOOPBACK}:{self.server.server_address[1]}/"

    def stop(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)


@pytest.mark.integration
def test_observe_returns_while_a_destination_hangs(registry: CollectorRegistry) -> None:
    """observe keeps returning while the worker is stuck in a POST that has not answered."""
    stuck = _StuckServer()
    alerter = _alerter(registry, webhook_urls=(stuck.url,), timeout=30.0)
    alerter.start()
    try:
        alerter.observe("churn", "2", evaluation(drifted("age")), has_profile=True)
        assert stuck.entered.wait(30)
        done: list[int] = []
        caller = threading.Thread(
            target=lambda: done.extend(
                len(alerter.observe("churn", "2", evaluation(quiet("age")), has_profile=True))
                for _ in range(5)
            )
        )
        caller.start()
        caller.join(30)
        observed_while_stuck = (done, stuck.release.is_set())
    finally:
        stuck.stop()
        alerter.close(5.0)

    assert observed_while_stuck == ([1, 0, 0, 0, 0], False)


def test_full_queue_drops_the_oldest_delivery_and_counts_it(registry: CollectorRegistry) -> None:
    """With queue_size=2 and no worker running, a third batch drops the oldest one."""
    alerter = _alerter(registry, webhook_urls=("http://127.0.0.1:9/",), queue_size=2)
    for version in ("1", "2", "3"):
        alerter.observe("churn", version, evaluation(drifted("age")), has_profile=True)

    assert (_sent(registry, "webhook", "dropped"), alerter.pending_deliveries()) == (1.0, 2)


def test_close_counts_undelivered_alerts_as_dropped(registry: CollectorRegistry) -> None:
    """Alerts still queued when close() runs out of time are counted as dropped."""
    alerter = _alerter(
        registry, webhook_urls=("http://127.0.0.1:9/",), backoff=60.0, backoff_max=60.0
    )
    alerter.observe("churn", "2", evaluation(drifted("age")), has_profile=True)

    alerter.close(0.0)

    assert _sent(registry, "webhook", "dropped") == 1.0


@pytest.mark.integration
def test_rejected_delivery_is_not_retried(registry: CollectorRegistry) -> None:
    """A 400 answer counts one failure and the outcome rejected, with no retry."""
    with WebhookRecorder(status=400) as hook:
        alerter = _alerter(registry, webhook_urls=(hook.url,))
        alerter.start()
        try:
            alerter.observe("churn", "2", evaluation(drifted("age")), has_profile=True)
            _wait(lambda: _sent(registry, "webhook", "rejected") == 1)
        finally:
            alerter.close(5.0)

        assert (len(hook.posts), _failures(registry, "webhook")) == (1, 1.0)


def test_alerts_firing_gauge_counts_by_alertname_and_severity(registry: CollectorRegistry) -> None:
    """driftline_alerts_firing is 2 for two critical feature drifts and 0 for other series."""
    alerter = _alerter(registry)
    alerter.observe(
        "churn",
        "2",
        evaluation(drifted("age", "critical"), drifted("plan", "critical")),
        has_profile=True,
    )

    def firing(alertname: str, severity: str) -> float | None:
        labels = {"alertname": alertname, "severity": severity}
        return registry.get_sample_value("driftline_alerts_firing", labels)

    assert (
        firing("DriftlineFeatureDrift", "critical"),
        firing("DriftlineDataQuality", "warning"),
    ) == (
        2.0,
        0.0,
    )


def test_log_destination_emits_one_event_per_firing_alert() -> None:
    """The log destination writes alert_firing with the alert's name and fingerprint."""
    alert = Alert(
        {"alertname": "DriftlineFeatureDrift", "severity": "warning"}, {}, "firing", 1.0, None, ""
    )
    with structlog.testing.capture_logs() as logs:
        LogDestination().deliver(Batch((alert,), created_at=1.0))

    assert [(e["event"], e["alertname"], e["fingerprint"], e["log_level"]) for e in logs] == [
        ("alert_firing", "DriftlineFeatureDrift", alert.fingerprint, "warning")
    ]


def test_log_destination_skips_resends() -> None:
    """Re-sending a firing alert does not log it again."""
    alert = Alert(
        {"alertname": "DriftlineFeatureDrift", "severity": "warning"}, {}, "firing", 1.0, None, ""
    )
    with structlog.testing.capture_logs() as logs:
        LogDestination().deliver(Batch((alert,), created_at=1.0, resend=True))

    assert logs == []
