"""``Transport``: one POST of an encoded body to the sidecar, with retries, backoff and timing.

Every socket call releases the GIL, and each release lets a busy caller's
thread take it, after which the shipper waits up to the switch interval (5 ms)
to force it back and holds up that thread meanwhile (docs/reliability.md). So
a POST makes as few socket calls as it can:

- the connection is kept open between POSTs that follow each other closely
  (``KEEP_ALIVE_IDLE``): a new one per body (name lookup, connect, close) cost
  about twice as many hand-overs;
- the head and the body go out in one write, and with the optional C extension
  ``_exchange`` the write, the wait for the answer and the reading of it are
  one call without the GIL; with ``_body`` too, a plain body's first POST on a
  kept-open connection is written in that same call (``post_entries``);
- the sidecar's plain answers are read by ``complete_answer`` in a few µs,
  on both paths; ``http.client.HTTPResponse``, whose header parser holds the
  GIL for about 100 µs, reads any other.
"""

from __future__ import annotations

import http.client
import io
import json
import os
import random
import re
import socket
import ssl
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, cast
from urllib.parse import urlsplit

from prometheus_client import Histogram

from . import _native
from ._capture_settings import CaptureSettings
from ._ids import format_id
from ._wire import Body, Entry

if TYPE_CHECKING:
    from _typeshed import WriteableBuffer

__all__ = ["ANSWER_PREFETCH", "KEEP_ALIVE_IDLE", "Outcome", "Transport", "complete_answer"]

ANSWER_PREFETCH = 65_536
"""Bytes of an answer ``_exchange`` reads at most; a longer one is read on from the socket."""

KEEP_ALIVE_IDLE = 2.0
"""A connection idle for longer than this many seconds is closed rather than reused.

Well below the keep-alive timeout of the sidecar's server (uvicorn: 5 s), so a
reused connection has not been closed by the other end; at one body every 2 s
or less, every body opens a new connection, as it would without keep-alive.
Above the default ``capture_flush_interval`` (1 s), so that a body sent at
each interval is still POSTed on the kept-open connection, in the same call as
its encoding and the wait for the next wake-up (``post_entries``).
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
        self._address = (self._host, parts.port or (443 if self._https else 80))
        host = _host_header(self._host, parts.port)
        token = "" if settings.token is None else f"Authorization: Bearer {settings.token}\r\n"
        # The head's lines that do not change; ascii, so a bad setting fails here, not per POST.
        self._head = (
            f"HTTP/1.1\r\nHost: {host}\r\nAccept-Encoding: identity\r\n"
            f"Content-Type: application/json\r\n{token}"
        ).encode("ascii")
        self._exchange = None if self._https else _native.exchange
        self._tls: ssl.SSLContext | None = None
        self._sock: socket.socket | None = None
        self._idle_since = 0.0  # monotonic time the open connection's last answer ended
        self._pid = os.getpid()

    def send(
        self,
        body: Body,
        path: str,
        stop: threading.Event,
        first: tuple[str, int] | None = None,
    ) -> Outcome:
        """POST ``body``, retrying 5xx and connection errors; ``stop`` cuts the waits short.

        ``first`` is the answer to a first POST of it made already (``post_entries``).
        """
        errors = body.encode_errors
        retries = 0
        while True:
            outcome, rejected = self.post(body, path) if first is None else first
            first = None
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
        request = self.request(body, path)
        started = time.perf_counter()
        return self._outcome(body, started, lambda: self._exchanged(self._connection(), request))

    def post_entries(
        self,
        service: str,
        entries: Sequence[Entry],
        path: str,
        wake: int = -1,
        linger: float = 0.0,
    ) -> tuple[Body, tuple[str, int], bool] | None:
        """Encode ``entries`` and POST them in one release of the GIL; the body, ``post``'s
        answer for it and whether the call waited on ``wake``, or None when they must be
        encoded and POSTed as usual.

        For a plain body (``_body`` takes it) in plain JSON to an ``http://``
        sidecar, on the connection kept open from the last POST: the shipper
        then takes the GIL back once per body fewer than with ``encode`` and
        ``post``. After a whole 2xx answer, with ``wake`` a file descriptor
        (``_wake.Wake``), the call waits until it is readable or ``linger``
        seconds pass before it takes the GIL back: once fewer again. The body
        comes back for the retries. Without an open connection (the first
        body, or after an error) ``post`` connects.
        """
        body_c = _native.body
        if body_c is None or self._exchange is None or self._settings.gzip:
            return None
        sock = self._kept_open()
        if sock is None:
            return None
        head = self._head_of(path, gzipped=False)
        wall, perf = time.time(), time.perf_counter()
        try:
            done = body_c.encode_exchange(
                service,
                wall,
                entries,
                wall,
                perf,
                format_id,
                sock.fileno(),
                head,
                self._settings.timeout,
                ANSWER_PREFETCH,
                wake,
                linger,
            )
        except BaseException:  # out of memory, maybe after sending: the connection is unknown
            self.close()
            raise
        if done is None:
            return None
        payload, start, error, ready, lingered = done
        body = Body(payload, False, len(entries), 0)
        waited = lingered >= 0
        # The send duration counts from the sending, after the encoding, as for post(), to
        # the answer, before the wait for the wake-up.
        exchange = partial(self._answered, sock, start, error)
        return body, self._outcome(body, perf + ready, exchange, max(lingered, 0.0)), waited

    def _outcome(
        self,
        body: Body,
        started: float,
        exchange: Callable[[], tuple[int, bytes, bool]],
        lingered: float = 0.0,
    ) -> tuple[str, int]:
        """Run ``exchange``, keep or close the connection, time it; the outcome and rejected.

        ``lingered``: seconds the exchange waited after the answer, not counted.
        """
        keep = False
        try:
            status, answer, keep = exchange()
            keep = keep and status >= 200  # after an interim 1xx the final answer is unread
        except (OSError, http.client.HTTPException):
            status, answer = 0, b""
        finally:
            if keep:
                self._idle_since = time.monotonic() - lingered
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
        self._send_duration.labels(outcome).observe(time.perf_counter() - started - lingered)
        if status == 413:
            return "too_large", 0
        rejected = _rejected_count(answer, body.records) if outcome == "success" else 0
        return outcome, rejected

    def request(self, body: Body, path: str) -> bytes:
        """The whole HTTP/1.1 request that POSTs ``body`` to ``path``, head and body."""
        return b"".join(
            (
                self._head_of(path, gzipped=body.gzipped),
                f"Content-Length: {len(body.payload)}\r\n\r\n".encode("ascii"),
                body.payload,
            )
        )

    def _head_of(self, path: str, *, gzipped: bool) -> bytes:
        """The request's head up to its Content-Length line."""
        encoding = b"Content-Encoding: gzip\r\n" if gzipped else b""
        return b"".join((f"POST {path} ".encode("ascii"), self._head, encoding))

    def close(self) -> None:
        """Close the open connection, if any; the next POST opens a new one."""
        sock, self._sock = self._sock, None
        if sock is not None:
            sock.close()  # in a forked child this closes only the child's copy of the socket

    def close_if_idle(self) -> None:
        """Close the open connection once it has been idle longer than ``KEEP_ALIVE_IDLE``."""
        if self._sock is not None and time.monotonic() - self._idle_since > KEEP_ALIVE_IDLE:
            self.close()

    def _kept_open(self) -> socket.socket | None:
        """The open connection if fresh and this process's own, else None (closing it)."""
        if self._pid != os.getpid():  # a forked child must not write to its parent's connection
            self._pid = os.getpid()
            self.close()
        self.close_if_idle()
        return self._sock

    def _connection(self) -> socket.socket:
        """The open connection if fresh and this process's own, else a new one."""
        kept = self._kept_open()
        if kept is not None:
            return kept
        sock = socket.create_connection(self._address, timeout=self._settings.timeout)
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # as http.client
            if self._https:
                if self._tls is None:
                    self._tls = ssl.create_default_context()
                sock = self._tls.wrap_socket(sock, server_hostname=self._host)
        except BaseException:
            sock.close()
            raise
        self._sock = sock
        return self._sock

    def _exchanged(self, sock: socket.socket, request: bytes) -> tuple[int, bytes, bool]:
        """Send ``request`` on ``sock``; return the answer's status, body and keep-alive.

        The answer's first bytes are read in one go (by ``_exchange`` with the
        send, or by one ``recv``); ``complete_answer`` reads them when they are
        the whole of a plain answer, ``HTTPResponse`` reads on from them if not.
        """
        if self._exchange is not None:
            start = self._exchange.exchange(
                sock.fileno(), request, self._settings.timeout, ANSWER_PREFETCH
            )
        else:
            sock.sendall(request)
            start = sock.recv(ANSWER_PREFETCH)
        return self._answered(sock, start, 0)

    def _answered(self, sock: socket.socket, start: bytes, error: int) -> tuple[int, bytes, bool]:
        """``_exchanged``'s answer from its first bytes, ``start``; OSError for errno ``error``."""
        if error:
            raise OSError(error, os.strerror(error))  # ETIMEDOUT makes a TimeoutError
        complete = complete_answer(start)
        if complete is not None:
            return complete
        # HTTPResponse only calls makefile("rb") on what it is given.
        response = http.client.HTTPResponse(
            cast(socket.socket, _Prefetched(start, sock)), method="POST"
        )
        response.begin()
        answer = response.read()
        return response.status, answer, not response.will_close


_TOKEN = re.compile(rb"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
"""A header name (RFC 9110 5.1)."""


def complete_answer(start: bytes) -> tuple[int, bytes, bool] | None:
    """Status, body and keep-alive of the plainest HTTP/1.1 answer, read whole; else None.

    The sidecar's answers are all of this form: a final status, a
    ``Content-Length`` and that many bytes, no folded or odd header lines. Read
    here in about a tenth of the time ``http.client.HTTPResponse`` takes (whose
    header parser costs ~100 µs holding the GIL), with the same result
    (``tests/sdk/test_transport.py`` checks them against each other); anything
    else, None, is left to it.
    """
    head, end, body = start.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    status_line = lines[0].split(b" ", 2)
    if not end or len(status_line) < 2 or status_line[0] != b"HTTP/1.1" or b"\n" in lines[0]:
        return None
    code = status_line[1]
    if len(code) != 3 or not code.isdigit() or not b"200" <= code <= b"599":
        return None
    if code in (b"204", b"304") or len(lines) > 100:  # no body; http.client's header limit
        return None
    length = -1
    keep: bool | None = None
    for line in lines[1:]:
        name, colon, value = line.partition(b":")
        if not colon or not _TOKEN.fullmatch(name) or b"\n" in value or b"\r" in value:
            return None  # folded, malformed or bare lines: http.client's to judge
        name = name.lower()
        if name == b"content-length":
            value = value.strip()
            if length >= 0 or not value.isdigit():
                return None
            length = int(value)
        elif name == b"transfer-encoding":
            return None
        elif name == b"connection":
            if keep is not None:
                return None
            keep = b"close" not in value.lower()  # http.client's own test
    if length != len(body):
        return None
    return int(code), body, keep is not False


class _Prefetched:
    """A socket of which ``_exchange`` read an answer's start: reads get that first, then more."""

    def __init__(self, start: bytes, sock: socket.socket) -> None:
        self._start = start
        self._sock = sock

    def makefile(self, mode: str) -> io.BufferedReader:
        return io.BufferedReader(_PrefetchedReader(self._start, self._sock))


class _PrefetchedReader(io.RawIOBase):
    def __init__(self, start: bytes, sock: socket.socket) -> None:
        self._start = memoryview(start)
        self._sock = sock

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: WriteableBuffer) -> int:
        target = memoryview(buffer).cast("B")
        if not self._start:
            return self._sock.recv_into(target)
        n = min(len(target), len(self._start))
        target[:n] = self._start[:n]
        self._start = self._start[n:]
        return n


def _host_header(host: str, port: int | None) -> str:
    """The ``Host`` header's value, as http.client writes it: IDNA, IPv6 in brackets."""
    name = host.encode("idna").decode("ascii")  # _config checked that it encodes
    name = f"[{name}]" if ":" in name else name
    return name if port is None else f"{name}:{port}"


def _rejected_count(answer: bytes, records: int) -> int:
    """Read ``rejected`` from a 202 answer (docs/protocol.md); 0 when absent or implausible."""
    try:
        value = json.loads(answer).get("rejected", 0)
    except (ValueError, AttributeError):
        return 0
    return value if type(value) is int and 0 <= value <= records else 0
