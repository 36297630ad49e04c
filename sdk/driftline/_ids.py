"""Prediction ids: UUIDv7 strings, time-ordered, monotonic within a process, fork-safe.

Layout (RFC 9562 UUIDv7 with a dedicated counter): 48 bits of Unix
milliseconds, version 7, 26 bits drawn at random once per process (12 in
``rand_a``, 14 after the variant), then a 48-bit sequence number.

An id is two numbers until someone reads it: the next value of ``numbers``
(one ``itertools.count`` per process, seeded at random below 2**47 and taken
with ``next()``, atomic under the GIL, so no lock) and the ``perf_counter``
reading that follows it. ``format_id`` turns the pair into the string, on the
shipper thread or when code asks for the id, so a call that nobody asks about
never formats one. Taking the number *before* reading the clock orders the ids:
a call that starts after another one returned gets a larger number and a clock
reading at least as late, so a larger id. Within a process (millisecond,
sequence) is unique by construction; across processes the 26 random bits and
the random seed tell them apart, and a forked child draws both again. The
milliseconds are the monotonic clock (``perf_counter`` is ``CLOCK_MONOTONIC``)
anchored to the wall clock once per process, so ids never go backwards when the
wall clock is stepped. A number past 2**48 - 1 (after at least 2**47 ids in one
process) keeps its low 48 bits and moves the milliseconds on by one per wrap,
so the order still holds.
"""

from __future__ import annotations

import itertools
import os
import time
from collections.abc import Callable, Sequence
from itertools import islice

from . import _native

__all__ = ["format_id", "format_ids", "new_id", "new_ids", "numbers"]

_SEQUENCE_MAX = (1 << 48) - 1
_SEED_LIMIT = 1 << 47
_perf_counter = time.perf_counter
numbers = itertools.count()
"""The id sequence: ``next(numbers)``, then a ``perf_counter()`` reading, make an id."""
_anchor_ms = 0
_anchor_perf = 0.0
_middle = ""  # "rrr-vrrr-": this process's random bits, with the variant
_head: tuple[int, str] = (-1, "")  # (millisecond, "tttttttt-tttt-7rrr-vrrr-"), replaced whole
# format_id in C (_speedups.IdFormat) when the extension is built; _reset sets its anchors too.
_in_c = _native.speedups.IdFormat() if _native.speedups is not None else None


def _reset() -> None:
    """Anchor the clock, draw new random bits and a new seed: at import and in a forked child."""
    global _anchor_ms, _anchor_perf, _middle, numbers, _head
    _anchor_perf = _perf_counter()
    _anchor_ms = time.time_ns() // 1_000_000
    rand = int.from_bytes(os.urandom(4), "big") >> 6  # 26 bits
    _middle = f"{rand >> 14:03x}-{0x8000 | (rand & 0x3FFF):04x}-"
    numbers = itertools.count(int.from_bytes(os.urandom(6), "big") % _SEED_LIMIT)
    _head = (-1, "")
    if _in_c is not None:
        _in_c.reset(_anchor_ms, _anchor_perf, _middle)


_reset()
os.register_at_fork(after_in_child=_reset)


def _prefix(ms: int) -> str:
    """Return the id's first 24 characters for millisecond ``ms`` (cached for the last one)."""
    global _head
    head = _head
    if head[0] == ms:
        return head[1]
    prefix = f"{ms >> 16:08x}-{ms & 0xFFFF:04x}-7{_middle}"
    _head = (ms, prefix)  # one assignment: a reader sees the old pair or the new one
    return prefix


def format_id_python(number: int, start: float) -> str:
    """Return the id of sequence ``number`` taken just before ``perf_counter()`` read ``start``.

    ``format_id`` is this, or the same in C where the extension is built.
    """
    ms = _anchor_ms + int((start - _anchor_perf) * 1000.0) + (number >> 48)
    head = _head  # _prefix(ms), inlined: one call fewer on every formatted id
    # "%012x" % n formats faster than f"{n:012x}", which parses its format spec each time.
    return (head[1] if head[0] == ms else _prefix(ms)) + "%012x" % (number & _SEQUENCE_MAX)


format_id: Callable[[int, float], str] = format_id_python if _in_c is None else _in_c.format
"""``format_id(number, start)``: the id of sequence ``number`` read just before ``start``."""


def format_ids(numbers: Sequence[int], starts: Sequence[float]) -> list[str]:
    """Return ``[format_id(n, s) for n, s in zip(numbers, starts)]``, in one loop."""
    if len(numbers) != len(starts):
        raise ValueError("format_ids: numbers and starts differ in length")
    if _in_c is not None:  # the shipper's thread: less time holding the GIL
        return list(map(_in_c.format, numbers, starts))
    anchor_ms, anchor_perf, middle = _anchor_ms, _anchor_perf, _middle
    heads: dict[int, str] = {}
    out = []
    for number, start in zip(numbers, starts, strict=True):
        ms = anchor_ms + int((start - anchor_perf) * 1000.0) + (number >> 48)
        head = heads.get(ms)
        if head is None:
            head = heads[ms] = f"{ms >> 16:08x}-{ms & 0xFFFF:04x}-7{middle}"
        out.append(head + "%012x" % (number & _SEQUENCE_MAX))
    return out


def new_id() -> str:
    """Return a new prediction id, greater than every id this process made before."""
    number = next(numbers)
    return format_id(number, _perf_counter())


def new_ids(n: int) -> list[str]:
    """Return ``n`` new prediction ids in increasing order."""
    taken = list(islice(numbers, n))  # one C loop: nothing else runs in between
    start = _perf_counter()
    if not taken or taken[-1] > _SEQUENCE_MAX:
        return [format_id(number, start) for number in taken]
    head = _prefix(_anchor_ms + int((start - _anchor_perf) * 1000.0))
    return [head + "%012x" % number for number in taken]  # noqa: UP031 (see format_id_python)
