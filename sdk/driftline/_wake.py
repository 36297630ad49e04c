"""``Wake``: the shipper's wake-up, a ``threading.Event`` that C code can wait on too.

The shipper sleeps until a full batch waits, a flush or a close wakes it, or the
flush interval passes. With ``threading.Event`` only Python can wait for that.
``Wake`` keeps the same four methods on a Linux eventfd, so
``_body.encode_exchange`` can wait on it after a POST's answer without taking
the GIL back first: the shipper then takes the GIL once per body instead of
twice (docs/reliability.md#latency-under-faults). Where ``os.eventfd`` is
missing, ``new_wake`` gives a ``threading.Event`` and the shipper waits in
Python, as before.
"""

from __future__ import annotations

import contextlib
import math
import os
import select
import threading
from collections.abc import Callable
from typing import Protocol

__all__ = ["Wake", "WakeLike", "new_wake"]

_LONGEST = 86_400.0
"""Seconds a wait with a timeout lasts at most: poll takes its milliseconds as a C int."""


class WakeLike(Protocol):
    """What the shipper and the submitters use of a wake-up; ``threading.Event`` has it."""

    def set(self) -> None: ...
    def clear(self) -> None: ...
    def is_set(self) -> bool: ...
    def wait(self, timeout: float | None = None) -> bool: ...


class Wake:
    """``set``, ``clear``, ``is_set`` and ``wait`` of ``threading.Event`` on an eventfd.

    ``fileno()`` is readable while it is set. Any thread may set it; one thread
    (the shipper) waits and clears. The descriptor is closed with the object.
    """

    def __init__(self) -> None:
        self._fd = os.eventfd(0, os.EFD_NONBLOCK | os.EFD_CLOEXEC)

    def fileno(self) -> int:
        return self._fd

    def set(self) -> None:
        os.eventfd_write(self._fd, 1)  # adds to the counter: never blocks before 2**64 - 2

    def clear(self) -> None:
        with contextlib.suppress(BlockingIOError):  # raised when not set
            os.eventfd_read(self._fd)  # reads and zeroes the counter

    def is_set(self) -> bool:
        return self._ready(0)

    def wait(self, timeout: float | None = None) -> bool:
        """Return True once set, False when ``timeout`` seconds pass first."""
        if timeout is None:
            return self._ready(-1)
        return self._ready(math.ceil(min(max(0.0, timeout), _LONGEST) * 1000))

    def _ready(self, milliseconds: int) -> bool:
        poller = select.poll()  # one per call: a poll object is not for two threads at once
        poller.register(self._fd, select.POLLIN)
        return bool(poller.poll(milliseconds))

    def close(self, _close: Callable[[int], None] = os.close) -> None:
        fd, self._fd = getattr(self, "_fd", -1), -1  # getattr: eventfd may have failed
        if fd >= 0:
            _close(fd)  # bound at definition: module globals may be gone at interpreter exit

    def __del__(self) -> None:
        self.close()


def new_wake() -> WakeLike:
    """A ``Wake`` where the platform has eventfd and one can be made, else a ``threading.Event``.

    An eventfd fails only without a free file descriptor (EMFILE, ENFILE); the
    shipper then waits in Python rather than not start, or, in a forked child,
    rather than be left half reset.
    """
    if hasattr(os, "eventfd") and hasattr(select, "poll"):
        try:
            return Wake()
        except OSError:
            pass
    return threading.Event()
