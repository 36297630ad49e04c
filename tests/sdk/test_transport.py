"""The shipper's HTTP transport keeps its connection open between close POSTs, and only then."""

from __future__ import annotations

import os
import threading
import warnings
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from driftline import _transport
from driftline._capture import CaptureQueue, CaptureSettings
from driftline._transport import Transport
from driftline._wire import Body
from prometheus_client import CollectorRegistry, Histogram

from tests.support.ports import LOOPBACK

BODY = Body(payload=b'{"v":1}', gzipped=False, records=1, encode_errors=0)


class ConnectionLog:
    """A real HTTP/1.1 server on 127.0.0.1 that answers 202 and logs each request's client port."""

    def __init__(self, *, close_each: bool = False) -> None:
        self.ports: list[int] = []
        self.closed: list[int] = []
        self.changed = threading.Condition()
        log = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                # Logged before answering: once the client has its answer, the port is listed.
                with log.changed:
                    log.ports.append(self.client_address[1])
                    log.changed.notify_all()
                answer = b'{"accepted":1,"rejected":0,"errors":[]}'
                self.send_response(202)
                self.send_header("Content-Length", str(len(answer)))
                if close_each:
                    self.send_header("Connection", "close")
                self.end_headers()
                self.wfile.write(answer)

            def finish(self) -> None:
                super().finish()
                with log.changed:
                    log.closed.append(self.client_address[1])
                    log.changed.notify_all()

            def log_message(self, format: str, *args: Any) -> None:
                """Stay quiet."""

        self.server = ThreadingHTTPServer((LOOPBACK, 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://{LOOPBACK}:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def wait_closed(self, port: int) -> bool:
        """Wait (up to 10 s) until the connection from ``port`` was closed; True if it was."""
        with self.changed:
            return self.changed.wait_for(lambda: port in self.closed, timeout=10.0)

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5.0)


@pytest.fixture
def server() -> Iterator[ConnectionLog]:
    """A connection-logging server, stopped after the test."""
    log = ConnectionLog()
    yield log
    log.stop()


@pytest.fixture
def transport(server: ConnectionLog) -> Iterator[Transport]:
    """A transport to ``server`` with its own histogram, closed after the test."""
    histogram = Histogram("send_seconds", "s", ["outcome"], registry=CollectorRegistry())
    sender = Transport(CaptureSettings(url=server.url, service_name="svc"), histogram)
    yield sender
    sender.close()


def test_bodies_in_quick_succession_share_one_connection(
    server: ConnectionLog, transport: Transport
) -> None:
    """Three POSTs one after the other all arrive over the same connection."""
    outcomes = [transport.post(BODY, "/v1/records")[0] for _ in range(3)]

    assert (outcomes, len(set(server.ports))) == (["success"] * 3, 1)


def test_a_connection_idle_longer_than_the_limit_is_not_reused(
    server: ConnectionLog, transport: Transport, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With KEEP_ALIVE_IDLE at 0 every POST opens a new connection and the old one is closed."""
    monkeypatch.setattr(_transport, "KEEP_ALIVE_IDLE", 0.0)

    transport.post(BODY, "/v1/records")
    transport.post(BODY, "/v1/records")

    assert len(set(server.ports)) == 2
    assert server.wait_closed(server.ports[0])


def test_an_answer_saying_connection_close_is_not_reused(transport: Transport) -> None:
    """After an answer with ``Connection: close`` the next POST comes over a new connection."""
    closing = ConnectionLog(close_each=True)
    try:
        histogram = Histogram("send_seconds", "s", ["outcome"], registry=CollectorRegistry())
        sender = Transport(CaptureSettings(url=closing.url, service_name="svc"), histogram)
        outcomes = [sender.post(BODY, "/v1/records")[0] for _ in range(2)]
        sender.close()
    finally:
        closing.stop()

    assert (outcomes, len(set(closing.ports))) == (["success"] * 2, 2)


def test_close_closes_the_kept_connection(server: ConnectionLog, transport: Transport) -> None:
    """``close()`` ends the connection the last POST left open."""
    transport.post(BODY, "/v1/records")

    transport.close()

    assert server.wait_closed(server.ports[0])


def test_a_forked_child_opens_its_own_connection(
    server: ConnectionLog, transport: Transport
) -> None:
    """A child forked with a connection open posts over a new one; the parent keeps its own."""
    transport.post(BODY, "/v1/records")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # multi-threaded fork, 3.12+
        pid = os.fork()
    if pid == 0:  # pragma: no cover - the child process
        code = 1
        try:
            code = 0 if transport.post(BODY, "/v1/records")[0] == "success" else 3
            transport.close()
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    transport.post(BODY, "/v1/records")

    parent, child, parent_again = server.ports
    assert (os.waitstatus_to_exitcode(status), parent == parent_again, child != parent) == (
        0,
        True,
        True,
    )


def test_a_closed_queue_closes_its_connection(server: ConnectionLog) -> None:
    """When the capture queue closes, its shipper closes the connection it kept open."""
    queue = CaptureQueue(CaptureSettings(url=server.url, service_name="svc", flush_interval=60))
    queue.start()
    queue.submit_row("churn", "1", "champion", "a", 1.0, None, {"x": 1}, {"value": 0.5})
    assert queue.flush(10.0)

    queue.close(10.0)

    assert server.wait_closed(server.ports[0])
