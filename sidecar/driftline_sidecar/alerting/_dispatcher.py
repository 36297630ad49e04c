"""The delivery worker: one bounded FIFO per destination, one thread, retries with backoff."""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import structlog

from driftline_sidecar.alerting._destinations import Batch, DeliveryError, Destination
from driftline_sidecar.alerting._metrics import AlertingMetrics
from driftline_sidecar.alerting._settings import AlertingSettings

__all__ = ["Dispatcher"]

_logger = structlog.get_logger("driftline_sidecar.alerting")


@dataclass
class _Item:
    batch: Batch
    attempts: int = 0
    not_before: float = 0.0


@dataclass
class _Lane:
    """A destination's queue; its head blocks the lane while it backs off, keeping order."""

    destination: Destination
    queue: deque[_Item] = field(default_factory=deque)


class Dispatcher:
    """Delivers batches in the background; ``submit`` never waits on the network."""

    def __init__(
        self,
        destinations: Sequence[Destination],
        *,
        settings: AlertingSettings,
        metrics: AlertingMetrics,
        tick: Callable[[], None] | None = None,
        tick_interval: float = 1.0,
    ) -> None:
        self._lanes = [_Lane(d) for d in destinations]
        self._settings = settings
        self._metrics = metrics
        self._tick = tick
        self._tick_interval = tick_interval
        self._cond = threading.Condition()
        self._closing = False
        self._deadline = float("inf")
        self._thread: threading.Thread | None = None

    def submit(self, batch: Batch) -> None:
        """Queue ``batch`` for every destination, dropping each lane's oldest item when full."""
        if not batch.alerts:
            return
        with self._cond:
            for lane in self._lanes:
                lane.queue.append(_Item(batch))
                self._trim(lane)
            self._cond.notify_all()

    def pending(self) -> int:
        """Return the number of batches waiting across all destinations."""
        with self._cond:
            return sum(len(lane.queue) for lane in self._lanes)

    def start(self) -> None:
        """Start the worker thread ``driftline-alerting``; a second call does nothing."""
        with self._cond:
            if self._thread is not None:
                return
            self._thread = threading.Thread(
                target=self._run, name="driftline-alerting", daemon=True
            )
            self._thread.start()

    def close(self, timeout: float) -> None:
        """Try what is queued (no more backoff) for up to ``timeout`` s, drop the rest, stop."""
        with self._cond:
            self._closing = True
            self._deadline = time.monotonic() + timeout
            self._cond.notify_all()
            thread = self._thread
        if thread is not None:
            thread.join(timeout + self._settings.timeout)
        if thread is None or not thread.is_alive():
            self._drop_all()

    def _trim(self, lane: _Lane) -> None:
        while len(lane.queue) > self._settings.queue_size:
            dropped = lane.queue.popleft()
            self._metrics.outcome(lane.destination.name, "dropped", len(dropped.batch.alerts))

    def _drop_all(self) -> None:
        with self._cond:
            for lane in self._lanes:
                while lane.queue:
                    item = lane.queue.popleft()
                    self._metrics.outcome(lane.destination.name, "dropped", len(item.batch.alerts))

    def _next(self, now: float) -> tuple[_Lane, _Item] | float | None:
        """The due head of the lane waiting longest, or when the next one is due, or None."""
        best: tuple[_Lane, _Item] | None = None
        for lane in self._lanes:
            if not lane.queue:
                continue
            head = lane.queue[0]
            if best is None or head.not_before < best[1].not_before:
                best = (lane, head)
        if best is None:
            return None
        if self._closing or best[1].not_before <= now:
            best[0].queue.popleft()
            return best
        return best[1].not_before

    def _run(self) -> None:
        next_tick = time.monotonic() + self._tick_interval
        while True:
            with self._cond:
                now = time.monotonic()
                if self._closing and (now >= self._deadline or self._pending_locked() == 0):
                    return
                found = self._next(now)
                if not isinstance(found, tuple):
                    wake = next_tick if found is None else min(found, next_tick)
                    if self._closing:
                        wake = min(wake, self._deadline)
                    if wake > now:
                        self._cond.wait(wake - now)
            if isinstance(found, tuple):
                self._attempt(*found)
            if self._tick is not None and time.monotonic() >= next_tick and not self._closing:
                next_tick = time.monotonic() + self._tick_interval
                self._safe_tick()

    def _pending_locked(self) -> int:
        """Like ``pending`` for a caller already holding the lock."""
        return sum(len(lane.queue) for lane in self._lanes)

    def _safe_tick(self) -> None:
        assert self._tick is not None
        try:
            self._tick()
        except Exception:  # the worker must outlive any bug in the resend hook
            _logger.exception("alert_resend_failed")

    def _attempt(self, lane: _Lane, item: _Item) -> None:
        name = lane.destination.name
        count = len(item.batch.alerts)
        try:
            lane.destination.deliver(item.batch)
        except DeliveryError as exc:
            self._metrics.failure(name)
            item.attempts += 1
            if not exc.retryable:
                _logger.warning("alert_delivery_rejected", destination=name, error=str(exc))
                self._metrics.outcome(name, "rejected", count)
                return
            if item.attempts > self._settings.max_retries:
                _logger.warning("alert_delivery_failed", destination=name, error=str(exc))
                self._metrics.outcome(name, "failed", count)
                return
            delay = min(
                self._settings.backoff * 2 ** (item.attempts - 1), self._settings.backoff_max
            )
            item.not_before = time.monotonic() + delay
            with self._cond:
                lane.queue.appendleft(item)
                self._trim(lane)
            return
        except Exception as exc:  # a bug in a destination must not stop the worker
            self._metrics.failure(name)
            _logger.exception("alert_delivery_error", destination=name, error=str(exc))
            self._metrics.outcome(name, "failed", count)
            return
        self._metrics.outcome(name, "success", count)
