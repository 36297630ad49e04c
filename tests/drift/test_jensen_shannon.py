"""The Jensen-Shannon method agrees with scipy.spatial.distance.jensenshannon (base 2)."""

from __future__ import annotations

import numpy as np
from driftline_sidecar.drift import jensen_shannon
from scipy.spatial.distance import jensenshannon

from ._cases import categorical_column


def test_matches_scipy_over_random_counts() -> None:
    """The distance equals jensenshannon(reference_counts, window_counts, base=2)."""
    rng = np.random.default_rng(7)
    for _ in range(100):
        k = int(rng.integers(1, 6))
        ref = rng.integers(1, 50, k)
        win = rng.integers(0, 50, k + 1)
        if win.sum() == 0:
            continue
        names = [f"c{i}" for i in range(k + 1)]
        reference = [names[i] for i in range(k) for _ in range(ref[i])]
        window = np.array([names[i] for i in range(k + 1) for _ in range(win[i])], dtype=object)
        state = jensen_shannon.METHOD.fit(categorical_column(reference))
        ours = jensen_shannon.score(state, window).statistic
        theirs = jensenshannon(np.append(ref, 0), win, base=2)
        assert np.isclose(ours, theirs, rtol=1e-12, atol=1e-15)


def test_identical_shares_give_zero() -> None:
    """Equal category shares are at distance 0."""
    state = jensen_shannon.METHOD.fit(categorical_column(["a", "b", "b"]))
    window = np.array(["a", "a", "b", "b", "b", "b"], dtype=object)
    assert jensen_shannon.score(state, window).statistic == 0.0
