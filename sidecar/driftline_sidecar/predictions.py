"""The bounded prediction store: recent predictions by id, for shadow pairs and outcome joins.

Each id keeps a reference to the outputs of the batch it arrived in (no copy) for its
champion record and its challenger record. The store holds at most ``max_entries`` ids;
ids whose prediction is older than ``horizon`` seconds, or beyond the cap, leave first
(oldest arrival first) and are remembered as "evicted" (up to ``max_entries`` of them) so
a late outcome is told apart from an unknown id. Counting rules: docs/sidecar.md,
"Ground truth and performance".
"""

from __future__ import annotations

from bisect import bisect_right
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from itertools import repeat
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


_Slot = tuple[RecordBatch, int]


@dataclass
class _Chunk:
    """The ids one batch added, oldest first, numbered from ``base``; ``start`` evicted."""

    batch: RecordBatch
    keys: tuple[str, ...]
    rows: npt.NDArray[np.intp]
    base: int
    start: int = 0


def _drain(function: Any, keys: Sequence[str]) -> None:
    """Call ``function(key, None)`` for every key in C (no Python frame per key)."""
    deque(map(function, keys, repeat(None, len(keys))), maxlen=0)


class PredictionStore:
    """Recent predictions by id; not thread-safe (the caller holds a lock).

    Built for ingest speed: a batch of new ids goes in with one C-level ``dict.update``
    of id -> sequence number (plain ints, so the garbage collector never walks them) and
    leaves in slices; Python code runs per record only for ids already stored (the second
    record of a shadow pair).
    """

    def __init__(self, max_entries: int, horizon: float) -> None:
        """Keep at most ``max_entries`` ids, none older than ``horizon`` seconds."""
        self.max_entries = max_entries
        self.horizon = horizon
        self._entries: dict[str, int] = {}
        """The sequence number of the first record of each id (either role)."""
        self._chunks: list[_Chunk] = []
        self._bases: list[int] = []
        self._next = 0
        self._partners: dict[str, _Slot] = {}
        """The second record of a shadow pair (the other role), by id."""
        self._outcomes: set[str] = set()
        """Stored ids that already had an outcome."""
        self._evicted: dict[str, bool] = {}
        """Evicted ids, and whether each had an outcome."""
        self._evicted_chunks: deque[tuple[str, ...]] = deque()
        self.evictions = {"capacity": 0, "horizon": 0}

    def __len__(self) -> int:
        """The number of ids stored."""
        return len(self._entries)

    def add(self, batch: RecordBatch, ids: Sequence[str], now: float) -> list[Pair]:
        """Store a batch's records by id; return the shadow pairs they complete."""
        if self.max_entries == 0 or not ids:
            return []
        entries = self._entries
        unique = set(ids)
        known = entries.keys() & unique
        evicted = self._evicted.keys() & unique
        pairs: list[Pair] = []
        base = self._next
        if not known and not evicted and len(unique) == len(ids):
            n = len(ids)
            entries.update(zip(ids, range(base, base + n), strict=True))
            self._push(_Chunk(batch, tuple(ids), np.arange(n), base))
        else:
            keys: list[str] = []
            rows: list[int] = []
            for row, key in enumerate(ids):
                if key in evicted:
                    continue
                seq = entries.get(key)
                if seq is None:
                    entries[key] = base + len(keys)
                    keys.append(key)
                    rows.append(row)
                    continue
                first = self._slot(seq)
                if first[0].role != batch.role and key not in self._partners:
                    self._partners[key] = (batch, row)
                    pairs.append(_pair(first, (batch, row)))
            if keys:
                self._push(_Chunk(batch, tuple(keys), np.array(rows, dtype=np.intp), base))
        self.expire(now)
        return pairs

    def _push(self, chunk: _Chunk) -> None:
        self._chunks.append(chunk)
        self._bases.append(chunk.base)
        self._next = chunk.base + len(chunk.keys)

    def _slot(self, seq: int) -> _Slot:
        chunk = self._chunks[bisect_right(self._bases, seq) - 1]
        return chunk.batch, int(chunk.rows[seq - chunk.base])

    def expire(self, now: float) -> None:
        """Evict ids beyond ``max_entries`` and ids whose prediction is older than the horizon."""
        while len(self._entries) > self.max_entries:
            chunk = self._chunks[0]
            take = min(len(self._entries) - self.max_entries, len(chunk.keys) - chunk.start)
            self._evict_front(take, "capacity")
        oldest = now - self.horizon
        while self._chunks:
            chunk = self._chunks[0]
            stale = chunk.batch.timestamps[chunk.rows[chunk.start :]] < oldest
            take = len(stale) if bool(stale.all()) else int(np.argmin(stale))
            if take == 0:
                break
            self._evict_front(take, "horizon")

    def _evict_front(self, take: int, reason: str) -> None:
        chunk = self._chunks[0]
        keys = chunk.keys[chunk.start : chunk.start + take]
        chunk.start += take
        if chunk.start >= len(chunk.keys):
            del self._chunks[0]
            del self._bases[0]
        _drain(self._entries.pop, keys)
        if self._partners:
            _drain(self._partners.pop, keys)
        # dict.fromkeys builds no per-key tuples, so the collector has nothing new to walk.
        self._evicted.update(dict.fromkeys(keys, False))
        if self._outcomes:
            answered = self._outcomes.intersection(keys)
            self._evicted.update(dict.fromkeys(answered, True))
            self._outcomes.difference_update(answered)
        self._evicted_chunks.append(keys)
        self.evictions[reason] += len(keys)
        while len(self._evicted) > self.max_entries:
            _drain(self._evicted.pop, self._evicted_chunks.popleft())

    def join(
        self, key: str, actual: float | str | bool, at: float
    ) -> tuple[OutcomeStatus, Joined | None]:
        """Join one outcome recorded at ``at`` to its id; return its status and the join."""
        seq = self._entries.get(key)
        if seq is None:
            joined_before = self._evicted.get(key)
            if joined_before is None:
                return "unknown", None
            if joined_before:
                return "duplicate", None
            self._evicted[key] = True
            return "late", None
        if key in self._outcomes:
            return "duplicate", None
        self._outcomes.add(key)
        first = self._slot(seq)
        if at - float(first[0].timestamps[first[1]]) > self.horizon:
            return "late", None
        slots = [first] if key not in self._partners else [first, self._partners[key]]
        return "joined", Joined(tuple(Record(*slot) for slot in slots), actual)


def _pair(a: _Slot, b: _Slot) -> Pair:
    champion, challenger = (a, b) if a[0].role != "challenger" else (b, a)
    return Pair(Record(*champion), Record(*challenger))
