"""Where alerts go: Alertmanager API v2, Alertmanager-format webhooks, the structured log."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Final, Protocol

import structlog

from driftline_sidecar.alerting._model import Alert
from driftline_sidecar.alerting._payload import alertmanager_alerts, webhook_messages
from driftline_sidecar.alerting._settings import AlertingSettings

__all__ = [
    "AlertmanagerDestination",
    "Batch",
    "DeliveryError",
    "Destination",
    "LogDestination",
    "WebhookDestination",
    "destinations_for",
]

_API_PATH: Final = "/api/v2/alerts"
# Prometheus's practice: a firing alert is valid for four resend intervals.
_VALIDITY_RESENDS: Final = 4


@dataclass(frozen=True)
class Batch:
    """Alerts to deliver together, created at Unix time ``created_at``; resends are flagged."""

    alerts: tuple[Alert, ...]
    created_at: float
    resend: bool = False


class DeliveryError(Exception):
    """One delivery attempt failed; ``retryable`` is false for answers that will not change."""

    def __init__(self, message: str, *, retryable: bool) -> None:
        super().__init__(message)
        self.retryable = retryable


class Destination(Protocol):
    """A place alerts are delivered to; ``name`` is the ``destination`` metric label."""

    @property
    def name(self) -> str: ...

    def deliver(self, batch: Batch) -> None:
        """Deliver ``batch`` or raise DeliveryError."""


def _post_json(url: str, body: object, timeout: float) -> None:
    data = json.dumps(body, separators=(",", ":")).encode("utf-8")
    request = urllib.request.Request(
        url,
        data=data,
        method="POST",
        headers={"Content-Type": "application/json", "User-Agent": "driftline-sidecar"},
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            response.read()
    except urllib.error.HTTPError as exc:
        retryable = exc.code >= 500 or exc.code == 429
        raise DeliveryError(f"HTTP {exc.code} from {url}", retryable=retryable) from exc
    except (urllib.error.URLError, OSError) as exc:
        raise DeliveryError(f"{url}: {exc}", retryable=True) from exc


class AlertmanagerDestination:
    """``POST <url>/api/v2/alerts``; ``url`` is Alertmanager's base URL."""

    name = "alertmanager"

    def __init__(self, url: str, settings: AlertingSettings) -> None:
        base = url.rstrip("/")
        self.url = base if base.endswith(_API_PATH) else base + _API_PATH
        self._settings = settings

    def deliver(self, batch: Batch) -> None:
        """POST every alert of ``batch`` in one request."""
        valid_until = batch.created_at + _VALIDITY_RESENDS * self._settings.resend_interval
        body = alertmanager_alerts(batch.alerts, valid_until=valid_until)
        _post_json(self.url, body, self._settings.timeout)


class WebhookDestination:
    """POST Alertmanager-webhook messages to ``url``, one per alertname, model and version."""

    name = "webhook"

    def __init__(self, url: str, settings: AlertingSettings) -> None:
        self.url = url
        self._settings = settings

    def deliver(self, batch: Batch) -> None:
        """POST each group's message; a failure retries the whole batch."""
        messages = webhook_messages(
            batch.alerts,
            receiver=self._settings.receiver,
            external_url=self._settings.external_url,
        )
        for message in messages:
            _post_json(self.url, message, self._settings.timeout)


class LogDestination:
    """One structlog event per alert that starts firing or resolves; resends are not logged."""

    name = "log"

    def __init__(self, logger: structlog.typing.FilteringBoundLogger | None = None) -> None:
        self._logger = logger or structlog.get_logger("driftline_sidecar.alerting")

    def deliver(self, batch: Batch) -> None:
        """Log ``alert_firing`` (warning) or ``alert_resolved`` (info) for each alert."""
        if batch.resend:
            return
        for alert in batch.alerts:
            method = self._logger.warning if alert.status == "firing" else self._logger.info
            method(
                f"alert_{alert.status}",
                alertname=alert.alertname,
                fingerprint=alert.fingerprint,
                labels=dict(alert.labels),
                annotations=dict(alert.annotations),
                starts_at=alert.starts_at,
                ends_at=alert.ends_at,
            )


def destinations_for(settings: AlertingSettings) -> list[Destination]:
    """Return the destinations ``settings`` configures, Alertmanagers first, the log last."""
    found: list[Destination] = [
        AlertmanagerDestination(u, settings) for u in settings.alertmanager_urls
    ]
    found.extend(WebhookDestination(u, settings) for u in settings.webhook_urls)
    if settings.log:
        found.append(LogDestination())
    return found
