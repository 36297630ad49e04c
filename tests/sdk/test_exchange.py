"""``_exchange.exchange`` sends a whole request and reads the answer as far as it says it goes."""

from __future__ import annotations

import errno
import os
import socket
import threading
import time
from collections.abc import Callable, Iterator

import pytest
from driftline import _exchange, _native
from driftline._exchange import exchange

from tests.support.ports import LOOPBACK

HEAD = b"HTTP/1.1 202 Accepted\r\nContent-Type: application/json\r\n"

Answer = Callable[[socket.socket, threading.Event], object]
Start = Callable[..., socket.socket]


def _answers(sent: bytes) -> Answer:
    """An answer that writes ``sent`` and keeps the connection open until the test is over."""

    def answer(conn: socket.socket, done: threading.Event) -> None:
        conn.sendall(sent)
        done.wait(10.0)

    return answer


class Peer:
    """A TCP server on 127.0.0.1 for one connection: reads the request, then runs ``answer``.

    ``answer`` gets the connection and ``done``, set when the test is over, which an
    answer that holds the connection open waits on.
    """

    def __init__(self, answer: Answer, request_size: int) -> None:
        self.received = bytearray()
        self._answer = answer
        self._size = request_size
        self._listener = socket.create_server((LOOPBACK, 0))
        self.address = self._listener.getsockname()
        self.done = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        conn, _ = self._listener.accept()
        with conn:
            while len(self.received) < self._size:
                chunk = conn.recv(1 << 16)
                if not chunk:
                    break
                self.received += chunk
            self._answer(conn, self.done)

    def stop(self) -> None:
        self.done.set()
        self._thread.join(timeout=10.0)
        self._listener.close()


@pytest.fixture
def peers() -> Iterator[list[Peer]]:
    """The peers a test started, stopped after it."""
    started: list[Peer] = []
    yield started
    for server in started:
        server.stop()


@pytest.fixture
def peer(peers: list[Peer]) -> Iterator[Start]:
    """Start a ``Peer`` and return a client socket connected to it, with a timeout."""
    clients: list[socket.socket] = []

    def start(answer: Answer, request_size: int = 4) -> socket.socket:
        peers.append(Peer(answer, request_size))
        clients.append(socket.create_connection(peers[-1].address, timeout=5.0))
        return clients[-1]

    yield start
    for client in clients:
        client.close()


def test_the_extension_is_built() -> None:
    """The transport gets ``_exchange`` from ``_native``: CI always runs its C path."""
    assert _native.exchange is _exchange


def test_the_whole_request_arrives_however_large(peer: Start, peers: list[Peer]) -> None:
    """A request larger than the socket buffers (8 MB) reaches the peer whole and in order."""
    request = bytes(range(256)) * (8 * 4096)
    client = peer(_answers(HEAD + b"Content-Length: 0\r\n\r\n"), len(request))

    exchange(client.fileno(), request, 10.0, 4096)

    assert peers[0].received == request


def test_an_answer_sent_in_pieces_is_read_to_its_content_length(peer: Start) -> None:
    """Head and body written in three pieces are read whole, up to the ``content-length``."""
    pieces = [HEAD + b"content-length:  10\r\n", b"\r\n01234", b"56789"]

    def answer(conn: socket.socket, done: threading.Event) -> None:
        for piece in pieces:
            conn.sendall(piece)
            time.sleep(0.05)
        done.wait(10.0)

    client = peer(answer)

    assert exchange(client.fileno(), b"POST", 5.0, 4096) == b"".join(pieces)


def test_a_head_without_content_length_ends_the_read(peer: Start) -> None:
    """A chunked answer is returned once its head is in, not at the connection's end."""
    sent = HEAD + b"Transfer-Encoding: chunked\r\n\r\n"
    client = peer(_answers(sent))  # the chunks never come while the client reads

    assert exchange(client.fileno(), b"POST", 5.0, 4096) == sent


@pytest.mark.parametrize("length", [b"ten", b"10x", b""])
def test_a_content_length_that_is_not_a_number_ends_the_read_at_the_head(
    peer: Start, length: bytes
) -> None:
    """An unreadable ``Content-Length`` is left for http.client to refuse: the read ends there."""
    sent = HEAD + b"Content-Length: " + length + b"\r\n\r\n"
    client = peer(_answers(sent))

    assert exchange(client.fileno(), b"POST", 5.0, 4096) == sent


@pytest.mark.parametrize("status", [b"100 Continue", b"204 No Content", b"304 Not Modified"])
def test_a_status_without_a_body_ends_the_read_at_the_head(peer: Start, status: bytes) -> None:
    """A 1xx, 204 or 304 head has no body whatever its Content-Length says: no wait for one."""
    sent = b"HTTP/1.1 " + status + b"\r\nContent-Length: 10\r\n\r\n"
    client = peer(_answers(sent))

    assert exchange(client.fileno(), b"POST", 5.0, 4096) == sent


def test_a_blocking_socket_keeps_the_deadline(peer: Start) -> None:
    """On a socket without a timeout (blocking), an answer that never comes is still a timeout."""
    client = peer(lambda conn, done: done.wait(10.0))
    client.settimeout(None)

    with pytest.raises(TimeoutError):
        exchange(client.fileno(), b"POST", 0.2, 4096)


def test_reading_stops_at_the_limit(peer: Start) -> None:
    """An answer longer than ``limit`` is returned cut there; the rest stays in the socket."""
    sent = HEAD + b"Content-Length: 1000\r\n\r\n" + b"x" * 1000
    client = peer(_answers(sent))

    start = exchange(client.fileno(), b"POST", 5.0, 64)
    rest = client.recv(len(sent) - 64, socket.MSG_WAITALL)

    assert (start, rest) == (sent[:64], sent[64:])


def test_a_peer_that_closes_without_answering_gives_no_bytes(peer: Start) -> None:
    """When the peer closes after reading the request, the answer is empty, not an error."""
    client = peer(lambda conn, done: None)

    assert exchange(client.fileno(), b"POST", 5.0, 4096) == b""


def test_an_answer_that_does_not_come_raises_timeout_error(peer: Start) -> None:
    """A peer that reads the request and never answers makes exchange raise TimeoutError."""
    client = peer(lambda conn, done: done.wait(10.0))

    with pytest.raises(TimeoutError):
        exchange(client.fileno(), b"POST", 0.2, 4096)


def test_a_descriptor_that_is_not_a_socket_raises_os_error() -> None:
    """A pipe's descriptor raises OSError(ENOTSOCK) with its errno, as the socket's calls do."""
    read, write = os.pipe()
    try:
        with pytest.raises(OSError, match="on non-socket") as raised:
            exchange(write, b"POST", 1.0, 4096)
    finally:
        os.close(read)
        os.close(write)

    assert raised.value.errno == errno.ENOTSOCK


@pytest.mark.parametrize(("fd", "timeout", "limit"), [(-1, 1.0, 1), (0, 0.0, 1), (0, 1.0, 0)])
def test_arguments_out_of_range_raise_value_error(fd: int, timeout: float, limit: int) -> None:
    """A negative descriptor, a timeout not above 0 or a limit below 1 is refused before any I/O."""
    with pytest.raises(ValueError, match="fd >= 0, timeout > 0 and limit >= 1"):
        exchange(fd, b"POST", timeout, limit)
