"""A real HTTP server on 127.0.0.1 that records JSON POSTs, such as Alertmanager's webhooks.

Typical use::

    with WebhookRecorder() as hook:
        ...  # point Alertmanager at hook.url
        payloads = hook.wait_for(lambda ps: any(p["status"] == "firing" for p in ps))
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from typing import Any

from tests.support._http import LoopbackHttpServer, wait_on

__all__ = ["RecordedPost", "WebhookRecorder"]


@dataclass(frozen=True)
class RecordedPost:
    """One POST the recorder received: its path, headers and decoded JSON body."""

    path: str
    headers: dict[str, str]
    body: Any


class WebhookRecorder(LoopbackHttpServer):
    """Threaded HTTP server recording every JSON POST; answers 200 (400 for invalid JSON)."""

    thread_name = "webhook-recorder"

    def __init__(self, status: int = 200) -> None:
        super().__init__()
        self._status = status
        self._posts: list[RecordedPost] = []
        self._changed = threading.Condition()

    @property
    def url(self) -> str:
        """Base URL, e.g. ``http://127.0.0.1:PORT/``; any path is accepted and recorded."""
        return f"{super().url}/"

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
        return wait_on(
            self._changed,
            lambda: [post.body for post in self._posts],
            predicate,
            timeout,
            lambda payloads: (
                f"webhook condition not met within {timeout:g}s; payloads: {payloads!r}"
            ),
        )

    def _record(self, post: RecordedPost) -> None:
        with self._changed:
            self._posts.append(post)
            self._changed.notify_all()

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
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

        return Handler
