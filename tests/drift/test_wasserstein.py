"""The Wasserstein method agrees with scipy.stats.wasserstein_distance, scaled by the std."""

from __future__ import annotations

import numpy as np
import pytest
from driftline_sidecar.drift import wasserstein
from driftline_sidecar.drift._numeric import Scratch
from scipy import stats

from ._cases import numeric_column, numeric_pairs


def test_distance_matches_scipy_divided_by_reference_std() -> None:
    """The effect equals wasserstein_distance(reference, window) / std(reference)."""
    for reference, window in numeric_pairs(count=200, seed=3):
        std = float(np.std(reference))
        state = wasserstein.METHOD.fit(numeric_column(reference))
        expected = stats.wasserstein_distance(reference, window) / (std if std > 0 else 1.0)
        ours = wasserstein.score(state, window).statistic
        assert np.isclose(ours, expected, rtol=1e-9, atol=1e-12), (ours, expected)


def test_mean_shift_reads_in_standard_deviations() -> None:
    """A window shifted by 0.5 reference standard deviations scores about 0.5."""
    rng = np.random.default_rng(4)
    state = wasserstein.METHOD.fit(numeric_column(rng.normal(10, 3, size=50_000)))
    effect = wasserstein.score(state, rng.normal(11.5, 3, size=50_000)).statistic
    assert abs(effect - 0.5) < 0.03


def test_constant_reference_gives_the_raw_distance() -> None:
    """With a zero-std reference the distance is not scaled."""
    state = wasserstein.METHOD.fit(numeric_column(np.full(100, 2.0)))
    assert np.isclose(wasserstein.score(state, np.full(10, 3.5)).statistic, 1.5)


@pytest.mark.parametrize(
    ("n1", "n2"), [(50_000, 20_000), (5_000, 12_000), (4_999, 7_919), (3_000, 3_000), (1, 700)]
)
def test_paired_quantiles_match_scipy_at_any_sizes(n1: int, n2: int) -> None:
    """Sorted samples of these sizes (shorter, longer, coprime, equal, single) match scipy."""
    rng = np.random.default_rng(n1 + n2)
    sample = np.sort(rng.normal(size=n1))
    window = np.sort(rng.normal(0.15, 1.1, size=n2).round(2))
    expected = stats.wasserstein_distance(sample, window)
    ours = wasserstein.wasserstein_sorted(sample, window, Scratch.of_size(n2))
    assert ours == pytest.approx(expected, rel=1e-12)


def test_windows_of_changing_sizes_each_match_scipy() -> None:
    """Many window sizes in turn (more than the pairings cached) each give scipy's distance."""
    rng = np.random.default_rng(41)
    sample = np.sort(rng.exponential(size=2_000))
    worst = 0.0
    for n2 in range(900, 900 + 3 * wasserstein.PAIRINGS_CACHED):
        window = np.sort(rng.exponential(1.2, size=n2))
        expected = stats.wasserstein_distance(sample, window)
        ours = wasserstein.wasserstein_sorted(sample, window, Scratch.of_size(n2))
        worst = max(worst, abs(ours - expected) / expected)
    assert worst <= 1e-12


def test_pairings_too_large_to_keep_still_match_scipy() -> None:
    """Sizes above the cached limit are paired afresh and give scipy's distance."""
    rng = np.random.default_rng(42)
    sample = np.sort(rng.normal(size=1_000))
    window = np.sort(rng.normal(0.2, size=wasserstein.CACHED_UP_TO))
    expected = stats.wasserstein_distance(sample, window)
    ours = wasserstein.wasserstein_sorted(sample, window, Scratch.of_size(window.size))
    assert ours == pytest.approx(expected, rel=1e-12)
