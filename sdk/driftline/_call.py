"""``finish_call``: records one finished plain call (metrics, span, log, capture, challenger)."""

from __future__ import annotations

import time
from collections.abc import Mapping
from random import random
from typing import Any

from opentelemetry.trace import Span

from ._binding import Binding
from ._extract import features_of, prediction_of
from ._tracing import flatten_attributes

__all__ = ["finish_call"]

_perf_counter = time.perf_counter
_time = time.time


def finish_call(
    bound: Binding,
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
                if spec.features is not None:
                    source = spec.features(*args, **kwargs)
                elif len(args) > spec.feature_index:
                    source = args[spec.feature_index]
                else:
                    source = bound.first_input(args, kwargs)
                features = (
                    source.copy()
                    if type(source) is dict
                    else features_of(source, spec.feature_names)
                )
                if bound.privacy is not None:
                    features = bound.privacy.record(features)
            except Exception as error:
                bound.extraction_failed("features", error, 1 if capturing else 0)
                capturing = False
        trace_id: str | None = None
        span_id: str | None = None
        exemplar: str | None = None
        if span is not None:
            attributes: dict[str, Any] = {
                "driftline.prediction.id": prediction_id,
                "driftline.outcome": "success" if ok else "error",
            }
            if exc is not None:
                attributes["error.type"] = type(exc).__qualname__
            if span_features:
                if features is not None:
                    attributes.update(flatten_attributes("driftline.features.", features))
                if prediction is not None:
                    attributes.update(flatten_attributes("driftline.predictions.", prediction))
            trace_id, span_id, sampled = bound.end_span(span, token, attributes, exc)
            if sampled:
                exemplar = trace_id
        try:
            bound.stats.finish(ok, 1 if ok else 0, duration, exemplar, prediction)
        except Exception:
            bound.telemetry_error("metric")
        if not ok or (bound.log_rate and random() < bound.log_rate):
            bound.log("success" if ok else "error", prediction_id, duration, trace_id, span_id, exc)
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
