"""The Alertmanager and webhook test harness: a real Alertmanager delivering to a real server."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.support.alertmanager import Alertmanager
from tests.support.procs import assert_no_process
from tests.support.webhook import WebhookRecorder

pytestmark = pytest.mark.integration

ALERT = {
    "labels": {"alertname": "DriftlineHarnessTest", "severity": "warning", "model": "churn"},
    "annotations": {"summary": "posted by the harness test"},
}


@pytest.fixture(scope="module")
def webhook() -> Iterator[WebhookRecorder]:
    """A webhook recorder shared by the module."""
    with WebhookRecorder() as hook:
        yield hook


@pytest.fixture(scope="module")
def alertmanager(webhook: WebhookRecorder) -> Iterator[Alertmanager]:
    """One Alertmanager delivering every alert group to the webhook recorder."""
    with Alertmanager(webhook_url=webhook.url) as am:
        yield am


def _has_harness_alert(payloads: list[Any]) -> bool:
    return any(
        alert["labels"].get("alertname") == "DriftlineHarnessTest"
        for payload in payloads
        for alert in payload["alerts"]
    )


def test_posted_alert_is_listed(alertmanager: Alertmanager) -> None:
    """An alert posted to /api/v2/alerts is returned by GET /api/v2/alerts."""
    alertmanager.post_alerts([ALERT])
    alerts = alertmanager.wait_for_alerts()
    assert [a["labels"] for a in alerts] == [ALERT["labels"]]


def test_posted_alert_reaches_webhook(alertmanager: Alertmanager, webhook: WebhookRecorder) -> None:
    """A posted alert is delivered to the webhook as a firing Alertmanager payload."""
    alertmanager.post_alerts([ALERT])
    payloads = webhook.wait_for(_has_harness_alert)
    assert payloads[0]["status"] == "firing"


def test_stop_leaves_no_process() -> None:
    """Leaving the context manager stops the Alertmanager process by pid."""
    with Alertmanager() as am:
        pid = am.pid
    assert_no_process(pid)
