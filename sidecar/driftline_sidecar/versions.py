"""Version monitoring: shadow pairs, version-vs-version prediction drift, and live performance.

`VersionMonitor` is fed on the event loop (``add`` for each accepted batch, ``record_outcomes``
for each outcomes body) and evaluated on the evaluator thread (``evaluate``), which
copies what changed under the lock and computes outside it. The latest result of each
model is a `ModelComparison`: what ``GET /v1/compare/{model}``, the metrics and the
version alerts read.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from itertools import combinations
from typing import Any

import numpy as np
import numpy.typing as npt

from driftline_sidecar.compare import (
    PairedDifference,
    agreement,
    as_labels,
    paired_difference,
    prediction_drift,
)
from driftline_sidecar.drift import ColumnResult, DriftSettings
from driftline_sidecar.drift._types import json_float
from driftline_sidecar.ingest import Column, DecodedBatch
from driftline_sidecar.outcomes import DecodedOutcomes
from driftline_sidecar.performance import Performance, compute_performance
from driftline_sidecar.predictions import (
    STATUSES,
    OutcomeStatus,
    PairGroup,
    PredictionStore,
    RecordBatch,
)
from driftline_sidecar.versions_settings import VersionsSettings
from driftline_sidecar.window import Window

__all__ = [
    "ModelComparison",
    "ShadowComparison",
    "ShadowOutput",
    "VersionDrift",
    "VersionMonitor",
    "VersionPerformance",
]

_log = logging.getLogger("driftline.sidecar")

ReferencePerformance = Callable[[str, str], Mapping[str, float] | None]


@dataclass(frozen=True)
class ShadowOutput:
    """One output of a champion/challenger pair: agreement, paired differences, drift."""

    output: str
    pairs: int
    agreement: float | None
    agreement_pairs: int
    difference: PairedDifference | None
    drift: ColumnResult | None

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form."""
        diff = self.difference
        return {
            "output": self.output,
            "pairs": self.pairs,
            "agreement": json_float(self.agreement),
            "agreement_pairs": self.agreement_pairs,
            "difference": None
            if diff is None
            else {
                "n": diff.n,
                **{k: json_float(v) for k, v in diff.statistics().items()},
                "wilcoxon_p": json_float(diff.wilcoxon_p),
                "paired_t_p": json_float(diff.paired_t_p),
            },
            "drift": None if self.drift is None else _drift_dict(self.drift),
        }


@dataclass(frozen=True)
class ShadowComparison:
    """A champion version and a challenger version of one model, over their shadow pairs."""

    model: str
    champion_version: str
    challenger_version: str
    pairs: int
    outputs: tuple[ShadowOutput, ...]


@dataclass(frozen=True)
class VersionDrift:
    """The prediction drift of ``version_b`` against ``version_a`` for one output.

    ``source`` is ``pairs`` for a champion/challenger pair (the same requests), else
    ``windows`` (each version's most recent records).
    """

    model: str
    version_a: str
    version_b: str
    output: str
    source: str
    result: ColumnResult


@dataclass(frozen=True)
class VersionPerformance:
    """A version's live performance over its last joined outcomes, and its reference's."""

    model: str
    version: str
    outcomes: int
    performance: Performance
    reference: Mapping[str, float] | None


@dataclass(frozen=True)
class ModelComparison:
    """Everything the sidecar compares for one model, as of ``computed_at``."""

    model: str
    computed_at: float | None
    shadow: tuple[ShadowComparison, ...] = ()
    drift: tuple[VersionDrift, ...] = ()
    performance: tuple[VersionPerformance, ...] = ()
    versions: tuple[str, ...] = field(default=())

    def to_dict(self) -> dict[str, Any]:
        """The ``GET /v1/compare/{model}`` document."""
        return {
            "model": self.model,
            "computed_at": self.computed_at,
            "versions": list(self.versions),
            "shadow": [
                {
                    "champion_version": s.champion_version,
                    "challenger_version": s.challenger_version,
                    "pairs": s.pairs,
                    "outputs": [o.to_dict() for o in s.outputs],
                }
                for s in self.shadow
            ],
            "drift": [
                {
                    "version_a": d.version_a,
                    "version_b": d.version_b,
                    "output": d.output,
                    "source": d.source,
                    **_drift_dict(d.result),
                }
                for d in self.drift
            ],
            "performance": [
                {
                    "version": p.version,
                    "task": p.performance.task,
                    "outcomes": p.outcomes,
                    "scored": p.performance.n,
                    "metrics": {k: json_float(v) for k, v in p.performance.metrics.items()},
                    "reference": None if p.reference is None else dict(p.reference),
                }
                for p in self.performance
            ],
        }


def _drift_dict(result: ColumnResult) -> dict[str, Any]:
    return {
        "status": result.status,
        "test": result.test,
        "statistic": json_float(result.statistic),
        "p_value": json_float(result.p_value),
        "effect_method": result.effect_method,
        "effect_size": json_float(result.effect_size),
        "drifted": result.drifted,
        "severity": result.severity.label,
        "n_reference": result.n_reference,
        "n_window": result.n_window,
    }


class _Ring:
    """The last ``capacity`` values appended (Python objects), oldest first on read."""

    def __init__(self, capacity: int) -> None:
        self.values: npt.NDArray[Any] = np.full(capacity, None, dtype=object)
        self.end = 0
        self.size = 0

    def append(self, values: npt.NDArray[Any]) -> None:
        capacity = len(self.values)
        keep = min(len(values), capacity)
        self.values[(self.end + np.arange(keep)) % capacity] = values[len(values) - keep :]
        self.end = (self.end + keep) % capacity
        self.size = min(self.size + keep, capacity)

    def ordered(self) -> npt.NDArray[Any]:
        """A copy of the values, oldest first."""
        capacity = len(self.values)
        return self.values[(self.end - self.size + np.arange(self.size)) % capacity]


class _PairWindow:
    """The most recent shadow pairs of one champion/challenger version pair, per output."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self.outputs: dict[str, tuple[_Ring, _Ring]] = {}
        self.pairs = 0

    def add(self, group: PairGroup, max_outputs: int) -> None:
        """Append a group of pairs to every output both sides have (up to ``max_outputs``)."""
        self.pairs = min(self.pairs + len(group), self.capacity)
        challenger_outputs = group.challenger.outputs
        for name, column in group.champion.outputs.items():
            other = challenger_outputs.get(name)
            if other is None:
                continue
            sides = self.outputs.get(name)
            if sides is None:
                if len(self.outputs) >= max_outputs:
                    continue
                sides = self.outputs[name] = (_Ring(self.capacity), _Ring(self.capacity))
            sides[0].append(_paired_values(column, group.champion_rows))
            sides[1].append(_paired_values(other, group.challenger_rows))


def _paired_values(column: Column, rows: npt.NDArray[np.intp]) -> npt.NDArray[Any]:
    """The values at ``rows`` as Python objects: floats (NaN when missing), labels or None."""
    values = column.values[rows]
    return values.astype(object) if column.kind == "numeric" else values


class VersionMonitor:
    """Shadow pairs, per-version prediction windows, the prediction store and outcomes."""

    def __init__(self, settings: VersionsSettings, *, max_outputs: int = 256) -> None:
        """Empty state under ``settings``; at most ``max_outputs`` outputs per version."""
        self.settings = settings
        self.max_outputs = max_outputs
        self._lock = threading.Lock()
        self._store = PredictionStore(settings.max_predictions, settings.horizon)
        self._versions: dict[str, list[str]] = {}
        self._windows: dict[tuple[str, str], Window] = {}
        self._pairs: dict[tuple[str, str, str], _PairWindow] = {}
        self._performance: dict[tuple[str, str], deque[tuple[Any, Any]]] = {}
        self._changes: dict[str, int] = {}
        self._evaluated: dict[str, int] = {}
        self._latest: dict[str, ModelComparison] = {}
        self.outcomes = dict.fromkeys(STATUSES, 0)

    # --- feeding ----------------------------------------------------------------------------

    def add(self, batch: DecodedBatch, now: float) -> None:
        """Keep an accepted batch's predictions: the store, its version's window, its pairs.

        Never raises: the batch is already in its drift window and counted as accepted, so
        a failure here is logged and leaves this monitor as it was before the batch.
        """
        if batch.n == 0:
            return
        try:
            with self._lock:
                self._add(batch, now)
        except Exception:  # the caller's answer must not change after the batch was kept
            _log.exception(
                "driftline sidecar: version monitoring skipped a batch of %r %r",
                batch.model,
                batch.version,
            )

    def _add(self, batch: DecodedBatch, now: float) -> None:
        """Work out every change first (may raise), then make them (plain container updates)."""
        records = RecordBatch(
            batch.model, batch.version, batch.role, batch.timestamps, batch.predictions
        )
        placement = self._store.plan(records, batch.ids)
        key = (batch.model, batch.version)
        window = self._windows.get(key)
        if window is None:
            window = Window(self.settings.compare_window, max_columns=self.max_outputs)
        window.append(batch.timestamps, batch.predictions)
        # Nothing below raises short of MemoryError: the plan is applied whole.
        self._windows[key] = window
        versions = self._versions.setdefault(batch.model, [])
        if batch.version not in versions:
            versions.append(batch.version)
        if placement is not None:
            self._store.apply(placement, now)
            for group in placement.pairs:
                self._pair_window(group).add(group, self.max_outputs)
        self._changes[batch.model] = self._changes.get(batch.model, 0) + 1

    def _pair_window(self, group: PairGroup) -> _PairWindow:
        key = (group.champion.model, group.champion.version, group.challenger.version)
        window = self._pairs.get(key)
        if window is None:
            window = self._pairs[key] = _PairWindow(self.settings.compare_window)
        return window

    def record_outcomes(self, body: DecodedOutcomes, now: float) -> dict[OutcomeStatus, int]:
        """Join a body's outcomes to stored predictions; return how many got each status."""
        counts: dict[OutcomeStatus, int] = dict.fromkeys(STATUSES, 0)
        with self._lock:
            self._store.expire(now)
            for i, (key, actual) in enumerate(zip(body.ids, body.actuals, strict=True)):
                at = now if body.timestamps is None else body.timestamps[i]
                status, joined = self._store.join(key, actual, at)
                counts[status] += 1
                if joined is None:
                    continue
                for record in joined.records:
                    model = record.batch.model
                    output = self.settings.for_model(model).output
                    if output not in record.batch.outputs and len(record.batch.outputs) == 1:
                        output = next(iter(record.batch.outputs))
                    if output not in record.batch.outputs:
                        continue
                    window = self._performance.setdefault(
                        (model, record.batch.version),
                        deque(maxlen=self.settings.performance_window),
                    )
                    window.append((record.output(output), actual))
                    self._changes[model] = self._changes.get(model, 0) + 1
            for status, count in counts.items():
                self.outcomes[status] += count
        return counts

    # --- queries ----------------------------------------------------------------------------

    def known(self, model: str) -> bool:
        """Whether records of ``model`` arrived."""
        with self._lock:
            return model in self._versions

    def latest(self, model: str) -> ModelComparison:
        """The latest comparison of ``model`` (empty, ``computed_at`` None, before the first)."""
        with self._lock:
            found = self._latest.get(model)
            versions = tuple(self._versions.get(model, ()))
        return found if found is not None else ModelComparison(model, None, versions=versions)

    def comparisons(self) -> list[ModelComparison]:
        """The latest comparison of every model evaluated so far."""
        with self._lock:
            return [self._latest[model] for model in sorted(self._latest)]

    def store_size(self) -> tuple[int, dict[str, int]]:
        """Ids in the prediction store, and evictions so far by reason."""
        with self._lock:
            return len(self._store), dict(self._store.evictions)

    # --- evaluation -------------------------------------------------------------------------

    def evaluate(self, now: float, reference: ReferencePerformance) -> list[ModelComparison]:
        """Recompute every model whose pairs, records or outcomes changed; return them."""
        with self._lock:
            self._store.expire(now)
            due = [m for m, c in self._changes.items() if self._evaluated.get(m) != c]
            copies = {model: self._copy(model) for model in due}
            for model in due:
                self._evaluated[model] = self._changes[model]
        done = []
        for model, copy in copies.items():
            comparison = self._compute(model, copy, now, reference)
            with self._lock:
                self._latest[model] = comparison
            done.append(comparison)
        return done

    def _copy(self, model: str) -> _ModelData:
        versions = tuple(self._versions.get(model, ()))
        windows = {
            version: {n: c.values for n, c in self._windows[(model, version)].columns().items()}
            for version in versions
        }
        pairs = {
            (champion, challenger): (
                window.pairs,
                {
                    name: (sides[0].ordered(), sides[1].ordered())
                    for name, sides in window.outputs.items()
                },
            )
            for (m, champion, challenger), window in self._pairs.items()
            if m == model
        }
        performance = {
            version: list(window)
            for (m, version), window in self._performance.items()
            if m == model
        }
        return _ModelData(versions, windows, pairs, performance)

    def _compute(
        self, model: str, data: _ModelData, now: float, reference: ReferencePerformance
    ) -> ModelComparison:
        settings = self.settings.for_model(model)
        drift_settings = DriftSettings(min_samples=self.settings.min_pairs)
        performance = tuple(
            VersionPerformance(
                model,
                version,
                len(rows),
                compute_performance(
                    [p for p, _ in rows],
                    [a for _, a in rows],
                    task=settings.task,
                    threshold=settings.threshold,
                ),
                reference(model, version),
            )
            for version, rows in sorted(data.performance.items())
        )
        task = settings.task or next((p.performance.task for p in performance), None)
        threshold = settings.threshold if task == "classification" else None
        shadow = []
        drift = []
        for (champion, challenger), (count, outputs) in sorted(data.pairs.items()):
            shadow_outputs = []
            for name, (a, b) in sorted(outputs.items()):
                compared = _shadow_output(name, a, b, threshold, drift_settings, now)
                shadow_outputs.append(compared)
                if compared.drift is not None:
                    drift.append(
                        VersionDrift(model, champion, challenger, name, "pairs", compared.drift)
                    )
            shadow.append(
                ShadowComparison(model, champion, challenger, count, tuple(shadow_outputs))
            )
        for version_a, version_b in combinations(data.versions, 2):
            if (version_a, version_b) in data.pairs or (version_b, version_a) in data.pairs:
                continue
            a_columns, b_columns = data.windows[version_a], data.windows[version_b]
            for name in sorted(set(a_columns) & set(b_columns)):
                a, b = a_columns[name], b_columns[name]
                if (a.dtype.kind == "f") != (b.dtype.kind == "f"):
                    continue
                result = prediction_drift(
                    a, b, name=name, settings=drift_settings, evaluated_at=now
                )
                if result is not None:
                    drift.append(VersionDrift(model, version_a, version_b, name, "windows", result))
        return ModelComparison(
            model, now, tuple(shadow), tuple(drift), performance, versions=data.versions
        )


@dataclass(frozen=True)
class _ModelData:
    versions: tuple[str, ...]
    windows: dict[str, dict[str, npt.NDArray[Any]]]
    pairs: dict[tuple[str, str], tuple[int, dict[str, tuple[npt.NDArray[Any], npt.NDArray[Any]]]]]
    performance: dict[str, list[tuple[Any, Any]]]


def _numeric(values: npt.NDArray[Any]) -> npt.NDArray[np.float64] | None:
    """Paired values as floats when every present value is a number, else None (labels)."""
    out = np.full(len(values), np.nan)
    for i, value in enumerate(values.tolist()):
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int | float):
            return None
        out[i] = value
    return out


def _shadow_output(
    name: str,
    champion: npt.NDArray[Any],
    challenger: npt.NDArray[Any],
    threshold: float | None,
    settings: DriftSettings,
    now: float,
) -> ShadowOutput:
    a_num, b_num = _numeric(champion), _numeric(challenger)
    numeric = a_num is not None and b_num is not None
    difference = None
    agreed: tuple[float, int] | None = None
    if numeric:
        assert a_num is not None
        assert b_num is not None
        difference = paired_difference(a_num, b_num)
        if threshold is not None:
            agreed = agreement(as_labels(a_num, threshold), as_labels(b_num, threshold))
        drift = prediction_drift(a_num, b_num, name=name, settings=settings, evaluated_at=now)
    else:
        a_lab, b_lab = as_labels(champion, None), as_labels(challenger, None)
        agreed = agreement(a_lab, b_lab)
        drift = prediction_drift(a_lab, b_lab, name=name, settings=settings, evaluated_at=now)
    return ShadowOutput(
        output=name,
        pairs=len(champion),
        agreement=None if agreed is None else agreed[0],
        agreement_pairs=0 if agreed is None else agreed[1],
        difference=difference,
        drift=drift,
    )
