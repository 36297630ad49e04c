"""Which demo features really shift between two periods, decided from the data alone.

This is the demo's ground truth, computed independently of the sidecar's drift engine:
the two-sample Kolmogorov-Smirnov statistic (scipy) for numeric features and the total
variation distance for categorical ones. Both are the largest difference in probability
the two periods give to one set of values, so they share one scale from 0 to 1.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import stats

__all__ = [
    "SHIFTED_AT_LEAST",
    "STABLE_BELOW",
    "ExpectedDrift",
    "expected_drift",
    "shift_by_feature",
    "total_variation",
]

SHIFTED_AT_LEAST = 0.3
"""A feature whose distance is at least this has clearly shifted: the demo must flag it."""

STABLE_BELOW = 0.05
"""A feature whose distance is below this has not moved: the demo must not flag it."""


@dataclass(frozen=True)
class ExpectedDrift:
    """The features that must be flagged, those that must not, and every distance."""

    shifted: frozenset[str]
    stable: frozenset[str]
    distances: Mapping[str, float]


def total_variation(reference: Sequence[Any], current: Sequence[Any]) -> float:
    """Return half the L1 distance between the category frequencies of the two samples."""
    ref_levels, ref_counts = np.unique(np.asarray(reference, dtype=str), return_counts=True)
    cur_levels, cur_counts = np.unique(np.asarray(current, dtype=str), return_counts=True)
    levels = np.union1d(ref_levels, cur_levels)
    p = np.zeros(levels.size)
    q = np.zeros(levels.size)
    p[np.searchsorted(levels, ref_levels)] = ref_counts / ref_counts.sum()
    q[np.searchsorted(levels, cur_levels)] = cur_counts / cur_counts.sum()
    return float(0.5 * np.abs(p - q).sum())


def shift_by_feature(
    reference: Any, current: Any, numeric: Sequence[str], categorical: Sequence[str]
) -> dict[str, float]:
    """Return each feature's distance between the ``reference`` and ``current`` frames."""
    distances: dict[str, float] = {}
    for name in numeric:
        result = stats.ks_2samp(
            np.asarray(reference[name], dtype=float), np.asarray(current[name], dtype=float)
        )
        distances[name] = float(result.statistic)
    for name in categorical:
        distances[name] = total_variation(list(reference[name]), list(current[name]))
    return distances


def expected_drift(
    reference: Any, current: Any, numeric: Sequence[str], categorical: Sequence[str]
) -> ExpectedDrift:
    """Return which features clearly shifted and which stayed put; the rest is borderline."""
    distances = shift_by_feature(reference, current, numeric, categorical)
    return ExpectedDrift(
        shifted=frozenset(name for name, d in distances.items() if d >= SHIFTED_AT_LEAST),
        stable=frozenset(name for name, d in distances.items() if d < STABLE_BELOW),
        distances=distances,
    )
