"""Shadow mode's process isolation: each worker thread drives one child process at idle priority.

``Shadow(..., isolation="process")`` runs the challenger in ``workers`` child
processes (``driftline-shadow-process``) started with the ``forkserver``
method (``spawn`` where there is none; never ``fork``, which is unsafe in a
process with threads). A child lowers its own CPU priority to ``SCHED_IDLE``
(Linux; ``nice 19`` elsewhere), so it runs only on CPU time nothing else
wants, and shares no GIL with the champion. A thread cannot lower its own
priority safely: holding the GIL while starved, it would stall the champion.

Each shadow worker thread owns one child and talks to it over a
``multiprocessing`` pipe, one call at a time: it sends the champion call's
arguments and prediction id(s) and waits for the result until the deadline,
then kills the child (a fresh one starts for the next call). Pickle is the
transport only between this process and children it started itself; nothing
from the network is ever unpickled.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import multiprocessing
import os
import pickle
import time
from collections.abc import Callable, Mapping
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from typing import Any, Final, Literal

from ._context import CURRENT

__all__ = [
    "ChallengerFailed",
    "ChallengerTimedOut",
    "ProcessWorker",
    "TransportFailed",
    "lower_priority",
    "start_method",
    "unpicklable",
]

_REASON_CHARS: Final = 200
_PROCESS_NAME: Final = "driftline-shadow-process"


class ChallengerFailed(Exception):
    """The challenger raised in its process; the message is the exception's type and text."""


class TransportFailed(Exception):
    """A value could not be pickled, or the challenger's process died; the message says which."""


class ChallengerTimedOut(Exception):
    """The challenger was still running at its deadline; its process was killed."""


def start_method() -> Literal["forkserver", "spawn"]:
    """Return how challenger processes start: forkserver where there is one, else spawn."""
    return "forkserver" if "forkserver" in multiprocessing.get_all_start_methods() else "spawn"


def unpicklable(value: object) -> str | None:
    """Return why ``value`` cannot be sent to a child process, or None when it can."""
    try:
        pickle.dumps(value)
    except Exception as error:
        return f"{type(error).__name__}: {error}"[:_REASON_CHARS]
    return None


class ProcessWorker:
    """One child process running the challenger, driven by one shadow worker thread only."""

    def __init__(self, fn: Callable[..., Any]) -> None:
        self._fn = fn
        self._process: BaseProcess | None = None
        self._conn: Connection | None = None

    def call(
        self,
        args: tuple[Any, ...],
        kwargs: Mapping[str, Any],
        ids: str | tuple[str, ...],
        timeout: float,
    ) -> Any:
        """Return the challenger's result for one call, run in the child process.

        Raises ChallengerFailed (it raised), TransportFailed (the arguments or
        the result cannot be pickled, or its process died) or ChallengerTimedOut
        (the child is killed ``timeout`` seconds after the arguments were sent).
        """
        conn = self._conn
        if conn is None:
            conn = self._start()
        try:
            conn.send(
                (args, kwargs, ids)
            )  # pickled whole before writing: a failure leaves no bytes
        except (pickle.PicklingError, TypeError, AttributeError) as error:
            raise TransportFailed(f"the arguments cannot be pickled: {error}") from None
        deadline = time.monotonic() + timeout
        if not conn.poll(max(0.0, deadline - time.monotonic())):
            self.stop()
            raise ChallengerTimedOut
        try:
            ok, value = conn.recv()
        except (EOFError, OSError):
            code = self._process.exitcode if self._process is not None else None
            self.stop()
            raise TransportFailed(f"the challenger's process exited (code {code})") from None
        if ok is not True:
            raise (ChallengerFailed if ok is False else TransportFailed)(value)
        return value

    def _start(self) -> Connection:
        context = (
            multiprocessing.get_context("forkserver")
            if start_method() == "forkserver"
            else multiprocessing.get_context("spawn")
        )
        parent, child = context.Pipe()
        process = context.Process(
            target=_serve, args=(child, self._fn), name=_PROCESS_NAME, daemon=True
        )
        process.start()
        child.close()
        self._process, self._conn = process, parent
        return parent

    def stop(self) -> None:
        """Kill the child process, if any, and forget it; the next call starts a fresh one."""
        process, conn = self._process, self._conn
        self._process = self._conn = None
        if conn is not None:
            conn.close()
        if process is not None:
            with contextlib.suppress(Exception):
                process.kill()
                process.join()


def lower_priority() -> None:
    """Give the calling process the lowest CPU priority this platform offers; never raises."""
    try:
        os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))
        return
    except (AttributeError, OSError):
        pass
    with contextlib.suppress(AttributeError, OSError):
        os.nice(19)


def _serve(conn: Connection, fn: Callable[..., Any]) -> None:
    """The child's loop: answer each call with ``(True, result)``, ``(False, reason)`` when the
    challenger raised, or ``(None, reason)`` when its result cannot be pickled."""
    lower_priority()
    loop = asyncio.new_event_loop() if inspect.iscoroutinefunction(fn) else None
    while True:
        try:
            args, kwargs, ids = conn.recv()
        except (EOFError, OSError):  # the parent closed the pipe or exited
            return
        token = CURRENT.set(ids)
        try:
            result = fn(*args, **kwargs)
            if loop is not None:
                result = loop.run_until_complete(result)
            reply: tuple[bool | None, Any] = (True, result)
        except Exception as error:
            reply = (False, f"{type(error).__name__}: {error}"[:_REASON_CHARS])
        finally:
            CURRENT.reset(token)
        try:
            conn.send(reply)
        except (pickle.PicklingError, TypeError, AttributeError) as error:
            conn.send((None, f"the result cannot be pickled: {error}"[:_REASON_CHARS]))
