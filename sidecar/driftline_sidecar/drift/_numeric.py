"""The reference side of the numeric methods, and the window cleaning they share."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from driftline_sidecar.profile import ColumnProfile

from ._types import FloatArray, Histogram, IntArray

EPSILON = 1e-4
"""Floor on a bin's proportion in PSI, so an empty bin gives a large but finite term."""


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


def fit_numeric(column: ColumnProfile) -> NumericReference:
    """Return the state every numeric method starts from."""
    if column.kind != "numeric":
        raise ValueError(f"column {column.name!r} is {column.kind}, not numeric")
    total = int(column.bin_counts.sum())
    proportions = column.bin_counts / total if total else np.zeros(column.bin_counts.size)
    center = float(column.sample.mean()) if column.sample.size else 0.0
    return NumericReference(
        center=center,
        centered_sums=np.concatenate(([0.0], np.cumsum(column.sample - center))),
        sample=column.sample,
        edges=column.bin_edges,
        proportions=proportions.astype(np.float64),
        std=float(column.std or 0.0),
    )


@dataclass(frozen=True)
class NumericWindow:
    """A window's finite values sorted once, shared by the methods scoring it.

    It also remembers, per reference sample, each value's rank in that sample
    (``searchsorted(sample, values, "right")``), the step KS and Wasserstein share.
    """

    values: FloatArray
    _ranks: dict[int, tuple[FloatArray, IntArray]] = field(
        default_factory=dict, compare=False, repr=False
    )

    def ranks_in(self, sample: FloatArray) -> IntArray:
        """Return how many values of the sorted ``sample`` are <= each window value."""
        cached = self._ranks.get(id(sample))
        if cached is not None and cached[0] is sample:
            return cached[1]
        ranks = merge_ranks(sample, self.values)
        self._ranks[id(sample)] = (sample, ranks)  # holding `sample` keeps its id unique
        return ranks


def merge_ranks(sample: FloatArray, values: FloatArray) -> IntArray:
    """Return ``searchsorted(sample, values, "right")`` for two sorted arrays, by merging them.

    A stable argsort of the concatenation merges the two sorted runs in linear passes (faster
    than one binary search per value); equal values keep the sample first, so each window
    value's merged position minus its index counts the sample values ``<=`` it.
    """
    order = np.argsort(np.concatenate((sample, values)), kind="stable")
    return (np.flatnonzero(order >= sample.size) - np.arange(values.size)).astype(np.int64)


def prepare(values: FloatArray | NumericWindow) -> NumericWindow:
    """Return ``values`` as a `NumericWindow` (finite values only, sorted)."""
    if isinstance(values, NumericWindow):
        return values
    return NumericWindow(sorted_finite(values))


def sorted_finite(values: FloatArray) -> FloatArray:
    """Return the finite values sorted; an input already finite and sorted is returned as is."""
    array = np.asarray(values, dtype=np.float64)
    if not np.isfinite(array).all():
        array = array[np.isfinite(array)]
    if array.size > 1 and not bool((array[1:] >= array[:-1]).all()):
        array = np.sort(array)
    return array


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
