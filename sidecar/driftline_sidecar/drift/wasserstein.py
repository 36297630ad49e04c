"""Wasserstein-1 distance of a numeric window from the reference, in reference standard deviations.

Equals ``scipy.stats.wasserstein_distance(reference_sample, window) / reference_std`` (to about
1e-12 relative) where the standard deviation is that of the full reference column (``ddof=0``).
A constant reference (std 0) gives the raw distance.

``W = ∫ |F(x) - G(x)| dx`` is summed window gap by window gap: on ``[w_j, w_j+1)`` the window's
CDF is the constant ``c = (j+1)/n2`` while the reference's ``F`` rises, crossing ``c`` at the
known sample value ``r[ceil(c·n1) - 1]``. With ``Ψ(t) = ∫ F = (k·t - S_k) / n1`` (``k`` sample
values at or below ``t``, ``S_k`` their sum, prefix sums taken once at fit time on the sample
centred at its mean) each gap costs O(1), so a window costs O(n2) after the ranks KS also uses,
instead of merging and scanning all ``n1 + n2`` values.
"""

from __future__ import annotations

import numpy as np

from ._numeric import NumericReference, NumericWindow, fit_numeric, prepare, require_values
from ._types import FloatArray, IntArray, Method, MethodResult

__all__ = ["METHOD", "score", "wasserstein_sorted"]


def wasserstein_sorted(reference: NumericReference, window: FloatArray, ranks: IntArray) -> float:
    """Return the Wasserstein-1 distance of the sorted ``window`` from the reference sample.

    ``ranks`` is ``searchsorted(reference.sample, window, "right")``.
    """
    n1, n2 = reference.sample.size, window.size
    sums = reference.centered_sums
    x = window - reference.center
    psi_at_window = (ranks * x - sums[ranks]) / n1
    head = psi_at_window[0]  # before the first window value G = 0 <= F
    a, b = x[:-1], x[1:]
    steps = np.arange(1, n2)
    c = steps / n2
    crossing_rank = (steps * n1 + n2 - 1) // n2  # ceil(c * n1): F >= c from this sample value on
    crossing = reference.sample[crossing_rank - 1] - reference.center
    z = np.minimum(np.maximum(crossing, a), b)
    k_z = np.where(crossing <= a, ranks[:-1], np.where(crossing >= b, ranks[1:], crossing_rank))
    psi_z = (k_z * z - sums[k_z]) / n1
    psi_a, psi_b = psi_at_window[:-1], psi_at_window[1:]
    # ∫_a^b |F - c| = ∫_a^b (F - c) - 2 ∫_a^z (F - c), as F - c < 0 exactly on [a, z).
    gaps = (psi_b - psi_a - c * (b - a)) - 2.0 * (psi_z - psi_a - c * (z - a))
    tail = 0.0
    last, top = float(x[-1]), float(reference.sample[-1] - reference.center)
    if top > last:  # after the last window value G = 1 >= F
        tail = (top - last) - ((n1 * top - sums[n1]) / n1 - float(psi_at_window[-1]))
    return float(head + gaps.sum() + tail)


def score(reference: NumericReference, window: FloatArray | NumericWindow) -> MethodResult:
    """Return the normalised Wasserstein-1 distance of ``window``'s finite values."""
    prepared = prepare(window)
    require_values(reference, prepared, "wasserstein")
    ranks = prepared.ranks_in(reference.sample)
    distance = wasserstein_sorted(reference, prepared.values, ranks)
    scale = reference.std if reference.std > 0 else 1.0
    return MethodResult(statistic=distance / scale)


METHOD: Method[NumericReference] = Method(
    name="wasserstein",
    kinds=frozenset({"numeric"}),
    purpose="effect",
    fit=fit_numeric,
    score=score,
)
