"""``monitor()``: the decorator; sync, async, batch and method dispatch decided at decoration."""

from __future__ import annotations

import functools
import inspect
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from random import random
from typing import Any, ParamSpec, Protocol, TypeVar, overload

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.trace import Span, Status, StatusCode

from . import _runtime
from ._context import CURRENT, LAST
from ._exceptions import ConfigurationError
from ._extract import (
    ExtractionError,
    batch_feature_columns,
    batch_length,
    batch_prediction_columns,
    features_of,
    prediction_of,
)
from ._ids import new_id, new_ids
from ._logging import EVENT, warn_rate_limited
from ._metrics import ModelStats, sanitise_label_name
from ._privacy import CapturePolicy
from ._shadow import Shadow, ShadowJob, ShadowRunner
from ._shadow_metrics import ShadowStats, shadow_metrics_for
from ._tracing import TracerSource, flatten_attributes

__all__ = ["monitor"]

P = ParamSpec("P")
R = TypeVar("R")
T = TypeVar("T")

_perf_counter = time.perf_counter
_time = time.time
_ROLES = ("champion", "challenger")
_RESERVED_INFO = ("model", "version", "service")


class _Decorator(Protocol):
    """What ``monitor(...)`` returns: it keeps the decorated callable's type."""

    @overload
    def __call__(self, fn: classmethod[T, P, R]) -> classmethod[T, P, R]: ...
    @overload
    def __call__(self, fn: staticmethod[P, R]) -> staticmethod[P, R]: ...
    @overload
    def __call__(self, fn: Callable[P, R]) -> Callable[P, R]: ...


@dataclass(frozen=True)
class _Spec:
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


class _Bound:
    """A monitored function's view of one runtime: everything a call needs, looked up once."""

    __slots__ = (
        "capture",
        "capture_rate",
        "errors",
        "log_rate",
        "logger",
        "privacy",
        "record_features",
        "runtime",
        "service",
        "shadow",
        "shadow_rate",
        "shadow_stats",
        "span_attrs",
        "span_name",
        "spec",
        "stats",
        "tracer",
    )

    def __init__(
        self, spec: _Spec, runtime: _runtime.Runtime, shadow: ShadowRunner | None = None
    ) -> None:
        settings = runtime.settings
        self.spec = spec
        self.runtime = runtime
        self.service = settings.service_name
        self.stats: ModelStats = runtime.metrics.stats(
            spec.model, spec.version, settings.prediction_buckets, settings.max_classes
        )
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
        self.capture_rate = settings.capture_sample_rate
        self.shadow = shadow
        self.shadow_rate = shadow.shadow.sample_rate if shadow is not None else 0.0
        self.shadow_stats: ShadowStats | None = None
        if shadow is not None:
            self.shadow_stats = shadow_metrics_for(runtime.registry).stats(
                spec.model, spec.version, shadow.shadow.version
            )

    # -- the start of a call -------------------------------------------------------------

    def start(self) -> tuple[Span | None, object, float]:
        """Start the span (when tracing) and the clock; never raises."""
        start = _perf_counter()
        next(self.stats.started)
        source = self.tracer
        if source is None:
            return None, None, start
        try:
            tracer = source.tracer if not source.pending else source.get(start)
            if tracer is None:
                return None, None, start
            span = tracer.start_span(self.span_name, attributes=self.span_attrs)
            return span, otel_context.attach(trace.set_span_in_context(span)), start
        except Exception:
            self._telemetry_error("trace")
            return None, None, start

    # -- the end of a call ---------------------------------------------------------------

    def _end_span(
        self,
        span: Span | None,
        token: object,
        attributes: dict[str, Any],
        exc: BaseException | None,
    ) -> tuple[str | None, str | None, bool]:
        """End the span; return its trace id, span id and whether it was sampled."""
        if span is None:
            return None, None, False
        try:
            otel_context.detach(token)  # type: ignore[arg-type]
            context = span.get_span_context()
            if span.is_recording():
                span.set_attributes(attributes)
                if exc is not None:
                    span.record_exception(exc)
                    span.set_status(Status(StatusCode.ERROR, str(exc)[:1024]))
            span.end()
            if not context.is_valid:
                return None, None, False
            return (
                format(context.trace_id, "032x"),
                format(context.span_id, "016x"),
                context.trace_flags.sampled,
            )
        except Exception:
            self._telemetry_error("trace")
            return None, None, False

    def _telemetry_error(self, signal: str) -> None:
        try:
            self.errors[signal].inc()
            warn_rate_limited(
                f"{signal}:{self.spec.model}",
                "driftline: %s telemetry failed for model %s",
                signal,
                self.spec.model,
                exc_info=True,
            )
        except Exception:  # the last line of defence: counting must not raise either
            pass

    def _extraction_failed(self, what: str, error: Exception, count: int) -> None:
        try:
            if self.capture is not None:
                self.capture.record_dropped("extraction_error", count)
            else:
                self.errors["metric"].inc()
            warn_rate_limited(
                f"extract:{self.spec.model}:{self.spec.version}",
                "driftline: cannot read the %s of model %s %s (%s); the record is dropped",
                what,
                self.spec.model,
                self.spec.version,
                error,
            )
        except Exception:
            self._telemetry_error("capture")

    def _first_input(self, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> Any:
        spec = self.spec
        if len(args) > spec.feature_index:
            return args[spec.feature_index]
        if spec.feature_param is not None and spec.feature_param in kwargs:
            return kwargs[spec.feature_param]
        raise ExtractionError("the call has no argument to read features from")

    def _log(
        self,
        outcome: str,
        prediction_id: str | None,
        duration: float,
        trace_id: str | None,
        span_id: str | None,
        exc: BaseException | None,
        batch_size: int | None = None,
    ) -> None:
        try:
            fields: dict[str, Any] = {
                "model": self.spec.model,
                "version": self.spec.version,
                "prediction_id": prediction_id,
                "duration_s": duration,
                "outcome": outcome,
                "trace_id": trace_id,
                "span_id": span_id,
            }
            if batch_size is not None:
                fields["batch_size"] = batch_size
            logger: Any = self.logger
            if exc is None:
                logger.info(EVENT, **fields)
            else:
                logger.error(EVENT, exc_info=exc, **fields)
        except Exception:
            self._telemetry_error("log")

    def finish(
        self,
        result: Any,
        exc: BaseException | None,
        args: tuple[Any, ...],
        kwargs: Mapping[str, Any],
        prediction_id: str,
        span: Span | None,
        token: object,
        start: float,
    ) -> None:
        """Record a finished plain call; never raises."""
        duration = _perf_counter() - start
        try:
            ok = exc is None
            prediction: dict[str, object] | None = None
            if ok:
                try:
                    spec = self.spec
                    prediction = prediction_of(
                        spec.prediction(result) if spec.prediction is not None else result
                    )
                except Exception as error:
                    self._extraction_failed("prediction", error, 1)
            features: Mapping[str, Any] | None = None
            capture = self.capture
            capturing = (
                prediction is not None
                and capture is not None
                and (self.capture_rate >= 1.0 or random() < self.capture_rate)
            )
            if capturing or (self.record_features and span is not None):
                try:
                    spec = self.spec
                    source = (
                        spec.features(*args, **kwargs)
                        if spec.features is not None
                        else self._first_input(args, kwargs)
                    )
                    features = features_of(source, spec.feature_names)
                    if self.privacy is not None:
                        features = self.privacy.record(features)
                except Exception as error:
                    self._extraction_failed("features", error, 1 if capturing else 0)
                    capturing = False
            attributes: dict[str, Any] = {
                "driftline.prediction.id": prediction_id,
                "driftline.outcome": "success" if ok else "error",
            }
            if exc is not None:
                attributes["error.type"] = type(exc).__qualname__
            if self.record_features and span is not None:
                if features is not None:
                    attributes.update(flatten_attributes("driftline.features.", features))
                if prediction is not None:
                    attributes.update(flatten_attributes("driftline.predictions.", prediction))
            trace_id, span_id, sampled = self._end_span(span, token, attributes, exc)
            try:
                self.stats.finish(
                    ok, 1 if ok else 0, duration, trace_id if sampled else None, prediction
                )
            except Exception:
                self._telemetry_error("metric")
            if not ok or (self.log_rate and random() < self.log_rate):
                self._log(
                    "success" if ok else "error", prediction_id, duration, trace_id, span_id, exc
                )
            timestamp = _time() - duration
            if capturing:
                try:
                    capture.submit_row(  # type: ignore[union-attr]
                        self.spec.model,
                        self.spec.version,
                        self.spec.role,
                        prediction_id,
                        timestamp,
                        trace_id,
                        features,  # type: ignore[arg-type]
                        prediction,  # type: ignore[arg-type]
                    )
                except Exception:
                    self._telemetry_error("capture")
            if ok and self.shadow is not None:
                self._shadow(
                    args,
                    kwargs,
                    prediction_id,
                    timestamp,
                    trace_id,
                    features if capturing else None,
                )
        except Exception:
            self._telemetry_error("metric")

    def _shadow(
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
            self.shadow.submit(  # type: ignore[union-attr]
                ShadowJob(
                    args,
                    kwargs,
                    ids,
                    timestamp,
                    trace_id,
                    features,
                    self.spec.model,
                    self.capture,
                    self.shadow_stats,  # type: ignore[arg-type]
                    self.spec.prediction,
                )
            )
        except Exception:
            self._telemetry_error("metric")

    def finish_batch(
        self,
        result: Any,
        exc: BaseException | None,
        batch: Any,
        prediction_ids: Sequence[str],
        span: Span | None,
        token: object,
        start: float,
        args: tuple[Any, ...] = (),
        kwargs: Mapping[str, Any] | None = None,
    ) -> None:
        """Record a finished batch call (``args``/``kwargs``: for the challenger); never raises."""
        duration = _perf_counter() - start
        try:
            ok = exc is None
            rows = len(prediction_ids)
            columns: dict[str, Any] | None = None
            if ok:
                try:
                    spec = self.spec
                    output = spec.prediction(result) if spec.prediction is not None else result
                    columns = batch_prediction_columns(output, rows)
                except Exception as error:
                    self._extraction_failed("batch predictions", error, rows)
            attributes: dict[str, Any] = {
                "driftline.batch.size": rows,
                "driftline.outcome": "success" if ok else "error",
            }
            if exc is not None:
                attributes["error.type"] = type(exc).__qualname__
            trace_id, span_id, sampled = self._end_span(span, token, attributes, exc)
            try:
                self.stats.finish(
                    ok, rows if ok else 0, duration, trace_id if sampled else None, None
                )
                if columns is not None:
                    self.stats.observe_columns(columns)
            except Exception:
                self._telemetry_error("metric")
            if not ok or (self.log_rate and random() < self.log_rate):
                first = prediction_ids[0] if prediction_ids else None
                self._log(
                    "success" if ok else "error", first, duration, trace_id, span_id, exc, rows
                )
            capture = self.capture
            timestamp = _time() - duration
            features: Mapping[str, Any] | None = None
            if (
                columns is not None
                and rows
                and capture is not None
                and (self.capture_rate >= 1.0 or random() < self.capture_rate)
            ):
                try:
                    features = batch_feature_columns(batch, self.spec.feature_names)
                    if self.privacy is not None:
                        features = self.privacy.columns(features)
                except Exception as error:
                    self._extraction_failed("batch features", error, rows)
                if features is not None:
                    try:
                        capture.submit_columns(
                            self.spec.model,
                            self.spec.version,
                            self.spec.role,
                            prediction_ids,
                            timestamp,
                            trace_id,
                            features,
                            columns,
                        )
                    except Exception:
                        self._telemetry_error("capture")
            if ok and rows and self.shadow is not None:
                self._shadow(
                    args,
                    kwargs if kwargs is not None else {},
                    tuple(prediction_ids),
                    timestamp,
                    trace_id,
                    features,
                )
        except Exception:
            self._telemetry_error("metric")


class _Monitor:
    """One decorated function's link to the runtime: rebinds when configure() installs a new one."""

    __slots__ = ("_bound", "shadow", "spec")

    def __init__(self, spec: _Spec) -> None:
        self.spec = spec
        self._bound: _Bound | None = None
        self.shadow = ShadowRunner(spec.shadow) if spec.shadow is not None else None

    def bound(self) -> _Bound | None:
        """Return the binding to the current runtime, or None when even that failed."""
        runtime = _runtime._current
        bound = self._bound
        if runtime is not None and bound is not None and bound.runtime is runtime:
            return bound
        try:
            bound = self._bound = _Bound(self.spec, _runtime.current(), self.shadow)
        except Exception:
            warn_rate_limited("bind", "driftline: cannot set up telemetry", exc_info=True)
            return None
        return bound


def _feature_position(fn: Callable[..., Any], has_receiver: bool) -> tuple[int, str | None]:
    try:
        params = list(inspect.signature(fn).parameters.values())
    except (TypeError, ValueError):
        return 0, None
    skip = 1 if has_receiver or (params and params[0].name in ("self", "cls")) else 0
    if len(params) <= skip:
        return skip, None
    param = params[skip]
    if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
        return skip, None
    return skip, param.name


def _wrap(fn: Callable[..., Any], spec: _Spec) -> Callable[..., Any]:
    mon = _Monitor(spec)

    if spec.batch:
        if inspect.iscoroutinefunction(fn):

            @functools.wraps(fn)
            async def async_batch(*args: Any, **kwargs: Any) -> Any:
                bound = mon.bound()
                if bound is None:
                    return await fn(*args, **kwargs)
                batch, ids = _batch_ids(bound, args, kwargs)
                current = CURRENT.set(ids)
                span, token, start = bound.start()
                try:
                    result = await fn(*args, **kwargs)
                except BaseException as exc:
                    CURRENT.reset(current)
                    LAST.set(ids)
                    bound.finish_batch(None, exc, batch, ids, span, token, start)
                    raise
                CURRENT.reset(current)
                LAST.set(ids)
                bound.finish_batch(result, None, batch, ids, span, token, start, args, kwargs)
                return result

            return async_batch

        @functools.wraps(fn)
        def sync_batch(*args: Any, **kwargs: Any) -> Any:
            bound = mon.bound()
            if bound is None:
                return fn(*args, **kwargs)
            batch, ids = _batch_ids(bound, args, kwargs)
            current = CURRENT.set(ids)
            span, token, start = bound.start()
            try:
                result = fn(*args, **kwargs)
            except BaseException as exc:
                CURRENT.reset(current)
                LAST.set(ids)
                bound.finish_batch(None, exc, batch, ids, span, token, start)
                raise
            CURRENT.reset(current)
            LAST.set(ids)
            bound.finish_batch(result, None, batch, ids, span, token, start, args, kwargs)
            return result

        return sync_batch

    if inspect.iscoroutinefunction(fn):

        @functools.wraps(fn)
        async def async_call(*args: Any, **kwargs: Any) -> Any:
            bound = mon.bound()
            if bound is None:
                return await fn(*args, **kwargs)
            prediction_id = new_id()
            current = CURRENT.set(prediction_id)
            span, token, start = bound.start()
            try:
                result = await fn(*args, **kwargs)
            except BaseException as exc:
                CURRENT.reset(current)
                LAST.set(prediction_id)
                bound.finish(None, exc, args, kwargs, prediction_id, span, token, start)
                raise
            CURRENT.reset(current)
            LAST.set(prediction_id)
            bound.finish(result, None, args, kwargs, prediction_id, span, token, start)
            return result

        return async_call

    @functools.wraps(fn)
    def sync_call(*args: Any, **kwargs: Any) -> Any:
        bound = mon.bound()
        if bound is None:
            return fn(*args, **kwargs)
        prediction_id = new_id()
        current = CURRENT.set(prediction_id)
        span, token, start = bound.start()
        try:
            result = fn(*args, **kwargs)
        except BaseException as exc:
            CURRENT.reset(current)
            LAST.set(prediction_id)
            bound.finish(None, exc, args, kwargs, prediction_id, span, token, start)
            raise
        CURRENT.reset(current)
        LAST.set(prediction_id)
        bound.finish(result, None, args, kwargs, prediction_id, span, token, start)
        return result

    return sync_call


def _batch_ids(
    bound: _Bound, args: tuple[Any, ...], kwargs: Mapping[str, Any]
) -> tuple[Any, tuple[str, ...]]:
    """Return the batch input and one new id per row (none when its length cannot be read)."""
    try:
        batch = bound._first_input(args, kwargs)
        return batch, tuple(new_ids(batch_length(batch)))
    except Exception as error:
        bound._extraction_failed("batch input", error, 0)
        return None, ()


def _check_name(key: str, value: object) -> str:
    if not isinstance(value, str) or not 1 <= len(value) <= 128:
        raise ConfigurationError(key, f"must be a string of 1 to 128 characters, got {value!r}")
    return value


def monitor(
    *,
    model: str,
    version: str,
    batch: bool = False,
    features: Callable[..., Any] | None = None,
    prediction: Callable[[Any], Any] | None = None,
    feature_names: Sequence[str] | None = None,
    info: Mapping[str, object] | None = None,
    role: str = "champion",
    shadow: Shadow | None = None,
) -> _Decorator:
    """Return a decorator that traces, measures, logs and captures every call of a model function.

    Works on sync and async functions, instance/class/static methods (either
    decorator order) and, with ``batch=True``, functions taking a batch of rows.
    ``features`` (called with the call's arguments) and ``prediction`` (called
    with its result) override the default extraction. ``info`` becomes labels
    of ``driftline_model_info``. ``shadow`` runs a challenger on a sample of
    calls in the background (docs/versions.md). Raises ConfigurationError for
    bad arguments.
    """
    _check_name("model", model)
    _check_name("version", version)
    if role not in _ROLES:
        raise ConfigurationError("role", f"must be one of {', '.join(_ROLES)}, got {role!r}")
    if features is not None and not callable(features):
        raise ConfigurationError("features", "must be callable")
    if prediction is not None and not callable(prediction):
        raise ConfigurationError("prediction", "must be callable")
    if shadow is not None:
        if not isinstance(shadow, Shadow):
            raise ConfigurationError("shadow", f"must be a driftline.Shadow, got {shadow!r}")
        if shadow.version == version:
            raise ConfigurationError("shadow", "the challenger's version must differ")
    names: tuple[str, ...] | None = None
    if feature_names is not None:
        names = tuple(feature_names)
        if isinstance(feature_names, str) or not all(isinstance(n, str) and n for n in names):
            raise ConfigurationError("feature_names", "must be a sequence of non-empty strings")
    labels: dict[str, str] = {}
    for key, value in (info or {}).items():
        label = sanitise_label_name(str(key))
        if label in _RESERVED_INFO or label in labels:
            raise ConfigurationError("info", f"key {key!r} clashes with label {label!r}")
        labels[label] = str(value)

    def decorate(fn: Any) -> Any:
        if isinstance(fn, classmethod | staticmethod):
            inner = fn.__func__
            index, param = _feature_position(inner, isinstance(fn, classmethod))
            wrapped = _wrap(inner, _spec(index, param))
            return type(fn)(wrapped)
        if not callable(fn):
            raise ConfigurationError("monitor", f"can only decorate a callable, got {fn!r}")
        index, param = _feature_position(fn, False)
        return _wrap(fn, _spec(index, param))

    def _spec(index: int, param: str | None) -> _Spec:
        return _Spec(
            model=model,
            version=version,
            role=role,
            batch=batch,
            features=features,
            prediction=prediction,
            feature_names=names,
            info=tuple(labels.items()),
            feature_index=index,
            feature_param=param,
            shadow=shadow,
        )

    return decorate
