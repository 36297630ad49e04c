"""Shadow mode: run a challenger on a sample of calls, off the caller's thread, with a bound.

The champion's thread only reads the CPU budget's resume time, pops a
free-slot token from a deque and puts the job on a ``queue.SimpleQueue`` (both
atomic C operations: no lock, never blocking). When the budget is spent or no
token is left the call is skipped and counted. ``workers`` daemon
threads named ``driftline-shadow`` run the challenger; an ``async def``
challenger runs on a private event loop thread (``driftline-shadow-loop``).

A thread cannot be killed, so a watchdog thread (``driftline-shadow-watchdog``)
settles a call as ``timeout`` soon after its deadline: an async challenger is then
cancelled, a sync one keeps its worker and its slot until it returns, and its
late result is thrown away. A slot is freed when its call returns, so a hung
challenger fills the bound and further shadow calls are skipped.

With ``isolation="process"`` each worker thread instead hands its calls to a
child process of its own at idle CPU priority (``_shadow_process``): the
challenger then takes neither the GIL nor CPU time the champion wants, and a
call past its deadline is ended by killing its process, so it frees its slot.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import math
import os
import threading
import time
import weakref
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import KW_ONLY, dataclass
from itertools import repeat
from queue import SimpleQueue
from typing import Any, Final, NamedTuple

from ._context import restore, use_ids
from ._exceptions import ConfigurationError
from ._extract import batch_prediction_columns, prediction_of
from ._logging import warn_rate_limited
from ._shadow_budget import CpuBudget
from ._shadow_metrics import ShadowStats
from ._shadow_process import ChallengerFailed, ProcessWorker, unpicklable

__all__ = ["Shadow", "ShadowJob", "ShadowRunner", "wait_all"]

_CHALLENGER: Final = "challenger"
ISOLATIONS: Final = ("thread", "process")
"""Every value of ``Shadow(isolation=...)``."""
DEFAULT_CPU_BUDGET: Final = 0.1
"""``Shadow(cpu_budget=...)``'s default share of one core (benchmarks/shadow_overhead.py)."""


@dataclass(frozen=True)
class Shadow:
    """A challenger to run next to a monitored champion: ``monitor(..., shadow=Shadow(fn, ...))``.

    ``fn`` is called with the champion call's own arguments (sync or ``async
    def``); ``prediction`` reads its result (default: the champion's
    ``prediction=``). A ``sample_rate`` share of successful champion calls is
    shadowed; each challenger call may take ``timeout`` seconds; ``workers``
    calls run at once and at most ``queue_size`` wait or run, the rest are
    skipped. Calls are also skipped while the worker threads have used more
    than ``cpu_budget`` of one core on average (None: no limit).
    ``isolation="process"`` runs them in child processes at idle CPU priority
    (``fn`` and the arguments must then be picklable): the worker threads then
    only pickle, wait and capture. Raises ConfigurationError for bad arguments.
    """

    fn: Callable[..., Any]
    _: KW_ONLY
    version: str
    sample_rate: float = 1.0
    timeout: float = 1.0
    workers: int = 1
    queue_size: int = 100
    prediction: Callable[[Any], Any] | None = None
    isolation: str = "thread"
    cpu_budget: float | None = DEFAULT_CPU_BUDGET

    def __post_init__(self) -> None:
        if not callable(self.fn):
            raise ConfigurationError("shadow.fn", f"must be callable, got {self.fn!r}")
        if not isinstance(self.version, str) or not 1 <= len(self.version) <= 128:
            raise ConfigurationError(
                "shadow.version", f"must be a string of 1 to 128 characters, got {self.version!r}"
            )
        if not _number(self.sample_rate) or not 0.0 <= self.sample_rate <= 1.0:
            raise ConfigurationError(
                "shadow.sample_rate", f"must be a number from 0 to 1, got {self.sample_rate!r}"
            )
        if not _number(self.timeout) or not 0.0 < self.timeout < math.inf:
            raise ConfigurationError(
                "shadow.timeout", f"must be a positive number of seconds, got {self.timeout!r}"
            )
        for key in ("workers", "queue_size"):
            value = getattr(self, key)
            if type(value) is not int or value < 1:
                raise ConfigurationError(f"shadow.{key}", f"must be an int >= 1, got {value!r}")
        if self.queue_size < self.workers:
            raise ConfigurationError("shadow.queue_size", "must be at least shadow.workers")
        if self.prediction is not None and not callable(self.prediction):
            raise ConfigurationError("shadow.prediction", "must be callable")
        budget = self.cpu_budget
        if budget is not None and (not _number(budget) or not 0.0 < budget < math.inf):
            raise ConfigurationError(
                "shadow.cpu_budget", f"must be None or a positive number, got {budget!r}"
            )
        if self.isolation not in ISOLATIONS:
            raise ConfigurationError(
                "shadow.isolation",
                f"must be one of {', '.join(ISOLATIONS)}, got {self.isolation!r}",
            )
        if self.isolation == "process" and (reason := unpicklable(self.fn)) is not None:
            raise ConfigurationError(
                "shadow.fn",
                "must be picklable with isolation='process' (a module-level function or "
                f"an instance of a module-level class): {reason}",
            )


def _number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and value == value


class ShadowJob(NamedTuple):
    """One shadowed champion call: what the challenger needs and where its record goes.

    ``ids`` is one id (a plain call) or the batch's ids; ``features`` is the
    champion's captured record (or batch columns), None when the champion's
    call was not captured, and then neither is the challenger's.
    """

    args: tuple[Any, ...]
    kwargs: Mapping[str, Any]
    ids: str | tuple[str, ...]
    timestamp: float
    trace_id: str | None
    features: Mapping[str, Any] | None
    model: str
    capture: Any
    stats: ShadowStats
    prediction: Callable[[Any], Any] | None


class _Run:
    """A challenger call under way: its deadline and whether its outcome is counted yet."""

    __slots__ = ("cancel", "deadline", "settled", "stats", "zombie")

    def __init__(self, deadline: float, stats: ShadowStats) -> None:
        self.deadline = deadline
        self.stats = stats
        self.settled = False
        self.zombie = False  # settled as timeout while it still holds its worker and slot
        self.cancel: Callable[[], object] | None = None


class ShadowRunner:
    """The bounded executor of one decorated function's challenger; threads start on first use."""

    def __init__(self, shadow: Shadow) -> None:
        self.shadow = shadow
        self._is_async = inspect.iscoroutinefunction(shadow.fn)
        self._reset()
        _LIVE.add(self)

    def _reset(self) -> None:
        """Fresh locks, an empty queue and no threads (at construction, in a forked child)."""
        self._slots: deque[None] = deque(repeat(None, self.shadow.queue_size))
        self._reserve = self._slots.pop
        self._jobs: SimpleQueue[ShadowJob] = SimpleQueue()
        self._put = self._jobs.put
        self._cond = threading.Condition()
        self._running: set[_Run] = set()
        self._zombies = 0  # sync calls settled as timeout that still hold their worker
        self._started = False
        self._loop: asyncio.AbstractEventLoop | None = None
        share = self.shadow.cpu_budget
        self._budget = CpuBudget(share) if share is not None else None

    # -- the champion's side: O(1), never blocks, never raises ----------------------------------

    def over_budget(self, stats: ShadowStats) -> bool:
        """Whether the CPU budget is spent; then the call is counted skipped, with no job made."""
        budget = self._budget
        if budget is not None and budget.resume_at and budget.exhausted():
            next(stats.over_budget)
            return True
        return False

    def submit(self, job: ShadowJob) -> None:
        """Queue a challenger call, or count it ``skipped`` (the bound is reached)."""
        if not self._started:
            self._start()
        try:
            self._reserve()
        except IndexError:
            next(job.stats.skipped)
            return
        self._put(job)

    def _start(self) -> None:
        with self._cond:
            if self._started:
                return
            process = self.shadow.isolation == "process"
            if self._is_async and not process:
                loop = self._loop = asyncio.new_event_loop()
                _daemon(loop.run_forever, "driftline-shadow-loop")
            for _ in range(self.shadow.workers):
                _daemon(self._work_with_process if process else self._work, "driftline-shadow")
            _daemon(self._watch, "driftline-shadow-watchdog")
            self._started = True

    # -- the worker threads ---------------------------------------------------------------------

    def _work(self) -> None:
        self._serve(self._run)

    def _work_with_process(self) -> None:
        worker = ProcessWorker(self.shadow.fn)
        self._serve(lambda job: self._run_in_process(job, worker))

    def _serve(self, run: Callable[[ShadowJob], None]) -> None:
        """Run queued jobs forever; each one's CPU on this thread is taken from the budget.

        That CPU is the challenger's on a thread; with a process, the pickling, the pipe
        and any start of a new child: all of it work of the champion's process.
        """
        budget = self._budget
        while True:
            job = self._jobs.get()
            cpu = time.thread_time()
            try:
                if budget is not None and budget.exhausted():  # spent while the job was queued
                    next(job.stats.over_budget)
                else:
                    run(job)
            except BaseException:  # a worker must never die; counting failed, warn and go on
                warn_rate_limited("shadow", "driftline: a shadow call failed", exc_info=True)
            finally:
                if budget is not None:  # an async challenger's CPU is on the loop's thread
                    budget.spend(time.thread_time() - cpu)
                with self._cond:
                    self._slots.append(None)
                    self._cond.notify_all()

    def _run_in_process(self, job: ShadowJob, worker: ProcessWorker) -> None:
        """Run one call in the worker's child process, killed by the watchdog at its deadline."""
        try:
            worker.start()  # a (re)start is not the challenger's time
        except Exception as error:
            job.stats.not_started()
            self._warn_process(job, error)
            return
        run = _Run(time.monotonic() + self.shadow.timeout, job.stats)
        run.cancel = worker.killer()  # this child: a late answer may restart another one
        with self._cond:
            self._running.add(run)
        outcome, result, problem = "success", None, None
        started = time.perf_counter()
        try:
            result = worker.call(job.args, job.kwargs, job.ids)
        except ChallengerFailed:  # its own exception: counted, as on a thread
            outcome = "error"
        except Exception as error:  # driftline's transport, or a kill at the deadline
            outcome, problem = "error", error
        if not self._settle(run, outcome, time.perf_counter() - started, job):
            worker.stop()  # counted as timeout by the watchdog, which killed the child
        elif problem is not None:
            self._warn_process(job, problem)
        elif outcome == "success":
            self._capture(job, result)

    def _warn_process(self, job: ShadowJob, problem: Exception) -> None:
        warn_rate_limited(
            f"shadow-process:{job.model}:{self.shadow.version}",
            "driftline: the challenger %s %s failed in its process (%s)",
            job.model,
            self.shadow.version,
            problem,
        )

    def _run(self, job: ShadowJob) -> None:
        run = _Run(time.monotonic() + self.shadow.timeout, job.stats)
        with self._cond:
            self._running.add(run)
        started = time.perf_counter()
        try:
            result = self._call(job, run)
        except BaseException:
            self._settle(run, "error", time.perf_counter() - started, job)
            return
        if self._settle(run, "success", time.perf_counter() - started, job):
            self._capture(job, result)

    def _call(self, job: ShadowJob, run: _Run) -> Any:
        """Call the challenger with the champion's arguments and its prediction id(s) current."""
        fn = self.shadow.fn
        if not self._is_async:
            token = use_ids(job.ids)
            try:
                return fn(*job.args, **job.kwargs)
            finally:
                restore(token)

        async def call() -> Any:
            use_ids(job.ids)  # in the task's own context
            return await fn(*job.args, **job.kwargs)

        assert self._loop is not None
        future = asyncio.run_coroutine_threadsafe(call(), self._loop)
        run.cancel = future.cancel
        if run.settled:  # the deadline passed before the cancel hook was in place
            future.cancel()
        return future.result()

    def _settle(self, run: _Run, outcome: str, duration: float, job: ShadowJob) -> bool:
        """Count a returned call; False when the watchdog counted it as a timeout already."""
        with self._cond:
            self._running.discard(run)
            late = run.settled
            if run.zombie:
                self._zombies -= 1
            run.settled = True
        job.stats.finish("timeout" if late else outcome, duration, count=not late)
        return not late

    def _watch(self) -> None:
        """Count calls as ``timeout`` once past their deadline (and cancel async ones).

        It sleeps until the earliest deadline it knows, or ``poll`` seconds,
        rather than being woken by every call: a wake-up per call would cost
        the champion's thread GIL hand-offs.
        """
        poll = min(0.25, self.shadow.timeout / 4)
        while True:
            with self._cond:
                now = time.monotonic()
                overdue = [r for r in self._running if not r.settled and r.deadline <= now]
                for run in overdue:
                    run.settled = True
                    if run.cancel is None:  # a sync call: it keeps its worker until it returns
                        run.zombie = True
                        self._zombies += 1
                pending = [r.deadline for r in self._running if not r.settled]
            for run in overdue:
                self._count_timeout(run)
            time.sleep(max(0.0, min(pending) - now) if pending else poll)

    def _count_timeout(self, run: _Run) -> None:
        try:
            run.stats.timed_out()
            cancel = run.cancel
            if cancel is not None and self._loop is not None:  # an async call: on its loop
                self._loop.call_soon_threadsafe(cancel)
            elif cancel is not None:  # a call in a child process: kill it
                cancel()
        except Exception:  # the watchdog must never die
            warn_rate_limited("shadow", "driftline: a shadow timeout failed", exc_info=True)

    def _capture(self, job: ShadowJob, result: Any) -> None:
        """Submit the challenger's record under the champion's id(s); never raises."""
        capture, features = job.capture, job.features
        if capture is None or features is None:
            return
        version = self.shadow.version
        try:
            reader = self.shadow.prediction or job.prediction
            output = reader(result) if reader is not None else result
            if isinstance(job.ids, str):
                prediction = prediction_of(output)
                capture.submit_row(
                    job.model, version, _CHALLENGER, job.ids, job.timestamp, job.trace_id,
                    features, prediction,
                )  # fmt: skip
            else:
                columns = batch_prediction_columns(output, len(job.ids))
                capture.submit_columns(
                    job.model, version, _CHALLENGER, job.ids, job.timestamp, job.trace_id,
                    features, columns,
                )  # fmt: skip
        except Exception as error:
            rows = 1 if isinstance(job.ids, str) else len(job.ids)
            with contextlib.suppress(Exception):
                capture.record_dropped("extraction_error", rows)
            warn_rate_limited(
                f"shadow-extract:{job.model}:{version}",
                "driftline: cannot record the challenger %s %s (%s); the record is dropped",
                job.model,
                version,
                error,
            )

    # -- waiting --------------------------------------------------------------------------------

    def wait(self, deadline: float) -> bool:
        """Wait until no shadow call is queued or running unsettled; False at ``deadline``."""
        capacity = self.shadow.queue_size
        with self._cond:
            while capacity - len(self._slots) > self._zombies:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._cond.wait(min(remaining, 0.05))
        return True


def _daemon(target: Callable[[], object], name: str) -> None:
    threading.Thread(target=target, name=name, daemon=True).start()


_LIVE: weakref.WeakSet[ShadowRunner] = weakref.WeakSet()


def wait_all(timeout: float) -> bool:
    """Wait for the shadow calls queued or running now; True when all settled in ``timeout``."""
    deadline = time.monotonic() + max(0.0, timeout)
    ok = True
    for runner in list(_LIVE):
        ok = runner.wait(deadline) and ok
    return ok


def _after_fork_in_child() -> None:
    for runner in list(_LIVE):
        runner._reset()


os.register_at_fork(after_in_child=_after_fork_in_child)
