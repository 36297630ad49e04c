"""A real threaded HTTP server on 127.0.0.1 that stands in for the sidecar's ``POST /v1/records``.

It records every request (gunzipped and JSON-decoded) and answers the way the
test tells it to; it can also be stopped and started again on the same port.

Typical use::

    with HttpSink() as sink:                    # answers 202 to everything
        queue = CaptureQueue(CaptureSettings(url=sink.url, service_name="svc"))
        ...
        ids = sink.wait_for_ids(3)              # ids of records in 2xx-answered bodies

        sink.answer(500)                        # or 400, 413, ...: every later request
        sink.hang()                             # hold every later request until release()
        sink.wait_for_requests(1)               # ...e.g. until the shipper is stuck in one
        sink.release()                          # let held requests go (they then get 503)
        sink.slow(0.3)                          # answer 202 after 0.3 s
        sink.stop(); sink.start()               # down, then up again on the same port
        sink.answer(202)                        # back to normal
"""

from __future__ import annotations

import gzip
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from typing import Any

from tests.support._http import LoopbackHttpServer, wait_on

__all__ = ["HttpSink", "SinkRequest"]


@dataclass(frozen=True)
class SinkRequest:
    """One request the sink received and the status it answered (0: held, then dropped)."""

    method: str
    path: str
    headers: dict[str, str]
    raw: bytes
    """The body as sent on the wire (still gzip-compressed when ``gzipped``)."""
    gzipped: bool
    body: Any
    """The decoded JSON document, or None when the body was not JSON."""
    status: int

    @property
    def ids(self) -> list[str]:
        """The prediction ids of every batch in the body, in order."""
        return _body_ids(self.body)


def _body_ids(body: Any) -> list[str]:
    if not isinstance(body, dict):
        return []
    return [i for batch in body.get("batches", []) for i in batch.get("ids", [])]


class HttpSink(LoopbackHttpServer):
    """A threaded HTTP server on 127.0.0.1 that records request bodies and answers as told.

    Modes (each applies to requests that arrive after the call): ``answer(status)``
    (default 202 with a protocol-v1 style body), ``hang()`` (hold the request until
    ``release()`` or ``stop()``), ``slow(delay)`` (answer 202 after ``delay`` s);
    ``limit(max_bytes)`` answers 413, as the sidecar does, to bodies longer than that.
    ``stop()`` closes the port (clients get connection refused); ``start()`` opens
    the same port again.
    """

    thread_name = "http-sink"

    def __init__(self) -> None:
        super().__init__()
        self._status = 202
        self._delay = 0.0
        self._hang = False
        self._max_bytes: int | None = None
        self._released = threading.Event()
        self._requests: list[SinkRequest] = []
        self._changed = threading.Condition()

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> None:
        """Listen on 127.0.0.1: a free port the first time, the same port after ``stop()``."""
        if self._server is None:
            self._released.clear()
        super().start()

    def stop(self) -> None:
        """Release held requests, stop serving and close the port; safe to call twice."""
        self._released.set()
        super().stop()

    # -- behaviour ---------------------------------------------------------------------------

    def answer(self, status: int) -> None:
        """Answer every later request at once with ``status`` (and stop hanging or sleeping)."""
        self._status, self._delay, self._hang = status, 0.0, False

    def hang(self) -> None:
        """Hold every later request without answering until ``release()`` or ``stop()``."""
        self._released.clear()
        self._hang = True

    @property
    def hanging(self) -> bool:
        """True while requests are being held (between ``hang()`` and ``release()``)."""
        return self._hang

    def release(self) -> None:
        """Let held requests go (they are answered 503, the client has usually given up) and
        stop holding new ones."""
        self._hang = False
        self._released.set()

    def limit(self, max_bytes: int | None) -> None:
        """Answer 413 to every later body longer than ``max_bytes`` (None: no limit)."""
        self._max_bytes = max_bytes

    def slow(self, delay: float) -> None:
        """Answer every later request with 202 after ``delay`` seconds."""
        self._status, self._delay, self._hang = 202, delay, False

    # -- what arrived ------------------------------------------------------------------------

    @property
    def requests(self) -> list[SinkRequest]:
        """Every request so far, in the order their answers were decided (a copy)."""
        with self._changed:
            return list(self._requests)

    def accepted(self) -> list[SinkRequest]:
        """The requests answered with a 2xx status."""
        return [r for r in self.requests if 200 <= r.status < 300]

    def accepted_ids(self) -> list[str]:
        """The prediction ids of every record in a 2xx-answered body, in arrival order."""
        return [i for r in self.accepted() for i in r.ids]

    def wait_for(
        self, predicate: Callable[[list[SinkRequest]], bool], timeout: float = 10.0
    ) -> list[SinkRequest]:
        """Block until ``predicate(requests)`` holds and return the requests, or TimeoutError."""
        return wait_on(
            self._changed,
            lambda: list(self._requests),
            predicate,
            timeout,
            lambda requests: f"HttpSink: condition not met; got {requests!r}",
        )

    def wait_for_requests(self, n: int, timeout: float = 10.0) -> list[SinkRequest]:
        """Block until ``n`` requests arrived (held ones count when they arrive)."""
        return self.wait_for(lambda rs: len(rs) >= n, timeout)

    def wait_for_ids(self, n: int, timeout: float = 10.0) -> list[str]:
        """Block until 2xx-answered bodies hold ``n`` record ids and return them."""
        self.wait_for(lambda rs: sum(len(r.ids) for r in rs if 200 <= r.status < 300) >= n, timeout)
        return self.accepted_ids()

    def clear(self) -> None:
        """Forget the recorded requests."""
        with self._changed:
            self._requests.clear()

    # -- internals ---------------------------------------------------------------------------

    def _record(self, request: SinkRequest) -> None:
        with self._changed:
            self._requests.append(request)
            self._changed.notify_all()

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        sink = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                gzipped = self.headers.get("Content-Encoding") == "gzip"
                try:
                    body = json.loads(gzip.decompress(raw) if gzipped else raw)
                except (ValueError, OSError):
                    body = None
                headers = dict(self.headers.items())
                if sink._hang:
                    # Recorded as it arrives, so a test can tell the client is stuck in it.
                    sink._record(SinkRequest("POST", self.path, headers, raw, gzipped, body, 0))
                    sink._released.wait()
                    self._send(503, b"")
                    return
                if sink._delay:
                    time.sleep(sink._delay)
                status = sink._status
                if sink._max_bytes is not None and len(raw) > sink._max_bytes:
                    status = 413
                answer = b""
                if 200 <= status < 300:
                    n = len(_body_ids(body))
                    answer = json.dumps({"accepted": n, "rejected": 0, "errors": []}).encode()
                elif status >= 400:
                    error = {"field": "body", "reason": f"HttpSink answers {status}"}
                    answer = json.dumps({"error": error}).encode()
                sink._record(SinkRequest("POST", self.path, headers, raw, gzipped, body, status))
                self._send(status, answer)

            def _send(self, status: int, answer: bytes) -> None:
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(answer)))
                    self.end_headers()
                    self.wfile.write(answer)
                except OSError:
                    pass  # the client gave up (timeout) before the answer

            def log_message(self, format: str, *args: Any) -> None:
                """Stay quiet: tests assert on ``requests`` instead."""

        return Handler
