"""``Transport``: one POST of an encoded body to the sidecar, with retries, backoff and timing.

The connection is kept open between POSTs that follow each other closely
(``KEEP_ALIVE_IDLE``): every socket call releases the GIL, and each release lets
a busy caller's thread lose it again when the shipper takes it back, so a new
connection per body (name lookup, connect, close) cost the caller's thread
about twice as many GIL hand-overs as a reused one (benchmarks/fault_path.py,
docs/reliability.md).
"""

from __future__ import annotations

import http.client
import json
import os
import random
import threading
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

from prometheus_client import Histogram

from ._capture_settings import CaptureSettings
from ._wire import Body

__all__ = ["KEEP_ALIVE_IDLE", "Outcome", "Transport"]

KEEP_ALIVE_IDLE = 1.0
"""A connection idle for longer than this many seconds is closed rather than reused.

Well below the keep-alive timeout of the sidecar's server (uvicorn: 5 s), so a
reused connection has not been closed by the other end; at one body a second or
less, every body opens a new connection, as it would without keep-alive.
"""


@dataclass(frozen=True)
class Outcome:
    """What became of one drained batch, applied to the counters in one step."""

    sent: int = 0
    rejected: int = 0
    retries_exhausted: int = 0
    shutdown: int = 0
    encode_error: int = 0
    too_large: bool = False
    """The sidecar answered 413, the body being over its ``max_body_bytes``: all ``rejected``."""

    def __add__(self, other: Outcome) -> Outcome:
        return Outcome(
            self.sent + other.sent,
            self.rejected + other.rejected,
            self.retries_exhausted + other.retries_exhausted,
            self.shutdown + other.shutdown,
            self.encode_error + other.encode_error,
            self.too_large or other.too_large,
        )


class Transport:
    """Sends bodies to one sidecar over HTTP(S), from one thread; see ``CaptureSettings``.

    A connection is reused for the next body when that comes within
    ``KEEP_ALIVE_IDLE`` seconds; any error, a ``Connection: close`` answer or a
    fork closes it. ``close()`` closes it at the end.
    """

    def __init__(self, settings: CaptureSettings, send_duration: Histogram) -> None:
        self._settings = settings
        self._send_duration = send_duration
        parts = urlsplit(settings.url)
        self._https = parts.scheme == "https"
        self._host = parts.hostname or ""
        self._port = parts.port
        self._conn: http.client.HTTPConnection | None = None
        self._idle_since = 0.0  # monotonic time the open connection's last answer ended
        self._pid = os.getpid()

    def send(self, body: Body, path: str, stop: threading.Event) -> Outcome:
        """POST ``body``, retrying 5xx and connection errors; ``stop`` cuts the waits short."""
        errors = body.encode_errors
        retries = 0
        while True:
            outcome, rejected = self.post(body, path)
            if outcome == "success":
                return Outcome(sent=body.records - rejected, rejected=rejected, encode_error=errors)
            if outcome in ("client_error", "too_large"):
                too_large = outcome == "too_large"
                return Outcome(rejected=body.records, encode_error=errors, too_large=too_large)
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
        started = time.perf_counter()
        conn = self._connection()
        keep = False
        try:
            conn.request("POST", path, body=body.payload, headers=headers)
            response = conn.getresponse()
            answer = response.read()
            status = response.status
            keep = not response.will_close
        except (OSError, http.client.HTTPException):
            status, answer = 0, b""
        finally:
            if keep:
                self._idle_since = time.monotonic()
            else:
                self.close()
        if status == 0:
            outcome = "connection_error"
        elif 200 <= status < 300:
            outcome = "success"
        elif 400 <= status < 500:
            outcome = "client_error"
        else:  # 5xx, and 1xx/3xx that a POST to the sidecar never expects: worth a retry
            outcome = "server_error"
        self._send_duration.labels(outcome).observe(time.perf_counter() - started)
        if status == 413:
            return "too_large", 0
        rejected = _rejected_count(answer, body.records) if outcome == "success" else 0
        return outcome, rejected

    def close(self) -> None:
        """Close the open connection, if any; the next POST opens a new one."""
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()  # in a forked child this closes only the child's copy of the socket

    def close_if_idle(self) -> None:
        """Close the open connection once it has been idle longer than ``KEEP_ALIVE_IDLE``."""
        if self._conn is not None and time.monotonic() - self._idle_since > KEEP_ALIVE_IDLE:
            self.close()

    def _connection(self) -> http.client.HTTPConnection:
        """The open connection if fresh and this process's own, else a new (unconnected) one."""
        if self._pid != os.getpid():  # a forked child must not write to its parent's connection
            self._pid = os.getpid()
            self.close()
        self.close_if_idle()
        if self._conn is None:
            conn_type = http.client.HTTPSConnection if self._https else http.client.HTTPConnection
            self._conn = conn_type(self._host, self._port, timeout=self._settings.timeout)
        return self._conn


def _rejected_count(answer: bytes, records: int) -> int:
    """Read ``rejected`` from a 202 answer (docs/protocol.md); 0 when absent or implausible."""
    try:
        value = json.loads(answer).get("rejected", 0)
    except (ValueError, AttributeError):
        return 0
    return value if type(value) is int and 0 <= value <= records else 0
