"""A toy credit model: the probability that an applicant defaults, a fixed logistic function."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

__all__ = ["FEATURES", "REGIONS", "default_probability"]

FEATURES = ("income_k", "age", "utilisation", "region")
REGIONS = ("north", "south", "east", "west")
_REGION_WEIGHT = {"north": -0.2, "south": 0.3, "east": 0.0, "west": 0.1}


def default_probability(
    income_k: npt.ArrayLike, age: npt.ArrayLike, utilisation: npt.ArrayLike, region: npt.ArrayLike
) -> npt.NDArray[np.float64]:
    """Return one probability of default per applicant, between 0 and 1."""
    regions = np.asarray(region, dtype=object)
    weights = np.array([_REGION_WEIGHT.get(str(r), 0.0) for r in regions], dtype=float)
    score = (
        -1.0
        - 0.02 * np.asarray(income_k, dtype=float)
        - 0.01 * np.asarray(age, dtype=float)
        + 3.0 * np.asarray(utilisation, dtype=float)
        + weights
    )
    result: npt.NDArray[np.float64] = 1.0 / (1.0 + np.exp(-score))
    return result
