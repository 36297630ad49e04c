"""Recording one finished plain call: metrics, span, log, capture and challenger.

``success_finisher`` builds, once per binding, the path of a successful call.
Without a recording span, the commonest case, it is kept short: a float
prediction is counted by appending to the model's pending arrays
(``_metrics``), and the record goes to the capture queue with its id and
timestamp still unformatted (``submit_call``). ``finish_call`` handles the
rest: recording spans, exceptions. ``plan_for`` hands the commonest calls,
start to finish, to the C extension ``_speedups`` when it is built.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from random import random
from typing import Any

from opentelemetry.trace import Span, SpanContext

from . import _ids, _native
from ._binding import Binding
from ._capture import CaptureQueue
from ._context import STATE, Cell, id_of, leave, running_from
from ._extract import VALUE, features_of, prediction_of
from ._metrics import FOLD_AT
from ._tracing import flatten_attributes
from ._wire import CALL

__all__ = ["finish_call", "plan_for", "success_finisher"]

_perf_counter = time.perf_counter
_time = time.time


def _features(bound: Binding, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> Any:
    """Return a copy of the call's features, with the capture policy applied; may raise."""
    spec = bound.spec
    if spec.features is not None:
        source = spec.features(*args, **kwargs)
    elif len(args) > spec.feature_index:
        source = args[spec.feature_index]
    else:
        source = bound.first_input(args, kwargs)
    features: Mapping[str, Any] = (
        source.copy() if type(source) is dict else features_of(source, spec.feature_names)
    )
    if bound.privacy is not None:
        features = bound.privacy.record(features)
    return features


Finisher = Callable[..., None]
"""``finish(result, args, kwargs, cell, start, span, token)``: records one successful call."""


def success_finisher(bound: Binding) -> Finisher:
    """Return the ``Finisher`` of ``bound``'s successful calls.

    Everything the binding decides once (capture on, its rate, where the
    features are, the log rate, a challenger) is looked up here, not per call.
    The finisher never raises. A recording (sampled) span hands the call to
    ``finish_call``. An unsampled span is ended (nothing is recorded on it) and
    its trace id goes with the record and the log line; with no exemplar to
    keep, the call is counted like an untraced one.
    """
    spec = bound.spec
    to_prediction = spec.prediction
    stats = bound.stats
    durations = stats.pending_durations
    add_duration = durations.append
    add_value = stats.pending_values.append
    submit_call = bound.submit_call
    submit_row = bound.submit_row
    rate = bound.capture_rate
    always = rate >= 1.0
    model, version, role = bound.model, bound.version, bound.role
    log_rate = bound.log_rate
    shadowing = bound.shadow is not None
    index = spec.feature_index
    plain_dict = spec.features is None and bound.privacy is None

    def finish(
        result: Any,
        args: tuple[Any, ...],
        kwargs: Mapping[str, Any],
        cell: Cell,
        start: float,
        span: Span | None,
        token: object,
    ) -> None:
        duration = _perf_counter() - start
        try:
            trace_id = context = None
            if span is not None:
                if span.is_recording():
                    finish_call(
                        bound, result, None, args, kwargs, cell, span, token, start, duration
                    )
                    return
                trace_id, context, _ = bound.end_span(span, token, None, None)
            prediction: dict[str, object] | None = None
            readable = True
            if to_prediction is None and type(result) is float:
                add_duration(duration)
                add_value(result)
                if len(durations) >= FOLD_AT:
                    stats.fold()
            else:
                try:
                    prediction = prediction_of(
                        to_prediction(result) if to_prediction is not None else result
                    )
                except Exception as error:
                    bound.extraction_failed("prediction", error, 1)
                    readable = False  # nothing to capture, but the call is counted
                try:
                    stats.finish(True, 1, duration, None, prediction)
                except Exception:
                    bound.telemetry_error("metric")
            features: Mapping[str, Any] | None = None
            if submit_call is not None and readable and (always or random() < rate):
                try:
                    if plain_dict and len(args) > index and type(args[index]) is dict:
                        features = args[index].copy()
                    else:
                        features = _features(bound, args, kwargs)
                except Exception as error:
                    bound.extraction_failed("features", error, 1)
                else:
                    key = cell[0]
                    try:
                        if type(key) is int:
                            submit_call(
                                model,
                                version,
                                role,
                                key,
                                start,
                                trace_id,
                                features,
                                result if prediction is None else prediction,  # a float: "value"
                            )
                        else:  # the call read its own id, which is formatted already
                            submit_row(  # type: ignore[misc]
                                model,
                                version,
                                role,
                                key,
                                _time() - duration,
                                trace_id,
                                features,
                                {VALUE: result} if prediction is None else prediction,
                            )
                    except Exception:
                        bound.telemetry_error("capture")
            if log_rate and random() < log_rate:
                pid: str = id_of(cell)  # type: ignore[assignment]
                bound.log("success", pid, duration, trace_id, context, None)
            if shadowing:
                bound.run_shadow(args, kwargs, id_of(cell), _time() - duration, trace_id, features)
        except Exception:
            bound.telemetry_error("metric")

    return finish


def finish_call(
    bound: Binding,
    result: Any,
    exc: BaseException | None,
    args: tuple[Any, ...],
    kwargs: Mapping[str, Any],
    cell: Cell,
    span: Span | None,
    token: object,
    start: float,
    duration: float | None = None,
) -> None:
    """Record a finished plain call, traced or failed; never raises.

    ``duration``: when the caller read the clock already.
    """
    if duration is None:
        duration = _perf_counter() - start
    try:
        prediction_id: str = id_of(cell)  # type: ignore[assignment]
        ok = exc is None
        spec = bound.spec
        prediction: dict[str, object] | None = None
        if ok:
            try:
                prediction = prediction_of(
                    spec.prediction(result) if spec.prediction is not None else result
                )
            except Exception as error:
                bound.extraction_failed("prediction", error, 1)
        features: Mapping[str, Any] | None = None
        submit_row = bound.submit_row
        rate = bound.capture_rate
        capturing = (
            prediction is not None and submit_row is not None and (rate >= 1.0 or random() < rate)
        )
        span_features = span is not None and bound.record_features
        if capturing or span_features:
            try:
                features = _features(bound, args, kwargs)
            except Exception as error:
                bound.extraction_failed("features", error, 1 if capturing else 0)
                capturing = False
        trace_id: str | None = None
        context: SpanContext | None = None
        exemplar: str | None = None
        if span is not None:
            attributes: dict[str, Any] | None = None  # the id is a start attribute (Binding.start)
            if span_features:
                attributes = {}
                if features is not None:
                    attributes.update(flatten_attributes("driftline.features.", features))
                if prediction is not None:
                    attributes.update(flatten_attributes("driftline.predictions.", prediction))
            trace_id, context, sampled = bound.end_span(span, token, attributes, exc)
            if sampled:
                exemplar = trace_id
        try:
            bound.stats.finish(ok, 1 if ok else 0, duration, exemplar, prediction)
        except Exception:
            bound.telemetry_error("metric")
        if not ok or (bound.log_rate and random() < bound.log_rate):
            bound.log("success" if ok else "error", prediction_id, duration, trace_id, context, exc)
        shadowing = ok and bound.shadow is not None
        if not (capturing or shadowing):
            return
        timestamp = _time() - duration
        if capturing:
            try:
                submit_row(  # type: ignore[misc]
                    bound.model,
                    bound.version,
                    bound.role,
                    prediction_id,
                    timestamp,
                    trace_id,
                    features,  # type: ignore[arg-type]
                    prediction,  # type: ignore[arg-type]
                )
            except Exception:
                bound.telemetry_error("capture")
        if shadowing:
            bound.run_shadow(
                args, kwargs, prediction_id, timestamp, trace_id, features if capturing else None
            )
    except Exception:
        bound.telemetry_error("metric")


def plan_for(bound: Binding) -> object | None:
    """Return the C path of ``bound``'s sync calls (``_speedups.Plan``), or None for Python.

    The C path (``_speedups.c``) takes the calls ``success_finisher`` keeps
    short and nothing else: no tracer, no prediction or features function, no
    privacy policy, no challenger. Within them, a result that is not a float and
    features that are not a dict argument go back to the Python finisher, and a
    raised exception to ``finish_call``. None when the extension is not built.
    """
    spec = bound.spec
    speedups = _native.speedups
    if (
        speedups is None
        or bound.tracer is not None
        or spec.prediction is not None
        or spec.features is not None
        or bound.privacy is not None
        or bound.shadow is not None
    ):
        return None
    stats = bound.stats
    capture = bound.capture

    def log(cell: Cell, duration: float) -> None:
        bound.log("success", id_of(cell), duration, None, None, None)  # type: ignore[arg-type]

    def fail(
        exc: BaseException,
        args: tuple[Any, ...],
        kwargs: Mapping[str, Any],
        cell: Cell,
        start: float,
    ) -> None:
        leave(cell)
        finish_call(bound, None, exc, args, kwargs, cell, None, None, start)

    plan: object = speedups.Plan(
        ids=vars(_ids),
        started=bound.started,
        state=STATE,
        perf_counter=_perf_counter,
        random=random,
        durations=stats.pending_durations,
        values=stats.pending_values,
        fold_at=FOLD_AT,
        fold=stats.fold,
        queue=capture if type(capture) is CaptureQueue else None,
        submit_call=bound.submit_call,
        call_tag=CALL,
        model=bound.model,
        version=bound.version,
        role=bound.role,
        capture_rate=bound.capture_rate,
        index=spec.feature_index,
        log_rate=bound.log_rate,
        log=log,
        finish=bound.finish_success,
        fail=fail,
        running_from=running_from,
        telemetry_error=bound.telemetry_error,
    )
    return plan
