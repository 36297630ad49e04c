"""The configured runtime: what ``configure()`` built, read once per decorated call."""

from __future__ import annotations

import atexit
import itertools
import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from prometheus_client import REGISTRY, CollectorRegistry

from . import _shadow
from ._capture_settings import CaptureSink
from ._config import Settings, resolve_settings
from ._exceptions import ConfigurationError
from ._log_writer import LogWriter, log_drops_for
from ._logging import Processor, build_logger, diagnostics
from ._metrics import RegistryMetrics, metrics_for
from ._tracing import TracerSource, build_tracer_source

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import TracerProvider as SdkTracerProvider

__all__ = ["Runtime", "build", "current", "install"]


_generations = itertools.count(1)


@dataclass(eq=False)
class Runtime:
    """One configuration's live objects; a decorated function binds to it once per generation."""

    settings: Settings
    registry: CollectorRegistry
    metrics: RegistryMetrics
    tracer: TracerSource | None
    logger: Any
    capture: CaptureSink | None
    owned_provider: SdkTracerProvider | None = None
    generation: int = field(default_factory=lambda: next(_generations))

    def flush(self, timeout: float | None = None) -> bool:
        """Wait for shadow calls, then flush queued log lines, captured records and spans.

        True when all of it finished within ``timeout`` seconds.
        """
        wait = self.settings.capture_exit_timeout if timeout is None else timeout
        deadline = time.monotonic() + max(0.0, wait)
        try:
            ok = _shadow.wait_all(wait)
            if isinstance(self.logger, LogWriter):
                ok = self.logger.flush(max(0.0, deadline - time.monotonic())) and ok
            wait = max(0.0, deadline - time.monotonic())
            if self.capture is not None:
                ok = self.capture.flush(wait) and ok
            if self.owned_provider is not None:
                ok = self.owned_provider.force_flush(int(wait * 1000)) and ok
        except Exception:
            diagnostics.exception("driftline: flushing telemetry failed")
            return False
        return ok

    def close(self, timeout: float | None = None) -> None:
        """Flush and stop the log writer, capture queue and tracer provider driftline owns."""
        wait = self.settings.capture_exit_timeout if timeout is None else timeout
        deadline = time.monotonic() + max(0.0, wait)
        try:
            if isinstance(self.logger, LogWriter):
                self.logger.close(wait)
            if self.capture is not None:
                self.capture.close(max(0.0, deadline - time.monotonic()))
            if self.owned_provider is not None:
                self.owned_provider.shutdown()
        except Exception:
            diagnostics.exception("driftline: closing telemetry failed")


def _build_capture(settings: Settings, registry: CollectorRegistry) -> CaptureSink | None:
    if settings.sidecar_url is None or settings.capture_sample_rate == 0.0:
        return None
    from ._capture import CaptureQueue, CaptureSettings

    queue = CaptureQueue(
        CaptureSettings(
            url=settings.sidecar_url,
            service_name=settings.service_name,
            token=settings.sidecar_token,
            queue_size=settings.capture_queue_size,
            batch_size=settings.capture_batch_size,
            flush_interval=settings.capture_flush_interval,
            compression=settings.capture_compression,
            timeout=settings.capture_timeout,
            max_retries=settings.capture_max_retries,
            exit_timeout=settings.capture_exit_timeout,
        ),
        registry=registry,
    )
    queue.start()
    return queue


def build(
    settings: Settings,
    *,
    capture: CaptureSink | None = None,
    log_processor: Processor | None = None,
) -> Runtime:
    """Build a runtime; ``capture`` and ``log_processor`` replace the real ones (for tests)."""
    registry = settings.registry if settings.registry is not None else REGISTRY
    tracer, owned = build_tracer_source(settings)
    metrics = metrics_for(registry)
    logger = build_logger(
        settings.service_name,
        settings.log_output,
        log_processor,
        drops=log_drops_for(registry),
        errors=metrics.error_children["log"],
    )
    return Runtime(
        settings=settings,
        registry=registry,
        metrics=metrics,
        tracer=tracer,
        logger=logger,
        capture=capture if capture is not None else _build_capture(settings, registry),
        owned_provider=owned,
    )


_current: Runtime | None = None
_lock = threading.Lock()


def install(runtime: Runtime | None) -> Runtime | None:
    """Make ``runtime`` the one every decorated call uses; return the previous one (not closed)."""
    global _current
    with _lock:
        previous, _current = _current, runtime
    return previous


def current() -> Runtime:
    """Return the runtime, building the default one (environment variables only) on first use."""
    global _current
    runtime = _current
    if runtime is not None:
        return runtime
    with _lock:
        if _current is None:
            try:
                settings = resolve_settings({})
            except ConfigurationError as exc:
                # Never raise into model code: warn and run with the defaults.
                diagnostics.warning("driftline: ignoring the environment: %s", exc)
                settings = Settings()
            _current = build(settings)
        return _current


@atexit.register
def _close_at_exit() -> None:
    runtime = _current
    if runtime is not None:
        runtime.close()
