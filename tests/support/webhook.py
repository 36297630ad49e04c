"""A real HTTP server on 127.0.0.1 that records JSON POSTs, such as Alertmanager's webhooks.

Typical use::

    with WebhookRecorder() as hook:
        ...  # point Alertmanager at hook.url
        payloads = hook.wait_for(lambda ps: any(p["status"] == "firing" for p in ps))
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any

from tests.support.ports import LOOPBACK

__all__ = ["RecordedPost", "WebhookRecorder"]


@dataclass(frozen=True)
class RecordedPost:
    """One POST the recorder received: its path, headers and decoded JSON body."""

    path: str
    headers: dict[str, str]
    body: Any


class WebhookRecorder:
    """Threaded HTTP server recording every JSON POST; answers 200 (400 for invalid JSON)."""

    def __init__(self, status: int = 200) -> None:
        self._status = status
        self._posts: list[RecordedPost] = []
        self._changed = threading.Condition()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    def __enter__(self) -> WebhookRecorder:
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
        """Bind a free port on 127.0.0.1 and serve in a daemon thread."""
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                try:
                    body = json.loads(raw) if raw else None
                except ValueError:
                    self.send_response(400)
                    self.end_headers()
                    return
                recorder._record(RecordedPost(self.path, dict(self.headers.items()), body))
                self.send_response(recorder._status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                """Stay quiet: pytest reports failures with the recorded payloads instead."""

        self._server = ThreadingHTTPServer((LOOPBACK, 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="webhook-recorder",
            daemon=True,
        )
        self._thread.start()

    def stop(self) -> None:
        """Stop serving and close the socket; safe to call twice."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5.0)
            self._thread = None

    @property
    def port(self) -> int:
        """The port the server listens on."""
        if self._server is None:
            raise RuntimeError("WebhookRecorder is not started")
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        """Base URL, e.g. ``http://127.0.0.1:PORT/``; any path is accepted and recorded."""
        return f"http://{LOOPBACK}:{self.port}/"

    @property
    def posts(self) -> list[RecordedPost]:
        """Every POST so far, oldest first (a copy)."""
        with self._changed:
            return list(self._posts)

    @property
    def payloads(self) -> list[Any]:
        """The decoded JSON bodies so far, oldest first."""
        return [post.body for post in self.posts]

    def alerts(self) -> list[dict[str, Any]]:
        """Every alert from every Alertmanager webhook payload so far, in arrival order."""
        return [
            alert
            for body in self.payloads
            if isinstance(body, dict)
            for alert in body.get("alerts", [])
        ]

    def clear(self) -> None:
        """Forget the recorded POSTs."""
        with self._changed:
            self._posts.clear()

    def wait_for(self, predicate: Callable[[list[Any]], bool], timeout: float = 10.0) -> list[Any]:
        """Block until ``predicate(payloads)`` is true and return the payloads, or TimeoutError."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                payloads = [post.body for post in self._posts]
                if predicate(payloads):
                    return payloads
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(
                        f"webhook condition not met within {timeout:g}s; payloads: {payloads!r}"
                    )
                self._changed.wait(remaining)

    def _record(self, post: RecordedPost) -> None:
        with self._changed:
            self._posts.append(post)
            self._changed.notify_all()
