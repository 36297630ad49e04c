"""Free TCP ports on the loopback interface for servers started by tests."""

from __future__ import annotations

import socket

__all__ = ["LOOPBACK", "free_port"]

LOOPBACK = "127.0.0.1"


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that nothing listens on right now.

    The kernel picks the port (bind to port 0); the socket is closed before
    returning, so a small race with other processes remains. Servers written in
    Python should bind to port 0 themselves instead; this is for external
    binaries that need the port on their command line.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOOPBACK, 0))
        port: int = sock.getsockname()[1]
        return port
