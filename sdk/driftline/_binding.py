"""A monitored function's binding to one runtime: everything a call needs, looked up once."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from random import random
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.trace import Span, SpanContext, Status, StatusCode

from . import _runtime
from ._extract import ExtractionError
from ._ids import format_id
from ._logging import EVENT, warn_rate_limited
from ._metrics import ModelStats
from ._privacy import CapturePolicy
from ._shadow import Shadow, ShadowJob, ShadowRunner
from ._shadow_metrics import ShadowStats, shadow_metrics_for
from ._tracing import TracerSource

__all__ = ["Binding", "Spec"]

_perf_counter = time.perf_counter
_NO_SPAN: tuple[None, None, bool] = (None, None, False)
PREDICTION_ID = "driftline.prediction.id"
BATCH_SIZE = "driftline.batch.size"
OUTCOME = "driftline.outcome"


@dataclass(frozen=True)
class Spec:
    """What ``monitor(...)`` was given for one decorated function, checked."""

    model: str
    version: str
    role: str
    batch: bool
    features: Callable[..., Any] | None
    prediction: Callable[[Any], Any] | None
    feature_names: tuple[str, ...] | None
    info: tuple[tuple[str, str], ...]
    feature_index: int
    feature_param: str | None
    shadow: Shadow | None = None


class Binding:
    """A monitored function's view of one runtime: everything a call needs, looked up once."""

    __slots__ = (
        "capture",
        "capture_rate",
        "errors",
        "finish_success",
        "log_rate",
        "logger",
        "model",
        "plan",
        "privacy",
        "record_features",
        "role",
        "runtime",
        "service",
        "shadow",
        "shadow_rate",
        "shadow_stats",
        "span_attrs",
        "span_name",
        "spec",
        "started",
        "stats",
        "submit_call",
        "submit_row",
        "tracer",
        "version",
    )

    def __init__(
        self, spec: Spec, runtime: _runtime.Runtime, shadow: ShadowRunner | None = None
    ) -> None:
        settings = runtime.settings
        self.spec = spec
        self.model = spec.model
        self.version = spec.version
        self.role = spec.role
        self.runtime = runtime
        self.service = settings.service_name
        self.stats: ModelStats = runtime.metrics.stats(
            spec.model, spec.version, settings.prediction_buckets, settings.max_classes
        )
        self.started = self.stats.started
        runtime.metrics.set_info(
            spec.model,
            spec.version,
            {
                "model": spec.model,
                "version": spec.version,
                "service": self.service,
                **dict(spec.info),
            },
        )
        self.errors = runtime.metrics.error_children
        self.tracer: TracerSource | None = runtime.tracer
        self.span_name = f"driftline.predict {spec.model}"
        self.span_attrs = {
            "driftline.model.name": spec.model,
            "driftline.model.version": spec.version,
        }
        # Applied to features when they are read (the shipper thread), never to predictions.
        self.privacy = CapturePolicy.build(
            settings.capture_allowlist,
            settings.capture_redact,
            settings.capture_hash,
            settings.capture_hash_key,
        )
        self.record_features = settings.record_features_in_spans
        self.logger = runtime.logger
        self.log_rate = settings.log_sample_rate
        self.capture = runtime.capture
        capture = runtime.capture
        self.submit_row = capture.submit_row if capture is not None else None
        self.submit_call = capture.submit_call if capture is not None else None
        self.capture_rate = settings.capture_sample_rate
        self.shadow = shadow
        self.shadow_rate = shadow.shadow.sample_rate if shadow is not None else 0.0
        self.shadow_stats: ShadowStats | None = None
        if shadow is not None:
            self.shadow_stats = shadow_metrics_for(runtime.registry).stats(
                spec.model, spec.version, shadow.shadow.version
            )
        from ._call import plan_for, success_finisher  # imported here: _call imports this module

        # Records one successful call; built last, from everything set above.
        self.finish_success: Callable[..., None] = success_finisher(self)
        # What the C wrapper needs to run a whole sync call (_call.plan_for), else None.
        self.plan: object | None = plan_for(self)

    def start(self, number: int) -> tuple[Span | None, object, float]:
        """Start a plain call of id ``number``: the clock and, when tracing, the span; never raises.

        The span gets the id among its start attributes (one attribute write
        fewer at the end, which costs more); the call's cell keeps ``number``,
        from which ``format_id`` makes the same string again when it is read.
        """
        start = _perf_counter()
        next(self.started)
        source = self.tracer
        if source is None:
            return None, None, start
        try:  # _open, inlined: this runs on every traced call
            tracer = source.tracer if not source.pending else source.get(start)
            if tracer is None:  # no provider yet: no id to format
                return None, None, start
            span = tracer.start_span(
                self.span_name,
                attributes={**self.span_attrs, PREDICTION_ID: format_id(number, start)},
            )
            return span, otel_context.attach(trace.set_span_in_context(span)), start
        except Exception:
            self.telemetry_error("trace")
            return None, None, start

    def start_batch(self, rows: int) -> tuple[Span | None, object, float]:
        """Start a batch call of ``rows`` rows: the clock and, when tracing, the span."""
        start = _perf_counter()
        next(self.started)
        span, token = self._open(start, {BATCH_SIZE: rows})
        return span, token, start

    def _open(self, now: float, attributes: dict[str, Any]) -> tuple[Span | None, object]:
        """Start the span with ``attributes`` too and make it current; (None, None) if none."""
        source = self.tracer
        if source is None:
            return None, None
        try:
            tracer = source.tracer if not source.pending else source.get(now)
            if tracer is None:
                return None, None
            span = tracer.start_span(self.span_name, attributes={**self.span_attrs, **attributes})
            return span, otel_context.attach(trace.set_span_in_context(span))
        except Exception:
            self.telemetry_error("trace")
            return None, None

    def end_span(
        self,
        span: Span,
        token: object,
        attributes: dict[str, Any] | None,
        exc: BaseException | None,
    ) -> tuple[str | None, SpanContext | None, bool]:
        """End the span; return its trace id, its context (for the span id) and its sampled flag.

        A recording span also gets ``attributes`` (the caller's own dict, which
        this adds to), ``driftline.outcome`` and, when the call raised,
        ``error.type``, the exception and an error status.
        """
        try:
            otel_context.detach(token)  # type: ignore[arg-type]
            context = span.get_span_context()
            if span.is_recording():
                if attributes is None and exc is None:  # the common case: one attribute
                    span.set_attribute(OUTCOME, "success")
                else:
                    # One set_attributes: each call takes the span's lock and checks every value.
                    attributes = {} if attributes is None else attributes
                    attributes[OUTCOME] = "success" if exc is None else "error"
                    if exc is not None:
                        attributes["error.type"] = type(exc).__qualname__
                    span.set_attributes(attributes)
                    if exc is not None:
                        span.record_exception(exc)
                        span.set_status(Status(StatusCode.ERROR, str(exc)[:1024]))
            span.end()
            if not context.is_valid:
                return _NO_SPAN
            return format(context.trace_id, "032x"), context, context.trace_flags.sampled
        except Exception:
            self.telemetry_error("trace")
            return _NO_SPAN

    def telemetry_error(self, signal: str) -> None:
        """Count and warn (rate-limited) about a failure of driftline's own ``signal``."""
        try:
            self.errors[signal].inc()
            warn_rate_limited(
                f"{signal}:{self.model}",
                "driftline: %s telemetry failed for model %s",
                signal,
                self.model,
                exc_info=True,
            )
        except Exception:  # the last line of defence: counting must not raise either
            pass

    def extraction_failed(self, what: str, error: Exception, count: int) -> None:
        """Count ``count`` records dropped because ``what`` could not be read, and warn."""
        try:
            if self.capture is not None:
                self.capture.record_dropped("extraction_error", count)
            else:
                self.errors["metric"].inc()
            warn_rate_limited(
                f"extract:{self.model}:{self.version}",
                "driftline: cannot read the %s of model %s %s (%s); the record is dropped",
                what,
                self.model,
                self.version,
                error,
            )
        except Exception:
            self.telemetry_error("capture")

    def first_input(self, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> Any:
        """Return the argument features are read from by default."""
        spec = self.spec
        if len(args) > spec.feature_index:
            return args[spec.feature_index]
        if spec.feature_param is not None and spec.feature_param in kwargs:
            return kwargs[spec.feature_param]
        raise ExtractionError("the call has no argument to read features from")

    def log(
        self,
        outcome: str,
        prediction_id: str | None,
        duration: float,
        trace_id: str | None,
        span: SpanContext | None,
        exc: BaseException | None,
        batch_size: int | None = None,
    ) -> None:
        """Write the call's log line (``span``: for its span id); never raises."""
        try:
            fields: dict[str, Any] = {
                "model": self.model,
                "version": self.version,
                "prediction_id": prediction_id,
                "duration_s": duration,
                "outcome": outcome,
                "trace_id": trace_id,
                "span_id": None if span is None else format(span.span_id, "016x"),
            }
            if batch_size is not None:
                fields["batch_size"] = batch_size
            logger: Any = self.logger
            if exc is None:
                logger.info(EVENT, **fields)
            else:
                logger.error(EVENT, exc_info=exc, **fields)
        except Exception:
            self.telemetry_error("log")

    def run_shadow(
        self,
        args: tuple[Any, ...],
        kwargs: Mapping[str, Any],
        ids: str | tuple[str, ...],
        timestamp: float,
        trace_id: str | None,
        features: Mapping[str, Any] | None,
    ) -> None:
        """Hand a sampled successful call to the challenger's executor; O(1), never raises."""
        rate = self.shadow_rate
        if rate < 1.0 and not random() < rate:
            return
        try:
            if self.shadow.over_budget(self.shadow_stats):  # type: ignore[union-attr,arg-type]
                return
            self.shadow.submit(  # type: ignore[union-attr]
                ShadowJob(
                    args,
                    kwargs,
                    ids,
                    timestamp,
                    trace_id,
                    features,
                    self.model,
                    self.capture,
                    self.shadow_stats,  # type: ignore[arg-type]
                    self.spec.prediction,
                )
            )
        except Exception:
            self.telemetry_error("metric")
