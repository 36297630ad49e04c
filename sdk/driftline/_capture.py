"""``CaptureQueue``: bounded, O(1) submits, and the "driftline-shipper" thread that ships them.

The caller's thread only pops a free-slot token and appends a tuple to a deque,
two atomic operations that need no lock; grouping, encoding (``_wire``),
compression and HTTP all happen on the shipper thread. The bound counts
records, not calls.
When it is reached the *new* records are dropped (``queue_full``): dropping the
newest keeps the queue in time order and the caller's cost O(1), where
dropping the oldest would take a record the shipper may be reading.

Counters are plain integers updated under the queue's lock (a single record
dropped as ``queue_full`` is counted with a lock-free ``itertools.count``) and
read at collect time by ``CaptureMetrics``, so the hot path never touches a
prometheus-client metric. Settings, metrics and HTTP live in
``_capture_settings``, ``_capture_metrics`` and ``_transport``; the names are
re-exported here.
"""

from __future__ import annotations

import atexit
import itertools
import os
import threading
import time
import weakref
from collections import deque
from collections.abc import Mapping, Sequence
from itertools import islice, repeat, starmap
from operator import itemgetter
from typing import Final
from urllib.parse import urlsplit

import numpy as np
from prometheus_client import CollectorRegistry

from ._capture_metrics import CaptureMetrics
from ._capture_settings import DROP_REASONS, SEND_OUTCOMES, CaptureSettings, CaptureSink
from ._counts import taken
from ._outcomes import OutcomeBuffer, outcome_metrics_for
from ._transport import Outcome, Transport
from ._wake import Wake, new_wake
from ._wire import (
    CALL,
    ROW,
    Entry,
    JsonScalar,
    encode,
    encode_outcomes,
    entry_rows,
    split_entry,
    split_rows,
)

__all__ = [
    "DROP_REASONS",
    "SEND_OUTCOMES",
    "CaptureMetrics",
    "CaptureQueue",
    "CaptureSettings",
    "CaptureSink",
]

_THREAD_NAME: Final = "driftline-shipper"


class CaptureQueue:
    """A bounded queue of captured records and the thread that ships them; see ``CaptureSink``."""

    def __init__(
        self, settings: CaptureSettings, registry: CollectorRegistry | None = None
    ) -> None:
        self._settings = settings
        self._capacity = settings.queue_size
        self._batch_size = settings.batch_size
        self._gzip = settings.gzip
        parts = urlsplit(settings.url)
        self._path = parts.path.rstrip("/") + "/v1/records"
        self._outcomes_path = parts.path.rstrip("/") + "/v1/outcomes"
        self._started = False
        self._closed = False
        self._metrics = CaptureMetrics.for_registry(registry)
        self._transport = Transport(settings, self._metrics.send_duration)
        self._reset_state()
        self._metrics.attach(self)
        outcome_metrics_for(registry).attach(self)
        _LIVE_QUEUES.add(self)

    def _reset_state(self) -> None:
        """Fresh locks, an empty queue and zeroed counters (at construction, in a forked child)."""
        self._lock = threading.Lock()
        self._done = threading.Condition(self._lock)
        self._queue: deque[Entry] = deque()
        self._append = self._queue.append
        # _speedups.c keeps _reserve, _append, _wake_at, _wake and _full while _slots is the
        # same object: set them only here, together with a new _slots.
        # One token per free record slot. A submit pops a token before it appends:
        # deque.pop is atomic, so the bound is exact across threads without a lock.
        self._slots: deque[None] = deque(repeat(None, self._capacity))
        self._reserve = self._slots.pop
        # The shipper is woken when the free slots fall to this (a full batch is waiting).
        self._wake_at = max(0, self._capacity - self._batch_size)
        self._wake = new_wake()
        self._stop = threading.Event()
        self._outcomes = OutcomeBuffer(self._capacity, self._batch_size, self._wake)
        self._thread: threading.Thread | None = None
        self._taken = 0  # records ever removed from the queue; enqueued = taken + queued
        self._resolved = 0  # records of those that were sent or dropped
        self._in_flight = 0  # records the shipper holds right now
        self._urgent = 0  # send without waiting until `taken` reaches this (flush)
        self._sent = 0
        self._queue_full = 0
        # Single records dropped as queue_full: next() is atomic, so that path takes no lock.
        self._full = itertools.count()
        self._dropped = dict.fromkeys(DROP_REASONS, 0)
        self._abandoned = False
        # Checked first by every submit: set when closed or when a forked child must restart.
        self._restart_pending = False
        self._detour = self._closed

    def _queued(self) -> int:
        """Records in the queue, counting slots reserved by a submit that has not appended yet."""
        return self._capacity - len(self._slots)

    # -- the caller's side: O(1), no encoding, no I/O -------------------------------------------

    def submit_row(
        self,
        model: str,
        version: str,
        role: str,
        prediction_id: str,
        timestamp: float,
        trace_id: str | None,
        features: Mapping[str, object],
        predictions: Mapping[str, object],
    ) -> None:
        """Queue one record, or count it dropped (``queue_full``, ``shutdown``); never raises."""
        self._put_one(
            (ROW, model, version, role, prediction_id, timestamp, trace_id, features, predictions)
        )

    def submit_call(
        self,
        model: str,
        version: str,
        role: str,
        number: int,
        start: float,
        trace_id: str | None,
        features: Mapping[str, object],
        predictions: Mapping[str, object] | float,
    ) -> None:
        """``submit_row`` for a call whose id and timestamp are not formatted yet; never raises.

        ``number`` and ``start`` are the id's sequence number and the
        ``perf_counter`` reading at the call's start (``_ids``); the shipper turns
        them into the id and the wall-clock timestamp.
        """
        self._put_one((CALL, model, version, role, number, start, trace_id, features, predictions))

    def _put_one(self, entry: Entry) -> None:
        """Queue a one-record entry, or count it dropped (``queue_full``, ``shutdown``)."""
        if self._detour and self._divert(1):
            return
        # A full queue is seen without raising; the except covers a race for the last slot.
        if not self._slots:
            next(self._full)
            return
        try:
            self._reserve()
        except IndexError:
            next(self._full)
            return
        self._append(entry)
        if len(self._slots) == self._wake_at:
            self._wake.set()

    def submit_columns(
        self,
        model: str,
        version: str,
        role: str,
        prediction_ids: Sequence[str],
        timestamp: float,
        trace_id: str | None,
        features: Mapping[str, Sequence[object] | np.ndarray],
        predictions: Mapping[str, Sequence[object] | np.ndarray],
    ) -> None:
        """Queue ``len(prediction_ids)`` records as one entry, all or none; never raises.

        When the records do not all fit under the bound, all of them are
        dropped as ``queue_full``; columns are kept by reference, not copied.
        """
        try:
            n = len(prediction_ids)
        except Exception:
            self.record_dropped("encode_error")
            return
        if n == 0 or (self._detour and self._divert(n)):
            return
        slots = self._slots
        if len(slots) < n:
            self._count_full(n)
            return
        reserved: deque[None] = deque()
        try:
            # One loop in C (about 10 ns a record, at most queue_size of them); a
            # concurrent submit_row may take the last slots first, hence the except.
            reserved.extend(starmap(slots.pop, repeat((), n)))
        except IndexError:
            slots.extend(reserved)
            self._count_full(n)
            return
        self._append(
            (n, model, version, role, prediction_ids, timestamp, trace_id, features, predictions)
        )
        free = len(slots)
        if free <= self._wake_at < free + n:
            self._wake.set()

    def record_dropped(self, reason: str, count: int = 1) -> None:
        """Count ``count`` records lost for ``reason``, one of ``DROP_REASONS``.

        An unknown reason is a bug in driftline itself and raises ``ValueError``.
        """
        if reason not in self._dropped or count < 0:
            raise ValueError(f"reason must be one of {DROP_REASONS} and count >= 0")
        with self._lock:
            if reason == "queue_full":
                self._queue_full += count
            else:
                self._dropped[reason] += count

    def submit_outcome(self, prediction_id: str, actual: JsonScalar, timestamp: float) -> None:
        """Queue one validated outcome (its own bound, ``queue_size``); never raises or blocks."""
        if self._detour and self._divert(0):
            self._outcomes.count("shutdown")
            return
        self._outcomes.submit((prediction_id, actual, timestamp))

    def outcome_counts(self) -> tuple[int, int, dict[str, int]]:
        """Return the outcomes (enqueued, sent, dropped by reason), for ``driftline_outcomes_*``."""
        return self._outcomes.counts()

    def _count_full(self, n: int) -> None:
        with self._lock:
            self._queue_full += n

    def _divert(self, n: int) -> bool:
        """Handle a closed queue (drop, True) or a forked child's first submit (restart, False)."""
        with self._lock:
            if self._closed:
                self._dropped["shutdown"] += n
                return True
            if self._restart_pending:
                self._restart_pending = False
                self._detour = False
                self._start_thread()
        return False

    # -- lifecycle -----------------------------------------------------------------------------

    def start(self) -> None:
        """Start the shipper thread; a no-op when it runs already or the queue is closed."""
        with self._lock:
            if self._closed or (self._thread is not None and self._thread.is_alive()):
                return
            self._started = True
            self._start_thread()
        _register_atexit()

    def _start_thread(self) -> None:
        # Called with the lock held.
        self._thread = threading.Thread(target=self._run, name=_THREAD_NAME, daemon=True)
        self._thread.start()

    def flush(self, timeout: float) -> bool:
        """Return True once every record and outcome queued before the call was sent or dropped.

        Partial batches are sent at once rather than at the next interval.
        Returns False when ``timeout`` seconds pass first or no shipper runs.
        """
        deadline = time.monotonic() + max(0.0, timeout)
        mark = self._outcomes.mark()
        ok = self._flush_records(deadline)
        if mark is None:
            return ok
        if self._thread is None or not self._thread.is_alive():
            return False
        self._wake.set()
        return self._outcomes.wait(mark, deadline) and ok

    def _flush_records(self, deadline: float) -> bool:
        with self._done:
            mark = self._taken + self._queued()
            if self._resolved >= mark:
                return True
            if self._thread is None or not self._thread.is_alive():
                return False
            self._urgent = max(self._urgent, mark)
        self._wake.set()
        with self._done:
            return self._done.wait_for(
                lambda: self._resolved >= mark, max(0.0, deadline - time.monotonic())
            )

    def close(self, timeout: float) -> None:
        """Flush within ``timeout``, stop the shipper and drop what is left as ``shutdown``.

        Records submitted after ``close`` are dropped as ``shutdown`` too. A
        request still in flight when time runs out is abandoned to the daemon
        thread and its records are counted as ``shutdown`` here.
        """
        deadline = time.monotonic() + max(0.0, timeout)
        with self._lock:
            if self._closed:
                return
            self._closed = self._detour = True
            thread = self._thread
        if thread is not None and thread.is_alive():
            self.flush(deadline - time.monotonic())
            self._stop.set()
            self._wake.set()
            thread.join(max(0.0, deadline - time.monotonic()))
        with self._done:
            queued = sum(entry_rows(entry) for entry in self._queue)
            self._queue.clear()
            self._slots.extend(repeat(None, queued))
            self._taken += queued
            left = queued
            if thread is not None and thread.is_alive():
                self._abandoned = True
                left += self._in_flight
                self._in_flight = 0
            self._dropped["shutdown"] += left
            self._resolved = self._taken
            self._done.notify_all()
        self._outcomes.close(thread is not None and thread.is_alive())

    def _after_fork_in_child(self) -> None:
        """Forget the parent's records, locks and thread; restart on the child's first submit."""
        self._reset_state()
        self._restart_pending = self._started and not self._closed
        self._detour = self._restart_pending or self._closed

    # -- the shipper thread --------------------------------------------------------------------

    def _run(self) -> None:
        waited = False
        try:
            while True:
                if not waited and self._idle():
                    self._wake.wait(self._settings.flush_interval)
                self._wake.clear()
                if self._stop.is_set():
                    return
                entries, rows = self._take()
                waited = False
                if rows:
                    # Idle after this take, and no flush waits for these records: the
                    # POST may wait for the next wake-up itself.
                    linger = self._settings.flush_interval if self._idle() else 0.0
                    outcome, waited = self._ship(entries, rows, linger)
                    self._finish(rows, outcome)
                outcomes = self._outcomes.take(self._batch_size)
                if outcomes:
                    self._outcomes.finish(len(outcomes), *self._ship_outcomes(outcomes))
                if not (rows or outcomes):
                    self._transport.close_if_idle()
        finally:
            self._transport.close()

    def _idle(self) -> bool:
        """True when the shipper may wait: no full batch, flush or close is pending.

        A flush waits for records queued or in flight (taken, not yet resolved):
        it wakes the shipper once, so the shipper must not wait on its account.
        """
        with self._lock:
            idle = len(self._slots) > self._wake_at and self._resolved >= self._urgent
        return idle and self._outcomes.idle() and not self._stop.is_set()

    def _take(self) -> tuple[list[Entry], int]:
        """Remove up to ``batch_size`` records from the front of the queue."""
        entries: list[Entry] = []
        rows = 0
        budget = self._batch_size
        with self._lock:
            queue = self._queue
            head = list(islice(queue, budget))  # C-level copies: the common case is all rows
            if head and max(map(itemgetter(0), head)) <= ROW:
                entries = list(starmap(queue.popleft, repeat((), len(head))))
                rows = len(entries)
            while queue and rows < budget:
                entry = queue[0]
                k = entry_rows(entry)
                if rows + k > budget:
                    if rows:
                        break
                    entry, queue[0] = split_entry(entry, budget)
                    k = budget
                else:
                    queue.popleft()
                entries.append(entry)
                rows += k
            self._slots.extend(repeat(None, rows))
            self._taken += rows
            self._in_flight = rows
        return entries, rows

    def _ship(self, entries: list[Entry], rows: int, linger: float = 0.0) -> tuple[Outcome, bool]:
        """Encode and send ``entries``; a body the sidecar finds too large goes again in halves.

        The first POST of a plain body is made as it is encoded, in one release of
        the GIL, where the extensions allow (``Transport.post_entries``); after a
        2xx answer that call waits up to ``linger`` seconds for the next wake-up,
        still without the GIL. Returns the outcome and whether it so waited.
        """
        service = self._settings.service_name
        answered = None
        waited = False
        wake = self._wake.fileno() if isinstance(self._wake, Wake) else -1
        try:
            sent = self._transport.post_entries(service, entries, self._path, wake, linger)
            if sent is None:
                body = encode(service, entries, time.time(), gzip=self._gzip)
            else:
                body, answered, waited = sent
        except Exception:  # a bug in the encoder must not stop the thread
            return Outcome(encode_error=rows), False
        if not body.records:
            return Outcome(encode_error=body.encode_errors), waited
        outcome = self._transport.send(body, self._path, self._stop, answered)
        if not outcome.too_large or rows < 2:
            return outcome, waited
        # Over the sidecar's max_body_bytes (wide records): only a single record too
        # large for it is rejected. Each half is encoded afresh and counts its own errors.
        half = rows // 2
        first, second = split_rows(entries, half)
        return self._ship(first, half)[0] + self._ship(second, rows - half)[0], False

    def _ship_outcomes(
        self, outcomes: list[tuple[str, JsonScalar, float]]
    ) -> tuple[int, dict[str, int]]:
        """Send outcomes to ``/v1/outcomes``; return how many were sent and dropped by reason."""
        try:
            body = encode_outcomes(
                self._settings.service_name, outcomes, time.time(), gzip=self._gzip
            )
        except Exception:  # validated on submit; a bug in the encoder must not stop the thread
            return 0, {"invalid": len(outcomes)}
        result = self._transport.send(body, self._outcomes_path, self._stop)
        return result.sent, {
            "rejected": result.rejected,
            "retries_exhausted": result.retries_exhausted,
            "shutdown": result.shutdown,
        }

    def _finish(self, rows: int, outcome: Outcome) -> None:
        with self._done:
            if self._abandoned:  # close() already counted these records as shutdown
                return
            self._sent += outcome.sent
            dropped = self._dropped
            dropped["rejected"] += outcome.rejected
            dropped["retries_exhausted"] += outcome.retries_exhausted
            dropped["shutdown"] += outcome.shutdown
            dropped["encode_error"] += outcome.encode_error
            self._resolved += rows
            self._in_flight = 0
            self._done.notify_all()

    def _counts(self) -> tuple[int, int, dict[str, int], int, int]:
        """Return (enqueued, sent, dropped by reason, queue size, capacity), read at once."""
        with self._lock:
            full = self._queue_full + taken(self._full)
            dropped = dict(self._dropped, queue_full=full)
            capacity = 0 if self._closed else self._capacity
            queued = self._queued()
            return self._taken + queued, self._sent, dropped, queued, capacity


_LIVE_QUEUES: weakref.WeakSet[CaptureQueue] = weakref.WeakSet()
_ATEXIT_LOCK = threading.Lock()
_ATEXIT_REGISTERED = False


def _register_atexit() -> None:
    global _ATEXIT_REGISTERED
    with _ATEXIT_LOCK:
        if not _ATEXIT_REGISTERED:
            _ATEXIT_REGISTERED = True
            atexit.register(_close_all_at_exit)


def _close_all_at_exit() -> None:
    """Flush every started queue within its ``exit_timeout``; never raises, never hangs the exit."""
    for queue in list(_LIVE_QUEUES):
        try:
            if queue._started:
                queue.close(queue._settings.exit_timeout)
        except Exception:  # nothing useful can be done at exit
            pass


def _after_fork_in_child() -> None:
    global _ATEXIT_LOCK
    _ATEXIT_LOCK = threading.Lock()
    for queue in list(_LIVE_QUEUES):
        queue._after_fork_in_child()


os.register_at_fork(after_in_child=_after_fork_in_child)
