"""Lock-free counters: ``next()`` on an ``itertools.count`` is atomic in CPython, so hot paths
count with it and collectors read it here."""

from __future__ import annotations

import itertools

__all__ = ["taken"]


def taken(counter: itertools.count[int]) -> int:
    """Return how many times ``next()`` was called on a ``count()`` from 0, without advancing it."""
    return int(repr(counter)[6:-1])  # "count(N)"
