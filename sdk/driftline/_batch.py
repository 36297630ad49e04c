"""Batch calls: ``batch_ids`` gives one prediction id per row, ``finish_batch`` records the call."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from random import random
from typing import Any

from opentelemetry.trace import Span, SpanContext

from ._binding import Binding
from ._extract import batch_feature_columns, batch_length, batch_prediction_columns
from ._ids import new_ids

__all__ = ["batch_ids", "finish_batch"]

_perf_counter = time.perf_counter
_time = time.time


def batch_ids(
    bound: Binding, args: tuple[Any, ...], kwargs: Mapping[str, Any]
) -> tuple[Any, tuple[str, ...]]:
    """Return the batch input and one new id per row (none when its length cannot be read)."""
    try:
        batch = bound.first_input(args, kwargs)
        return batch, tuple(new_ids(batch_length(batch)))
    except Exception as error:
        bound.extraction_failed("batch input", error, 0)
        return None, ()


def finish_batch(
    bound: Binding,
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
        spec = bound.spec
        columns: dict[str, Any] | None = None
        if ok:
            try:
                output = spec.prediction(result) if spec.prediction is not None else result
                columns = batch_prediction_columns(output, rows)
            except Exception as error:
                bound.extraction_failed("batch predictions", error, rows)
        trace_id: str | None = None
        context: SpanContext | None = None
        sampled = False
        if span is not None:  # the batch size is a start attribute (Binding.start_batch)
            trace_id, context, sampled = bound.end_span(span, token, None, exc)
        try:
            bound.stats.finish(ok, rows if ok else 0, duration, trace_id if sampled else None, None)
            if columns is not None:
                bound.stats.observe_columns(columns)
        except Exception:
            bound.telemetry_error("metric")
        if not ok or (bound.log_rate and random() < bound.log_rate):
            first = prediction_ids[0] if prediction_ids else None
            bound.log("success" if ok else "error", first, duration, trace_id, context, exc, rows)
        capture = bound.capture
        timestamp = _time() - duration
        features: Mapping[str, Any] | None = None
        if (
            columns is not None
            and rows
            and capture is not None
            and (bound.capture_rate >= 1.0 or random() < bound.capture_rate)
        ):
            try:
                source = batch if spec.features is None else spec.features(*args, **kwargs or {})
                features = batch_feature_columns(source, spec.feature_names)
                if bound.privacy is not None:
                    features = bound.privacy.columns(features)
            except Exception as error:
                bound.extraction_failed("batch features", error, rows)
            if features is not None:
                try:
                    capture.submit_columns(
                        bound.model,
                        bound.version,
                        bound.role,
                        prediction_ids,
                        timestamp,
                        trace_id,
                        features,
                        columns,
                    )
                except Exception:
                    bound.telemetry_error("capture")
        if ok and rows and bound.shadow is not None:
            bound.run_shadow(
                args,
                kwargs if kwargs is not None else {},
                tuple(prediction_ids),
                timestamp,
                trace_id,
                features,
            )
    except Exception:
        bound.telemetry_error("metric")
