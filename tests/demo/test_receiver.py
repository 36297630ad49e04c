"""The demo's webhook receiver: a real HTTP server on 127.0.0.1 collecting alerts."""

from __future__ import annotations

import json
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest
from driftline_sidecar.demo.receiver import ReceivedAlert, WebhookReceiver, parse_webhook

_MESSAGE: dict[str, Any] = {
    "version": "4",
    "status": "firing",
    "receiver": "driftline",
    "groupLabels": {"alertname": "DriftlineFeatureDrift"},
    "alerts": [
        {
            "status": "firing",
            "labels": {
                "alertname": "DriftlineFeatureDrift",
                "severity": "critical",
                "model": "flights-delay",
                "version": "1.0.0",
                "feature": "temp",
            },
            "annotations": {
                "summary": "Feature temp of model flights-delay version 1.0.0 has drifted",
                "runbook_url": "https://example.invalid/runbooks/DriftlineFeatureDrift.md",
                "dashboard_url": "http://127.0.0.1:3000/d/driftline-drift?var-feature=temp",
            },
        }
    ],
}


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    """A started receiver, stopped after the test."""
    with WebhookReceiver() as started:
        yield started


def _post(url: str, body: bytes) -> int:
    request = urllib.request.Request(
        url, data=body, headers={"Content-Type": "application/json"}, method="POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=5.0) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return exc.code


def test_a_posted_alert_is_received_with_its_links(receiver: WebhookReceiver) -> None:
    """An Alertmanager-webhook POST yields the alert's severity, summary, runbook and dashboard."""
    assert _post(receiver.url, json.dumps(_MESSAGE).encode()) == 200
    [alert] = receiver.drain()
    assert (alert.name, alert.severity, alert.status) == (
        "DriftlineFeatureDrift",
        "critical",
        "firing",
    )
    assert alert.runbook_url.endswith("/DriftlineFeatureDrift.md")
    assert alert.dashboard_url.startswith("http://127.0.0.1:3000/d/driftline-drift")
    assert alert.labels["feature"] == "temp"


def test_drain_returns_each_alert_once(receiver: WebhookReceiver) -> None:
    """A second drain after the first returns nothing new."""
    _post(receiver.url, json.dumps(_MESSAGE).encode())
    receiver.drain()
    assert receiver.drain() == []


def test_invalid_json_is_answered_400(receiver: WebhookReceiver) -> None:
    """A body that is not JSON gets 400 and records no alert."""
    assert _post(receiver.url, b"{not json") == 400
    assert receiver.drain() == []


def test_a_message_without_alerts_is_rejected() -> None:
    """parse_webhook names the missing 'alerts' list."""
    with pytest.raises(ValueError, match="'alerts' list"):
        parse_webhook(b'{"status": "firing"}')


def test_an_alert_inherits_the_message_status() -> None:
    """An alert without its own status takes the message's status."""
    message = {"status": "resolved", "alerts": [{"labels": {"alertname": "X"}}]}
    [alert] = parse_webhook(json.dumps(message).encode())
    assert alert == ReceivedAlert("resolved", "X", "", "", "", "", alert.labels)


def test_stop_ends_the_server_thread() -> None:
    """After stop() no thread of the receiver is left running."""
    receiver = WebhookReceiver()
    receiver.start()
    receiver.stop()
    names = [thread.name for thread in threading.enumerate()]
    assert "driftline-demo-webhook" not in names
