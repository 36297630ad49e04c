"""Types of the optional C extension built from ``_kernels.c`` (see ``_merge_walk``)."""

import numpy as np
import numpy.typing as npt

def ks_wasserstein(
    sample: npt.NDArray[np.float64], window: npt.NDArray[np.float64], /
) -> tuple[float, float]:
    """Return ``(ks_2samp statistic, wasserstein_distance)`` of two sorted, finite samples.

    The statistic is ``ks_2samp(..., method="asymp")``'s. The GIL is released during the walk:
    neither array may be written by another thread until it returns.
    """
