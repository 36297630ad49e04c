"""Ground truth: ``record_outcome()``, the bounded outcome queue and ``driftline_outcomes_*``.

Outcomes travel like captured records: the caller's thread validates the
value and appends a tuple to a bounded deque (a free-slot token first, so the
bound is exact without a lock); the capture shipper thread takes them in
batches and POSTs them to ``/v1/outcomes`` (docs/protocol.md).
"""

from __future__ import annotations

import math
import numbers
import os
import threading
import time
import weakref
from collections import deque
from collections.abc import Iterable, Iterator
from itertools import repeat
from typing import Final, Protocol, TypeAlias

from prometheus_client import REGISTRY, CollectorRegistry
from prometheus_client.core import CounterMetricFamily
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

from . import _runtime
from ._logging import warn_rate_limited
from ._wake import WakeLike
from ._wire import JsonScalar, cell

__all__ = [
    "OUTCOME_DROP_REASONS",
    "OutcomeBuffer",
    "OutcomeMetrics",
    "outcome_metrics_for",
    "record_outcome",
]

OUTCOME_DROP_REASONS: Final = (
    "capture_off",
    "invalid",
    "queue_full",
    "rejected",
    "retries_exhausted",
    "shutdown",
)
"""Every value of the ``reason`` label of ``driftline_outcomes_dropped_total``."""

Outcome: TypeAlias = tuple[str, JsonScalar, float]
"""One queued outcome: (prediction id, actual value as a JSON scalar, Unix time)."""


def record_outcome(prediction_id: str, actual: object, *, timestamp: float | None = None) -> None:
    """Queue the true value of prediction ``prediction_id`` for the sidecar; never raises.

    ``actual`` is a number (a finite int or float, numpy included), a string or
    a bool. ``timestamp`` is the Unix time the outcome was known (default: now).
    Without a sidecar the outcome is dropped and counted as ``capture_off``; a
    bad argument is dropped and counted as ``invalid``.
    """
    try:
        runtime = _runtime.current()
        capture = runtime.capture
        if capture is None:
            outcome_metrics_for(runtime.registry).count("capture_off")
            warn_rate_limited(
                "outcome:capture_off",
                "driftline: record_outcome() without a sidecar_url; the outcome is dropped",
            )
            return
        value = _actual(actual)
        when = time.time() if timestamp is None else _finite(timestamp)
        if type(prediction_id) is not str or not prediction_id or value is None or when is None:
            outcome_metrics_for(runtime.registry).count("invalid")
            warn_rate_limited(
                "outcome:invalid",
                "driftline: record_outcome(%r, %r, timestamp=%r) is invalid; it is dropped",
                prediction_id,
                actual,
                timestamp,
            )
            return
        capture.submit_outcome(prediction_id, value, when)
    except Exception:
        warn_rate_limited("outcome", "driftline: record_outcome() failed", exc_info=True)


def _finite(value: object) -> float | None:
    if isinstance(value, numbers.Real) and not isinstance(value, bool):
        number = float(value)
        if math.isfinite(number):
            return number
    return None


def _actual(value: object) -> JsonScalar:
    """Return ``value`` as a JSON scalar, or None when it is not a valid outcome."""
    real = isinstance(value, numbers.Real) and not isinstance(value, numbers.Integral)
    if real and not math.isfinite(float(value)):  # type: ignore[arg-type]
        return None
    try:
        return cell(value)
    except ValueError:
        return None


class OutcomeBuffer:
    """The capture queue's outcomes: a bounded deque and the counts of what became of them."""

    def __init__(self, capacity: int, batch_size: int, wake: WakeLike) -> None:
        self._capacity = capacity
        self._wake = wake
        self._lock = threading.Lock()
        self._done = threading.Condition(self._lock)
        self._queue: deque[Outcome] = deque()
        self._append = self._queue.append
        self._slots: deque[None] = deque(repeat(None, capacity))
        self._reserve = self._slots.pop
        self._wake_at = max(0, capacity - batch_size)
        self._taken = 0  # outcomes ever removed from the queue
        self._resolved = 0  # of those, sent or dropped
        self._in_flight = 0
        self._urgent = 0
        self._sent = 0
        self._dropped = dict.fromkeys(OUTCOME_DROP_REASONS, 0)
        self._abandoned = False

    def submit(self, outcome: Outcome) -> None:
        """Queue one outcome, or count it as ``queue_full``; O(1), never blocks."""
        try:
            self._reserve()
        except IndexError:
            self.count("queue_full")
            return
        self._append(outcome)
        if len(self._slots) == self._wake_at:
            self._wake.set()

    def count(self, reason: str, n: int = 1) -> None:
        """Count ``n`` outcomes dropped for ``reason``."""
        with self._lock:
            self._dropped[reason] += n

    def idle(self) -> bool:
        """True when the shipper may wait: no full batch waits and no flush is pending."""
        with self._lock:
            return len(self._slots) > self._wake_at and self._taken >= self._urgent

    def take(self, budget: int) -> list[Outcome]:
        """Remove up to ``budget`` outcomes from the front of the queue (the shipper's side)."""
        with self._lock:
            queue = self._queue
            taken = [queue.popleft() for _ in range(min(budget, len(queue)))]
            self._slots.extend(repeat(None, len(taken)))
            self._taken += len(taken)
            self._in_flight = len(taken)
        return taken

    def finish(self, n: int, sent: int, dropped: dict[str, int]) -> None:
        """Record what became of the ``n`` outcomes last taken."""
        with self._done:
            if self._abandoned:  # close() counted them as shutdown already
                return
            self._sent += sent
            for reason, count in dropped.items():
                self._dropped[reason] += count
            self._resolved += n
            self._in_flight = 0
            self._done.notify_all()

    def mark(self) -> int | None:
        """Ask the shipper to send what is queued now; return the count to wait for, or None."""
        with self._done:
            mark = self._taken + self._capacity - len(self._slots)
            if self._resolved >= mark:
                return None
            self._urgent = max(self._urgent, mark)
            return mark

    def wait(self, mark: int, deadline: float) -> bool:
        """Wait until ``mark`` outcomes were sent or dropped; False at ``deadline``."""
        with self._done:
            return self._done.wait_for(
                lambda: self._resolved >= mark, max(0.0, deadline - time.monotonic())
            )

    def close(self, shipper_alive: bool) -> None:
        """Drop what is queued (and, when the shipper still runs, in flight) as ``shutdown``."""
        with self._done:
            queued = len(self._queue)
            self._queue.clear()
            self._slots.extend(repeat(None, queued))
            self._taken += queued
            left = queued
            if shipper_alive:
                self._abandoned = True
                left += self._in_flight
                self._in_flight = 0
            self._dropped["shutdown"] += left
            self._resolved = self._taken
            self._done.notify_all()

    def counts(self) -> tuple[int, int, dict[str, int]]:
        """Return (enqueued, sent, dropped by reason), read at once."""
        with self._lock:
            queued = self._capacity - len(self._slots)
            return self._taken + queued, self._sent, dict(self._dropped)


class _HasOutcomes(Protocol):
    def outcome_counts(self) -> tuple[int, int, dict[str, int]]: ...


class OutcomeMetrics(Collector):
    """The ``driftline_outcomes_*`` families of one registry, summed over its capture queues."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self._lock = threading.Lock()
        self._sources: list[_HasOutcomes] = []
        self._own = dict.fromkeys(OUTCOME_DROP_REASONS, 0)  # capture_off, invalid
        registry.register(self)

    def attach(self, source: _HasOutcomes) -> None:
        """Report ``source``'s outcome counts from now on."""
        with self._lock:
            self._sources.append(source)

    def count(self, reason: str) -> None:
        """Count one outcome dropped before it reached a queue."""
        with self._lock:
            self._own[reason] += 1

    def _after_fork_in_child(self) -> None:
        self._lock = threading.Lock()
        self._own = dict.fromkeys(OUTCOME_DROP_REASONS, 0)

    def describe(self) -> list[Metric]:
        """Return the families without samples, so the registry can refuse duplicate names."""
        return list(self._families(None))

    def collect(self) -> Iterator[Metric]:
        """Yield the families with the current counts."""
        with self._lock:
            sources = list(self._sources)
            own = dict(self._own)
        counts = [source.outcome_counts() for source in sources]
        counts.append((0, 0, own))
        yield from self._families(counts)

    @staticmethod
    def _families(counts: list[tuple[int, int, dict[str, int]]] | None) -> Iterable[Metric]:
        rows = counts or []
        enqueued = CounterMetricFamily(
            "driftline_outcomes_enqueued",
            "Outcomes accepted into the capture shipper's outcome queue.",
            value=sum(c[0] for c in rows),
        )
        sent = CounterMetricFamily(
            "driftline_outcomes_sent",
            "Outcomes the sidecar acknowledged.",
            value=sum(c[1] for c in rows),
        )
        dropped = CounterMetricFamily(
            "driftline_outcomes_dropped", "Outcomes lost, by reason.", labels=["reason"]
        )
        if counts is None:
            enqueued.samples.clear()
            sent.samples.clear()
        else:
            for reason in OUTCOME_DROP_REASONS:
                dropped.add_metric([reason], sum(c[2][reason] for c in rows))
        return [enqueued, sent, dropped]


_METRICS: weakref.WeakKeyDictionary[CollectorRegistry, OutcomeMetrics] = weakref.WeakKeyDictionary()
_METRICS_LOCK = threading.Lock()


def outcome_metrics_for(registry: CollectorRegistry | None) -> OutcomeMetrics:
    """Return the outcome metrics of ``registry`` (the default one for None), made on first use."""
    target = REGISTRY if registry is None else registry
    with _METRICS_LOCK:
        metrics = _METRICS.get(target)
        if metrics is None:
            metrics = _METRICS[target] = OutcomeMetrics(target)
        return metrics


def _after_fork_in_child() -> None:
    global _METRICS_LOCK
    _METRICS_LOCK = threading.Lock()
    for metrics in list(_METRICS.values()):
        metrics._after_fork_in_child()


os.register_at_fork(after_in_child=_after_fork_in_child)
