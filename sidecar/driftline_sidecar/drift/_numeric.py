"""The reference side of the numeric methods, and the window cleaning they share."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from driftline_sidecar.profile import ColumnProfile

from ._types import BoolArray, FloatArray, Histogram, IntArray

EPSILON = 1e-4
"""Floor on a bin's proportion in PSI, so an empty bin gives a large but finite term."""

RANK_CHUNK = 4096
"""Window values ranked per ``searchsorted`` call: its result stays a small, reused block."""


@dataclass(frozen=True)
class NumericReference:
    """A numeric column's sorted reference sample, quantile bins and scale."""

    sample: FloatArray
    edges: FloatArray
    proportions: FloatArray
    std: float
    center: float = 0.0
    centered_sums: FloatArray = field(default_factory=lambda: np.zeros(1))
    """``centered_sums[k]``: the sum of the ``k`` smallest ``sample - center`` (Wasserstein)."""
    padded: FloatArray = field(default_factory=lambda: np.array([-np.inf, np.inf]))
    """The sample between -inf and +inf: ``padded[k]`` is the k-th smallest value (KS ties)."""


def fit_numeric(column: ColumnProfile) -> NumericReference:
    """Return the state every numeric method starts from."""
    if column.kind != "numeric":
        raise ValueError(f"column {column.name!r} is {column.kind}, not numeric")
    total = int(column.bin_counts.sum())
    proportions = column.bin_counts / total if total else np.zeros(column.bin_counts.size)
    center = float(column.sample.mean()) if column.sample.size else 0.0
    padded = np.concatenate(([-np.inf], column.sample, [np.inf]))
    return NumericReference(
        center=center,
        centered_sums=np.concatenate(([0.0], np.cumsum(column.sample - center))),
        sample=padded[1:-1],
        padded=padded,
        edges=column.bin_edges,
        proportions=proportions.astype(np.float64),
        std=float(column.std or 0.0),
    )


@dataclass(frozen=True)
class Scratch:
    """Work arrays for windows of up to ``size`` values, reused by every column of an evaluation.

    numpy allocates a new array for each intermediate result. At drift-window sizes (160 KB for
    20,000 values) glibc hands such blocks back to the OS when they are freed, so every
    temporary was page-faulted in again; that cost more than the arithmetic. The methods write
    their intermediates here instead (ufuncs' ``out=``), so one evaluation touches one set of
    pages. Not thread-safe: one `Scratch` per evaluation.
    """

    size: int
    values: FloatArray
    ranks: IntArray
    floats: FloatArray
    ints: IntArray
    flags: BoolArray
    ramp: IntArray
    """``ramp[j] == j`` for ``j`` in ``0..size``."""

    @classmethod
    def of_size(cls, size: int) -> Scratch:
        """Return work arrays for windows of up to ``size`` values."""
        width = max(size, 1) + 1
        return cls(
            size=size,
            values=np.empty(width),
            ranks=np.empty(width, dtype=np.int64),
            floats=np.empty((5, width)),
            ints=np.empty((2, width), dtype=np.int64),
            flags=np.empty((2, width), dtype=np.bool_),
            ramp=np.arange(width, dtype=np.int64),
        )


@dataclass(frozen=True)
class NumericWindow:
    """A window's finite values sorted once, shared by the methods scoring it.

    ``values`` may live in ``scratch.values``: a window is valid until its scratch sorts the
    next one. It also remembers the ranks of its values in one reference sample
    (``searchsorted(sample, values, "right")``), the step KS and Wasserstein share.
    """

    values: FloatArray
    scratch: Scratch
    _ranks: dict[int, tuple[FloatArray, IntArray]] = field(
        default_factory=dict, compare=False, repr=False
    )

    def ranks_in(self, sample: FloatArray) -> IntArray:
        """Return how many values of the sorted ``sample`` are <= each window value."""
        cached = self._ranks.get(id(sample))
        if cached is not None and cached[0] is sample:
            return cached[1]
        ranks = self.scratch.ranks[: self.values.size]
        rank_into(sample, self.values, ranks, self.scratch.ints[0])
        self._ranks.clear()  # the scratch holds the ranks of one sample at a time
        self._ranks[id(sample)] = (sample, ranks)  # holding `sample` keeps its id unique
        return ranks


def rank_into(sample: FloatArray, values: FloatArray, out: IntArray, work: IntArray) -> None:
    """Write ``searchsorted(sample, values, "right")`` into ``out`` (both inputs sorted).

    A binary search per key costs about the same whichever array is searched, so the shorter
    side is looked up in the longer one: window values in the sample, or, for a window longer
    than the sample, sample values in the window, whose positions counted cumulatively give
    the same ranks. ``work`` (at least ``sample.size`` long) holds those positions.
    """
    if sample.size < values.size:
        positions = work[: sample.size]
        _search_into(values, sample, "left", positions)  # window values < each sample value
        # A sample value is <= w_j exactly when fewer than j + 1 window values are below it.
        np.cumsum(np.bincount(positions, minlength=values.size)[: values.size], out=out)
    else:
        _search_into(sample, values, "right", out)


def _search_into(
    array: FloatArray, keys: FloatArray, side: Literal["left", "right"], out: IntArray
) -> None:
    for start in range(0, keys.size, RANK_CHUNK):
        stop = start + RANK_CHUNK
        out[start:stop] = np.searchsorted(array, keys[start:stop], side=side)


def sort_finite_into(values: FloatArray, scratch: Scratch) -> FloatArray:
    """Return the finite ``values`` sorted, in ``scratch.values``."""
    finite = np.isfinite(values)
    out = scratch.values[: int(np.count_nonzero(finite))]
    if out.size == values.size:
        np.copyto(out, values)
    else:
        np.compress(finite, values, out=out)
    out.sort()
    return out


def prepare(values: FloatArray | NumericWindow) -> NumericWindow:
    """Return ``values`` as a `NumericWindow` (finite values only, sorted)."""
    if isinstance(values, NumericWindow):
        return values
    array = np.asarray(values, dtype=np.float64)
    scratch = Scratch.of_size(array.size)
    return NumericWindow(sort_finite_into(array, scratch), scratch)


def require_values(reference: NumericReference, window: NumericWindow, method: str) -> None:
    """Raise ValueError when either side has no values to compare."""
    if reference.sample.size == 0 or window.values.size == 0:
        raise ValueError(f"{method} needs finite values on both sides")


def window_bins(reference: NumericReference, window: FloatArray) -> FloatArray:
    """Return the window's proportions in the reference bins (``window`` sorted and finite)."""
    counts = np.diff(np.searchsorted(window, reference.edges[1:-1], side="right"), prepend=0)
    counts = np.append(counts, window.size - counts.sum())
    if window.size == 0:
        return np.zeros(reference.proportions.size)
    return counts / window.size


def histogram(reference: NumericReference, proportions: FloatArray) -> Histogram:
    """Return proportions over the reference bins as a plottable histogram."""
    return Histogram(
        proportions=tuple(float(p) for p in proportions),
        edges=tuple(float(e) for e in reference.edges),
    )
