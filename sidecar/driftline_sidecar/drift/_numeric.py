"""The reference side of the numeric methods, and the window cleaning they share."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from driftline_sidecar.profile import ColumnProfile

from ._types import FloatArray, Histogram

if TYPE_CHECKING:
    from ._merge_walk import Walked

EPSILON = 1e-4
"""Floor on a bin's proportion in PSI, so an empty bin gives a large but finite term."""


@dataclass(frozen=True)
class NumericReference:
    """A numeric column's sorted reference sample, quantile bins and scale."""

    sample: FloatArray
    edges: FloatArray
    proportions: FloatArray
    std: float
    hist: Histogram
    """The reference's own proportions over its bins, built once."""


def fit_numeric(column: ColumnProfile) -> NumericReference:
    """Return the state every numeric method starts from."""
    if column.kind != "numeric":
        raise ValueError(f"column {column.name!r} is {column.kind}, not numeric")
    total = int(column.bin_counts.sum())
    proportions = column.bin_counts / total if total else np.zeros(column.bin_counts.size)
    proportions = proportions.astype(np.float64)
    return NumericReference(
        sample=column.sample,
        edges=column.bin_edges,
        proportions=proportions,
        std=float(column.std or 0.0),
        hist=Histogram(
            proportions=tuple(proportions.tolist()),
            edges=tuple(column.bin_edges.astype(np.float64).tolist()),
        ),
    )


@dataclass(frozen=True)
class Scratch:
    """Work arrays of ``size`` values, reused by every numeric column of an evaluation.

    numpy allocates a new array for each intermediate result. At drift-window sizes (160 KB for
    20,000 values) glibc hands such blocks back to the OS when they are freed, so every
    temporary was page-faulted in again; that cost more than the arithmetic. The sorted window
    and the largest intermediates are written here instead (ufuncs' ``out=``), so one
    evaluation touches one set of pages. Not thread-safe: one `Scratch` per evaluation.
    """

    size: int
    values: FloatArray
    """Holds the sorted finite window values."""
    work: FloatArray
    """Holds one intermediate of up to ``size`` values."""

    @classmethod
    def of_size(cls, size: int) -> Scratch:
        """Return work arrays for up to ``size`` values."""
        width = max(size, 1)
        return cls(size=size, values=np.empty(width), work=np.empty(width))

    def work_for(self, size: int) -> FloatArray:
        """Return ``size`` work values: from this scratch when it is large enough."""
        return self.work[:size] if size <= self.size else np.empty(size)


@dataclass(frozen=True)
class NumericWindow:
    """A window's finite values sorted once, shared by the methods scoring it.

    ``values`` may live in ``scratch.values``: a window is valid until its scratch sorts the
    next one.
    """

    values: FloatArray
    scratch: Scratch
    walks: list[Walked] = field(default_factory=list, compare=False, repr=False)
    """Results of the C merge walk against each reference sample so far (`_merge_walk`)."""


def sort_finite_into(values: FloatArray, scratch: Scratch) -> tuple[FloatArray, int]:
    """Return the finite ``values`` sorted (in ``scratch.values``) and how many were NaN.

    All values are sorted, then the finite ones sliced out: numpy sorts ``-inf`` first and
    ``+inf`` then NaN last, so three binary searches replace a pass for ``isfinite`` and
    another for ``isnan``.
    """
    out = scratch.values[: values.size]
    np.copyto(out, values)
    out.sort()
    low = int(np.searchsorted(out, -np.inf, "right"))
    high = int(np.searchsorted(out, np.inf, "left"))
    first_nan = int(np.searchsorted(out, np.nan, "left"))
    return out[low:high], values.size - first_nan


def prepare(values: FloatArray | NumericWindow) -> NumericWindow:
    """Return ``values`` as a `NumericWindow` (finite values only, sorted)."""
    if isinstance(values, NumericWindow):
        return values
    array = np.asarray(values, dtype=np.float64)
    scratch = Scratch.of_size(array.size)
    return NumericWindow(sort_finite_into(array, scratch)[0], scratch)


def require_values(reference: NumericReference, window: NumericWindow, method: str) -> None:
    """Raise ValueError when either side has no values to compare."""
    if reference.sample.size == 0 or window.values.size == 0:
        raise ValueError(f"{method} needs finite values on both sides")


def window_bins(reference: NumericReference, window: FloatArray) -> FloatArray:
    """Return the window's proportions in the reference bins (``window`` sorted and finite)."""
    if window.size == 0:
        return np.zeros(reference.proportions.size)
    cuts = np.empty(max(reference.edges.size, 2), dtype=np.int64)  # values up to each edge
    cuts[0], cuts[-1] = 0, window.size
    cuts[1:-1] = np.searchsorted(window, reference.edges[1:-1], side="right")
    return np.diff(cuts) / window.size


def histogram(reference: NumericReference, proportions: FloatArray) -> Histogram:
    """Return proportions over the reference bins as a plottable histogram."""
    if proportions is reference.proportions:
        return reference.hist
    return Histogram(proportions=tuple(proportions.tolist()), edges=reference.hist.edges)
