"""The Wasserstein method agrees with scipy.stats.wasserstein_distance, scaled by the std."""

from __future__ import annotations

import numpy as np
from driftline_sidecar.drift import wasserstein
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
