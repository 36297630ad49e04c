"""``Transport``: one POST of an encoded body to the sidecar, with retries, backoff and timing."""

from __future__ import annotations

import http.client
import json
import random
import threading
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

from prometheus_client import Histogram

from ._capture_settings import CaptureSettings
from ._wire import Body

__all__ = ["Outcome", "Transport"]


@dataclass(frozen=True)
class Outcome:
    """What became of one drained batch, applied to the counters in one step."""

    sent: int = 0
    rejected: int = 0
    retries_exhausted: int = 0
    shutdown: int = 0
    encode_error: int = 0


class Transport:
    """Sends bodies to one sidecar over a new HTTP(S) connection each; see ``CaptureSettings``."""

    def __init__(self, settings: CaptureSettings, send_duration: Histogram) -> None:
        self._settings = settings
        self._send_duration = send_duration
        parts = urlsplit(settings.url)
        self._https = parts.scheme == "https"
        self._host = parts.hostname or ""
        self._port = parts.port

    def send(self, body: Body, path: str, stop: threading.Event) -> Outcome:
        """POST ``body``, retrying 5xx and connection errors; ``stop`` cuts the waits short."""
        errors = body.encode_errors
        retries = 0
        while True:
            outcome, rejected = self.post(body, path)
            if outcome == "success":
                return Outcome(sent=body.records - rejected, rejected=rejected, encode_error=errors)
            if outcome == "client_error":
                return Outcome(rejected=body.records, encode_error=errors)
            if retries >= self._settings.max_retries:
                return Outcome(retries_exhausted=body.records, encode_error=errors)
            retries += 1
            if stop.wait(self.backoff(retries)):
                return Outcome(shutdown=body.records, encode_error=errors)

    def backoff(self, retry: int) -> float:
        """Exponential delay before retry number ``retry`` (1-based), with "equal jitter"."""
        s = self._settings
        delay = min(s.retry_backoff_max, s.retry_backoff * 2.0 ** (retry - 1))
        jitter: float = random.uniform(0, delay / 2)
        return delay / 2 + jitter

    def post(self, body: Body, path: str) -> tuple[str, int]:
        """POST one body; return its outcome and how many records a 2xx answer says it rejected."""
        s = self._settings
        headers = {"Content-Type": "application/json"}
        if body.gzipped:
            headers["Content-Encoding"] = "gzip"
        if s.token is not None:
            headers["Authorization"] = f"Bearer {s.token}"
        conn_type = http.client.HTTPSConnection if self._https else http.client.HTTPConnection
        conn = conn_type(self._host, self._port, timeout=s.timeout)
        started = time.perf_counter()
        try:
            conn.request("POST", path, body=body.payload, headers=headers)
            response = conn.getresponse()
            answer = response.read()
            status = response.status
        except (OSError, http.client.HTTPException):
            status, answer = 0, b""
        finally:
            conn.close()
        if status == 0:
            outcome = "connection_error"
        elif 200 <= status < 300:
            outcome = "success"
        elif 400 <= status < 500:
            outcome = "client_error"
        else:  # 5xx, and 1xx/3xx that a POST to the sidecar never expects: worth a retry
            outcome = "server_error"
        self._send_duration.labels(outcome).observe(time.perf_counter() - started)
        rejected = _rejected_count(answer, body.records) if outcome == "success" else 0
        return outcome, rejected


def _rejected_count(answer: bytes, records: int) -> int:
    """Read ``rejected`` from a 202 answer (docs/protocol.md); 0 when absent or implausible."""
    try:
        value = json.loads(answer).get("rejected", 0)
    except (ValueError, AttributeError):
        return 0
    return value if type(value) is int and 0 <= value <= records else 0
