"""The threaded HTTP server behind the test doubles, and waiting on what its handlers record.

``HttpSink``, ``WebhookRecorder`` and ``OtlpReceiver`` subclass ``LoopbackHttpServer``
and build the request handler; their handlers record under a ``threading.Condition``
that ``wait_on()`` waits on.
"""

from __future__ import annotations

import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar, Self, TypeVar

from tests.support.ports import LOOPBACK

__all__ = ["LoopbackHttpServer", "wait_on"]

T = TypeVar("T")


class LoopbackHttpServer(ABC):
    """A ``ThreadingHTTPServer`` on 127.0.0.1 served in a daemon thread named ``thread_name``.

    The first ``start()`` binds a free port; after ``stop()`` a new ``start()``
    binds the same port again. Both are safe to call twice.
    """

    thread_name: ClassVar[str]

    def __init__(self) -> None:
        self._port = 0
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @abstractmethod
    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        """The handler serving every request (it reaches this object through a closure)."""

    def start(self) -> None:
        """Listen on 127.0.0.1 (a free port the first time) and serve in a daemon thread."""
        if self._server is not None:
            return
        self._server = ThreadingHTTPServer((LOOPBACK, self._port), self._handler_class())
        self._server.daemon_threads = True
        self._port = int(self._server.server_address[1])
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=self.thread_name,
            daemon=True,
        )
        self._thread.start()

    def stop(self) -> None:
        """Stop serving and close the port."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5.0)
            self._thread = None

    @property
    def port(self) -> int:
        """The port, kept across ``stop()``/``start()``."""
        if not self._port:
            raise RuntimeError(f"{type(self).__name__} was never started")
        return self._port

    @property
    def url(self) -> str:
        """Base URL, ``http://127.0.0.1:PORT`` (no trailing slash)."""
        return f"http://{LOOPBACK}:{self.port}"


def wait_on(
    changed: threading.Condition,
    snapshot: Callable[[], T],
    ready: Callable[[T], bool],
    timeout: float,
    failure: Callable[[T], str],
) -> T:
    """The first ``snapshot()`` for which ``ready`` holds, taken while holding ``changed``.

    Waits on ``changed`` (notified by whoever records) up to ``timeout`` seconds,
    then raises TimeoutError with ``failure(last snapshot)``.
    """
    deadline = time.monotonic() + timeout
    with changed:
        while True:
            value = snapshot()
            if ready(value):
                return value
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(failure(value))
            changed.wait(remaining)
