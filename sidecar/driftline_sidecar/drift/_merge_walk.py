"""The KS statistic and the Wasserstein-1 distance of a window from one merge walk, in C.

``_kernels.c`` (an optional C extension, see docs/drift.md "Speed") walks the sorted reference
sample and the sorted window once and returns both ``scipy.stats.ks_2samp``'s statistic
(bit-equal to ``method="asymp"``'s) and ``scipy.stats.wasserstein_distance`` (to about 1e-14
relative). The KS and Wasserstein methods score the same `NumericWindow` one after the other,
so the first walk's result is kept on the window for the second. Where the extension is not
built (or the sizes are too large for its exact integer counts) `walked` returns None and each
method runs its numpy path (``_ks_statistic``, ``wasserstein.wasserstein_sorted``) instead.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from ._numeric import NumericWindow
from ._types import FloatArray

__all__ = ["MAX_PRODUCT", "Walked", "kernels", "walked"]

MAX_PRODUCT = 2**50
"""The C walk takes samples whose sizes multiply to less than this (its counts stay exact)."""


class _Kernels(Protocol):
    """What ``_kernels.c`` provides."""

    def ks_wasserstein(self, sample: FloatArray, window: FloatArray, /) -> tuple[float, float]:
        """Return the KS statistic and Wasserstein-1 distance of two sorted samples."""
        ...


try:  # optional: built from _kernels.c where a C compiler was found at install time
    from . import _kernels as _built
except ImportError:  # pragma: no cover - depends on the install
    _built = None  # type: ignore[assignment]

kernels: _Kernels | None = _built
"""The C extension, or None where it is not built (tests set None to run the numpy path)."""


@dataclass(frozen=True)
class Walked:
    """What one walk of a window against a reference sample gives."""

    sample: FloatArray
    ks_statistic: float
    wasserstein: float
    """Raw Wasserstein-1 distance (not yet divided by the reference's standard deviation)."""


def walked(sample: FloatArray, window: NumericWindow) -> Walked | None:
    """Return both statistics of ``window`` against the sorted ``sample``; None without C."""
    for done in window.walks:
        if done.sample is sample:
            return done
    if kernels is None or sample.size * window.values.size >= MAX_PRODUCT:
        return None
    statistic, distance = kernels.ks_wasserstein(sample, window.values)
    result = Walked(sample, statistic, distance)
    window.walks.append(result)
    return result
