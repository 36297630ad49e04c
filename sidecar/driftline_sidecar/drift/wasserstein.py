"""Wasserstein-1 distance of a numeric window from the reference, in reference standard deviations.

Equals ``scipy.stats.wasserstein_distance(reference_sample, window) / reference_std`` (to about
1e-12 relative) where the standard deviation is that of the full reference column (``ddof=0``).
A constant reference (std 0) gives the raw distance.

The distance comes from the C merge walk that also gives the KS statistic (``_merge_walk``);
where that extension is not built, `wasserstein_sorted` computes it from the quantile functions,
``W = ∫₀¹ |F⁻¹(u) - G⁻¹(u)| du``, which equals scipy's ``∫ |F(x) - G(x)| dx``. With ``n1``
sorted sample values and ``n2`` sorted window values both quantile functions are steps, at
multiples of ``1/n1`` and of ``1/n2``; on the interval that ends at a step of one side, the
other side's step index and the interval's length depend only on ``n1`` and ``n2``. So a
`_Pairing` of gather indices and weights is built once per pair of sizes (and cached), and
each window costs two gathers, two subtractions and two dot products over ``n1 + n2`` values:
no search of one sample in the other.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np

from ._merge_walk import walked
from ._numeric import NumericReference, NumericWindow, Scratch, fit_numeric, prepare, require_values
from ._types import FloatArray, IntArray, Method, MethodResult

__all__ = ["METHOD", "score", "wasserstein_sorted"]

PAIRINGS_CACHED = 8
"""Pairings kept for reuse, one per (sample size, window size)."""

CACHED_UP_TO = 250_000
"""Only pairings of at most this many values (4 MB: 16 bytes a value) are kept."""


@dataclass(frozen=True)
class _Pairing:
    """Which values of the two sorted samples face each other in ``∫ |F⁻¹ - G⁻¹|``, and how long.

    In units of ``1/scale`` (``scale = lcm(n1, n2)``), the sample's steps are at ``i·p`` and the
    window's at ``j·q``. The interval ending at sample step ``i`` (1-based) pairs sample value
    ``i - 1`` with window value ``window_index[i-1]`` over ``sample_weight[i-1]`` units; the
    interval ending at window step ``j`` pairs window value ``j - 1`` with sample value
    ``sample_index[j-1]`` over ``window_weight[j-1]`` units (0 where both sides step together:
    that interval is counted once, on the sample side).
    """

    window_index: IntArray
    sample_weight: FloatArray
    sample_index: IntArray
    window_weight: FloatArray
    scale: float


def _pairing(n1: int, n2: int) -> _Pairing:
    return _cached_pairing(n1, n2) if n1 + n2 <= CACHED_UP_TO else _build_pairing(n1, n2)


@functools.lru_cache(maxsize=PAIRINGS_CACHED)
def _cached_pairing(n1: int, n2: int) -> _Pairing:
    return _build_pairing(n1, n2)


def _build_pairing(n1: int, n2: int) -> _Pairing:
    g = math.gcd(n1, n2)
    p, q = n2 // g, n1 // g
    window_index, sample_weight = _side(n1, p, q)
    np.minimum(sample_weight, p, out=sample_weight)
    sample_index, window_weight = _side(n2, q, p)
    window_weight[window_weight == p] = 0.0  # a step both sides share: counted on the sample side
    np.minimum(window_weight, q, out=window_weight)
    pairing = _Pairing(window_index, sample_weight, sample_index, window_weight, float(q * n2))
    for array in (window_index, sample_weight, sample_index, window_weight):
        array.flags.writeable = False
    return pairing


def _side(n: int, step: int, other_step: int) -> tuple[IntArray, FloatArray]:
    """For each step ``k·step`` (k = 1..n) of one side: the other side's index there, and how far
    back the other side's previous step is.

    The index ``floor((k·step - 1) / other_step)`` counts the other side's steps strictly
    before ``k·step``; the distance back to the last of them is in ``(0, other_step]``, and
    ``other_step`` exactly when both sides step at ``k·step``. Float arithmetic is exact here:
    every value is an integer below 2**53, and a quotient ``m / other_step`` that is not an
    integer lies at least ``1 / other_step`` from one, more than its rounding error.
    """
    steps = np.arange(1, n + 1, dtype=np.float64)
    steps *= step
    index = np.subtract(steps, 1.0)
    index /= other_step
    np.floor(index, out=index)
    gap = np.multiply(index, other_step)
    np.subtract(steps, gap, out=gap)  # the distance back to the other side's previous step
    return index.astype(np.int64), gap


def wasserstein_sorted(sample: FloatArray, window: FloatArray, scratch: Scratch) -> float:
    """Return the Wasserstein-1 distance between two sorted, non-empty samples."""
    n1, n2 = sample.size, window.size
    pairing = _pairing(n1, n2)
    # mode="clip" (the indices are in range anyway): with the default "raise" numpy buffers `out`.
    facing = np.take(window, pairing.window_index, out=scratch.work_for(n1), mode="clip")
    np.subtract(sample, facing, out=facing)
    np.abs(facing, out=facing)
    total = float(np.dot(facing, pairing.sample_weight))
    facing = np.take(sample, pairing.sample_index, out=scratch.work_for(n2), mode="clip")
    np.subtract(window, facing, out=facing)
    np.abs(facing, out=facing)
    total += float(np.dot(facing, pairing.window_weight))
    return total / pairing.scale


def score(reference: NumericReference, window: FloatArray | NumericWindow) -> MethodResult:
    """Return the normalised Wasserstein-1 distance of ``window``'s finite values."""
    prepared = prepare(window)
    require_values(reference, prepared, "wasserstein")
    done = walked(reference.sample, prepared)
    distance = (
        wasserstein_sorted(reference.sample, prepared.values, prepared.scratch)
        if done is None
        else done.wasserstein
    )
    scale = reference.std if reference.std > 0 else 1.0
    return MethodResult(statistic=distance / scale)


METHOD: Method[NumericReference] = Method(
    name="wasserstein",
    kinds=frozenset({"numeric"}),
    purpose="effect",
    fit=fit_numeric,
    score=score,
)
