"""The demo's ground truth: which features really shift from January to summer."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from driftline_sidecar.demo.data import CATEGORICAL_FEATURES, NUMERIC_FEATURES
from driftline_sidecar.demo.shift import expected_drift, shift_by_feature, total_variation
from scipy import stats


def test_weather_features_shift_from_january_to_july(january: Any, july: Any) -> None:
    """Temperature and dew point clearly shift between January and July."""
    expected = expected_drift(january, july, NUMERIC_FEATURES, CATEGORICAL_FEATURES)
    assert expected.shifted == {"temp", "dewp"}


def test_schedule_and_network_features_stay_put(january: Any, july: Any) -> None:
    """Hour, distance, carrier and origin barely move between January and July."""
    expected = expected_drift(january, july, NUMERIC_FEATURES, CATEGORICAL_FEATURES)
    assert {"sched_dep_hour", "distance", "carrier", "origin"} <= expected.stable


def test_nothing_clearly_shifts_from_january_to_february(january: Any, february: Any) -> None:
    """Neighbouring winter months share their distributions: no feature clears the shift floor."""
    expected = expected_drift(january, february, NUMERIC_FEATURES, CATEGORICAL_FEATURES)
    assert expected.shifted == frozenset()


def test_numeric_distances_are_scipy_ks_statistics(january: Any, july: Any) -> None:
    """A numeric feature's distance is scipy's two-sample KS statistic."""
    distances = shift_by_feature(january, july, ["humid"], [])
    expected = stats.ks_2samp(january["humid"], july["humid"]).statistic
    assert distances["humid"] == pytest.approx(expected)


def test_total_variation_is_half_the_l1_distance() -> None:
    """Total variation between {a: .5, b: .5} and {a: .25, c: .75} is 0.75."""
    assert total_variation(["a", "b"], ["a", "c", "c", "c"]) == pytest.approx(0.75)


def test_total_variation_of_a_sample_with_itself_is_zero() -> None:
    """Identical category frequencies are at distance 0."""
    rng = np.random.default_rng(5)
    sample = list(rng.choice(["x", "y", "z"], 100))
    assert total_variation(sample, sample[::-1]) == 0.0
