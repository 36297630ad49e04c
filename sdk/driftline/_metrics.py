"""The SDK's Prometheus metrics: one collector per registry, with per-(model, version) state.

The model-level metrics are kept in plain Python numbers under one lock per
(model, version) and turned into metric families at scrape time, so a call
pays one lock for all of them instead of one per metric child (a
prometheus-client child takes its own lock on every update). The commonest
call, a success whose prediction is a float and that carries no exemplar, takes
no lock at all: it appends its duration and its value to two buffers of
doubles (``_speedups.Pending`` where the C extension is built, ``PendingArray``,
an ``array('d')``, otherwise; each append is one C call, atomic under the GIL),
and they are folded into the counters in bulk with numpy when they reach
``FOLD_AT`` entries and before every scrape, so a scrape always sees every
finished call. A fold copies
the first ``n`` entries, then deletes exactly those: appends that land in
between go to the end and wait for the next fold. The exposition itself, text
and OpenMetrics with exemplars, is prometheus-client's.
"""

from __future__ import annotations

import itertools
import os
import re
import threading
import time
import weakref
from array import array
from bisect import bisect_left
from collections import Counter as _Tally
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, Final, Protocol

import numpy as np
from prometheus_client import CollectorRegistry, Counter
from prometheus_client.metrics_core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector
from prometheus_client.samples import Exemplar
from prometheus_client.utils import floatToGoString

from . import _native
from ._counts import taken
from ._extract import VALUE

_go_float: Callable[[float], str] = floatToGoString


class PendingValues(Protocol):
    """A buffer of doubles: ``_speedups.Pending``, or ``PendingArray`` without the extension."""

    def append(self, value: float, /) -> None: ...
    def take(self, n: int, /) -> bytes: ...
    def __len__(self) -> int: ...


class PendingArray(array):  # type: ignore[type-arg]
    """``PendingArray("d")``: ``array('d')`` with ``Pending``'s ``take``, for no extension."""

    def take(self, n: int, /) -> bytes:
        """Remove the first ``n`` values and return them as C doubles."""
        taken = self[:n].tobytes()
        del self[:n]
        return taken


def _pending() -> PendingValues:
    """Return an empty buffer of pending doubles: a ``Pending`` when the extension is built."""
    speedups = _native.speedups
    return speedups.Pending() if speedups is not None else PendingArray("d")


__all__ = [
    "FOLD_AT",
    "OTHER_CLASS",
    "ModelStats",
    "RegistryMetrics",
    "histogram_buckets",
    "metrics_for",
    "sanitise_label_name",
]

OTHER_CLASS = "__other__"
DURATION_BUCKETS: tuple[float, ...] = (
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0,
)  # fmt: skip
_DURATION_BOUNDS = np.asarray(DURATION_BUCKETS)
FOLD_AT: Final = 1024
"""Pending plain successes folded into the counters at once (and at every scrape)."""
_LABEL_RE = re.compile(r"[^a-zA-Z0-9_]")


def sanitise_label_name(key: str) -> str:
    """Return ``key`` as a valid Prometheus label name (invalid characters become ``_``)."""
    name = _LABEL_RE.sub("_", key)
    if not name or name[0].isdigit():
        name = "_" + name
    while name.startswith("__"):  # reserved for Prometheus' own labels
        name = name[1:]
    return name


class _Histogram:
    __slots__ = ("counts", "total")

    def __init__(self, size: int) -> None:
        self.counts = [0] * size
        self.total = 0.0


def _take(pending: PendingValues) -> np.ndarray:
    """Remove and return the values in ``pending`` now; later appends stay (see module doc)."""
    n = len(pending)
    return np.frombuffer(pending.take(n), dtype=float) if n else np.empty(0)


def _add_counts(hist: _Histogram, counts: np.ndarray, total: float) -> None:
    for i in np.flatnonzero(counts).tolist():
        hist.counts[i] += int(counts[i])
    hist.total += total


def _class_label(value: object) -> str | None:
    if isinstance(value, bool | np.bool_):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    return None


class ModelStats:
    """The counters of one (model, version) in one registry; every update takes one lock."""

    __slots__ = (
        "classes",
        "duration",
        "duration_exemplars",
        "error",
        "lock",
        "max_classes",
        "model",
        "pending_durations",
        "pending_values",
        "prediction_bounds",
        "predictions",
        "rows",
        "started",
        "success",
        "version",
    )

    def __init__(
        self, model: str, version: str, prediction_bounds: tuple[float, ...], max_classes: int
    ) -> None:
        self.model = model
        self.version = version
        self.lock = threading.Lock()
        # next(started) is atomic in CPython: the in-flight gauge costs no lock at call start.
        self.started = itertools.count()
        self.success = 0
        self.error = 0
        self.rows = 0
        self.duration = _Histogram(len(DURATION_BUCKETS) + 1)
        self.duration_exemplars: list[Exemplar | None] = [None] * (len(DURATION_BUCKETS) + 1)
        self.prediction_bounds = prediction_bounds
        self.max_classes = max_classes
        self.predictions: dict[str, _Histogram] = {}
        self.classes: dict[str, dict[str, int]] = {}
        # Durations and values of successful one-row calls with a float prediction and
        # no exemplar, not yet counted: appended without a lock, folded by fold().
        self.pending_durations = _pending()
        self.pending_values = _pending()

    def reconfigure(self, prediction_bounds: tuple[float, ...], max_classes: int) -> None:
        """Adopt new prediction buckets (resetting that histogram) and class cap."""
        self.fold()  # pending values belong to the old buckets
        with self.lock:
            if prediction_bounds != self.prediction_bounds:
                self.prediction_bounds = prediction_bounds
                self.predictions = {}
            self.max_classes = max_classes

    def finish(
        self,
        ok: bool,
        rows: int,
        duration: float,
        trace_id: str | None,
        prediction: Mapping[str, object] | None,
    ) -> None:
        """Count one finished call of ``rows`` rows with its (single-row) prediction."""
        index = bisect_left(DURATION_BUCKETS, duration)
        exemplar = (
            Exemplar({"trace_id": trace_id}, duration, time.time())
            if trace_id is not None
            else None
        )
        # acquire/release, not `with`: the context-manager protocol costs twice as much here.
        lock = self.lock
        lock.acquire()
        try:
            if ok:
                self.success += 1
            else:
                self.error += 1
            self.rows += rows
            self.duration.counts[index] += 1
            self.duration.total += duration
            if exemplar is not None:
                self.duration_exemplars[index] = exemplar
            if prediction:
                predictions = self.predictions
                for output, value in prediction.items():
                    # Exact float and int first: what prediction_of returns for a number.
                    if (type(value) is float or type(value) is int) and (
                        hist := predictions.get(output)
                    ):
                        if value == value:  # NaN has no bucket
                            hist.counts[bisect_left(self.prediction_bounds, value)] += 1
                            hist.total += value
                    else:
                        self._observe(output, value)
        finally:
            lock.release()

    def fold(self) -> None:
        """Count every pending plain success: durations, rows and the ``value`` histogram."""
        with self.lock:
            durations = _take(self.pending_durations)
            if durations.size:
                counts = np.bincount(
                    np.searchsorted(_DURATION_BOUNDS, durations, side="left"),
                    minlength=len(DURATION_BUCKETS) + 1,
                )
                _add_counts(self.duration, counts, float(durations.sum()))
                self.success += durations.size
                self.rows += durations.size
            values = _take(self.pending_values)
            values = values[~np.isnan(values)]  # NaN has no bucket
            if values.size:
                bounds = self.prediction_bounds
                hist = self.predictions.get(VALUE)
                if hist is None:
                    hist = self.predictions[VALUE] = _Histogram(len(bounds) + 1)
                counts = np.bincount(
                    np.searchsorted(np.asarray(bounds), values, side="left"),
                    minlength=len(bounds) + 1,
                )
                _add_counts(hist, counts, float(values.sum()))

    def _observe(self, output: str, value: object) -> None:
        """Count one output value of any type (the caller holds the lock)."""
        if isinstance(value, int | float) and not isinstance(value, bool):
            if value != value:  # NaN has no bucket
                return
            bounds = self.prediction_bounds
            hist = self.predictions.get(output)
            if hist is None:
                hist = self.predictions[output] = _Histogram(len(bounds) + 1)
            hist.counts[bisect_left(bounds, value)] += 1
            hist.total += value
        else:
            label = _class_label(value)
            if label is not None:
                self._count_class(output, label, 1)

    def _count_class(self, output: str, label: str, count: int) -> None:
        seen = self.classes.get(output)
        if seen is None:
            seen = self.classes[output] = {}
        if label not in seen and len(seen) >= self.max_classes:
            label = OTHER_CLASS
        seen[label] = seen.get(label, 0) + count

    def observe_columns(self, columns: Mapping[str, Any]) -> None:
        """Count the predictions of a batch: each column a sequence or 1-D array of outputs."""
        bounds = np.asarray(self.prediction_bounds)
        numeric: dict[str, tuple[np.ndarray, float]] = {}
        labels: dict[str, _Tally[str]] = {}
        for output, column in columns.items():
            array = np.asarray(column)
            if array.dtype.kind in "iuf":
                values = array.astype(float, copy=False).ravel()
                values = values[~np.isnan(values)]
                counts = np.bincount(
                    np.searchsorted(bounds, values, side="left"), minlength=len(bounds) + 1
                )
                numeric[output] = (counts, float(values.sum()))
            else:
                tally: _Tally[str] = _Tally()
                for value in array.ravel().tolist():
                    label = _class_label(value)
                    if label is not None:
                        tally[label] += 1
                labels[output] = tally
        with self.lock:
            for output, (counts, total) in numeric.items():
                hist = self.predictions.get(output)
                if hist is None:
                    hist = self.predictions[output] = _Histogram(len(bounds) + 1)
                for i, count in enumerate(counts.tolist()):
                    hist.counts[i] += count
                hist.total += total
            for output, tally in labels.items():
                for label, count in tally.items():
                    self._count_class(output, label, count)


def histogram_buckets(
    bounds: Sequence[float],
    counts: Sequence[int],
    exemplars: Sequence[Exemplar | None] | None = None,
) -> list[Any]:
    """Turn per-bucket ``counts`` (one more than ``bounds``) into cumulative ``(le, n)`` rows."""
    out: list[Any] = []
    cumulative = 0
    for i, count in enumerate(counts):
        cumulative += count
        le = _go_float(bounds[i]) if i < len(bounds) else "+Inf"
        exemplar = exemplars[i] if exemplars is not None else None
        out.append((le, cumulative, exemplar) if exemplar is not None else (le, cumulative))
    return out


class RegistryMetrics(Collector):
    """driftline's metrics in one registry: model state, model info, telemetry errors."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self._lock = threading.Lock()
        self._stats: dict[tuple[str, str], ModelStats] = {}
        self._info: dict[tuple[str, str], dict[str, str]] = {}
        self.telemetry_errors = Counter(
            "driftline_telemetry_errors",
            "Problems inside driftline's own telemetry, by signal; never raised into model code.",
            ["signal"],
            registry=registry,
        )
        self.error_children = {
            signal: self.telemetry_errors.labels(signal)
            for signal in ("trace", "log", "metric", "capture")
        }
        registry.register(self)

    def stats(
        self, model: str, version: str, prediction_bounds: tuple[float, ...], max_classes: int
    ) -> ModelStats:
        """Return the state of (model, version), created on first use."""
        with self._lock:
            stats = self._stats.get((model, version))
            if stats is None:
                stats = self._stats[(model, version)] = ModelStats(
                    model, version, prediction_bounds, max_classes
                )
                return stats
        stats.reconfigure(prediction_bounds, max_classes)
        return stats

    def set_info(self, model: str, version: str, labels: Mapping[str, str]) -> None:
        """Set ``driftline_model_info`` for (model, version); note when the version first served."""
        now = time.time()
        with self._lock:
            self._info[(model, version)] = dict(labels)
        with _first_served_lock:
            _first_served.setdefault((model, version), now)

    def collect(self) -> Iterator[Metric]:
        """Yield the families, built from a consistent copy of each model's state."""
        with self._lock:
            all_stats = list(self._stats.values())
            infos = list(self._info.values())
            versions = list(self._info)
        with _first_served_lock:
            first_served = [(k, _first_served.get(k)) for k in versions]
        requests = CounterMetricFamily(
            "driftline_requests",
            "Decorated calls, by outcome (error: the function raised).",
            labels=["model", "version", "outcome"],
        )
        rows = CounterMetricFamily(
            "driftline_prediction_rows",
            "Rows predicted: 1 per plain call, the batch length per batch call.",
            labels=["model", "version"],
        )
        duration = HistogramMetricFamily(
            "driftline_request_duration_seconds",
            "Wall time of the decorated call; exemplar: the trace id when the span was sampled.",
            labels=["model", "version"],
        )
        in_flight = GaugeMetricFamily(
            "driftline_requests_in_flight", "Calls currently running.", labels=["model", "version"]
        )
        values = HistogramMetricFamily(
            "driftline_prediction_value",
            "Numeric predictions, per named output.",
            labels=["model", "version", "output"],
        )
        classes = CounterMetricFamily(
            "driftline_predicted_class",
            "Predicted labels, at most max_classes per output; the rest are __other__.",
            labels=["model", "version", "output", "class"],
        )
        for stats in all_stats:
            key = [stats.model, stats.version]
            stats.fold()
            with stats.lock:
                success, error, row_count = stats.success, stats.error, stats.rows
                dur = _Histogram(0)
                dur.counts, dur.total = list(stats.duration.counts), stats.duration.total
                exemplars = list(stats.duration_exemplars)
                bounds = stats.prediction_bounds
                preds = {k: (list(h.counts), h.total) for k, h in stats.predictions.items()}
                labels = {k: dict(v) for k, v in stats.classes.items()}
            # Read after the finished counts, so in-flight is never negative.
            started = taken(stats.started)
            requests.add_metric([*key, "success"], success)
            requests.add_metric([*key, "error"], error)
            rows.add_metric(key, row_count)
            duration.add_metric(
                key, histogram_buckets(DURATION_BUCKETS, dur.counts, exemplars), dur.total
            )
            in_flight.add_metric(key, max(0, started - success - error))
            for output, (counts, total) in preds.items():
                hist = _Histogram(0)
                hist.counts, hist.total = counts, total
                values.add_metric([*key, output], histogram_buckets(bounds, hist.counts), total)
            for output, tally in labels.items():
                for label, count in tally.items():
                    classes.add_metric([*key, output, label], count)
        info = GaugeMetricFamily(
            "driftline_model_info", "Provenance the user declares for a model version (always 1)."
        )
        for labels_ in infos:
            info.add_sample("driftline_model_info", labels_, 1.0)
        start_time = GaugeMetricFamily(
            "driftline_model_start_time_seconds",
            "Unix time the model version first served in this process.",
            labels=["model", "version"],
        )
        for (model, version), first in first_served:
            if first is not None:
                start_time.add_metric([model, version], first)
        yield from (requests, rows, duration, in_flight, values, classes, info, start_time)


# When each (model, version) first served in this process; forgotten in a forked child.
_first_served: dict[tuple[str, str], float] = {}
_first_served_lock = threading.Lock()


def _after_fork_in_child() -> None:
    global _first_served_lock
    _first_served_lock = threading.Lock()
    _first_served.clear()


os.register_at_fork(after_in_child=_after_fork_in_child)

_by_registry: weakref.WeakKeyDictionary[CollectorRegistry, RegistryMetrics] = (
    weakref.WeakKeyDictionary()
)
_by_registry_lock = threading.Lock()


def metrics_for(registry: CollectorRegistry) -> RegistryMetrics:
    """Return driftline's metrics in ``registry``, registering them on first use."""
    with _by_registry_lock:
        metrics = _by_registry.get(registry)
        if metrics is None:
            metrics = _by_registry[registry] = RegistryMetrics(registry)
        return metrics
