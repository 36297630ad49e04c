"""Sliding windows of recent records per model version: preallocated ring buffers per column.

A window holds at most ``capacity`` records (the oldest leave first) and, when
``max_age`` is set, only records whose timestamp is at most ``max_age`` seconds
old. Memory is bounded by ``capacity`` times the number of columns, and the number
of columns by ``max_columns`` (or by the reference profile's columns).

Categorical columns also keep an integer code per record, so the drift engine counts a
column with one ``np.bincount`` (`CategoryCodes`). Codes are assigned when the window is
copied (`Window.columns`), only to the records that arrived since the last copy, so ingest
pays nothing for them and a sliding window codes each record once. Each column's label table
is compacted to the labels still in its ring once it holds more than twice ``capacity``
labels, so it stays bounded too.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from driftline_sidecar.drift import CategoryCodes
from driftline_sidecar.ingest import Column, Kind
from driftline_sidecar.profile import category_label

__all__ = ["Window", "WindowColumn", "WindowState"]


@dataclass(frozen=True)
class WindowColumn:
    """A column of a window in arrival order, with its type-mismatch flags when numeric."""

    kind: Kind
    values: npt.NDArray[Any]
    type_mismatch: npt.NDArray[np.bool_] | None = None
    codes: CategoryCodes | None = None
    """For categorical columns: the same values as codes, what the drift engine counts."""

    @property
    def for_engine(self) -> npt.NDArray[Any] | CategoryCodes:
        """The column as the drift engine takes it: the codes when there are some."""
        return self.values if self.codes is None else self.codes


@dataclass(frozen=True)
class WindowState:
    """A window's records in arrival order: what a snapshot stores and restores."""

    timestamps: npt.NDArray[np.float64]
    columns: Mapping[str, WindowColumn]
    received: int


class _LabelCodes(dict[str | None, int]):
    """Label -> code; a label seen for the first time gets the next code."""

    def __missing__(self, label: str | None) -> int:
        code = self[label] = len(self)
        return code


class _Ring:
    """One preallocated column; positions are managed by the owning Window."""

    def __init__(self, kind: Kind, capacity: int) -> None:
        self.kind: Kind = kind
        self.codes: npt.NDArray[np.int32] | None = None
        if kind == "numeric":
            self.values: npt.NDArray[Any] = np.full(capacity, np.nan, dtype=np.float64)
        else:
            self.values = np.full(capacity, None, dtype=object)
            self.codes = np.zeros(capacity, dtype=np.int32)  # every slot None, code 0
            self._table = _LabelCodes({None: 0})
        self.mismatch: npt.NDArray[np.bool_] | None = None

    def missing(self) -> Any:
        return np.nan if self.kind == "numeric" else None

    def encode(self, slots: npt.NDArray[np.intp]) -> None:
        """Code the labels at ``slots`` (categorical rings); compact the table past its bound."""
        if self.codes is None:
            return
        labels = self.values[slots].tolist()
        self.codes[slots] = np.fromiter(map(self._table.__getitem__, labels), np.int32, len(labels))
        if len(self._table) > 2 * self.codes.size:
            self._compact()

    def _compact(self) -> None:
        """Keep only the labels some slot of the ring still holds, renumbered in code order."""
        assert self.codes is not None
        used, inverse = np.unique(self.codes, return_inverse=True)
        labels = tuple(self._table)  # insertion order is code order
        self._table = _LabelCodes({labels[code]: new for new, code in enumerate(used.tolist())})
        self.codes[:] = inverse

    def coded(self, order: npt.NDArray[np.intp]) -> CategoryCodes | None:
        """The codes at ``order`` with their labels (categorical rings, once encoded)."""
        if self.codes is None:
            return None
        return CategoryCodes(self.codes[order], tuple(self._table))


class Window:
    """The most recent records of one model version, by count and optionally by age."""

    def __init__(
        self,
        capacity: int,
        *,
        max_age: float | None = None,
        max_columns: int = 256,
        kinds: Mapping[str, Kind] | None = None,
    ) -> None:
        """``kinds`` fixes the columns kept (a profile's); else the first ``max_columns`` seen."""
        self.capacity = capacity
        self.max_age = max_age
        self.max_columns = max_columns
        self._fixed = dict(kinds) if kinds is not None else None
        self._timestamps = np.zeros(capacity, dtype=np.float64)
        self._rings: dict[str, _Ring] = {}
        if self._fixed is not None:
            for name, kind in self._fixed.items():
                self._rings[name] = _Ring(kind, capacity)
        self._end = 0
        self._size = 0
        self.received = 0
        """Records ever appended (a snapshot carries it over)."""
        self.changes = 0
        """Incremented whenever the window's content changes."""
        self._uncoded = 0
        """The most recent slots whose categorical labels have no code yet."""

    def __len__(self) -> int:
        """The number of records in the window."""
        return self._size

    def append(self, timestamps: npt.NDArray[np.float64], columns: Mapping[str, Column]) -> int:
        """Add one batch of records; return how many of its columns were not kept."""
        n = len(timestamps)
        if n == 0:
            return 0
        ignored = 0
        for name, column in columns.items():
            if name not in self._rings:
                if self._fixed is not None or len(self._rings) >= self.max_columns:
                    ignored += 1
                    continue
                self._rings[name] = _Ring(column.kind, self.capacity)
        keep = min(n, self.capacity)
        put = self._writer(keep)
        put(self._timestamps, timestamps[n - keep :])
        for name, ring in self._rings.items():
            given = columns.get(name)
            if given is None:
                ring.values[self._slots(keep)] = ring.missing()
                if ring.mismatch is not None:
                    ring.mismatch[self._slots(keep)] = False
                continue
            values, mismatch = _coerce(given, ring.kind)
            put(ring.values, values[n - keep :])
            if mismatch is not None and ring.mismatch is None:
                ring.mismatch = np.zeros(self.capacity, dtype=np.bool_)
            if ring.mismatch is not None:
                if mismatch is None:
                    ring.mismatch[self._slots(keep)] = False
                else:
                    put(ring.mismatch, mismatch[n - keep :])
        self._end = (self._end + keep) % self.capacity
        self._size = min(self._size + keep, self.capacity)
        self._uncoded = min(self._uncoded + keep, self.capacity)
        self.received += n
        self.changes += 1
        return ignored

    def expire(self, now: float) -> int:
        """Drop the oldest records older than ``max_age`` seconds at ``now``; return how many."""
        if self.max_age is None or self._size == 0:
            return 0
        recent = self._timestamps[self._order()] >= now - self.max_age
        stale = int(np.argmax(recent)) if bool(recent.any()) else self._size
        if stale:
            self._size -= stale
            self.changes += 1
        return stale

    def columns(self) -> dict[str, WindowColumn]:
        """Copies of every column in arrival order (oldest first), categorical ones also coded."""
        self._encode()
        order = self._order()
        return {
            name: WindowColumn(
                ring.kind,
                ring.values[order],
                None if ring.mismatch is None else ring.mismatch[order],
                ring.coded(order),
            )
            for name, ring in self._rings.items()
        }

    def _encode(self) -> None:
        """Code the categorical labels of the slots written since the last call."""
        if self._uncoded:
            start = self._end - self._uncoded
            slots = (start + np.arange(self._uncoded)) % self.capacity
            for ring in self._rings.values():
                ring.encode(slots)
            self._uncoded = 0

    def timestamps(self) -> npt.NDArray[np.float64]:
        """A copy of the record timestamps in arrival order."""
        return self._timestamps[self._order()]

    def type_mismatches(self) -> dict[str, int]:
        """Per numeric column, how many values in the window were non-numeric strings."""
        order = self._order()
        return {
            name: int(ring.mismatch[order].sum())
            for name, ring in self._rings.items()
            if ring.mismatch is not None
        }

    def state(self) -> WindowState:
        """The window's content for a snapshot."""
        return WindowState(self.timestamps(), self.columns(), self.received)

    def restore(self, state: WindowState) -> None:
        """Replace the content with a snapshot's (columns this window does not keep are skipped)."""
        self._end = 0
        self._size = 0
        columns = {
            name: Column(column.kind, column.values, column.type_mismatch)
            for name, column in state.columns.items()
        }
        self.append(state.timestamps, columns)
        self.received = state.received
        self._uncoded = self.capacity  # the slots written before the reset are recoded too

    def _slots(self, n: int) -> npt.NDArray[np.intp]:
        return (self._end + np.arange(n)) % self.capacity

    def _writer(self, n: int) -> Callable[[npt.NDArray[Any], npt.NDArray[Any]], None]:
        """A function writing ``n`` values at the ring's end: one or two slice copies."""
        start = self._end
        first = min(n, self.capacity - start)

        def put(ring: npt.NDArray[Any], values: npt.NDArray[Any]) -> None:
            ring[start : start + first] = values[:first]
            if first < n:
                ring[: n - first] = values[first:]

        return put

    def _order(self) -> npt.NDArray[np.intp]:
        start = (self._end - self._size) % self.capacity
        return (start + np.arange(self._size)) % self.capacity


def _coerce(
    column: Column | WindowColumn, kind: Kind
) -> tuple[npt.NDArray[Any], npt.NDArray[np.bool_] | None]:
    """Fit a column decoded as one kind into a ring of the other (windows without a reference)."""
    if column.kind == kind:
        return column.values, column.type_mismatch
    if kind == "categorical":
        values = np.empty(len(column.values), dtype=object)
        values[:] = [category_label(value) for value in column.values.tolist()]
        return values, None
    numbers = np.full(len(column.values), np.nan)
    mismatch = np.zeros(len(column.values), dtype=np.bool_)
    for i, value in enumerate(column.values):
        if value is None:
            continue
        try:
            numbers[i] = float(value)
        except ValueError:
            mismatch[i] = True
    return numbers, mismatch
