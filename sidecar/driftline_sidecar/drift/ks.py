"""Two-sample Kolmogorov-Smirnov test of a numeric window against the reference sample.

The statistic equals ``scipy.stats.ks_2samp(reference_sample, window)``; the p-value is
scipy's asymptotic one (``method="asymp"``): ``scipy.stats.kstwo.sf(D, round(n*m/(n+m)))``.
The statistic is computed against the reference sorted once at fit time, evaluating the
empirical CDFs only at the window's distinct values and just below them, which visits every
point where the difference of the two step functions can reach its extremes.

One exception keeps the cost bounded: when ``n·D² >= 8`` (``n = round(n1·n2/(n1+n2))``) scipy
sums an exact series of ``n`` terms (tens of milliseconds at n = 14 000), while both its value
and the Kolmogorov limit ``scipy.special.kolmogorov(√n·D)`` are below ``2·e^-16 ≈ 2.3e-7``
(the Dvoretzky-Kiefer-Wolfowitz-Massart bound). There the limit is returned: it differs from
scipy's by less than 1e-6, stays positive as long as scipy's does, and keeps the order.

Between ``n·D² = 2.2`` and 8 (for ``n > 140``) scipy's value is ``2·scipy.special.smirnov(n, D)``,
the exact one-sided tail, which scipy sums in double-double arithmetic: 60 to 190 ms at
``n = 33,333``, more than the rest of an evaluation. `smirnov_tail` sums the same exact
(Birnbaum-Tingey) series as one vector of positive terms in float64; it agrees with scipy to
about 1e-12.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import special, stats

from ._numeric import (
    NumericReference,
    NumericWindow,
    Scratch,
    fit_numeric,
    prepare,
    require_values,
)
from ._types import FloatArray, IntArray, Method, MethodResult

__all__ = [
    "METHOD",
    "ks_p_value",
    "ks_statistic",
    "ks_statistic_untied",
    "score",
    "smirnov_tail",
]

EXACT_LIMIT = 8.0
"""Above this ``n·D²`` the p-value is the Kolmogorov limit (see the module docstring)."""

SMIRNOV_FROM = 2.2
"""From this ``n·D²`` (and ``n > 140``) scipy's p-value is twice the one-sided Smirnov tail."""


def ks_statistic(reference: FloatArray, window: FloatArray, ranks: IntArray | None = None) -> float:
    """Return the two-sided KS statistic of two sorted, non-empty samples.

    ``ranks`` (optional) is ``searchsorted(reference, window, "right")``, when already known.
    """
    n1, n2 = reference.size, window.size
    if ranks is None:
        ranks = np.searchsorted(reference, window, side="right")
    ends = np.flatnonzero(np.diff(window))
    if ends.size == n2 - 1:  # no ties in the window: every value is its own step
        starts, ends, distinct, right = np.arange(n2), np.arange(n2), window, ranks
    else:
        starts = np.concatenate(([0], ends + 1))
        ends = np.append(ends, n2 - 1)
        distinct, right = window[ends], ranks[ends]
    left = right.copy()
    tied = right > 0
    tied[tied] = reference[right[tied] - 1] == distinct[tied]
    if tied.any():
        left[tied] = np.searchsorted(reference, distinct[tied], side="left")
    # The same expressions as scipy (count / n1 - count / n2) so the floats are identical.
    at = right / n1 - (ends + 1) / n2
    below = left / n1 - starts / n2
    return _two_sided(float(at.max()), float(below.max()), float(at.min()), float(below.min()))


def _two_sided(*extremes: float) -> float:
    """Return scipy's two-sided statistic from the extremes of ``F_reference - F_window``."""
    max_s = max(*extremes, 0.0)
    min_s = min(*extremes, 0.0)
    return max(max_s, min(-min_s, 1.0))


def ks_statistic_untied(
    reference: NumericReference, window: FloatArray, ranks: IntArray, scratch: Scratch
) -> float | None:
    """Return the KS statistic as `ks_statistic` does, or None when any value is tied.

    Without ties (no repeated window value, no window value equal to a sample value) the
    window's step at ``w_j`` goes from ``j/n2`` to ``(j+1)/n2`` while the reference stays at
    ``ranks[j]/n1``: two subtractions over the window, written into ``scratch``.
    """
    n1, n2 = reference.sample.size, window.size
    flags = scratch.flags[0]
    if n2 > 1 and np.equal(window[1:], window[:-1], out=flags[: n2 - 1]).any():
        return None
    left_neighbour = np.take(reference.padded, ranks, out=scratch.floats[0, :n2])
    if np.equal(left_neighbour, window, out=flags[:n2]).any():
        return None
    f_reference = np.divide(ranks, n1, out=scratch.floats[0, :n2])
    f_window = np.divide(scratch.ramp[: n2 + 1], n2, out=scratch.floats[1, : n2 + 1])
    # The same expressions as scipy (count / n1 - count / n2) so the floats are identical.
    below = np.subtract(f_reference, f_window[:-1], out=scratch.floats[2, :n2])
    at = np.subtract(f_reference, f_window[1:], out=scratch.floats[3, :n2])
    return _two_sided(float(at.max()), float(below.max()), float(at.min()), float(below.min()))


def score(reference: NumericReference, window: FloatArray | NumericWindow) -> MethodResult:
    """Return the KS statistic and asymptotic p-value of ``window``'s finite values."""
    prepared = prepare(window)
    require_values(reference, prepared, "ks")
    values = prepared.values
    ranks = prepared.ranks_in(reference.sample)
    d = ks_statistic_untied(reference, values, ranks, prepared.scratch)
    if d is None:
        d = ks_statistic(reference.sample, values, ranks)
    return MethodResult(statistic=d, p_value=ks_p_value(d, reference.sample.size, values.size))


def ks_p_value(d: float, n1: int, n2: int) -> float:
    """Return the two-sided asymptotic p-value of ``d`` for samples of ``n1`` and ``n2``."""
    m, n = float(max(n1, n2)), float(min(n1, n2))
    en = float(round(m * n / (m + n)))  # half to even, as scipy's np.round
    if en * d * d >= EXACT_LIMIT:
        return float(special.kolmogorov(math.sqrt(en) * d))
    if en > 140 and en * d * d >= SMIRNOV_FROM and d < 0.5:
        return min(max(2.0 * smirnov_tail(int(en), d), 0.0), 1.0)
    return min(max(float(stats.kstwo.sf(d, en)), 0.0), 1.0)


def smirnov_tail(n: int, d: float) -> float:
    """Return ``P(D+ >= d)`` for a sample of ``n``: ``scipy.special.smirnov(n, d)``, vectorised.

    Birnbaum and Tingey (1951): ``d · Σ C(n, j) (1 - d - j/n)^(n-j) (d + j/n)^(j-1)`` over
    ``j = 0 .. floor(n(1 - d))``. Every term is positive, so summing them in float64 loses
    nothing to cancellation; each is taken through its logarithm.
    """
    t = n * d
    j = np.arange(math.floor(n - t) + 1, dtype=np.float64)
    log_binomial = np.empty_like(j)  # log C(n, j), built up as log C(n, j-1) + log((n-j+1)/j)
    log_binomial[0] = 0.0
    np.cumsum(np.log((n - j[1:] + 1.0) / j[1:]), out=log_binomial[1:])
    with np.errstate(divide="ignore"):  # a last term with 1 - d - j/n == 0 is 0
        log_terms = (
            log_binomial + (n - j) * np.log((n - j - t) / n) + (j - 1.0) * np.log((t + j) / n)
        )
    return float(d * np.exp(log_terms).sum())


METHOD: Method[NumericReference] = Method(
    name="ks", kinds=frozenset({"numeric"}), purpose="test", fit=fit_numeric, score=score
)
