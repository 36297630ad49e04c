"""The chi-square homogeneity test agrees with scipy.stats.chi2_contingency(correction=False)."""

from __future__ import annotations

import numpy as np
from driftline_sidecar.drift import chi2
from scipy import stats

from ._cases import categorical_column


def _labels(counts: dict[str, int]) -> np.ndarray:
    return np.array([k for k, n in counts.items() for _ in range(n)], dtype=object)


def test_matches_scipy_over_random_tables() -> None:
    """Statistic and p-value match chi2_contingency on the reference-by-window table."""
    rng = np.random.default_rng(6)
    for _ in range(100):
        k = int(rng.integers(2, 8))
        names = [f"c{i}" for i in range(k)]
        ref = {n: int(c) for n, c in zip(names, rng.integers(1, 300, k), strict=True)}
        win = {n: int(c) for n, c in zip(names, rng.integers(0, 100, k), strict=True)}
        if sum(win.values()) == 0:
            continue
        state = chi2.METHOD.fit(categorical_column(list(_labels(ref))))
        result = chi2.score(state, _labels(win))
        table = np.array([[ref[n] for n in names], [win[n] for n in names]])
        table = table[:, table.sum(axis=0) > 0]
        expected = stats.chi2_contingency(table, correction=False)
        assert np.isclose(result.statistic, expected.statistic, rtol=1e-12)
        assert result.p_value is not None
        assert abs(result.p_value - expected.pvalue) <= 1e-12


def test_unseen_categories_get_their_own_column_and_are_reported() -> None:
    """A window-only category enters the table with reference count 0 and is listed."""
    state = chi2.METHOD.fit(categorical_column(["a"] * 70 + ["b"] * 30))
    result = chi2.score(state, _labels({"a": 30, "b": 10, "new": 5}))
    expected = stats.chi2_contingency([[70, 30, 0], [30, 10, 5]], correction=False)
    assert (np.isclose(result.statistic, expected.statistic), result.unseen) == (True, ("new",))


def test_categories_absent_from_both_sides_are_dropped() -> None:
    """A window without one reference category tests only the categories that occur."""
    state = chi2.METHOD.fit(categorical_column(["a"] * 50 + ["b"] * 50))
    result = chi2.score(state, _labels({"a": 20}))
    expected = stats.chi2_contingency([[50, 50], [20, 0]], correction=False)
    assert np.isclose(result.statistic, expected.statistic)


def test_single_category_gives_p_value_one() -> None:
    """One category on both sides has zero degrees of freedom: statistic 0, p-value 1."""
    state = chi2.METHOD.fit(categorical_column(["a"] * 10))
    result = chi2.score(state, _labels({"a": 7}))
    assert (result.statistic, result.p_value) == (0.0, 1.0)


def test_tiny_p_values_stay_positive() -> None:
    """A huge shift keeps a positive p-value where scipy's is positive."""
    state = chi2.METHOD.fit(categorical_column(["a"] * 5000 + ["b"] * 5000))
    result = chi2.score(state, _labels({"a": 3000, "b": 1000}))
    expected = stats.chi2_contingency([[5000, 5000], [3000, 1000]], correction=False).pvalue
    assert result.p_value is not None
    assert (result.p_value > 0, np.isclose(result.p_value, expected, rtol=1e-9)) == (True, True)
