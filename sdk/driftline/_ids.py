"""Prediction ids: UUIDv7 strings, time-ordered, monotonic within a process, fork-safe.

Layout (RFC 9562, method 1 "fixed-length dedicated counter"): 48 bits of Unix
milliseconds, version 7, a 12-bit counter that orders the ids made in the same
millisecond, the variant, and 62 bits drawn at random once per process (and
again in every forked child). Within a process (millisecond, counter) is
unique by construction, so the random bits only have to tell processes apart;
drawing them once keeps an id at one lock and one string join. The clock is the
monotonic clock anchored to the wall clock once per process, so ids never go
backwards when the wall clock is stepped; when the counter overflows, the next
millisecond is borrowed, as the RFC allows.
"""

from __future__ import annotations

import os
import threading
import time

__all__ = ["new_id", "new_ids"]

_COUNTER_MAX = 0xFFF
_lock = threading.Lock()
_anchor_ms = 0
_anchor_ns = 0
_last_ms = -1
_counter = 0
_prefix = ""  # "tttttttt-tttt-7" for _last_ms
_suffix = ""  # "-vrrr-rrrrrrrrrrrr", this process's random bits


def _reset() -> None:
    """Anchor the clock and draw new random bits: at import and in every forked child."""
    global _anchor_ms, _anchor_ns, _last_ms, _counter, _suffix
    _anchor_ms = time.time_ns() // 1_000_000
    _anchor_ns = time.monotonic_ns()
    _last_ms = -1
    _counter = 0
    rand = int.from_bytes(os.urandom(8), "big") >> 2
    _suffix = f"-{0x8000 | (rand >> 48):04x}-{rand & 0xFFFFFFFFFFFF:012x}"


def _after_fork_in_child() -> None:
    global _lock
    _lock = threading.Lock()
    _reset()


_reset()
os.register_at_fork(after_in_child=_after_fork_in_child)


def _advance() -> str:
    """Advance the (millisecond, counter) state and return the id's first 18 characters.

    The caller holds the lock.
    """
    global _last_ms, _counter, _prefix
    ms = _anchor_ms + (time.monotonic_ns() - _anchor_ns) // 1_000_000
    if ms > _last_ms:
        _last_ms = ms
        _counter = 0
        _prefix = f"{ms >> 16:08x}-{ms & 0xFFFF:04x}-7"
    elif _counter < _COUNTER_MAX:
        _counter += 1
    else:
        _last_ms += 1
        _counter = 0
        _prefix = f"{_last_ms >> 16:08x}-{_last_ms & 0xFFFF:04x}-7"
    return _prefix + _HEX3[_counter]


_HEX3 = [f"{i:03x}" for i in range(_COUNTER_MAX + 1)]


def new_id() -> str:
    """Return a new prediction id, greater than every id this process made before."""
    with _lock:
        head = _advance()
    return head + _suffix


def new_ids(n: int) -> list[str]:
    """Return ``n`` new prediction ids in increasing order."""
    with _lock:
        heads = [_advance() for _ in range(n)]
    suffix = _suffix
    return [head + suffix for head in heads]
