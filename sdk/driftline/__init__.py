"""driftline: observability for machine-learning models in production.

Decorate a model function with ``@driftline.monitor(model=..., version=...)``
and every call emits an OpenTelemetry span, Prometheus metrics, a sampled
structlog line and (with a sidecar) a captured record of features and
predictions. ``configure()`` is optional.
"""

from __future__ import annotations

from . import _runtime
from ._config import Settings, configure
from ._context import (
    current_prediction_id,
    current_prediction_ids,
    last_prediction_id,
    last_prediction_ids,
)
from ._exceptions import ConfigurationError, DriftlineError
from ._exposition import MetricsServer, make_asgi_app, make_wsgi_app, start_metrics_server
from ._monitor import monitor
from ._outcomes import record_outcome
from ._shadow import Shadow

__all__ = [
    "ConfigurationError",
    "DriftlineError",
    "MetricsServer",
    "Settings",
    "Shadow",
    "configure",
    "current_prediction_id",
    "current_prediction_ids",
    "flush",
    "last_prediction_id",
    "last_prediction_ids",
    "make_asgi_app",
    "make_wsgi_app",
    "monitor",
    "record_outcome",
    "shutdown",
    "start_metrics_server",
]


def flush(timeout: float | None = None) -> bool:
    """Send queued records and spans, write waiting log lines; True if all done in ``timeout``.

    ``timeout`` defaults to ``capture_exit_timeout``.
    """
    return _runtime.current().flush(timeout)


def shutdown(timeout: float | None = None) -> None:
    """Flush and stop capture, log writer and driftline's tracer provider; next call starts afresh.

    Runs by itself at interpreter exit.
    """
    runtime = _runtime.install(None)
    if runtime is not None:
        runtime.close(timeout)
