"""``LogWriter``: the runtime's logger; a "driftline-log" thread writes its sampled success lines.

A sampled success costs the model's thread one ``time.time()`` and one deque
append of ``(event, time, fields)``: no rendering, no I/O. The
``driftline-log`` daemon thread renders the waiting lines with the same
processors as every line (``_logging.build_renderer``, stamped with the
call's time, not the write's) and writes them in one batch every
``FLUSH_INTERVAL`` seconds, or as soon as ``BATCH_SIZE`` lines wait. At most
``QUEUE_SIZE`` lines wait: a line beyond that is dropped and counted as
``driftline_log_lines_dropped_total{reason="queue_full"}``: as in the capture
queue the newest is dropped and the caller's cost stays O(1). The bound is
read without a lock, so callers on several threads at once may each add a
line past it.

An error line is rendered and written on the caller's thread at once (it is
rare, and a queued traceback would keep the call's frames alive), so it may be
written before success lines still waiting. ``flush()`` waits for the lines
queued before it; ``close()`` writes what waits within its timeout (the rest
is dropped as ``shutdown``), and every line after it is written at once. A
forked child starts with an empty queue (the parent's waiting lines are
written once, by the parent) and gets its own thread at its first line.
"""

from __future__ import annotations

import itertools
import os
import threading
import time
import weakref
from collections import deque
from collections.abc import Iterator
from typing import Any, Final

from prometheus_client import CollectorRegistry, Counter
from prometheus_client.metrics_core import CounterMetricFamily, Metric
from prometheus_client.registry import Collector

from ._counts import taken
from ._logging import CALL_TIME, warn_rate_limited

__all__ = [
    "BATCH_SIZE",
    "DROP_REASONS",
    "FLUSH_INTERVAL",
    "QUEUE_SIZE",
    "LogDrops",
    "LogWriter",
    "log_drops_for",
]

_THREAD_NAME: Final = "driftline-log"
QUEUE_SIZE: Final = 10_000
"""Success lines that may wait for the writer; more are dropped as ``queue_full``."""
BATCH_SIZE: Final = 1_000
"""The writer is woken before its interval when this many lines wait."""
FLUSH_INTERVAL: Final = 0.25
"""Seconds between the writer's batches."""
DROP_REASONS: Final = ("queue_full", "shutdown")
"""Every value of the ``reason`` label of ``driftline_log_lines_dropped_total``."""

_time = time.time
_Line = tuple[str, float, dict[str, Any]]


class LogDrops(Collector):
    """``driftline_log_lines_dropped_total{reason}`` of one registry, shared by its writers."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        # next() is atomic in CPython: a full queue drops a line without a lock.
        self.queue_full = itertools.count()
        self._lock = threading.Lock()
        self._shutdown = 0
        if registry is not None:
            registry.register(self)

    def shutdown(self, count: int) -> None:
        """Count ``count`` lines still waiting when a writer closed."""
        with self._lock:
            self._shutdown += count

    def counts(self) -> dict[str, int]:
        """Return the lines dropped so far, by reason."""
        with self._lock:
            shutdown = self._shutdown
        return {"queue_full": taken(self.queue_full), "shutdown": shutdown}

    def describe(self) -> list[Metric]:
        """Return the family without samples, so the registry can refuse duplicate names."""
        return [self._family({})]

    def collect(self) -> Iterator[Metric]:
        """Yield the family with a sample per reason."""
        yield self._family(self.counts())

    @staticmethod
    def _family(counts: dict[str, int]) -> Metric:
        family = CounterMetricFamily(
            "driftline_log_lines_dropped",
            "Sampled success log lines lost, by reason: queue_full or shutdown.",
            labels=["reason"],
        )
        for reason, count in counts.items():
            family.add_metric([reason], count)
        return family


_by_registry: weakref.WeakKeyDictionary[CollectorRegistry, LogDrops] = weakref.WeakKeyDictionary()
_by_registry_lock = threading.Lock()


def log_drops_for(registry: CollectorRegistry) -> LogDrops:
    """Return the log drop counts of ``registry``, registering them on first use."""
    with _by_registry_lock:
        drops = _by_registry.get(registry)
        if drops is None:
            drops = _by_registry[registry] = LogDrops(registry)
        return drops


class LogWriter:
    """The runtime's logger: ``info`` queues a line, ``error`` writes one now (see module doc)."""

    def __init__(
        self,
        render: Any,
        output: Any,
        drops: LogDrops,
        errors: Counter | None,
        *,
        by_line: bool,
        capacity: int = QUEUE_SIZE,
        batch_size: int = BATCH_SIZE,
        interval: float = FLUSH_INTERVAL,
    ) -> None:
        self._render = render  # _logging.build_renderer(): its methods return the line
        self._output = output  # a structlog PrintLogger or a stdlib logging.Logger
        self._by_line = by_line  # a stdlib Logger takes one message per line
        self._drops = drops
        self._full = drops.queue_full
        self._errors = errors
        self._capacity = capacity
        self._batch_size = batch_size
        self._interval = interval
        self._closed = False
        self._reset()
        _LIVE_WRITERS.add(self)

    def _reset(self) -> None:
        """A fresh lock, queue and no thread (at construction, in a forked child)."""
        self._lock = threading.Lock()
        self._queue: deque[_Line | threading.Event] = deque()
        self._append = self._queue.append
        self._wake = threading.Event()
        self._stop = False
        self._thread: threading.Thread | None = None
        # Checked first by every info(): set until the thread runs, and once closed.
        self._detour = True

    def start(self) -> None:
        """Start the writer thread; a no-op when it runs already or the writer is closed."""
        with self._lock:
            self._start()

    def _start(self) -> bool:
        """Start the thread unless closed (called with the lock held); True when it runs."""
        if self._closed:
            return False
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name=_THREAD_NAME, daemon=True)
            self._thread.start()
        self._detour = False
        return True

    # -- the caller's side ---------------------------------------------------------------------

    def info(self, event: str, **fields: Any) -> None:
        """Queue a success line with the time of now; dropped and counted when the queue is full."""
        if self._detour:
            self._divert(event, fields)
            return
        queue = self._queue
        if len(queue) >= self._capacity:
            next(self._full)
            return
        self._append((event, _time(), fields))
        if len(queue) == self._batch_size:
            self._wake.set()

    def _divert(self, event: str, fields: dict[str, Any]) -> None:
        """Start the thread (a forked child's first line), or write now once closed."""
        with self._lock:
            running = self._start()
        if running:
            self.info(event, **fields)
        else:
            self._write("info", [self._render.info(event, **fields)])

    def error(self, event: str, **fields: Any) -> None:
        """Render and write an error line now (``exc_info`` becomes ``exception``); may raise."""
        self._write("error", [self._render.error(event, **fields)])

    def _write(self, method: str, lines: list[str]) -> None:
        write = getattr(self._output, method)
        if self._by_line:
            for line in lines:
                write(line)
        else:  # structlog's PrintLogger: one print of every line, under its lock for the file
            write("\n".join(lines))

    # -- flush and close -----------------------------------------------------------------------

    def flush(self, timeout: float) -> bool:
        """Return True once every line queued before the call was written, within ``timeout``."""
        thread = self._thread
        if thread is None or not thread.is_alive():
            return not self._queue
        written = threading.Event()
        self._append(written)  # the thread sets it once it has written every line before it
        self._wake.set()
        return written.wait(max(0.0, timeout))

    def close(self, timeout: float) -> None:
        """Write what waits within ``timeout`` and stop the thread; later lines are written at once.

        Lines still waiting when time runs out (the output blocks) are dropped
        and counted as ``shutdown``.
        """
        deadline = time.monotonic() + max(0.0, timeout)
        with self._lock:
            if self._closed:
                return
            self._closed = self._detour = True
            thread = self._thread
        if thread is not None and thread.is_alive():
            self.flush(timeout)
            self._stop = True
            self._wake.set()
            thread.join(max(0.0, deadline - time.monotonic()))
        left = [item for item in self._take() if not isinstance(item, threading.Event)]
        if not left:
            return
        if thread is not None and thread.is_alive():
            self._drops.shutdown(len(left))
        else:  # queued by a call that passed the detour as close() began
            self._write_batch(left)

    # -- the writer thread ---------------------------------------------------------------------

    def _run(self) -> None:
        while True:
            if len(self._queue) < self._batch_size and not self._stop:
                self._wake.wait(self._interval)
            self._wake.clear()
            try:
                self._drain()
            except Exception:  # a bug here must not stop the thread; its lines are not counted
                self._failed(0)
            if self._stop:
                return

    def _drain(self) -> None:
        """Render and write the lines waiting now, setting each flush marker once written."""
        batch: list[_Line] = []
        for item in self._take(len(self._queue)):
            if isinstance(item, threading.Event):
                self._write_batch(batch)
                batch = []
                item.set()
                continue
            batch.append(item)
            if len(batch) >= self._batch_size:
                self._write_batch(batch)
                batch = []
        self._write_batch(batch)

    def _take(self, count: int | None = None) -> Iterator[_Line | threading.Event]:
        """Pop up to ``count`` items (None: until empty, also what is added meanwhile)."""
        popleft = self._queue.popleft
        for _ in itertools.repeat(None) if count is None else range(count):
            try:
                yield popleft()
            except IndexError:  # empty: close() took the rest, or all is taken
                return

    def _write_batch(self, batch: list[_Line]) -> None:
        """Render and write ``batch``; count what cannot be rendered or written; never raises."""
        if not batch:
            return
        render = self._render.info
        lines: list[str] = []
        for event, now, fields in batch:
            fields[CALL_TIME] = now
            try:
                lines.append(render(event, **fields))
            except Exception:
                self._failed(1)
        if not lines:
            return
        try:
            self._write("info", lines)
        except Exception:
            self._failed(len(lines))

    def _failed(self, count: int) -> None:
        """Count ``count`` lines lost to an error as telemetry errors and warn (rate-limited)."""
        try:
            if self._errors is not None and count:
                self._errors.inc(count)
            warn_rate_limited(
                f"log:{_THREAD_NAME}",
                "driftline: log lines could not be rendered or written (%d lost)",
                count,
                exc_info=True,
            )
        except Exception:  # the last line of defence: counting must not stop the thread
            pass


_LIVE_WRITERS: weakref.WeakSet[LogWriter] = weakref.WeakSet()


def _after_fork_in_child() -> None:
    """Give every writer an empty queue and no thread: the child's first line starts its own."""
    for writer in list(_LIVE_WRITERS):
        writer._reset()


os.register_at_fork(after_in_child=_after_fork_in_child)
