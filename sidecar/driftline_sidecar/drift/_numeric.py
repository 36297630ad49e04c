"""The reference side of the numeric methods, and the window cleaning they share."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from driftline_sidecar.profile import ColumnProfile

from ._types import FloatArray, Histogram

EPSILON = 1e-4
"""Floor on a bin's proportion in PSI, so an empty bin gives a large but finite term."""


@dataclass(frozen=True)
class NumericReference:
    """A numeric column's sorted reference sample, quantile bins and scale."""

    sample: FloatArray
    edges: FloatArray
    proportions: FloatArray
    std: float


def fit_numeric(column: ColumnProfile) -> NumericReference:
    """Return the state every numeric method starts from."""
    if column.kind != "numeric":
        raise ValueError(f"column {column.name!r} is {column.kind}, not numeric")
    total = int(column.bin_counts.sum())
    proportions = column.bin_counts / total if total else np.zeros(column.bin_counts.size)
    return NumericReference(
        sample=column.sample,
        edges=column.bin_edges,
        proportions=proportions.astype(np.float64),
        std=float(column.std or 0.0),
    )


def sorted_finite(values: FloatArray) -> FloatArray:
    """Return the finite values sorted; an input already finite and sorted is returned as is."""
    array = np.asarray(values, dtype=np.float64)
    if not np.isfinite(array).all():
        array = array[np.isfinite(array)]
    if array.size > 1 and not bool((array[1:] >= array[:-1]).all()):
        array = np.sort(array)
    return array


def require_values(reference: NumericReference, window: FloatArray, method: str) -> None:
    """Raise ValueError when either side has no values to compare."""
    if reference.sample.size == 0 or window.size == 0:
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
