"""PSI over quantile bins and over categories."""

from __future__ import annotations

import numpy as np
from driftline_sidecar.drift import psi

from ._cases import categorical_column, numeric_column


def _psi(r: np.ndarray, w: np.ndarray) -> float:
    r = np.maximum(r, psi.EPSILON)
    w = np.maximum(w, psi.EPSILON)
    return float(((w - r) * np.log(w / r)).sum())


def test_numeric_psi_uses_the_reference_bins() -> None:
    """Numeric PSI equals the formula over the reference's quantile bins, closed on the right."""
    rng = np.random.default_rng(5)
    reference = rng.normal(size=10_000)
    window = rng.normal(0.3, size=3_000)
    column = numeric_column(reference)
    edges = column.bin_edges
    r = np.bincount(np.searchsorted(edges[1:-1], reference, "left"), minlength=edges.size - 1)
    r = r / reference.size
    w = np.bincount(np.searchsorted(edges[1:-1], window, "left"), minlength=r.size) / window.size
    result = psi.score(psi.METHOD.fit(column), window)
    assert np.isclose(result.statistic, _psi(r, w), rtol=1e-12)


def test_identical_distributions_score_zero() -> None:
    """A window with the reference's own values has PSI 0."""
    values = np.arange(1000.0)
    assert psi.score(psi.METHOD.fit(numeric_column(values)), values).statistic == 0.0


def test_empty_bin_uses_the_epsilon_floor() -> None:
    """A window entirely in one decile gives the finite PSI of the epsilon-floored shares."""
    reference = np.arange(1000.0)
    window = np.full(100, 5.0)
    result = psi.score(psi.METHOD.fit(numeric_column(reference)), window)
    r = np.full(10, 0.1)
    w = np.zeros(10)
    w[0] = 1.0
    assert np.isclose(result.statistic, _psi(r, w))


def test_categorical_psi_counts_unseen_categories() -> None:
    """Categorical PSI runs over reference and unseen categories and reports the unseen ones."""
    column = categorical_column(["a"] * 60 + ["b"] * 40)
    window = np.array(["a"] * 50 + ["b"] * 40 + ["z"] * 10, dtype=object)
    result = psi.score(psi.METHOD.fit(column), window)
    expected = _psi(np.array([0.6, 0.4, 0.0]), np.array([0.5, 0.4, 0.1]))
    assert (np.isclose(result.statistic, expected), result.unseen) == (True, ("z",))


def test_histograms_are_returned() -> None:
    """PSI returns the reference and window shares it compared."""
    column = categorical_column(["a", "a", "b", "b"])
    result = psi.score(psi.METHOD.fit(column), np.array(["a", "b", "b", "b"], dtype=object))
    assert result.window_hist is not None
    assert (result.window_hist.categories, result.window_hist.proportions) == (
        ("a", "b"),
        (0.25, 0.75),
    )
