"""Shadow mode's CPU budget: the share of one core a challenger on threads may use, on average.

A token bucket of CPU seconds: it fills at ``share`` seconds per second of wall
time up to ``share * BURST_SECONDS``, and every challenger call that returns
takes out the CPU time its worker thread used. While the bucket is below zero
new shadow calls are skipped; ``resume_at`` is when it will be back at zero.

The champion's thread only reads ``resume_at`` (a float: 0.0 until the
bucket first goes below zero, then the time it is or was back at zero) and
calls ``time.monotonic()`` when it is set: no lock on its side.
"""

from __future__ import annotations

import threading
import time
from typing import Final

__all__ = ["BURST_SECONDS", "CpuBudget"]

BURST_SECONDS: Final = 0.1
"""A challenger may use up to ``share * BURST_SECONDS`` CPU seconds at once after idling."""


class CpuBudget:
    """The CPU seconds a challenger may still use now; filled over time, spent by its calls."""

    __slots__ = ("_lock", "_refilled", "_tokens", "resume_at", "share")

    def __init__(self, share: float) -> None:
        self.share = share
        self._lock = threading.Lock()
        self._tokens = share * BURST_SECONDS
        self._refilled = time.monotonic()
        self.resume_at = 0.0

    def exhausted(self) -> bool:
        """Whether a shadow call must be skipped now: the budget is spent until ``resume_at``."""
        resume_at = self.resume_at
        return resume_at != 0.0 and time.monotonic() < resume_at

    def spend(self, cpu_seconds: float) -> None:
        """Take ``cpu_seconds`` of a returned challenger call out of the budget."""
        share = self.share
        with self._lock:
            now = time.monotonic()
            elapsed = now - self._refilled
            tokens = min(share * BURST_SECONDS, self._tokens + elapsed * share) - cpu_seconds
            self._tokens, self._refilled = tokens, now
            self.resume_at = now - tokens / share if tokens < 0.0 else 0.0
