"""driftline's own structlog logger: JSON lines, one per sampled call and per error.

The logger is built with ``structlog.wrap_logger`` and every argument given,
so structlog's global configuration (the app's) is neither read nor changed.

A sampled success's line is rendered and written by the ``driftline-log``
thread (``_log_writer``): the model's thread only queues its fields and the
time. An error's line is rendered and written on the model's thread, at once.
Either way the line is made cheaply: the logger is bound once (structlog's
lazy proxy would build a new logger on every call), its class is structlog's
filtering bound logger (methods made once, no level lookup per call), and the
JSON is rendered by orjson when the app has it installed (the standard
library's ``json`` otherwise, for what orjson refuses, such as integers beyond
64 bits, and for lines with non-ASCII text, which ``json`` escapes).
"""

from __future__ import annotations

import json
import logging
import sys
import time
from collections.abc import Callable, MutableMapping
from typing import TYPE_CHECKING, Any

import structlog

from ._config import LogOutput

if TYPE_CHECKING:
    from prometheus_client import Counter

    from ._log_writer import LogDrops

try:  # optional: renders a line in a tenth of the time json.dumps takes
    import orjson
except ImportError:  # pragma: no cover - depends on what the app installed
    orjson = None  # type: ignore[assignment]

__all__ = [
    "CALL_TIME",
    "EVENT",
    "build_logger",
    "build_renderer",
    "diagnostics",
    "warn_rate_limited",
]

#: The ``event`` of every per-call log line.
EVENT = "prediction"

#: A field the log writer passes with a queued line: the time of the call, stamped by ``_prepare``.
CALL_TIME = "_driftline_call_time"

#: driftline's internal warnings (a failed extraction, a telemetry error) go to this stdlib logger.
diagnostics = logging.getLogger("driftline")

_WARN_INTERVAL = 60.0
_last_warning: dict[str, float] = {}

Processor = Callable[[Any, str, MutableMapping[str, Any]], Any]


def warn_rate_limited(key: str, message: str, *args: object, exc_info: bool = False) -> None:
    """Log ``message`` on the ``driftline`` stdlib logger at most once a minute per ``key``."""
    now = time.monotonic()
    if now - _last_warning.get(key, -_WARN_INTERVAL) >= _WARN_INTERVAL:
        _last_warning[key] = now
        diagnostics.warning(message, *args, exc_info=exc_info)


def _dumps(event: Any, **kwargs: Any) -> str:
    """``JSONRenderer``'s serializer: orjson when importable, else (or when it refuses) json.

    A line with non-ASCII text is written by json too: it escapes it, as the
    lines always were, so an output opened with a narrower encoding still takes it.
    """
    if orjson is not None:
        try:
            raw = orjson.dumps(event, default=repr)
        except TypeError:
            pass
        else:
            if raw.isascii():
                return raw.decode("ascii")
    return json.dumps(event, **kwargs)


def _prepare(logger: Any, method_name: str, event: MutableMapping[str, Any]) -> Any:
    """``add_log_level``, ``TimeStamper(fmt="iso", utc=True)`` and ``format_exc_info`` in one.

    The same fields as those three processors give, in one call: a logged call
    is one in a hundred, so its code is cold in the caches and every call and
    lookup on the way counts (benchmarks/fault_path.py: these lines set the p99).
    """
    event["level"] = "error" if method_name == "exception" else method_name
    now = event.pop(CALL_TIME, None)  # a queued line keeps the time of its call
    event["timestamp"] = _utc_iso(time.time() if now is None else now)
    if "exc_info" in event:
        return structlog.processors.format_exc_info(logger, method_name, event)
    return event


_stamp: tuple[int, str] = (-1, "")  # (second, its formatted date and time): swapped whole


def _utc_iso(now: float) -> str:
    """``now`` as structlog's UTC ISO stamp, ``2026-11-27T15:00:42.910841Z``.

    The date and time of day are formatted once a second; ``datetime.now(tz).isoformat()``
    took about 14 µs when cold.
    """
    global _stamp
    second, micros = divmod(round(now * 1_000_000), 1_000_000)  # rounded as datetime rounds
    stamp = _stamp
    if stamp[0] != second:
        stamp = _stamp = (second, time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second)))
    return f"{stamp[1]}.{micros:06d}Z"


class _Rendered:
    """The logger ``build_renderer`` wraps: every method returns the rendered line, unwritten."""

    @staticmethod
    def msg(message: str) -> str:
        """Return ``message``."""
        return message

    info = error = exception = msg


def _wrap(wrapped: Any, service: str, final: Processor) -> Any:
    return structlog.wrap_logger(
        wrapped,
        processors=[_prepare, final],
        wrapper_class=structlog.make_filtering_bound_logger(logging.DEBUG),
        context_class=dict,
        cache_logger_on_first_use=False,
        service=service,
    ).bind()


def _json_renderer() -> Processor:
    return structlog.processors.JSONRenderer(serializer=_dumps)


def build_renderer(service: str) -> Any:
    """Return a bound logger whose ``info(event, **fields)`` and ``error(...)`` return the line.

    The same processors as every driftline line; pass ``CALL_TIME`` to stamp a
    time other than now.
    """
    return _wrap(_Rendered(), service, _json_renderer())


def build_logger(
    service: str,
    output: LogOutput | None,
    final: Processor | None = None,
    *,
    drops: LogDrops | None = None,
    errors: Counter | None = None,
) -> Any:
    """Return the logger a runtime holds: ``info(event, **fields)`` and ``error(event, ...)``.

    ``output`` may be a text file-like object (stderr by default) or a stdlib
    ``logging.Logger`` (the JSON line becomes its message). The result is a
    ``LogWriter``: ``info`` queues the line for the ``driftline-log`` thread,
    ``error`` writes it at once; ``drops`` counts lines lost, ``errors`` lines
    that failed to render or write. ``final`` replaces the JSON renderer and
    makes every line synchronous, as ``driftline.testing`` does to keep the
    event dicts: the result is then a plain structlog bound logger.
    """
    wrapped: Any
    if isinstance(output, logging.Logger):
        wrapped = output
    else:
        wrapped = structlog.PrintLogger(output if output is not None else sys.stderr)  # type: ignore[arg-type]
    if final is not None:
        return _wrap(wrapped, service, final)
    from ._log_writer import LogDrops, LogWriter  # imported here: _log_writer imports this module

    writer = LogWriter(
        build_renderer(service),
        wrapped,
        drops if drops is not None else LogDrops(),
        errors,
        by_line=isinstance(output, logging.Logger),
    )
    writer.start()
    return writer
