"""Prediction ids: UUIDv7 strings, time-ordered, monotonic within a process, fork-safe.

Layout (RFC 9562 UUIDv7 with a dedicated counter): 48 bits of Unix
milliseconds, version 7, 26 bits drawn at random once per process (12 in
``rand_a``, 14 after the variant), then a 48-bit sequence number. The sequence
is one ``itertools.count`` per process, seeded at random below 2**47 (half the
range, so it cannot wrap in practice) and taken with ``next()``, which is
atomic under the GIL: an id costs no lock. Taking the number *before* reading
the clock orders the ids: a call that starts after another one returned gets a
larger number and a clock reading at least as late, so a larger id. Within a
process (millisecond, sequence) is unique by construction; across processes the
26 random bits and the random seed tell them apart, and a forked child draws
both again. The clock is the monotonic clock anchored to the wall clock once
per process, so ids never go backwards when the wall clock is stepped. Should
the sequence ever pass 2**48 - 1, it restarts at 0 and every later id is
stamped one millisecond later, so the order still holds (except against a
call that runs concurrently with the restart).
"""

from __future__ import annotations

import itertools
import os
import threading
import time
from itertools import islice

__all__ = ["new_id", "new_ids"]

_SEQUENCE_MAX = (1 << 48) - 1
_SEED_LIMIT = 1 << 47
_monotonic_ns = time.monotonic_ns
_lock = threading.Lock()  # only for the (practically unreachable) sequence restart
_sequence = itertools.count()
_anchor_ms = 0
_anchor_ns = 0
_middle = ""  # "rrr-vrrr-": this process's random bits, with the variant
_head: tuple[int, str] = (-1, "")  # (millisecond, "tttttttt-tttt-7"), replaced whole


def _reset() -> None:
    """Anchor the clock, draw new random bits and a new seed: at import and in a forked child."""
    global _anchor_ms, _anchor_ns, _middle, _sequence, _head
    _anchor_ms = time.time_ns() // 1_000_000
    _anchor_ns = _monotonic_ns()
    rand = int.from_bytes(os.urandom(4), "big") >> 6  # 26 bits
    _middle = f"{rand >> 14:03x}-{0x8000 | (rand & 0x3FFF):04x}-"
    _sequence = itertools.count(int.from_bytes(os.urandom(6), "big") % _SEED_LIMIT)
    _head = (-1, "")


def _after_fork_in_child() -> None:
    global _lock
    _lock = threading.Lock()
    _reset()


_reset()
os.register_at_fork(after_in_child=_after_fork_in_child)


def _prefix(ms: int) -> str:
    """Return the id's first 15 characters for millisecond ``ms`` (cached for the last one)."""
    global _head
    head = _head
    if head[0] == ms:
        return head[1]
    prefix = f"{ms >> 16:08x}-{ms & 0xFFFF:04x}-7"
    _head = (ms, prefix)  # one assignment: a reader sees the old pair or the new one
    return prefix


def _restart(seen: itertools.count[int]) -> None:
    """Restart an exhausted sequence at 0 and move the clock one millisecond on, once."""
    global _sequence, _anchor_ms
    with _lock:
        if _sequence is seen:
            _anchor_ms += 1
            _sequence = itertools.count()


def new_id() -> str:
    """Return a new prediction id, greater than every id this process made before."""
    sequence = _sequence
    number = next(sequence)
    if number > _SEQUENCE_MAX:
        _restart(sequence)
        return new_id()
    ms = _anchor_ms + (_monotonic_ns() - _anchor_ns) // 1_000_000
    head = _head
    prefix = head[1] if head[0] == ms else _prefix(ms)
    return f"{prefix}{_middle}{number:012x}"


def new_ids(n: int) -> list[str]:
    """Return ``n`` new prediction ids in increasing order."""
    sequence = _sequence
    numbers = list(islice(sequence, n))  # one C loop: nothing else runs in between
    if numbers and numbers[-1] > _SEQUENCE_MAX:
        _restart(sequence)
        return new_ids(n)
    ms = _anchor_ms + (_monotonic_ns() - _anchor_ns) // 1_000_000
    start = _prefix(ms) + _middle
    return [f"{start}{number:012x}" for number in numbers]
