"""Wasserstein-1 distance of a numeric window from the reference, in reference standard deviations.

Equals ``scipy.stats.wasserstein_distance(reference_sample, window) / reference_std`` where
the standard deviation is that of the full reference column (``ddof=0``). A constant reference
(std 0) gives the raw distance. The sorted window is merged into the sorted reference in
linear time instead of sorting the union again.
"""

from __future__ import annotations

import numpy as np

from ._numeric import NumericReference, fit_numeric, require_values, sorted_finite
from ._types import FloatArray, Method, MethodResult

__all__ = ["METHOD", "score", "wasserstein_sorted"]


def wasserstein_sorted(reference: FloatArray, window: FloatArray) -> float:
    """Return the Wasserstein-1 distance of two sorted, non-empty samples."""
    n1, n2 = reference.size, window.size
    total = n1 + n2
    # Each window value goes after every reference value <= it and after earlier window values.
    slots = np.searchsorted(reference, window, side="right") + np.arange(n2)
    from_window = np.zeros(total, dtype=bool)
    from_window[slots] = True
    merged = np.empty(total, dtype=np.float64)
    merged[slots] = window
    merged[~from_window] = reference
    # Inside a run of equal values the step width is 0, so partial counts there add nothing.
    window_counts = np.cumsum(from_window[:-1])
    reference_counts = np.arange(1, total) - window_counts
    gaps = np.abs(reference_counts / n1 - window_counts / n2)
    # vecdot as scipy does; np.dot would go through a multithreaded BLAS.
    return float(np.vecdot(gaps, np.diff(merged)))


def score(reference: NumericReference, window: FloatArray) -> MethodResult:
    """Return the normalised Wasserstein-1 distance of ``window``'s finite values."""
    values = sorted_finite(window)
    require_values(reference, values, "wasserstein")
    distance = wasserstein_sorted(reference.sample, values)
    scale = reference.std if reference.std > 0 else 1.0
    return MethodResult(statistic=distance / scale)


METHOD: Method[NumericReference] = Method(
    name="wasserstein",
    kinds=frozenset({"numeric"}),
    purpose="effect",
    fit=fit_numeric,
    score=score,
)
