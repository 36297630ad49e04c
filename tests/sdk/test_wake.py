"""``Wake``: threading.Event's set, clear, is_set and wait, on an eventfd C code can poll."""

from __future__ import annotations

import os
import select
import threading

import pytest
from driftline import _wake
from driftline._wake import Wake, new_wake


def test_it_is_set_until_cleared_however_often_it_was_set() -> None:
    """Like threading.Event: set twice then cleared once is clear; wait sees a set one."""
    wake = Wake()
    before = (wake.is_set(), wake.wait(0.0))
    wake.set()
    wake.set()
    during = (wake.is_set(), wake.wait(0.0), wake.wait(None))
    wake.clear()
    after = (wake.is_set(), wake.wait(0.01))
    wake.clear()  # clearing a clear one is allowed
    wake.close()

    assert (before, during, after) == ((False, False), (True, True, True), (False, False))


def test_its_descriptor_is_readable_exactly_while_it_is_set() -> None:
    """What encode_exchange polls: the descriptor, readable after set, not after clear."""
    wake = Wake()

    def readable() -> bool:
        return bool(select.select([wake.fileno()], [], [], 0)[0])

    states = [readable()]
    wake.set()
    states.append(readable())
    wake.clear()
    states.append(readable())
    wake.close()

    assert states == [False, True, False]


def test_a_set_from_another_thread_ends_a_wait() -> None:
    """A wait returns True once another thread sets it."""
    wake = Wake()
    setter = threading.Timer(0.05, wake.set)
    setter.start()
    woken = wake.wait(10.0)
    setter.join()
    wake.close()

    assert woken


def test_close_closes_the_descriptor_once() -> None:
    """close() frees the eventfd; a second close (or the one at collection) does nothing."""
    wake = Wake()
    fd = wake.fileno()
    closed: list[int] = []
    wake.close(closed.append)
    wake.close(closed.append)
    os.close(fd)  # the recorder did not

    assert (closed, wake.fileno()) == ([fd], -1)


def test_without_a_free_descriptor_the_shipper_gets_a_threading_event(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """When eventfd fails (EMFILE), new_wake falls back to threading.Event, not an error."""

    def no_descriptor(*args: object) -> int:
        raise OSError(24, "Too many open files")

    monkeypatch.setattr(_wake.os, "eventfd", no_descriptor)

    assert type(new_wake()) is threading.Event


def test_without_eventfd_the_shipper_gets_a_threading_event(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Where the platform has no eventfd, new_wake falls back to threading.Event."""
    with_fd = new_wake()
    monkeypatch.delattr(_wake.os, "eventfd")

    assert (type(with_fd), type(new_wake())) == (Wake, threading.Event)
