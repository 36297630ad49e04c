"""The KS test's asymptotic p-value: scipy's ``kstwo.sf(D, round(n1·n2/(n1+n2)))``, faster.

scipy (``scipy/stats/_ksstats.py``, after Simard and L'Ecuyer 2011) picks a method by the
size of ``n·D²``; for ``n > 140`` this module follows the same choice and computes three of
those methods more cheaply:

- ``n·D² >= 8``: scipy sums an exact series of ``n`` terms (tens of milliseconds at
  n = 14,000) for a value that is, like the Kolmogorov limit ``scipy.special.kolmogorov(√n·D)``,
  below ``2·e^-16 ≈ 2.3e-7`` (the Dvoretzky-Kiefer-Wolfowitz-Massart bound). The limit is
  returned: within 1e-6 of scipy's, positive while scipy's is, and in the same order.
- ``2.2 <= n·D² < 8``: scipy's value is ``2·scipy.special.smirnov(n, D)``, summed in
  double-double arithmetic (60 to 190 ms at n = 33,333). `smirnov_tail` sums the same exact
  (Birnbaum-Tingey) series as one vector of positive terms in float64: about 1e-12 apart.
- ``n·D² < 2.2`` where scipy uses the Pelz-Good approximation: `pelz_good_sf` is the same
  formula in the same order of operations, as Python floats instead of numpy scalars
  (about 10 µs instead of 0.3 ms through ``kstwo.sf``).

Everything else (small ``n``, ``D`` below about ``n^-2/3``, where scipy raises a matrix to
the n-th power) goes to ``scipy.stats.kstwo.sf``.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import special, stats

__all__ = ["EXACT_LIMIT", "SMIRNOV_FROM", "ks_p_value", "pelz_good_sf", "smirnov_tail"]

EXACT_LIMIT = 8.0
"""From this ``n·D²`` the p-value is the Kolmogorov limit."""

SMIRNOV_FROM = 2.2
"""From this ``n·D²`` (and ``n > 140``) scipy's p-value is twice the one-sided Smirnov tail."""

_PI_SQUARED = math.pi**2
_PI_FOUR = math.pi**4
_PI_SIX = math.pi**6
_SQRT2PI = math.sqrt(2 * math.pi)
_SQRT3 = math.sqrt(3)
_MIN_LOG = -708


def ks_p_value(d: float, n1: int, n2: int) -> float:
    """Return the two-sided asymptotic p-value of ``d`` for samples of ``n1`` and ``n2``."""
    m, n = float(max(n1, n2)), float(min(n1, n2))
    en = float(round(m * n / (m + n)))  # half to even, as scipy's np.round
    if en * d * d >= EXACT_LIMIT:
        return float(special.kolmogorov(math.sqrt(en) * d))
    if en > 140 and 0.0 < d < 0.5:
        if en * d * d >= SMIRNOV_FROM:
            return min(max(2.0 * smirnov_tail(int(en), d), 0.0), 1.0)
        if _pelz_good_applies(int(en), d):
            return pelz_good_sf(int(en), d)
    return min(max(float(stats.kstwo.sf(d, en)), 0.0), 1.0)


def _pelz_good_applies(n: int, d: float) -> bool:
    """Whether scipy's ``kstwo.sf(d, n)`` (``n > 140``, ``n·d² < 2.2``) is the Pelz-Good value."""
    t = n * d
    return 1.0 < t < n - 1 and (n > 100_000 or n * d**1.5 > 1.4)


def pelz_good_sf(n: int, x: float) -> float:
    """Return ``1 -`` the Pelz-Good approximation of ``P(D_n <= x)``, clipped to [0, 1].

    Pelz and Good (1976), as ``scipy.stats._ksstats._kolmogn_PelzGood``: the Li-Chien and
    Korolyuk expansion ``K0(z) + K1(z)/√n + K2(z)/n + K3(z)/n^1.5`` at ``z = x·√n``,
    rewritten for small ``z`` through Jacobi theta functions.
    """
    z = math.sqrt(n) * x
    zsquared, zthree, zfour, zsix = z**2, z**3, z**4, z**6
    qlog = -_PI_SQUARED / 8 / zsquared
    if qlog < _MIN_LOG:
        return 1.0
    q = math.exp(qlog)
    k1a, k1b = -zsquared, _PI_SQUARED / 4
    k2a = 6 * zsix + 2 * zfour
    k2b = (2 * zfour - 5 * zsquared) * _PI_SQUARED / 4
    k2c = _PI_FOUR * (1 - 2 * zsquared) / 16
    k3d = _PI_SIX * (5 - 30 * zsquared) / 64
    k3c = _PI_FOUR * (-60 * zsquared + 212 * zfour) / 16
    k3b = _PI_SQUARED * (135 * zfour - 96 * zsix) / 4
    k3a = -30 * zsix - 90 * z**8
    # Horner's scheme for the sums of c_i q^(i^2) over odd i.
    sums = [0.0, 0.0, 0.0, 0.0]
    maxk = math.ceil(16 * z / math.pi)
    for k in range(maxk, 0, -1):
        m = 2 * k - 1
        msquared, mfour, msix = m**2, m**4, m**6
        qpower = q ** (8 * k)
        coeffs = (
            1.0,
            k1a + k1b * msquared,
            k2a + k2b * msquared + k2c * mfour,
            k3a + k3b * msquared + k3c * mfour + k3d * msix,
        )
        sums = [s * qpower + c for s, c in zip(sums, coeffs, strict=True)]
    divisors = (z, 6 * zfour, 72 * z**7, 6480 * z**10)
    terms = [s * q * _SQRT2PI / div for s, div in zip(sums, divisors, strict=True)]
    # The sums over all integers k that only K2 and K3 have.
    q = math.exp(-_PI_SQUARED / 2 / zsquared)
    sqrt3z = _SQRT3 * z
    k2extra = k3extra = 0.0
    for k in range(maxk, 0, -1):
        ksquared = k * k
        qpower = q**ksquared
        kspi = math.pi * k
        k2extra += ksquared * qpower
        k3extra += (sqrt3z + kspi) * (sqrt3z - kspi) * ksquared * qpower
    terms[2] += k2extra * (_PI_SQUARED * _SQRT2PI / (-36 * zthree))
    terms[3] += k3extra * (_PI_SQUARED * _SQRT2PI / (216 * zsix))
    cdf = 0.0
    for i, term in enumerate(terms):
        cdf += term / float(n) ** (i / 2.0)
    return min(max(1.0 - cdf, 0.0), 1.0)


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
