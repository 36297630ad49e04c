"""The C merge walk gives scipy's KS statistic and Wasserstein distance; numpy stands in without."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest
from driftline_sidecar.drift import _merge_walk, evaluate, fit_profile, ks, wasserstein
from driftline_sidecar.drift._numeric import NumericWindow, Scratch
from driftline_sidecar.profile import build_profile
from scipy import stats

from ._cases import numeric_column, numeric_pairs

BUILT = _merge_walk.kernels


def test_the_kernel_is_built() -> None:
    """`make install` builds the kernel here, so the suite's C cases run rather than skip."""
    assert BUILT is not None


@pytest.fixture(params=["c", "numpy"])
def path(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Run the test with the C extension, then with the numpy fallback."""
    if request.param == "c" and BUILT is None:
        pytest.skip("the C extension is not built (setup.py build_ext --inplace)")
    monkeypatch.setattr(_merge_walk, "kernels", BUILT if request.param == "c" else None)
    return request.param


@pytest.fixture
def kernel() -> object:
    """The built C extension (the test is skipped where it is not built)."""
    if BUILT is None:
        pytest.skip("the C extension is not built (setup.py build_ext --inplace)")
    return BUILT


def _assorted(count: int, seed: int) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    rng = np.random.default_rng(seed)
    for i in range(count):
        n1, n2 = int(rng.integers(1, 2_500)), int(rng.integers(1, 2_500))
        if i % 5 == 0:
            sample, window = rng.normal(size=n1), rng.normal(rng.uniform(0, 0.3), size=n2)
        elif i % 5 == 1:
            sample = rng.integers(0, 30, n1).astype(float)
            window = rng.integers(0, 33, n2).astype(float)
        elif i % 5 == 2:
            sample, window = rng.normal(size=n1).round(1), rng.normal(0.05, size=n2).round(1)
        elif i % 5 == 3:
            sample, window = rng.uniform(size=n1), np.full(n2, 0.5)
        else:
            sample = rng.exponential(size=n1)
            window = rng.choice(sample, size=n2)
        yield np.sort(sample), np.sort(window)


def test_kernel_statistic_is_bit_equal_to_ks_2samp(kernel: object) -> None:
    """Over 500 seeded pairs (continuous, tied, shared values, constant) D equals scipy's."""
    assert BUILT is not None
    mismatches = [
        (sample.size, window.size)
        for sample, window in _assorted(500, seed=71)
        if BUILT.ks_wasserstein(sample, window)[0]
        != stats.ks_2samp(sample, window, method="asymp").statistic
    ]
    assert mismatches == []


def test_kernel_distance_matches_wasserstein_distance(kernel: object) -> None:
    """Over 500 seeded pairs the distance is scipy's to 1e-9 relative, and 0 exactly where it is."""
    assert BUILT is not None
    worst = 0.0
    for sample, window in _assorted(500, seed=72):
        expected = stats.wasserstein_distance(sample, window)
        ours = BUILT.ks_wasserstein(sample, window)[1]
        if expected == 0.0:
            assert ours == 0.0
        else:
            worst = max(worst, abs(ours - expected) / expected)
    assert worst <= 1e-9


@pytest.mark.parametrize(("n1", "n2", "shift"), [(50_000, 20_000, 0.0), (50_000, 100_000, 0.2)])
def test_kernel_matches_scipy_at_drift_window_sizes(
    kernel: object, n1: int, n2: int, shift: float
) -> None:
    """The sizes the engine sees (50,000-value sample) give scipy's statistic and distance."""
    assert BUILT is not None
    rng = np.random.default_rng(n2)
    sample, window = np.sort(rng.normal(size=n1)), np.sort(rng.normal(shift, size=n2))
    statistic, distance = BUILT.ks_wasserstein(sample, window)
    assert statistic == stats.ks_2samp(sample, window, method="asymp").statistic
    assert distance == pytest.approx(stats.wasserstein_distance(sample, window), rel=1e-9)


@pytest.mark.parametrize(
    "window",
    [np.array([0.0, np.nan]), np.array([2.0, 1.0]), np.array([0.0, np.inf]), np.array([-np.inf])],
)
def test_kernel_rejects_unsorted_or_non_finite_values(kernel: object, window: np.ndarray) -> None:
    """A window that is not sorted and finite is a ValueError, not a wrong answer."""
    assert BUILT is not None
    with pytest.raises(ValueError, match="sorted and finite"):
        BUILT.ks_wasserstein(np.array([0.0, 1.0]), window)


def test_kernel_rejects_empty_and_non_float64_arrays(kernel: object) -> None:
    """Empty input is a ValueError and anything but a 1-d float64 buffer a TypeError."""
    assert BUILT is not None
    with pytest.raises(ValueError, match="window is empty"):
        BUILT.ks_wasserstein(np.array([1.0]), np.array([]))
    with pytest.raises(TypeError, match="float64"):
        BUILT.ks_wasserstein(np.array([1.0], dtype=np.float32), np.array([1.0]))


def test_methods_match_scipy_on_either_path(path: str) -> None:
    """The KS and Wasserstein methods give scipy's values with and without the extension."""
    for reference, window in numeric_pairs(count=150, seed=73):
        state = ks.METHOD.fit(numeric_column(reference))
        std = float(np.std(reference))
        expected_d = stats.ks_2samp(reference, window, method="asymp").statistic
        assert ks.score(state, window).statistic == expected_d, path
        expected = stats.wasserstein_distance(reference, window) / (std if std > 0 else 1.0)
        ours = wasserstein.score(state, window).statistic
        assert np.isclose(ours, expected, rtol=1e-9, atol=1e-12), (path, ours, expected)


def test_one_walk_serves_both_methods(kernel: object, monkeypatch: pytest.MonkeyPatch) -> None:
    """Scoring one window with KS then Wasserstein walks it once (the real kernel, counted)."""
    assert BUILT is not None
    calls = []

    class Counting:
        def ks_wasserstein(self, sample: np.ndarray, window: np.ndarray, /) -> tuple[float, float]:
            calls.append(window.size)
            return BUILT.ks_wasserstein(sample, window)

    monkeypatch.setattr(_merge_walk, "kernels", Counting())
    rng = np.random.default_rng(74)
    state = ks.METHOD.fit(numeric_column(rng.normal(size=2_000)))
    window = np.sort(rng.normal(size=500))
    shared = NumericWindow(window, Scratch.of_size(window.size))
    ks.score(state, shared)
    wasserstein.score(state, shared)
    assert calls == [500]


def test_sizes_too_large_for_exact_counts_use_numpy(
    kernel: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Above MAX_PRODUCT the methods take the numpy path and still give scipy's statistic."""
    monkeypatch.setattr(_merge_walk, "MAX_PRODUCT", 100)
    rng = np.random.default_rng(75)
    reference, window = rng.normal(size=300), rng.normal(0.1, size=200)
    state = ks.METHOD.fit(numeric_column(reference))
    shared = NumericWindow(np.sort(window), Scratch.of_size(window.size))
    expected = stats.ks_2samp(reference, window, method="asymp").statistic
    assert ks.score(state, shared).statistic == expected
    assert shared.walks == []


def test_engine_results_are_the_same_on_both_paths(monkeypatch: pytest.MonkeyPatch) -> None:
    """An evaluation gives equal statistics, p-values and flags with and without the extension."""
    if BUILT is None:
        pytest.skip("the C extension is not built (setup.py build_ext --inplace)")
    rng = np.random.default_rng(76)
    reference = {f"x{i}": rng.normal(size=5_000) for i in range(4)}
    window = {f"x{i}": rng.normal(0.1 * i, size=2_000) for i in range(4)}
    fitted = fit_profile(build_profile(reference, model="m", version="1"))
    with_c = evaluate(fitted, window, evaluated_at=0.0)
    monkeypatch.setattr(_merge_walk, "kernels", None)
    with_numpy = evaluate(fitted, window, evaluated_at=0.0)
    for c, n in zip(with_c.columns, with_numpy.columns, strict=True):
        assert (c.statistic, c.p_value, c.drifted) == (n.statistic, n.p_value, n.drifted)
        assert c.effect_size == pytest.approx(n.effect_size, rel=1e-9)
