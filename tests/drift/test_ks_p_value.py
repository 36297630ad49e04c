"""The KS p-value agrees with scipy's kstwo.sf in every regime scipy distinguishes."""

from __future__ import annotations

import numpy as np
import pytest
from driftline_sidecar.drift import _ks_p_value, ks
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


@pytest.mark.parametrize(
    "stand_in",
    [None, lambda n, x: 0.0],  # moved away; still there but its arguments changed
    ids=["missing", "new-signature"],
)
def test_pelz_good_falls_back_to_kstwo_when_scipy_moves_it(
    monkeypatch: pytest.MonkeyPatch, stand_in: object
) -> None:
    """Without scipy's private Pelz-Good function as called, pelz_good_sf is kstwo.sf's value."""
    monkeypatch.setattr(_ks_p_value, "_scipy_pelz_good", stand_in)
    assert ks.pelz_good_sf(14_286, 0.01) == float(stats.kstwo.sf(0.01, 14_286))


def test_the_pelz_good_regime_takes_scipys_function_itself(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """In the Pelz-Good regime ks_p_value calls scipy's _kolmogn_PelzGood once, with cdf=False."""
    calls: list[tuple[int, float, bool]] = []
    original = _ks_p_value._scipy_pelz_good
    assert original is not None

    def spy(n: int, x: float, cdf: bool = True) -> float:
        calls.append((n, x, cdf))
        return float(original(n, x, cdf=cdf))

    monkeypatch.setattr(_ks_p_value, "_scipy_pelz_good", spy)
    ks.ks_p_value(0.006, 50_000, 20_000)
    assert calls == [(14_286, 0.006, False)]
