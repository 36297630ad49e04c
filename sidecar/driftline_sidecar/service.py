"""The sidecar's state: reference profiles, windows, latest evaluations, and the evaluation loop.

Ingest runs on the event loop and only appends to ring buffers; evaluation is CPU-bound
numpy, so it runs on a background thread ("driftline-evaluator") that copies a window
under the lock and evaluates it outside the lock. The same thread writes snapshots.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from driftline_sidecar import snapshot as snapshots
from driftline_sidecar.config import SidecarConfig
from driftline_sidecar.drift import Evaluation
from driftline_sidecar.evaluation import (
    EvaluationSummary,
    FittedCache,
    Reference,
    load_reference,
)
from driftline_sidecar.ingest import Column, DecodedBatch, IngestError, Kind, Role
from driftline_sidecar.metrics import ModelState, SidecarMetrics
from driftline_sidecar.outcomes import DecodedOutcomes
from driftline_sidecar.predictions import OutcomeStatus
from driftline_sidecar.version_metrics import register_version_metrics
from driftline_sidecar.versions import ModelComparison, VersionMonitor
from driftline_sidecar.window import Window

__all__ = ["EvaluationListener", "Key", "SidecarService"]

Key = tuple[str, str]
_log = logging.getLogger("driftline.sidecar")


class EvaluationListener(Protocol):
    """Called after each evaluation round per model version (``Alerter.observe`` fits).

    ``evaluation`` is None for a version without a profile (``has_profile`` False).
    """

    def __call__(
        self,
        model: str,
        version: str,
        evaluation: Evaluation | None,
        *,
        has_profile: bool,
        now: float | None = None,
    ) -> object: ...


@dataclass(frozen=True)
class Accepted:
    """What one batch added: its records, and the columns the window did not keep."""

    records: int
    ignored_columns: int


class SidecarService:
    """Windows, references and latest evaluations of every model version the sidecar knows."""

    def __init__(
        self,
        config: SidecarConfig,
        metrics: SidecarMetrics,
        *,
        references: Mapping[Key, Reference] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        """Load every configured reference profile (or use ``references``); raise ConfigError."""
        self.config = config
        self.metrics = metrics
        self._clock = clock
        self._lock = threading.Lock()
        self._references = dict(references) if references is not None else _load_all(config)
        self._windows: dict[Key, Window] = {}
        self._latest: dict[Key, EvaluationSummary] = {}
        self._evaluated: dict[Key, int] = {}
        for key in self._references:
            self._windows[key] = self._new_window(key)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._listeners: list[EvaluationListener] = []
        self.versions = VersionMonitor(
            config.versions, max_outputs=config.limits.max_window_features
        )
        """Shadow pairs, version comparison, outcomes and performance (versions.py)."""
        self._comparison_listeners: list[Callable[[ModelComparison, float], object]] = []
        register_version_metrics(metrics.registry, self.versions)
        self.ready = False
        metrics.watch(self)

    def add_listener(self, listener: EvaluationListener) -> None:
        """Call ``listener`` after every evaluation, on the evaluator thread (e.g. alerting)."""
        self._listeners.append(listener)

    # --- ingest ---------------------------------------------------------------------------

    def kind(self, model: str, version: str, role: Role, name: str) -> Kind | None:
        """The kind the reference expects for a wire column, None without a reference."""
        reference = self._references.get((model, version))
        if reference is None:
            return None
        column = reference.column_for(role, name)
        return None if column is None else reference.kinds[column]

    def accept(self, batch: DecodedBatch, field: str) -> Accepted:
        """Append a decoded batch to its window; raise IngestError (422) over the version cap."""
        key = (batch.model, batch.version)
        with self._lock:
            window = self._windows.get(key)
            if window is None:
                if len(self._windows) >= self.config.limits.max_model_versions:
                    raise IngestError(
                        422,
                        field,
                        f"the sidecar already tracks {len(self._windows)} model versions, "
                        f"the limit (limits.max_model_versions)",
                    )
                window = self._windows[key] = self._new_window(key)
            columns, dropped = self._columns(key, batch)
            ignored = window.append(batch.timestamps, columns) + dropped
        self.metrics.records_received.labels(*key).inc(batch.n)
        self.versions.add(batch, self._clock())
        if ignored:
            self.metrics.columns_ignored.labels(*key).inc(ignored)
        return Accepted(batch.n, ignored)

    def _columns(self, key: Key, batch: DecodedBatch) -> tuple[dict[str, Column], int]:
        reference = self._references.get(key)
        columns = dict(batch.features)
        dropped = 0
        for name, column in batch.predictions.items():
            target = name if reference is None else reference.column_for("prediction", name)
            if target is None or target in columns:
                dropped += 1
                continue
            columns[target] = column
        if reference is not None:
            for name in list(columns):
                if name not in reference.kinds or (
                    name in batch.features and reference.roles[name] != "feature"
                ):
                    del columns[name]
                    dropped += 1
        return columns, dropped

    def _new_window(self, key: Key) -> Window:
        reference = self._references.get(key)
        return Window(
            self.config.window_size,
            max_age=self.config.window_max_age,
            max_columns=self.config.limits.max_window_features,
            kinds=None if reference is None else reference.kinds,
        )

    # --- queries --------------------------------------------------------------------------

    def latest(self, model: str, version: str) -> EvaluationSummary | None:
        """The latest evaluation of a model version, None when there is none yet."""
        with self._lock:
            return self._latest.get((model, version))

    def known(self, model: str, version: str) -> bool:
        """Whether the sidecar has a reference or a window for this model version."""
        with self._lock:
            return (model, version) in self._windows

    def models(self) -> list[dict[str, Any]]:
        """One entry per known model version: reference, window size, latest evaluation time."""
        return [
            {
                "model": state.model,
                "version": state.version,
                "reference_loaded": state.profile_id is not None,
                "profile_id": state.profile_id,
                "window_records": state.window_records,
                "evaluated_at": state.evaluated_at,
                "drifted_features": state.drifted_features,
            }
            for state in self.metric_state()
        ]

    def metric_state(self) -> list[ModelState]:
        """The state of every known model version, for the metrics collector."""
        with self._lock:
            states = []
            for key, window in sorted(self._windows.items()):
                reference = self._references.get(key)
                latest = self._latest.get(key)
                states.append(
                    ModelState(
                        model=key[0],
                        version=key[1],
                        window_records=len(window),
                        profile_id=None if reference is None else reference.profile.profile_id,
                        evaluated_at=None if latest is None else latest.evaluated_at,
                        drifted_features=None if latest is None else latest.drifted_count,
                        columns=() if latest is None else latest.columns,
                    )
                )
            return states

    # --- evaluation -----------------------------------------------------------------------

    def evaluate_due(self) -> list[EvaluationSummary]:
        """Evaluate every referenced window with enough records that changed since its last run."""
        now = self._clock()
        done = []
        for key, reference in self._references.items():
            with self._lock:
                window = self._windows[key]
                window.expire(now)
                if (
                    len(window) < self.config.min_samples
                    or self._evaluated.get(key) == window.changes
                ):
                    continue
                columns = window.columns()
                changes = window.changes
            evaluation, summary = reference.evaluate(columns, evaluated_at=now)
            self.metrics.evaluation_duration.labels(*key).observe(summary.duration_s)
            with self._lock:
                self._latest[key] = summary
                self._evaluated[key] = changes
            self._notify(key, evaluation, now)
            done.append(summary)
        with self._lock:
            unreferenced = [
                key
                for key, window in self._windows.items()
                if key not in self._references and window.received
            ]
        for key in unreferenced:
            self._notify(key, None, now)
        self._compare(now)
        return done

    def record_outcomes(self, body: DecodedOutcomes) -> dict[OutcomeStatus, int]:
        """Join a body of outcomes to stored predictions; return the count of each status."""
        return self.versions.record_outcomes(body, self._clock())

    def add_comparison_listener(self, listener: Callable[[ModelComparison, float], object]) -> None:
        """Call ``listener(comparison, now)`` after each model's comparison is recomputed."""
        self._comparison_listeners.append(listener)

    def _compare(self, now: float) -> None:
        for comparison in self.versions.evaluate(now, self._reference_performance):
            for listener in self._comparison_listeners:
                try:
                    listener(comparison, now)
                except Exception:  # a listener never stops the evaluation loop
                    _log.exception("driftline sidecar: comparison listener failed")

    def _reference_performance(self, model: str, version: str) -> Mapping[str, float] | None:
        reference = self._references.get((model, version))
        return None if reference is None else reference.profile.performance

    def _notify(self, key: Key, evaluation: Evaluation | None, now: float) -> None:
        for listener in self._listeners:
            try:
                listener(*key, evaluation, has_profile=evaluation is not None, now=now)
            except Exception:  # a listener never stops the evaluation loop
                _log.exception("driftline sidecar: evaluation listener failed")

    def expire(self) -> None:
        """Drop records older than the window's max_age from every window."""
        now = self._clock()
        with self._lock:
            for window in self._windows.values():
                window.expire(now)

    # --- snapshots ------------------------------------------------------------------------

    def save_snapshot(self) -> Path | None:
        """Write the windows and latest evaluations to ``state_dir`` (None when it is unset)."""
        state_dir = self.config.state_dir
        if state_dir is None:
            return None
        with self._lock:
            state = snapshots.Snapshot(
                saved_at=self._clock(),
                windows={key: window.state() for key, window in self._windows.items()},
                evaluations={key: summary.to_json() for key, summary in self._latest.items()},
            )
        try:
            return snapshots.save_snapshot(state_dir, state)
        except OSError as exc:
            self.metrics.snapshot_failures.labels("save").inc()
            _log.error("driftline sidecar: cannot write the snapshot in %s: %s", state_dir, exc)
            return None

    def restore_snapshot(self) -> bool:
        """Restore windows and evaluations from ``state_dir``; a bad snapshot is moved aside."""
        state_dir = self.config.state_dir
        if state_dir is None:
            return False
        try:
            state = snapshots.load_snapshot(state_dir)
            if state is None:
                return False
            summaries = {
                key: EvaluationSummary.from_json(data) for key, data in state.evaluations.items()
            }
        except (snapshots.SnapshotError, KeyError, TypeError, ValueError) as exc:
            moved = snapshots.move_aside(state_dir)
            self.metrics.snapshot_failures.labels("restore").inc()
            _log.error(
                "driftline sidecar: ignoring a bad snapshot (%s); moved aside to %s",
                exc,
                ", ".join(str(p) for p in moved),
            )
            return False
        with self._lock:
            for key, window_state in state.windows.items():
                window = self._windows.get(key)
                if window is None:
                    if len(self._windows) >= self.config.limits.max_model_versions:
                        continue
                    window = self._windows[key] = self._new_window(key)
                window.restore(window_state)
            for key, summary in summaries.items():
                if (
                    key in self._references
                    and summary.profile_id == self._references[key].profile.profile_id
                ):
                    self._latest[key] = summary
                    self._evaluated[key] = self._windows[key].changes
        return True

    # --- the background thread ------------------------------------------------------------

    def start(self) -> None:
        """Start the evaluation and snapshot thread."""
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="driftline-evaluator", daemon=True)
        self._thread.start()
        self.ready = True

    def stop(self) -> None:
        """Stop the thread (waiting for a running evaluation), then write a final snapshot."""
        self.ready = False
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        self.save_snapshot()

    def _run(self) -> None:
        interval = self.config.interval
        snapshot_every = self.config.snapshot_interval
        next_evaluation = time.monotonic() + interval
        next_snapshot = time.monotonic() + snapshot_every
        while not self._stop.wait(
            max(0.0, min(next_evaluation, next_snapshot, time.monotonic() + 1.0) - time.monotonic())
        ):
            now = time.monotonic()
            try:
                if now >= next_evaluation:
                    self.evaluate_due()
                    next_evaluation = now + interval
                else:
                    self.expire()
                if now >= next_snapshot:
                    self.save_snapshot()
                    next_snapshot = now + snapshot_every
            except Exception:  # the loop must outlive one bad evaluation
                _log.exception("driftline sidecar: evaluation loop error")


def _load_all(config: SidecarConfig) -> dict[Key, Reference]:
    cache: FittedCache = {}
    return {
        (model.model, model.version): load_reference(index, model, config, cache)
        for index, model in enumerate(config.models)
    }
