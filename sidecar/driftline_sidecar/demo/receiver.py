"""A webhook receiver on 127.0.0.1 that collects the alerts the sidecar sends, as on-call sees them.

The sidecar posts Alertmanager-webhook messages (version 4: ``{"status", "alerts": [...]}``
with each alert's ``labels`` and ``annotations``); this server turns each alert into a
:class:`ReceivedAlert` and hands them to the demo in arrival order.
"""

from __future__ import annotations

import json
import queue
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import MappingProxyType, TracebackType
from typing import Any

__all__ = ["ReceivedAlert", "WebhookReceiver", "parse_webhook"]

_MAX_BODY_BYTES = 1024 * 1024


@dataclass(frozen=True)
class ReceivedAlert:
    """One alert of one webhook message: what a pager would show."""

    status: str
    name: str
    severity: str
    summary: str
    runbook_url: str
    dashboard_url: str
    labels: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))


def _text(mapping: Any, key: str) -> str:
    value = mapping.get(key, "") if isinstance(mapping, dict) else ""
    return value if isinstance(value, str) else str(value)


def parse_webhook(body: bytes) -> list[ReceivedAlert]:
    """Return the alerts of one Alertmanager-webhook message; ValueError names what is wrong."""
    message = json.loads(body)
    if not isinstance(message, dict) or not isinstance(message.get("alerts"), list):
        raise ValueError("alerts: expected a JSON object with an 'alerts' list")
    received: list[ReceivedAlert] = []
    for index, alert in enumerate(message["alerts"]):
        if not isinstance(alert, dict) or not isinstance(alert.get("labels"), dict):
            raise ValueError(f"alerts[{index}].labels: expected an object")
        labels = {str(k): str(v) for k, v in alert["labels"].items()}
        annotations = alert.get("annotations", {})
        received.append(
            ReceivedAlert(
                status=_text(alert, "status") or _text(message, "status"),
                name=labels.get("alertname", ""),
                severity=labels.get("severity", ""),
                summary=_text(annotations, "summary"),
                runbook_url=_text(annotations, "runbook_url"),
                dashboard_url=_text(annotations, "dashboard_url"),
                labels=MappingProxyType(labels),
            )
        )
    return received


class WebhookReceiver:
    """A threaded HTTP server on 127.0.0.1 (a free port) collecting webhook alerts."""

    def __init__(self) -> None:
        self._alerts: queue.SimpleQueue[ReceivedAlert] = queue.SimpleQueue()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    def __enter__(self) -> WebhookReceiver:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def start(self) -> None:
        """Bind a free port on 127.0.0.1 and serve in a background thread."""
        alerts = self._alerts

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                if length > _MAX_BODY_BYTES:
                    self._answer(413, f"body: over {_MAX_BODY_BYTES} bytes")
                    return
                try:
                    parsed = parse_webhook(self.rfile.read(length))
                except ValueError as exc:
                    self._answer(400, str(exc))
                    return
                for alert in parsed:
                    alerts.put(alert)
                self._answer(200, "ok")

            def _answer(self, status: int, text: str) -> None:
                payload = text.encode("utf-8")
                self.send_response(status)
                self.send_header("Content-Type", "text/plain; charset=utf-8")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, format: str, *args: Any) -> None:
                """Stay quiet: the demo prints the alerts themselves."""

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="driftline-demo-webhook", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        """Stop serving, close the socket and join the thread; safe to call twice."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5.0)
            self._thread = None

    @property
    def url(self) -> str:
        """Where the sidecar should post, e.g. ``http://127.0.0.1:PORT/alerts``."""
        if self._server is None:
            raise RuntimeError("the webhook receiver is not started")
        return f"http://127.0.0.1:{self._server.server_address[1]}/alerts"

    def drain(self) -> list[ReceivedAlert]:
        """Return the alerts received since the last call, oldest first."""
        received: list[ReceivedAlert] = []
        while True:
            try:
                received.append(self._alerts.get_nowait())
            except queue.Empty:
                return received
