"""``wrap``: the sync, async and batch wrappers, chosen once when a function is decorated."""

from __future__ import annotations

import functools
import inspect
import time
from collections.abc import Callable
from typing import Any

from . import _ids, _native, _runtime
from ._batch import batch_ids, finish_batch
from ._binding import Binding, Spec
from ._call import finish_call
from ._context import STATE, enter, leave, running_from
from ._logging import warn_rate_limited
from ._shadow import ShadowRunner

__all__ = ["wrap"]

_perf_counter = time.perf_counter
_state_get = STATE.get
_state_set = STATE.set


class _Monitor:
    """One decorated function's link to the runtime: rebinds when configure() installs a new one."""

    __slots__ = ("_bound", "shadow", "spec")

    def __init__(self, spec: Spec) -> None:
        self.spec = spec
        self._bound: Binding | None = None
        self.shadow = ShadowRunner(spec.shadow) if spec.shadow is not None else None

    def bound(self) -> Binding | None:
        """Return the binding to the current runtime, or None when even that failed."""
        bound = self._bound
        if bound is not None and bound.runtime is _runtime._current is not None:
            return bound
        try:
            bound = Binding(self.spec, _runtime.current(), self.shadow)
            self._bound = bound
        except Exception:
            warn_rate_limited("bind", "driftline: cannot set up telemetry", exc_info=True)
            return None
        return bound


def wrap(fn: Callable[..., Any], spec: Spec) -> Callable[..., Any]:
    """Return ``fn`` wrapped for ``spec``: sync or async, plain or batch, decided here once."""
    mon = _Monitor(spec)
    if spec.batch:
        return _wrap_batch(fn, mon)
    if inspect.iscoroutinefunction(fn):

        @functools.wraps(fn)
        async def async_call(*args: Any, **kwargs: Any) -> Any:
            bound = mon._bound
            if bound is None or bound.runtime is not _runtime._current:
                bound = mon.bound()
                if bound is None:
                    return await fn(*args, **kwargs)
            number = next(_ids.numbers)
            if bound.tracer is None:
                span = token = None
                start = _perf_counter()
                next(bound.started)
            else:
                span, token, start = bound.start(number)
            prev = _state_get()
            cell = [number, start, prev, False]  # see _context
            _state_set(cell)
            try:
                result = await fn(*args, **kwargs)
            except BaseException as exc:
                leave(cell)
                finish_call(bound, None, exc, args, kwargs, cell, span, token, start)
                raise
            leave(cell)
            bound.finish_success(result, args, kwargs, cell, start, span, token)
            return result

        return async_call

    @functools.wraps(fn)
    def sync_call(*args: Any, **kwargs: Any) -> Any:
        bound = mon._bound
        if bound is None or bound.runtime is not _runtime._current:
            bound = mon.bound()
            if bound is None:
                return fn(*args, **kwargs)
        number = next(_ids.numbers)  # before the clock: see _ids
        if bound.tracer is None:
            span = token = None
            start = _perf_counter()
            next(bound.started)
        else:
            span, token, start = bound.start(number)
        prev = _state_get()
        cell = [number, start, prev, False]  # see _context
        _state_set(cell)
        try:
            result = fn(*args, **kwargs)
        except BaseException as exc:
            leave(cell)
            finish_call(bound, None, exc, args, kwargs, cell, span, token, start)
            raise
        # leave(cell), inlined: the call is done; forget cells that were done before it.
        cell[3] = True
        if prev is not None and prev[3]:
            outer = prev[2]
            cell[2] = outer if outer is None or not outer[3] else running_from(outer)
        bound.finish_success(result, args, kwargs, cell, start, span, token)
        return result

    speedups = _native.speedups
    if speedups is None:
        return sync_call
    # The same steps in C where the binding has a plan (_call.plan_for); sync_call otherwise.
    fast: Callable[..., Any] = speedups.Wrapper(fn, mon, sync_call, vars(_runtime))
    return functools.update_wrapper(fast, fn)


def _wrap_batch(fn: Callable[..., Any], mon: _Monitor) -> Callable[..., Any]:
    if inspect.iscoroutinefunction(fn):

        @functools.wraps(fn)
        async def async_batch(*args: Any, **kwargs: Any) -> Any:
            bound = mon.bound()
            if bound is None:
                return await fn(*args, **kwargs)
            batch, ids = batch_ids(bound, args, kwargs)
            cell = enter(ids)
            span, token, start = bound.start_batch(len(ids))
            try:
                result = await fn(*args, **kwargs)
            except BaseException as exc:
                leave(cell)
                finish_batch(bound, None, exc, batch, ids, span, token, start)
                raise
            leave(cell)
            finish_batch(bound, result, None, batch, ids, span, token, start, args, kwargs)
            return result

        return async_batch

    @functools.wraps(fn)
    def sync_batch(*args: Any, **kwargs: Any) -> Any:
        bound = mon.bound()
        if bound is None:
            return fn(*args, **kwargs)
        batch, ids = batch_ids(bound, args, kwargs)
        cell = enter(ids)
        span, token, start = bound.start_batch(len(ids))
        try:
            result = fn(*args, **kwargs)
        except BaseException as exc:
            leave(cell)
            finish_batch(bound, None, exc, batch, ids, span, token, start)
            raise
        leave(cell)
        finish_batch(bound, result, None, batch, ids, span, token, start, args, kwargs)
        return result

    return sync_batch
