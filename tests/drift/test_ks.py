"""The KS method agrees with scipy.stats.ks_2samp."""

from __future__ import annotations

import numpy as np
import pytest
from driftline_sidecar.drift import ks
from scipy import stats

from ._cases import numeric_column, numeric_pairs


def test_statistic_is_identical_to_scipy_over_random_cases() -> None:
    """The statistic equals ks_2samp's exactly, ties, tiny samples and constants included."""
    mismatches = []
    for reference, window in numeric_pairs():
        state = ks.METHOD.fit(numeric_column(reference))
        ours = ks.score(state, window).statistic
        theirs = float(stats.ks_2samp(reference, window, method="asymp").statistic)
        if ours != theirs:
            mismatches.append((ours, theirs))
    assert mismatches == []


def test_p_value_is_within_1e6_of_scipy_asymp() -> None:
    """The p-value is within 1e-6 of ks_2samp(method="asymp") over random cases."""
    worst = 0.0
    for reference, window in numeric_pairs(count=200, seed=1):
        state = ks.METHOD.fit(numeric_column(reference))
        ours = ks.score(state, window).p_value
        assert ours is not None
        theirs = float(stats.ks_2samp(reference, window, method="asymp").pvalue)
        worst = max(worst, abs(ours - theirs))
    assert worst <= 1e-6


def test_large_samples_match_scipy_including_tiny_p_values() -> None:
    """At drift-window sizes the p-value matches scipy and stays positive where scipy's is."""
    rng = np.random.default_rng(2)
    reference = rng.normal(size=20_000)
    state = ks.METHOD.fit(numeric_column(reference))
    for shift in (0.0, 0.02, 0.05, 0.1):
        window = rng.normal(shift, size=5_000)
        ours = ks.score(state, window).p_value
        theirs = float(stats.ks_2samp(reference, window, method="asymp").pvalue)
        assert ours is not None
        assert abs(ours - theirs) <= 1e-6
        assert (ours > 0) == (theirs > 0) or theirs == 0


def test_p_value_is_float64() -> None:
    """The p-value is a Python float (float64), never float32."""
    state = ks.METHOD.fit(numeric_column(np.arange(100, dtype=np.float32).astype(np.float64)))
    result = ks.score(state, np.arange(50, dtype=np.float32))
    assert type(result.p_value) is float


def test_non_finite_window_values_are_ignored() -> None:
    """NaN and infinities in the window are dropped before testing."""
    reference = np.linspace(0, 1, 200)
    window = np.array([0.1, 0.5, np.nan, np.inf, 0.9, -np.inf])
    state = ks.METHOD.fit(numeric_column(reference))
    expected = float(stats.ks_2samp(reference, [0.1, 0.5, 0.9], method="asymp").statistic)
    assert expected == ks.score(state, window).statistic


def test_empty_window_raises() -> None:
    """A window without finite values cannot be tested."""
    state = ks.METHOD.fit(numeric_column(np.arange(10.0)))
    with pytest.raises(ValueError, match="finite values"):
        ks.score(state, np.array([np.nan]))


@pytest.mark.parametrize(("n", "d"), [(141, 0.13), (2_000, 0.04), (20_000, 0.012), (33_333, 0.01)])
def test_smirnov_tail_matches_scipy_smirnov(n: int, d: float) -> None:
    """The vectorised one-sided tail equals scipy.special.smirnov where the fast path uses it."""
    from scipy import special

    assert ks.smirnov_tail(n, d) == pytest.approx(special.smirnov(n, d), rel=1e-9, abs=1e-15)


def test_p_value_in_the_smirnov_range_matches_scipy_asymp() -> None:
    """Windows whose n·D² falls in [2.2, 8), where the Smirnov series is used, match ks_2samp."""
    rng = np.random.default_rng(7)
    reference = np.sort(rng.normal(size=50_000))
    checked = 0
    for shift in np.linspace(0.02, 0.08, 13):
        window = rng.normal(loc=shift, size=20_000)
        d = ks.ks_statistic(reference, np.sort(window))
        en = round(50_000 * 20_000 / 70_000)
        if not 2.2 <= en * d * d < 8:
            continue
        checked += 1
        expected = stats.ks_2samp(reference, window, method="asymp").pvalue
        assert abs(ks.ks_p_value(d, reference.size, window.size) - expected) < 1e-6
    assert checked >= 3
