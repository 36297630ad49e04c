"""The bounded search for the KS statistic gives exactly ks_2samp's statistic at every size."""

from __future__ import annotations

import numpy as np
import pytest
from driftline_sidecar.drift import ks
from scipy import stats


def _scipy(sample: np.ndarray, window: np.ndarray) -> float:
    return float(stats.ks_2samp(sample, window, method="asymp").statistic)


@pytest.mark.parametrize("shift", [0.0, 0.01, 0.05, 0.2])
def test_drift_window_sizes_match_scipy(shift: float) -> None:
    """A 20,000-value window against a 50,000-value sample gives ks_2samp's statistic."""
    rng = np.random.default_rng(31)
    sample = np.sort(rng.normal(size=50_000))
    window = np.sort(rng.normal(shift, size=20_000))
    assert ks.ks_statistic(sample, window) == _scipy(sample, window)


@pytest.mark.parametrize("shift", [0.0, 0.1])
def test_window_longer_than_the_sample_matches_scipy(shift: float) -> None:
    """When the window is the longer side the search walks the sample and still matches."""
    rng = np.random.default_rng(32)
    sample = np.sort(rng.normal(size=5_000))
    window = np.sort(rng.normal(shift, size=12_000))
    assert ks.ks_statistic(sample, window) == _scipy(sample, window)


@pytest.mark.parametrize(("n1", "n2"), [(8_000, 3_000), (3_000, 8_000)])
def test_tied_values_match_scipy(n1: int, n2: int) -> None:
    """Values repeated within each side and shared by both sides give ks_2samp's statistic."""
    rng = np.random.default_rng(33)
    sample = np.sort(rng.normal(size=n1).round(2))
    window = np.sort(rng.normal(0.03, size=n2).round(2))
    assert ks.ks_statistic(sample, window) == _scipy(sample, window)


def test_window_drawn_from_the_sample_matches_scipy() -> None:
    """A window made of sample values (every window value ties with one) matches ks_2samp."""
    rng = np.random.default_rng(34)
    sample = np.sort(rng.exponential(size=6_000))
    window = np.sort(rng.choice(sample, size=2_500))
    assert ks.ks_statistic(sample, window) == _scipy(sample, window)


def test_random_shapes_and_sizes_match_scipy() -> None:
    """Over 400 seeded pairs of assorted shapes and sizes the statistic is never different."""
    rng = np.random.default_rng(35)
    mismatches = []
    for i in range(400):
        n1, n2 = int(rng.integers(1, 2_500)), int(rng.integers(1, 2_500))
        if i % 4 == 0:
            sample, window = rng.normal(size=n1), rng.normal(rng.uniform(0, 0.3), size=n2)
        elif i % 4 == 1:
            sample = rng.integers(0, 30, n1).astype(float)
            window = rng.integers(0, 33, n2).astype(float)
        elif i % 4 == 2:
            sample, window = rng.lognormal(size=n1), rng.lognormal(0.05, size=n2)
        else:
            sample, window = rng.uniform(size=n1), np.full(n2, 0.5)
        sample, window = np.sort(sample), np.sort(window)
        if ks.ks_statistic(sample, window) != _scipy(sample, window):
            mismatches.append((n1, n2, i))
    assert mismatches == []
