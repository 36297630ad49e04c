"""The bounded prediction store: recent predictions by id, for shadow pairs and outcome joins.

Each id keeps a reference to the outputs of the batch it arrived in (no copy) for its
champion record and its challenger record. The store holds at most ``max_entries`` ids;
ids whose prediction is older than ``horizon`` seconds, or beyond the cap, leave first
(oldest arrival first) and are remembered as "evicted" (up to ``max_entries`` of them) so
a late outcome is told apart from an unknown id. Counting rules: docs/sidecar.md,
"Ground truth and performance".
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from driftline_sidecar.ingest import Column

__all__ = ["Joined", "OutcomeStatus", "Pair", "PredictionStore", "Record", "RecordBatch"]

OutcomeStatus = Literal["joined", "unknown", "late", "duplicate"]
STATUSES: tuple[OutcomeStatus, ...] = ("joined", "unknown", "late", "duplicate")


@dataclass(frozen=True)
class RecordBatch:
    """The part of an accepted batch the store keeps: who predicted, when, and the outputs."""

    model: str
    version: str
    role: str
    timestamps: npt.NDArray[np.float64]
    outputs: Mapping[str, Column]


@dataclass(frozen=True)
class Record:
    """One stored prediction: row ``row`` of ``batch``."""

    batch: RecordBatch
    row: int

    @property
    def timestamp(self) -> float:
        """Unix time of the prediction."""
        return float(self.batch.timestamps[self.row])

    def output(self, name: str) -> Any:
        """The value of output ``name`` (a float, a label, or None when absent or missing)."""
        column = self.batch.outputs.get(name)
        if column is None:
            return None
        value = column.values[self.row]
        if column.kind == "numeric":
            return float(value)
        return value

    def output_names(self) -> tuple[str, ...]:
        """The outputs this record has."""
        return tuple(self.batch.outputs)


@dataclass(frozen=True)
class Pair:
    """A completed shadow pair: the champion's and the challenger's record of one id."""

    champion: Record
    challenger: Record


@dataclass(frozen=True)
class Joined:
    """An outcome joined to the stored records of its id (champion and/or challenger)."""

    records: tuple[Record, ...]
    actual: float | str | bool


class _Entry:
    __slots__ = ("challenger", "champion", "outcome", "timestamp")

    def __init__(self, timestamp: float) -> None:
        self.timestamp = timestamp
        self.champion: Record | None = None
        self.challenger: Record | None = None
        self.outcome = False


class PredictionStore:
    """Recent predictions by id; not thread-safe (the caller holds a lock)."""

    def __init__(self, max_entries: int, horizon: float) -> None:
        """Keep at most ``max_entries`` ids, none older than ``horizon`` seconds."""
        self.max_entries = max_entries
        self.horizon = horizon
        self._entries: OrderedDict[str, _Entry] = OrderedDict()
        self._evicted: OrderedDict[str, bool] = OrderedDict()
        self.evictions = {"capacity": 0, "horizon": 0}

    def __len__(self) -> int:
        """The number of ids stored."""
        return len(self._entries)

    def add(self, batch: RecordBatch, ids: Sequence[str], now: float) -> list[Pair]:
        """Store a batch's records by id; return the shadow pairs they complete."""
        if self.max_entries == 0:
            return []
        challenger = batch.role == "challenger"
        pairs: list[Pair] = []
        entries = self._entries
        for row, key in enumerate(ids):
            entry = entries.get(key)
            if entry is None:
                if key in self._evicted:
                    continue
                entry = entries[key] = _Entry(float(batch.timestamps[row]))
            record = Record(batch, row)
            if challenger:
                if entry.challenger is not None:
                    continue
                entry.challenger = record
            else:
                if entry.champion is not None:
                    continue
                entry.champion = record
            if entry.champion is not None and entry.challenger is not None:
                pairs.append(Pair(entry.champion, entry.challenger))
        self.expire(now)
        return pairs

    def expire(self, now: float) -> None:
        """Evict ids beyond ``max_entries`` and ids whose prediction is older than the horizon."""
        entries = self._entries
        while len(entries) > self.max_entries:
            self._evict(*entries.popitem(last=False), "capacity")
        oldest = now - self.horizon
        while entries:
            key, entry = next(iter(entries.items()))
            if entry.timestamp >= oldest:
                break
            del entries[key]
            self._evict(key, entry, "horizon")

    def _evict(self, key: str, entry: _Entry, reason: str) -> None:
        self.evictions[reason] += 1
        self._evicted[key] = entry.outcome
        if len(self._evicted) > self.max_entries:
            self._evicted.popitem(last=False)

    def join(
        self, key: str, actual: float | str | bool, at: float
    ) -> tuple[OutcomeStatus, Joined | None]:
        """Join one outcome recorded at ``at`` to its id; return its status and the join."""
        entry = self._entries.get(key)
        if entry is None:
            joined_before = self._evicted.get(key)
            if joined_before is None:
                return "unknown", None
            if joined_before:
                return "duplicate", None
            self._evicted[key] = True
            return "late", None
        if entry.outcome:
            return "duplicate", None
        entry.outcome = True
        if at - entry.timestamp > self.horizon:
            return "late", None
        records = tuple(r for r in (entry.champion, entry.challenger) if r is not None)
        return "joined", Joined(records, actual)
