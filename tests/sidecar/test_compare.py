"""Version comparison maths: agreement, paired differences, prediction drift, against scipy."""

from __future__ import annotations

import numpy as np
import pytest
from driftline_sidecar.compare import agreement, as_labels, paired_difference, prediction_drift
from driftline_sidecar.drift import DriftSettings
from scipy import stats


def _pairs(seed: int = 0, n: int = 400) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    champion = rng.uniform(0.0, 1.0, n)
    challenger = champion + rng.normal(0.05, 0.1, n)
    return champion, challenger


@pytest.mark.parametrize(
    ("name", "direct"),
    [
        ("mean", lambda d: d.mean()),
        ("sd", lambda d: d.std(ddof=1)),
        ("p05", lambda d: np.quantile(d, 0.05)),
        ("p50", lambda d: np.quantile(d, 0.5)),
        ("p95", lambda d: np.quantile(d, 0.95)),
        ("mean_abs", lambda d: np.abs(d).mean()),
    ],
)
def test_paired_statistic_matches_numpy(name: str, direct: object) -> None:
    """Each paired-difference statistic equals numpy's on challenger - champion."""
    champion, challenger = _pairs()
    found = paired_difference(champion, challenger)

    assert found is not None
    assert found.statistics()[name] == pytest.approx(direct(challenger - champion), rel=1e-12)  # type: ignore[operator]


def test_wilcoxon_p_value_matches_scipy() -> None:
    """The Wilcoxon signed-rank p-value is scipy's on the same differences."""
    champion, challenger = _pairs(seed=1)
    found = paired_difference(champion, challenger)

    assert found is not None
    assert found.wilcoxon_p == pytest.approx(stats.wilcoxon(challenger - champion).pvalue)


def test_paired_t_p_value_matches_scipy() -> None:
    """The paired t-test p-value is scipy's ttest_rel on the same pairs."""
    champion, challenger = _pairs(seed=2)
    found = paired_difference(champion, challenger)

    assert found is not None
    assert found.paired_t_p == pytest.approx(stats.ttest_rel(challenger, champion).pvalue)


def test_pairs_with_a_missing_side_are_left_out() -> None:
    """A pair where either prediction is NaN does not count."""
    champion, challenger = _pairs(seed=3, n=50)
    champion[:5] = np.nan
    found = paired_difference(champion, challenger)

    assert found is not None
    assert (found.n, found.mean) == (45, pytest.approx((challenger - champion)[5:].mean()))


def test_identical_predictions_have_p_values_of_one() -> None:
    """Zero differences everywhere give p-values of 1 (no scipy warning)."""
    values = np.linspace(0.0, 1.0, 20)
    found = paired_difference(values, values.copy())

    assert found is not None
    assert (found.wilcoxon_p, found.paired_t_p, found.mean_abs) == (1.0, 1.0, 0.0)


def test_agreement_matches_numpy_on_thresholded_scores() -> None:
    """Agreement is the share of pairs on the same side of the threshold."""
    champion, challenger = _pairs(seed=4)
    found = agreement(as_labels(champion, 0.5), as_labels(challenger, 0.5))

    expected = float(np.mean((champion >= 0.5) == (challenger >= 0.5)))
    assert found == (pytest.approx(expected), 400)


def test_agreement_of_labels_ignores_missing() -> None:
    """Label pairs with a missing side do not count towards the agreement."""
    a = np.array(["x", "y", None, "x"], dtype=object)
    b = np.array(["x", "x", "y", "x"], dtype=object)

    assert agreement(a, b) == (pytest.approx(2 / 3), 3)


def test_numeric_prediction_drift_is_the_ks_test() -> None:
    """Numeric prediction drift uses the drift engine's KS test: scipy's ks_2samp statistic."""
    rng = np.random.default_rng(5)
    a, b = rng.normal(0.0, 1.0, 500), rng.normal(0.5, 1.0, 500)
    result = prediction_drift(a, b, name="value", settings=DriftSettings(), evaluated_at=0.0)

    assert result is not None
    assert (result.test, result.statistic, result.drifted) == (
        "ks",
        pytest.approx(stats.ks_2samp(b, a).statistic),
        True,
    )


def test_same_distribution_does_not_drift() -> None:
    """Two samples of one distribution are not flagged."""
    rng = np.random.default_rng(6)
    a, b = rng.normal(0.0, 1.0, 500), rng.normal(0.0, 1.0, 500)
    result = prediction_drift(a, b, name="value", settings=DriftSettings(), evaluated_at=0.0)

    assert result is not None
    assert result.drifted is False


def test_categorical_prediction_drift_uses_chi2() -> None:
    """Label predictions are compared with the categorical test (chi2)."""
    a = np.array(["yes"] * 300 + ["no"] * 300, dtype=object)
    b = np.array(["yes"] * 500 + ["no"] * 100, dtype=object)
    result = prediction_drift(a, b, name="label", settings=DriftSettings(), evaluated_at=0.0)

    assert result is not None
    assert (result.test, result.drifted) == ("chi2", True)
