"""The shipper's HTTP transport: the request it writes, the answers it reads, its connection.

Every test runs twice where the C extension matters: with ``_exchange`` (the
send and the start of the answer in one call without the GIL) and without it
(the socket's own calls).
"""

from __future__ import annotations

import http.client
import io
import json
import os
import socket
import ssl
import subprocess
import threading
import time
import warnings
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, cast

import pytest
from driftline import _exchange, _native, _transport
from driftline._capture import CaptureQueue, CaptureSettings
from driftline._transport import Transport
from driftline._wake import Wake
from driftline._wire import ROW, Body, Entry, encode
from hypothesis import given
from hypothesis import strategies as st
from prometheus_client import CollectorRegistry, Histogram

from tests.support.ports import LOOPBACK

BODY = Body(payload=b'{"v":1}', gzipped=False, records=1, encode_errors=0)


ANSWER = b'{"accepted":1,"rejected":0,"errors":[]}'


class ConnectionLog:
    """A real HTTP/1.1 server on 127.0.0.1 that answers 202 and logs each request.

    ``answer`` is the body of every answer, sent in chunks of 7 bytes when
    ``chunked``; ``close_each`` adds ``Connection: close``; with ``tls`` it
    speaks HTTPS.
    """

    def __init__(
        self,
        *,
        close_each: bool = False,
        answer: bytes = ANSWER,
        chunked: bool = False,
        tls: ssl.SSLContext | None = None,
    ) -> None:
        self.ports: list[int] = []
        self.closed: list[int] = []
        self.requests: list[tuple[str, dict[str, str], bytes]] = []
        self.changed = threading.Condition()
        log = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                # Logged before answering: once the client has its answer, the port is listed.
                with log.changed:
                    log.ports.append(self.client_address[1])
                    log.requests.append((self.requestline, dict(self.headers.items()), body))
                    log.changed.notify_all()
                self.send_response(202)
                if chunked:
                    self.send_header("Transfer-Encoding", "chunked")
                else:
                    self.send_header("Content-Length", str(len(answer)))
                if close_each:
                    self.send_header("Connection", "close")
                self.end_headers()
                if not chunked:
                    self.wfile.write(answer)
                    return
                for i in range(0, len(answer), 7):
                    piece = answer[i : i + 7]
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
                self.wfile.write(b"0\r\n\r\n")

            def finish(self) -> None:
                super().finish()
                with log.changed:
                    log.closed.append(self.client_address[1])
                    log.changed.notify_all()

            def log_message(self, format: str, *args: Any) -> None:
                """Stay quiet."""

        self.server = ThreadingHTTPServer((LOOPBACK, 0), Handler)
        self.server.daemon_threads = True
        if tls is not None:
            self.server.socket = tls.wrap_socket(self.server.socket, server_side=True)
        scheme = "http" if tls is None else "https"
        self.url = f"{scheme}://{LOOPBACK}:{self.server.server_address[1]}"
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


@pytest.fixture(params=["c", "python"])
def path(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Transports built in the test use ``_exchange`` ("c") or the socket's own calls."""
    if request.param == "python":
        monkeypatch.setattr(_native, "exchange", None)
    else:
        monkeypatch.setattr(_native, "exchange", _exchange)
    return str(request.param)


def _transport_to(url: str, **settings: Any) -> Transport:
    histogram = Histogram("send_seconds", "s", ["outcome"], registry=CollectorRegistry())
    return Transport(CaptureSettings(url=url, service_name="svc", **settings), histogram)


@pytest.fixture
def transport(server: ConnectionLog, path: str) -> Iterator[Transport]:
    """A transport to ``server`` with its own histogram, closed after the test."""
    sender = _transport_to(server.url)
    yield sender
    sender.close()


def test_the_request_carries_the_body_and_its_headers(server: ConnectionLog, path: str) -> None:
    """A gzipped body with a token arrives whole, with its length, encoding, type and token."""
    sender = _transport_to(server.url, token="s3cret-token")
    payload = bytes(range(256)) * 300
    sender.post(Body(payload=payload, gzipped=True, records=1, encode_errors=0), "/base/v1/records")
    sender.close()

    line, headers, body = server.requests[0]
    port = server.url.rsplit(":", 1)[1]
    assert (line, body) == ("POST /base/v1/records HTTP/1.1", payload)
    assert headers == {
        "Host": f"{LOOPBACK}:{port}",
        "Accept-Encoding": "identity",
        "Content-Type": "application/json",
        "Authorization": "Bearer s3cret-token",
        "Content-Encoding": "gzip",
        "Content-Length": str(len(payload)),
    }


@pytest.mark.parametrize(
    ("prefetch", "chunked"),
    [(8, False), (_transport.ANSWER_PREFETCH, True)],
    ids=["longer-than-the-prefetch", "chunked"],
)
def test_an_answer_is_read_to_its_end_and_the_connection_kept(
    path: str, monkeypatch: pytest.MonkeyPatch, prefetch: int, chunked: bool
) -> None:
    """An answer longer than the prefetch, or chunked, is read whole, on one kept connection."""
    monkeypatch.setattr(_transport, "ANSWER_PREFETCH", prefetch)
    answer = b'{"accepted":0,"rejected":1,"errors":["' + b"x" * 5000 + b'"]}'
    answering = ConnectionLog(answer=answer, chunked=chunked)
    try:
        sender = _transport_to(answering.url)
        results = [sender.post(BODY, "/v1/records") for _ in range(2)]
        sender.close()
    finally:
        answering.stop()

    assert (results, len(set(answering.ports))) == ([("success", 1)] * 2, 1)


def test_a_sidecar_that_does_not_answer_is_a_connection_error(path: str) -> None:
    """A listener that accepts and never answers: the POST is a connection error at the timeout."""
    with socket.create_server((LOOPBACK, 0)) as silent:
        port = silent.getsockname()[1]
        sender = _transport_to(f"http://{LOOPBACK}:{port}", timeout=0.2)
        outcome = sender.post(BODY, "/v1/records")
        sender.close()

    assert outcome == ("connection_error", 0)


@pytest.fixture
def tls_server(tmp_path: Path) -> Iterator[tuple[ConnectionLog, Path]]:
    """An HTTPS ``ConnectionLog`` with a new self-signed certificate for 127.0.0.1, and its file."""
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    command = ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"]
    command += ["-nodes", "-days", "1", "-subj", f"/CN={LOOPBACK}"]
    command += ["-addext", f"subjectAltName=IP:{LOOPBACK}", "-keyout", str(key), "-out", str(cert)]
    subprocess.run(command, check=True, capture_output=True)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server = ConnectionLog(tls=context)
    yield server, cert
    server.stop()


def test_https_verifies_the_sidecar_and_keeps_the_connection(
    tls_server: tuple[ConnectionLog, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Over HTTPS with the certificate trusted (SSL_CERT_FILE), POSTs succeed on one connection."""
    server, cert = tls_server
    monkeypatch.setenv("SSL_CERT_FILE", str(cert))
    sender = _transport_to(server.url)
    outcomes = [sender.post(BODY, "/v1/records") for _ in range(2)]
    sender.close()

    assert (outcomes, len(set(server.ports))) == ([("success", 0)] * 2, 1)


def test_https_refuses_a_certificate_it_does_not_trust(
    tls_server: tuple[ConnectionLog, Path],
) -> None:
    """A self-signed certificate that is not trusted makes the POST a connection error."""
    server, _ = tls_server
    sender = _transport_to(server.url)
    outcome = sender.post(BODY, "/v1/records")
    sender.close()

    assert (outcome, server.ports) == (("connection_error", 0), [])


def _http_client_reads(answer: bytes) -> tuple[int, bytes, bool] | None:
    """What ``http.client.HTTPResponse`` makes of ``answer``: status, body, keep-alive."""

    class Answer:
        def makefile(self, mode: str) -> io.BufferedReader:
            return io.BufferedReader(io.BytesIO(answer))  # type: ignore[arg-type]

    try:
        response = http.client.HTTPResponse(cast(socket.socket, Answer()), method="POST")
        response.begin()
        return response.status, response.read(), not response.will_close
    except (http.client.HTTPException, ValueError):
        return None


header_lines = st.lists(
    st.one_of(
        st.tuples(
            st.sampled_from(["Content-Length", "content-length", "CONTENT-LENGTH"]),
            st.sampled_from(["{n}", " {n} ", "{n}x", "", "+{n}", "{m}"]),
        ),
        st.tuples(
            st.sampled_from(["Connection", "connection"]),
            st.sampled_from(["close", "Close", "keep-alive", "upgrade, close", ""]),
        ),
        st.tuples(st.sampled_from(["Transfer-Encoding"]), st.sampled_from(["chunked", "gzip"])),
        st.tuples(
            st.sampled_from(["Date", "server", "X-Odd ", " folded", "", "Content-Type"]),
            st.text(st.characters(codec="latin-1"), max_size=12),
        ),
    ),
    max_size=6,
)


@given(
    st.sampled_from(["HTTP/1.1", "HTTP/1.0", "HTTP/2", "http/1.1"]),
    st.sampled_from(["202", "200", "413", "503", "100", "99", "2x2", "600"]),
    st.sampled_from([" Accepted", "", " ", "  Two  Spaces"]),
    header_lines,
    st.binary(max_size=40),
)
def test_complete_answer_reads_what_http_client_reads(
    version: str, code: str, reason: str, headers: list[tuple[str, str]], body: bytes
) -> None:
    """Where complete_answer reads an answer at all, it reads what HTTPResponse reads."""
    lines = [f"{version} {code}{reason}"]
    for name, value in headers:
        value = value.replace("{n}", str(len(body))).replace("{m}", str(len(body) + 1))
        lines.append(f"{name}:{value}")
    answer = "\r\n".join(lines).encode("latin-1") + b"\r\n\r\n" + body

    quick = _transport.complete_answer(answer)

    assert quick is None or quick == _http_client_reads(answer)


@given(
    st.sampled_from(["200", "202", "400", "413", "422", "503"]),
    st.lists(
        st.tuples(
            st.text("abcxyzABC-_.", min_size=1, max_size=8),
            st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=12),
        ),
        max_size=5,
    ),
    st.sampled_from([None, "close", "keep-alive", "Upgrade, Close"]),
    st.binary(max_size=40),
    st.sampled_from(["Content-Length", "content-length"]),
)
def test_well_formed_answers_are_read_as_http_client_reads_them(
    code: str,
    headers: list[tuple[str, str]],
    connection: str | None,
    body: bytes,
    length_name: str,
) -> None:
    """A final answer with a Content-Length and plain headers is read, as HTTPResponse reads it."""
    lines = [f"HTTP/1.1 {code} Reason", f"{length_name}: {len(body)}"]
    lines += [f"X-{name}: {value}" for name, value in headers]
    if connection is not None:
        lines.append(f"Connection: {connection}")
    answer = "\r\n".join(lines).encode("ascii") + b"\r\n\r\n" + body

    quick = _transport.complete_answer(answer)

    assert quick is not None
    assert quick == _http_client_reads(answer)


@pytest.mark.parametrize(
    "answer",
    [
        b"HTTP/1.1 200 OK\nConnection: close\r\nContent-Length: 2\r\n\r\nok",
        b"HTTP/1.1 200 OK\n\r\nContent-Length: 2\r\n\r\nok",
        b"HTTP/1.1 200 OK\r\nX\xe9: 1\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok",
        b"HTTP/1.1 200 OK\r\nX\x01: 1\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok",
        b"HTTP/1.1 204 No Content\r\nContent-Length: 2\r\n\r\nok",
        b"HTTP/1.1 304 Not Modified\r\nContent-Length: 2\r\n\r\nok",
        b"HTTP/1.1 200 OK\r\n" + b"X-A: 1\r\n" * 99 + b"Content-Length: 2\r\n\r\nok",
    ],
    ids=["lf-in-status", "lf-blank", "latin-1-name", "control-name", "204", "304", "100-headers"],
)
def test_answers_http_client_reads_otherwise_are_left_to_it(answer: bytes) -> None:
    """A bare LF, an odd header name, a status without a body or too many headers: not read."""
    assert _transport.complete_answer(answer) is None


def test_complete_answer_reads_the_sidecars_answer() -> None:
    """The sidecar's usual 202 (uvicorn's headers) takes the quick path."""
    body = b'{"accepted":500,"rejected":0,"errors":[]}'
    answer = (
        b"HTTP/1.1 202 Accepted\r\ndate: Fri, 27 Nov 2026 21:00:00 GMT\r\nserver: uvicorn\r\n"
        b"content-length: %d\r\ncontent-type: application/json\r\n\r\n%s" % (len(body), body)
    )
    assert _transport.complete_answer(answer) == (202, body, True)


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
        sender = _transport_to(closing.url)
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


def _entries(n: int) -> list[Entry]:
    """``n`` row entries of one model, as the capture queue holds them."""
    return [
        (ROW, "churn", "1", "champion", f"id-{i}", 1795766400.0 + i, None, {"x": i / 3}, {})
        for i in range(n)
    ]


def test_entries_are_encoded_and_posted_in_one_call_on_a_kept_connection(
    server: ConnectionLog, transport: Transport, path: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """After a first POST, plain entries go out through the C path (``_exchange`` built) as
    the Python path's document on the same connection, and come back as the body sent."""
    monkeypatch.setattr(_transport, "KEEP_ALIVE_IDLE", 60.0)  # however slow the machine
    entries = _entries(20)
    transport.post(BODY, "/v1/records")

    done = transport.post_entries("svc", entries, "/base/v1/records")

    if path == "python":
        assert done is None
        return
    assert done is not None
    body, answer, waited = done
    line, headers, sent = server.requests[1]
    monkeypatch.setattr(_native, "body", None)  # the expected document from the Python path
    expected = json.loads(encode("svc", entries, 0.0, gzip=False).payload)
    assert (answer, line, sent, headers["Content-Length"]) == (
        ("success", 0),
        "POST /base/v1/records HTTP/1.1",
        body.payload,
        str(len(body.payload)),
    )
    assert {**json.loads(sent), "sent_at": 0.0} == expected
    assert (body.records, len(set(server.ports)), waited) == (20, 1, False)


@pytest.mark.parametrize("case", ["no connection yet", "gzip", "a columns entry", "no _body"])
def test_entries_the_combined_post_cannot_take_are_left_to_encode_and_post(
    server: ConnectionLog, case: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without a kept connection, with gzip on, for a body _body does not write, or without
    _body, post_entries sends nothing and returns None."""
    monkeypatch.setattr(_transport, "KEEP_ALIVE_IDLE", 60.0)  # the connection is kept
    sender = _transport_to(server.url, compression="gzip" if case == "gzip" else "auto")
    if case != "no connection yet":
        sender.post(BODY, "/v1/records")
    entries = _entries(3)
    if case == "a columns entry":
        entries.append((1, "churn", "1", "champion", ["c"], 1.0, None, {"x": [1.0]}, {}))
    if case == "no _body":
        monkeypatch.setattr(_native, "body", None)

    done = sender.post_entries("svc", entries, "/v1/records")
    sender.close()

    assert (done, len(server.requests)) == (None, 0 if case == "no connection yet" else 1)


def test_a_combined_post_without_an_answer_is_a_connection_error_with_its_body() -> None:
    """When the answer does not come within the timeout, post_entries gives a connection
    error and the body it sent, whole, for the retry."""
    with socket.create_server((LOOPBACK, 0)) as listener:
        port = listener.getsockname()[1]

        def answer_once() -> None:
            conn, _ = listener.accept()
            with conn:
                conn.recv(65_536)  # BODY's request, whole
                conn.sendall(b"HTTP/1.1 202 Accepted\r\nContent-Length: 2\r\n\r\n{}")
                while conn.recv(65_536):  # the next request, never answered
                    pass

        thread = threading.Thread(target=answer_once)
        thread.start()
        sender = _transport_to(f"http://{LOOPBACK}:{port}", timeout=0.3)
        first = sender.post(BODY, "/v1/records")
        done = sender.post_entries("svc", _entries(5), "/v1/records")
        sender.close()
        thread.join(timeout=10.0)

    assert done is not None
    body, answer, waited = done
    assert (first, answer, waited) == (("success", 0), ("connection_error", 0), False)
    assert json.loads(body.payload)["batches"][0]["ids"] == [f"id-{i}" for i in range(5)]


def _send_seconds() -> Histogram:
    return Histogram("send_seconds", "s", ["outcome"], registry=CollectorRegistry())


def test_after_a_whole_2xx_answer_the_combined_post_waits_for_the_wake_up(
    server: ConnectionLog, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With a wake-up given, post_entries returns only once it is set, and says it waited;
    the send duration and the connection's idle time leave the wait out."""
    monkeypatch.setattr(_transport, "KEEP_ALIVE_IDLE", 60.0)  # the connection is kept
    monkeypatch.setattr(_native, "exchange", _exchange)
    histogram = _send_seconds()
    sender = Transport(CaptureSettings(url=server.url, service_name="svc"), histogram)
    sender.post(BODY, "/v1/records")
    first = histogram.labels("success")._sum.get()
    wake = Wake()
    done: list[object] = []
    poster = threading.Thread(
        target=lambda: done.append(
            sender.post_entries("svc", _entries(4), "/v1/records", wake.fileno(), 60.0)
        )
    )
    poster.start()
    with server.changed:
        assert server.changed.wait_for(lambda: len(server.requests) == 2, timeout=10.0)
    posted_at = time.monotonic()  # the POST was sent before this
    poster.join(timeout=1.0)  # answered by now: a call that did not wait would be back
    waiting = poster.is_alive()
    woken_at = time.monotonic()
    wake.set()
    poster.join(timeout=10.0)
    sender.close()
    wake.close()

    (sent,) = done
    assert sent is not None
    _, answer, waited = cast(tuple[Body, tuple[str, int], bool], sent)
    seconds = histogram.labels("success")._sum.get() - first
    assert (waiting, answer, waited) == (True, ("success", 0), True)
    # Counting the wait, the POST would have taken longer than from posted_at to woken_at;
    # and the connection has been idle since the answer, not since the wake-up.
    assert (seconds < woken_at - posted_at, sender._idle_since < woken_at) == (True, True)


@pytest.mark.parametrize("status", [500, 404])
def test_the_combined_post_does_not_wait_after_an_answer_it_must_act_on(status: int) -> None:
    """After a 5xx (retried) or a 4xx (counted) answer, post_entries returns at once, not
    after the wait for the wake-up (a call that waited would say so)."""
    with socket.create_server((LOOPBACK, 0)) as listener:
        port = listener.getsockname()[1]
        reason = http.client.responses[status].encode("ascii")

        def answer_twice() -> None:
            conn, _ = listener.accept()
            with conn:
                conn.recv(65_536)  # BODY's request, whole
                conn.sendall(b"HTTP/1.1 202 Accepted\r\nContent-Length: 2\r\n\r\n{}")
                conn.recv(65_536)
                conn.sendall(b"HTTP/1.1 %d %s\r\nContent-Length: 2\r\n\r\n{}" % (status, reason))
                while conn.recv(65_536):
                    pass

        thread = threading.Thread(target=answer_twice)
        thread.start()
        wake = Wake()
        sender = _transport_to(f"http://{LOOPBACK}:{port}")
        first = sender.post(BODY, "/v1/records")
        done = sender.post_entries("svc", _entries(5), "/v1/records", wake.fileno(), 5.0)
        sender.close()
        wake.close()
        thread.join(timeout=10.0)

    assert done is not None
    _, answer, waited = done
    expected = "server_error" if status == 500 else "client_error"
    assert (first, answer, waited) == (("success", 0), (expected, 0), False)


def test_the_combined_post_does_not_wait_after_a_2xx_whose_end_its_head_does_not_give(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A chunked 2xx answer may go on past what was read: post_entries returns to read it
    rather than wait for the wake-up (a call that waited would say so)."""
    monkeypatch.setattr(_transport, "KEEP_ALIVE_IDLE", 60.0)  # the connection is kept
    monkeypatch.setattr(_native, "exchange", _exchange)
    chunked = ConnectionLog(chunked=True)
    wake = Wake()
    try:
        sender = _transport_to(chunked.url)
        sender.post(BODY, "/v1/records")
        done = sender.post_entries("svc", _entries(3), "/v1/records", wake.fileno(), 5.0)
        sender.close()
    finally:
        chunked.stop()
        wake.close()

    assert done is not None
    assert (done[1], done[2]) == (("success", 0), False)


def test_a_shipper_waiting_inside_the_combined_post_is_woken_by_submit_and_flush(
    server: ConnectionLog, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With a flush interval of an hour, the shipper that waits after a combined POST is
    woken by a full batch (of one) and by a flush; close then stops it; all is sent."""
    monkeypatch.setattr(_transport, "KEEP_ALIVE_IDLE", 60.0)  # the connection is kept
    monkeypatch.setattr(_native, "exchange", _exchange)
    waits = []
    post_entries = Transport.post_entries

    def noting(self: Transport, *args: Any) -> Any:
        done = post_entries(self, *args)
        waits.append(None if done is None else done[2])
        return done

    monkeypatch.setattr(Transport, "post_entries", noting)
    settings = CaptureSettings(
        url=server.url, service_name="svc", flush_interval=3600, batch_size=1
    )
    queue = CaptureQueue(settings)
    queue.start()
    flushed = []
    for i in range(3):
        queue.submit_row("churn", "1", "champion", f"id-{i}", 1.0, None, {"x": i}, {})
        with server.changed:  # POSTed: the shipper is reading the answer, or waiting
            server.changed.wait_for(lambda n=i + 1: len(server.requests) == n, timeout=10.0)
        if i == 0:
            flushed.append(queue.flush(10.0))  # the first body opens the connection
    flushed.append(queue.flush(10.0))
    thread = queue._thread
    queue.close(10.0)

    assert thread is not None
    assert (flushed, waits, thread.is_alive()) == ([True] * 2, [None, True, True], False)
    assert queue._counts()[1] == 3
