"""Seeded random sample pairs shared by the method tests: continuous, tied, tiny and constant."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
from driftline_sidecar.profile import ColumnProfile, build_profile


def numeric_pairs(count: int = 300, seed: int = 0) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Yield (reference, window) float samples of many shapes, including ties and constants."""
    rng = np.random.default_rng(seed)
    for i in range(count):
        n1 = int(rng.integers(1, 400))
        n2 = int(rng.integers(1, 400))
        shape = i % 5
        if shape == 0:
            yield rng.normal(size=n1), rng.normal(float(rng.uniform(0, 1)), size=n2)
        elif shape == 1:
            yield rng.integers(0, 5, n1).astype(float), rng.integers(0, 6, n2).astype(float)
        elif shape == 2:
            yield np.full(n1, 1.0), rng.integers(0, 3, n2).astype(float)
        elif shape == 3:
            yield rng.exponential(size=n1).round(1), rng.exponential(1.3, size=n2).round(1)
        else:
            yield rng.normal(size=n1), np.full(n2, 0.5)


def numeric_column(values: np.ndarray, n_bins: int = 10) -> ColumnProfile:
    """Return the profile of one numeric column holding ``values``."""
    profile = build_profile({"x": values}, model="m", version="1", n_bins=n_bins)
    return profile.columns["x"]


def categorical_column(labels: list[str]) -> ColumnProfile:
    """Return the profile of one categorical column holding ``labels``."""
    profile = build_profile({"c": np.array(labels, dtype=object)}, model="m", version="1")
    return profile.columns["c"]
