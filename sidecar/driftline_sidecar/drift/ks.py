"""Two-sample Kolmogorov-Smirnov test of a numeric window against the reference sample.

The statistic equals ``scipy.stats.ks_2samp(reference_sample, window, method="asymp")``'s (and
the default method's above 10,000 values; below, scipy's exact method rounds it to a multiple
of 1/lcm(n1, n2), at most one ulp away): from the C merge walk
that also gives the Wasserstein distance (``_merge_walk``), or where that extension is not built
from `ks_statistic`, which evaluates the difference of the empirical CDFs only where bounds
computed from a coarse pass say an extreme can still be (see ``_ks_statistic``). The p-value
is scipy's asymptotic one (``method="asymp"``), ``scipy.stats.kstwo.sf(D, round(n1·n2/(n1+n2)))``,
within 1e-6, with faster equivalents where scipy is slow (see ``_ks_p_value``).
"""

from __future__ import annotations

from ._ks_p_value import EXACT_LIMIT, SMIRNOV_FROM, ks_p_value, pelz_good_sf, smirnov_tail
from ._ks_statistic import ks_statistic
from ._merge_walk import walked
from ._numeric import NumericReference, NumericWindow, fit_numeric, prepare, require_values
from ._types import FloatArray, Method, MethodResult

__all__ = [
    "EXACT_LIMIT",
    "METHOD",
    "SMIRNOV_FROM",
    "ks_p_value",
    "ks_statistic",
    "pelz_good_sf",
    "score",
    "smirnov_tail",
]


def score(reference: NumericReference, window: FloatArray | NumericWindow) -> MethodResult:
    """Return the KS statistic and asymptotic p-value of ``window``'s finite values."""
    prepared = prepare(window)
    require_values(reference, prepared, "ks")
    values = prepared.values
    done = walked(reference.sample, prepared)
    d = ks_statistic(reference.sample, values) if done is None else done.ks_statistic
    return MethodResult(statistic=d, p_value=ks_p_value(d, reference.sample.size, values.size))


METHOD: Method[NumericReference] = Method(
    name="ks", kinds=frozenset({"numeric"}), purpose="test", fit=fit_numeric, score=score
)
