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
arguments and prediction id(s) and waits for the result in a blocking read. At
the call's deadline the watchdog kills the child, which ends the read; a fresh
child starts before the next call. Pickle is the
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
from collections.abc import Callable, Mapping
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from typing import Any, Final, Literal

from ._context import restore, use_ids

__all__ = [
    "START_TIMEOUT",
    "ChallengerFailed",
    "ProcessWorker",
    "TransportFailed",
    "lower_priority",
    "start_method",
    "unpicklable",
]

_REASON_CHARS: Final = 200
_PROCESS_NAME: Final = "driftline-shadow-process"
START_TIMEOUT: Final = 60.0
"""Seconds a new challenger process may take to import the challenger and say it is ready."""


class ChallengerFailed(Exception):
    """The challenger raised in its process; the message is the exception's type and text."""


class TransportFailed(Exception):
    """A value could not be pickled, or the challenger's process died; the message says which."""


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
    """One child process running the challenger, driven by one shadow worker thread only.

    ``kill`` may be called from another thread (the watchdog, at a deadline):
    the driving thread's ``call`` then sees the pipe close and raises.
    """

    def __init__(self, fn: Callable[..., Any]) -> None:
        self._fn = fn
        self._process: BaseProcess | None = None
        self._conn: Connection | None = None

    def start(self) -> None:
        """Start the child process unless it runs, and wait until it is ready for calls.

        So the start-up (importing the challenger's module) is not counted in a
        call's deadline. Raises TransportFailed when the child does not become
        ready within ``START_TIMEOUT`` seconds.
        """
        if self._conn is not None:
            return
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
        child.close()  # so the parent's end sees EOF when the child dies
        self._process, self._conn = process, parent
        try:
            if not parent.poll(START_TIMEOUT):
                raise EOFError
            parent.recv()  # the child's "ready"
        except (EOFError, OSError):
            self.stop()
            raise TransportFailed(
                f"the challenger's process did not start within {START_TIMEOUT:g} s"
            ) from None

    def call(
        self, args: tuple[Any, ...], kwargs: Mapping[str, Any], ids: str | tuple[str, ...]
    ) -> Any:
        """Return the challenger's result for one call, run in the child process.

        Raises ChallengerFailed (it raised) or TransportFailed (the arguments or
        the result cannot be pickled, or its process died or was killed). It
        waits in a blocking read, without the GIL, as long as the child runs.
        """
        self.start()
        conn = self._conn
        assert conn is not None
        try:
            conn.send(
                (args, kwargs, ids)
            )  # pickled whole before writing: a failure leaves no bytes
        except (pickle.PicklingError, TypeError, AttributeError) as error:
            raise TransportFailed(f"the arguments cannot be pickled: {error}") from None
        try:
            ok, value = conn.recv()
        except (EOFError, OSError):
            process = self._process
            self.stop()
            code = process.exitcode if process is not None else None
            raise TransportFailed(f"the challenger's process exited (code {code})") from None
        if ok is not True:
            raise (ChallengerFailed if ok is False else TransportFailed)(value)
        return value

    def killer(self) -> Callable[[], None]:
        """A function that kills the child running now, from any thread, and never raises.

        It is bound to this child: called late, it cannot kill one started after it.
        """
        process = self._process

        def kill() -> None:
            if process is not None:
                with contextlib.suppress(Exception):
                    process.kill()

        return kill

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
    conn.send((True, None))  # ready: the challenger's module is imported
    while True:
        try:
            args, kwargs, ids = conn.recv()
        except (EOFError, OSError):  # the parent closed the pipe or exited
            return
        token = use_ids(ids)
        try:
            result = fn(*args, **kwargs)
            if loop is not None:
                result = loop.run_until_complete(result)
            reply: tuple[bool | None, Any] = (True, result)
        except Exception as error:
            reply = (False, f"{type(error).__name__}: {error}"[:_REASON_CHARS])
        finally:
            restore(token)
        try:
            conn.send(reply)
        except OSError:  # the parent closed the pipe or exited
            return
        except Exception as error:  # pickling failed, whatever the result's __reduce__ raised
            conn.send((None, f"the result cannot be pickled: {error}"[:_REASON_CHARS]))
