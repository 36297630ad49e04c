"""The KS p-value agrees with scipy's kstwo.sf in every regime scipy distinguishes."""

from __future__ import annotations

import numpy as np
import pytest
from driftline_sidecar.drift import ks
from scipy import stats


@pytest.mark.parametrize("n", [141, 2_000, 14_286, 33_333, 150_000])
def test_pelz_good_matches_scipy_where_scipy_uses_it(n: int) -> None:
    """pelz_good_sf equals kstwo.sf to 1e-12 for n·d² below 2.2, above the matrix method's range."""
    low = max((1.4 / n) ** (2 / 3), 1.0 / n) * 1.01
    high = (2.2 / n) ** 0.5 * 0.999
    worst = max(
        abs(ks.pelz_good_sf(n, float(d)) - float(stats.kstwo.sf(d, n)))
        for d in np.linspace(low, high, 40)
    )
    assert worst <= 1e-12


@pytest.mark.parametrize("n1", [30, 500, 50_000])
@pytest.mark.parametrize("n2", [60, 2_000, 20_000, 100_000])
def test_p_value_matches_scipy_asymp_over_all_regimes(n1: int, n2: int) -> None:
    """ks_p_value is within 1e-6 of kstwo.sf(D, round(n)) from tiny D to D above 0.5."""
    m, n = max(n1, n2), min(n1, n2)
    en = round(m * n / (m + n))
    worst = 0.0
    for z in np.concatenate((np.linspace(0.05, 3.5, 24), [4.0, 6.0])):
        d = min(float(z / np.sqrt(en)), 0.999)
        expected = float(np.clip(stats.kstwo.sf(d, en), 0.0, 1.0))
        worst = max(worst, abs(ks.ks_p_value(d, n1, n2) - expected))
    assert worst <= 1e-6


def test_p_value_is_a_python_float_in_the_pelz_good_regime() -> None:
    """A p-value from the Pelz-Good path is a plain float in [0, 1], scipy's kstwo.sf value."""
    p = ks.ks_p_value(0.006, 50_000, 20_000)
    assert type(p) is float
    assert 0.0 <= p <= 1.0
    assert p == pytest.approx(float(stats.kstwo.sf(0.006, 14286)), abs=1e-12)
