"""Wasserstein-1 distance of a numeric window from the reference, in reference standard deviations.

Equals ``scipy.stats.wasserstein_distance(reference_sample, window) / reference_std`` (to about
1e-12 relative) where the standard deviation is that of the full reference column (``ddof=0``).
A constant reference (std 0) gives the raw distance.

With ``F`` the reference's CDF and ``G`` the window's, ``W = ∫ |F - G| = ∫ (F - G) + 2 ∫ (G - F)⁺``
and ``∫ (F - G) = mean(window) - mean(sample)``. The positive part is summed window gap by
window gap: on ``[w_j, w_j+1)`` the window's CDF is the constant ``c = (j+1)/n2`` while ``F``
rises, reaching ``c`` at the known sample value ``z = r[ceil(c·n1) - 1]``, so the gap adds
``∫ (c - F)`` from ``w_j`` to ``min(z, w_j+1)`` when ``z > w_j``. With
``Ψ(t) = ∫ F = (k·t - S_k) / n1`` (``k`` sample values at or below ``t``, ``S_k`` their sum;
prefix sums taken once at fit time on the sample centred at its mean) each gap costs O(1), so a
window costs O(n2) after the ranks KS also uses, instead of merging and scanning all ``n1 + n2``
values. Intermediates are written into the window's `Scratch`.
"""

from __future__ import annotations

import numpy as np

from ._numeric import (
    NumericReference,
    NumericWindow,
    Scratch,
    fit_numeric,
    prepare,
    require_values,
)
from ._types import FloatArray, IntArray, Method, MethodResult

__all__ = ["METHOD", "score", "wasserstein_sorted"]


def wasserstein_sorted(
    reference: NumericReference, window: FloatArray, ranks: IntArray, scratch: Scratch
) -> float:
    """Return the Wasserstein-1 distance of the sorted ``window`` from the reference sample.

    ``ranks`` is ``searchsorted(reference.sample, window, "right")``.
    """
    n1, n2 = reference.sample.size, window.size
    sums, center = reference.centered_sums, reference.center
    floats = scratch.floats
    x = np.subtract(window, center, out=floats[0, :n2])
    psi = np.multiply(ranks, x, out=floats[1, :n2])  # n1 · Ψ(w_j)
    psi -= np.take(sums, ranks, out=floats[2, :n2])
    gaps = _below_window_gaps(reference, x, psi, scratch) if n2 > 1 else 0.0
    tail = 0.0
    last, top = float(x[-1]), float(reference.sample[-1] - center)
    if top > last:  # after the last window value G = 1 >= F
        tail = (top - last) - (n1 * top - float(sums[n1]) - float(psi[-1])) / n1
    mean_difference = float(x.mean()) - float(sums[n1]) / n1
    return mean_difference + 2.0 * (gaps / n1 / n2 + tail)


def _below_window_gaps(
    reference: NumericReference, x: FloatArray, psi: FloatArray, scratch: Scratch
) -> float:
    """Return ``n1·n2·∫ (G - F)⁺`` over the gaps between the (centred) window values ``x``."""
    n1, n2 = reference.sample.size, x.size
    gaps = n2 - 1
    floats, ints, flags = scratch.floats, scratch.ints, scratch.flags
    steps = np.multiply(scratch.ramp[1:n2], n1, out=ints[0, :gaps])  # c·n1·n2
    below = np.subtract(steps, 1, out=ints[1, :gaps])
    np.floor_divide(below, n2, out=below)  # ceil(c·n1) - 1: F >= c from r[below] on
    z = np.take(reference.sample, below, out=floats[2, :gaps])
    z -= reference.center
    start, end = x[:-1], x[1:]
    psi_start, psi_end = psi[:-1], psi[1:]
    crossed = np.greater(z, start, out=flags[0, :gaps])  # F < c just after w_j
    past = np.greater_equal(z, end, out=flags[1, :gaps])  # F < c on the whole gap
    psi_z = np.multiply(below, z, out=floats[3, :gaps])  # n1 · Ψ(z), with k = below + 1
    psi_z += z
    psi_z -= np.take(reference.centered_sums[1:], below, out=floats[4, :gaps])
    np.copyto(psi_z, psi_end, where=past)
    np.minimum(z, end, out=z)
    # n1·n2·∫ (c - F) from w_j to min(z, w_j+1) = c·n1·n2·(z' - w_j) - n2·n1·(Ψ(z') - Ψ(w_j))
    part = np.subtract(z, start, out=z)
    part *= steps
    psi_z -= psi_start
    psi_z *= n2
    part -= psi_z
    np.logical_not(crossed, out=crossed)
    np.copyto(part, 0.0, where=crossed)
    return float(part.sum())


def score(reference: NumericReference, window: FloatArray | NumericWindow) -> MethodResult:
    """Return the normalised Wasserstein-1 distance of ``window``'s finite values."""
    prepared = prepare(window)
    require_values(reference, prepared, "wasserstein")
    ranks = prepared.ranks_in(reference.sample)
    distance = wasserstein_sorted(reference, prepared.values, ranks, prepared.scratch)
    scale = reference.std if reference.std > 0 else 1.0
    return MethodResult(statistic=distance / scale)


METHOD: Method[NumericReference] = Method(
    name="wasserstein",
    kinds=frozenset({"numeric"}),
    purpose="effect",
    fit=fit_numeric,
    score=score,
)
