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

__all__ = [
    "Joined",
    "OutcomeStatus",
    "PairGroup",
    "Placement",
    "PredictionStore",
    "Record",
    "RecordBatch",
]

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
class Joined:
    """An outcome joined to the stored records of its id (champion and/or challenger)."""

    records: tuple[Record, ...]
    actual: float | str | bool


_Slot = tuple[RecordBatch, int]

_MISSING = -1
"""What an id not in the store looks up as (sequence numbers are >= 0)."""


@dataclass(frozen=True)
class PairGroup:
    """Shadow pairs one batch completed against one earlier batch: rows of each, aligned."""

    champion: RecordBatch
    champion_rows: npt.NDArray[np.intp]
    challenger: RecordBatch
    challenger_rows: npt.NDArray[np.intp]

    def __len__(self) -> int:
        """The number of pairs."""
        return len(self.champion_rows)


@dataclass
class _Chunk:
    """The records one batch added, numbered from ``base``: its new ids, then its partners.

    ``rows[i]`` is the batch row of sequence number ``base + i``; the first ``len(keys)``
    are the ids it added, evicted oldest first (``start`` of them so far). ``partners[i]``
    is the sequence number of the other role's record of ``keys[i]`` (-1: none yet).
    """

    batch: RecordBatch
    keys: Sequence[str]
    rows: npt.NDArray[np.intp]
    base: int
    start: int = 0
    partners: npt.NDArray[np.int64] | None = None


_Link = tuple[_Chunk, npt.NDArray[np.intp]]
"""Ids of a chunk (their positions in it) that a batch's records complete as pairs."""


@dataclass(frozen=True)
class Placement:
    """What storing one batch will change, worked out before anything changes.

    ``keys`` are the batch's new ids (first occurrence, in row order); ``rows`` holds
    their rows, then the rows of the records that complete pairs: ``pairs`` and
    ``links`` (the stored ids they complete), one entry per earlier batch, in order.
    """

    batch: RecordBatch
    keys: Sequence[str]
    rows: npt.NDArray[np.intp]
    pairs: tuple[PairGroup, ...] = ()
    links: tuple[_Link, ...] = ()


def _drain(function: Any, keys: Sequence[str]) -> None:
    """Call ``function(key, None)`` for every key in C (no Python frame per key)."""
    deque(map(function, keys, repeat(None, len(keys))), maxlen=0)


class PredictionStore:
    """Recent predictions by id; not thread-safe (the caller holds a lock).

    Built for ingest speed: a batch's ids go in with one C-level ``dict.update`` of
    id -> sequence number (plain ints, so the garbage collector never walks them) and
    are evicted in order: an id whose sequence number is below the first stored one is
    evicted, so eviction writes nothing per id, and one lookup tells new, stored and
    evicted ids apart. Ids already stored (resent records, the second record of a shadow
    pair) are found with lookups mapped in C and paired with numpy, a group per earlier
    batch: no Python code runs per record.

    An id keeps its first record of each role: a later record of the same id and role
    (repeated in a batch, or resent) is ignored, as is any record of an evicted id.
    """

    def __init__(self, max_entries: int, horizon: float) -> None:
        """Keep at most ``max_entries`` ids, none older than ``horizon`` seconds."""
        self.max_entries = max_entries
        self.horizon = horizon
        self._entries: dict[str, int] = {}
        """The sequence number of the first record of each id (either role), stored or
        evicted (and not yet forgotten)."""
        self._stored = 0
        """Ids in ``_entries`` that are not evicted."""
        self._chunks: list[_Chunk] = []
        self._bases: list[int] = []
        self._head = 0
        """Chunks before this index are gone (dropped in bulk, so eviction stays O(1))."""
        self._next = 0
        self._outcomes: set[str] = set()
        """Ids, stored or evicted, that already had an outcome."""
        self._evicted = 0
        """Evicted ids still remembered in ``_entries``."""
        self._evicted_chunks: deque[Sequence[str]] = deque()
        self.evictions = {"capacity": 0, "horizon": 0}

    def __len__(self) -> int:
        """The number of ids stored."""
        return self._stored

    def add(self, batch: RecordBatch, ids: Sequence[str], now: float) -> tuple[PairGroup, ...]:
        """Store a batch's records by id; return the shadow pairs they complete."""
        placement = self.plan(batch, ids)
        if placement is None:
            return ()
        self.apply(placement, now)
        return placement.pairs

    def plan(self, batch: RecordBatch, ids: Sequence[str]) -> Placement | None:
        """What storing ``batch`` under ``ids`` would change (None: nothing); changes nothing.

        Raises ValueError when ``ids`` and the batch's records differ in number.
        """
        n = len(ids)
        if n != len(batch.timestamps):
            raise ValueError(f"{n} ids for {len(batch.timestamps)} records")
        if self.max_entries == 0 or n == 0:
            return None
        unique = set(ids)
        if len(unique) == n and self._entries.keys().isdisjoint(unique):
            return Placement(batch, ids, np.arange(n, dtype=np.intp))
        return self._plan_mixed(batch, ids, unique_ids=len(unique) == n)

    def _plan_mixed(
        self, batch: RecordBatch, ids: Sequence[str], *, unique_ids: bool
    ) -> Placement | None:
        """The plan of a batch with repeated, stored or evicted ids: a mask per row, in numpy."""
        n = len(ids)
        seqs = np.fromiter(map(self._entries.get, ids, repeat(_MISSING, n)), np.int64, n)
        first = np.ones(n, dtype=np.bool_)
        if not unique_ids:
            first[:] = False
            # Assigning from the last row back leaves each id's first row.
            rows_of = dict(zip(reversed(ids), range(n - 1, -1, -1), strict=True))
            first[np.fromiter(rows_of.values(), np.intp, len(rows_of))] = True
        new_rows = np.flatnonzero(first & (seqs == _MISSING))
        stored = first & (seqs >= self._first_stored())
        keys = list(map(ids.__getitem__, new_rows.tolist()))
        links, partner_rows, pairs = self._pairs(batch, seqs, np.flatnonzero(stored))
        if not keys and not links:
            return None
        rows = np.concatenate([new_rows, partner_rows]) if links else new_rows
        return Placement(batch, keys, rows, pairs, links)

    def _pairs(
        self, batch: RecordBatch, seqs: npt.NDArray[np.int64], rows: npt.NDArray[np.intp]
    ) -> tuple[tuple[_Link, ...], npt.NDArray[np.intp], tuple[PairGroup, ...]]:
        """Which of the stored ids at ``rows`` this batch completes as the other role.

        Returns the links to the stored ids, the rows completing them and the pairs,
        grouped by the chunk (earlier batch) that holds each id.
        """
        if len(rows) == 0:
            return (), rows, ()
        where = np.searchsorted(self._bases[self._head :], seqs[rows], side="right") - 1
        by_chunk = np.argsort(where, kind="stable")
        starts = np.flatnonzero(np.diff(where[by_chunk], prepend=-1))
        links: list[_Link] = []
        partner_rows: list[npt.NDArray[np.intp]] = []
        groups: list[PairGroup] = []
        for members in np.split(by_chunk, starts[1:]):
            chunk = self._chunks[self._head + int(where[members[0]])]
            if chunk.batch.role == batch.role:
                continue
            batch_rows = rows[members]
            positions = (seqs[batch_rows] - chunk.base).astype(np.intp)
            if chunk.partners is not None:
                unpaired = chunk.partners[positions] < 0
                batch_rows, positions = batch_rows[unpaired], positions[unpaired]
            if len(positions) == 0:
                continue
            links.append((chunk, positions))
            partner_rows.append(batch_rows)
            groups.append(_group((chunk.batch, chunk.rows[positions]), (batch, batch_rows)))
        if not groups:
            return (), rows[:0], ()
        return tuple(links), np.concatenate(partner_rows), tuple(groups)

    def apply(self, placement: Placement, now: float) -> None:
        """Make the changes ``plan`` worked out (no other change in between), then expire."""
        base = self._next
        k = len(placement.keys)
        self._entries.update(zip(placement.keys, range(base, base + k), strict=True))
        self._stored += k
        next_partner = base + k
        for chunk, positions in placement.links:
            if chunk.partners is None:
                chunk.partners = np.full(len(chunk.keys), -1, dtype=np.int64)
            chunk.partners[positions] = np.arange(next_partner, next_partner + len(positions))
            next_partner += len(positions)
        self._chunks.append(_Chunk(placement.batch, placement.keys, placement.rows, base))
        self._bases.append(base)
        self._next = base + len(placement.rows)
        self.expire(now)

    def _chunk(self, seq: int) -> _Chunk:
        return self._chunks[bisect_right(self._bases, seq, lo=self._head) - 1]

    def _slot(self, seq: int) -> _Slot:
        chunk = self._chunk(seq)
        return chunk.batch, int(chunk.rows[seq - chunk.base])

    def expire(self, now: float) -> None:
        """Evict ids beyond ``max_entries`` and ids whose prediction is older than the horizon."""
        while self._stored > self.max_entries:
            chunk = self._chunks[self._head]
            take = min(self._stored - self.max_entries, len(chunk.keys) - chunk.start)
            self._evict_front(take, "capacity")
        oldest = now - self.horizon
        while self._head < len(self._chunks):
            chunk = self._chunks[self._head]
            stale = chunk.batch.timestamps[chunk.rows[chunk.start : len(chunk.keys)]] < oldest
            take = len(stale) if bool(stale.all()) else int(np.argmin(stale))
            if take == 0:
                break
            self._evict_front(take, "horizon")

    def _evict_front(self, take: int, reason: str) -> None:
        chunk = self._chunks[self._head]
        keys = chunk.keys[chunk.start : chunk.start + take]
        chunk.start += take
        self._drop_spent_chunks()
        self._stored -= len(keys)
        self._evicted += len(keys)
        self._evicted_chunks.append(keys)
        self.evictions[reason] += len(keys)
        while self._evicted > self.max_entries:
            forgotten = self._evicted_chunks.popleft()
            _drain(self._entries.pop, forgotten)
            if self._outcomes:
                self._outcomes.difference_update(forgotten)
            self._evicted -= len(forgotten)

    def _first_stored(self) -> int:
        """The lowest sequence number of a stored id: ids below it are evicted."""
        if self._head == len(self._chunks):
            return self._next
        chunk = self._chunks[self._head]
        return chunk.base + chunk.start

    def _drop_spent_chunks(self) -> None:
        """Drop front chunks whose ids are all evicted; their partners went with those ids.

        A chunk's partner records pair ids first stored in earlier chunks, so by the time
        it reaches the front those ids, and their partners, are gone.
        """
        chunks = self._chunks
        while self._head < len(chunks) and chunks[self._head].start >= len(chunks[self._head].keys):
            self._head += 1
        if self._head > 64 and self._head * 2 > len(chunks):
            del chunks[: self._head]
            del self._bases[: self._head]
            self._head = 0

    def join(
        self, key: str, actual: float | str | bool, at: float
    ) -> tuple[OutcomeStatus, Joined | None]:
        """Join one outcome recorded at ``at`` to its id; return its status and the join."""
        seq = self._entries.get(key)
        if seq is None:
            return "unknown", None
        if key in self._outcomes:
            return "duplicate", None
        self._outcomes.add(key)
        if seq < self._first_stored():
            return "late", None
        chunk = self._chunk(seq)
        first = (chunk.batch, int(chunk.rows[seq - chunk.base]))
        if at - float(first[0].timestamps[first[1]]) > self.horizon:
            return "late", None
        partner = -1 if chunk.partners is None else int(chunk.partners[seq - chunk.base])
        slots = [first] if partner < 0 else [first, self._slot(partner)]
        return "joined", Joined(tuple(Record(*slot) for slot in slots), actual)


def _group(
    a: tuple[RecordBatch, npt.NDArray[np.intp]], b: tuple[RecordBatch, npt.NDArray[np.intp]]
) -> PairGroup:
    champion, challenger = (a, b) if a[0].role != "challenger" else (b, a)
    return PairGroup(champion[0], champion[1], challenger[0], challenger[1])
