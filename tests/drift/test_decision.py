"""Benjamini-Hochberg adjustment and the severity rule."""

from __future__ import annotations

import numpy as np
import pytest
from driftline_sidecar.drift import Severity, benjamini_hochberg, decide
from scipy import stats


def test_bh_matches_scipy_false_discovery_control() -> None:
    """Adjusted p-values equal scipy's method="bh" over random vectors, ties included."""
    rng = np.random.default_rng(8)
    for _ in range(200):
        p = rng.uniform(size=int(rng.integers(2, 40))) ** 3
        p[: int(rng.integers(0, 3))] = p[-1]
        np.testing.assert_array_equal(
            benjamini_hochberg(p), stats.false_discovery_control(p, method="bh")
        )


def test_bh_rejects_values_outside_unit_interval() -> None:
    """A p-value above 1 is refused."""
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        benjamini_hochberg([0.2, 1.5])


@pytest.mark.parametrize(
    ("p_adjusted", "effect", "prediction", "expected"),
    [
        (0.2, 0.9, False, (False, Severity.NONE)),
        (0.01, 0.05, False, (False, Severity.INFO)),
        (0.01, 0.15, False, (True, Severity.WARNING)),
        (0.01, 0.30, False, (True, Severity.CRITICAL)),
        (0.01, 0.15, True, (True, Severity.CRITICAL)),
        (0.01, 0.05, True, (False, Severity.INFO)),
    ],
)
def test_severity_follows_the_documented_rule(
    p_adjusted: float, effect: float, prediction: bool, expected: tuple[bool, Severity]
) -> None:
    """Severity is none, info, warning or critical by significance, floor and critical effect."""
    decision = decide(
        p_adjusted, effect, q=0.05, effect_floor=0.1, critical_effect=0.25, prediction=prediction
    )
    assert (decision.drifted, decision.severity) == expected
