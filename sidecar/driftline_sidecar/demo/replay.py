"""Replaying the flights day by day through the monitored model, in time order.

One call per replayed day scores that day's flights as a batch; after every ``tick_days``
days the caller's ``on_tick`` runs (flush the SDK, read the sidecar, print progress).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from driftline_sidecar.demo.data import FEATURES

__all__ = ["Day", "ReplayPlan", "days_of", "replay"]

Predict = Callable[[Any], Any]
OnTick = Callable[[str, int], None]


@dataclass(frozen=True)
class ReplayPlan:
    """What to replay and how: every ``stride``-th flight, a tick every ``tick_days`` days."""

    stride: int = 1
    tick_days: int = 7


@dataclass(frozen=True)
class Day:
    """The flights of one local calendar day: their date (ISO) and their rows."""

    date: str
    flights: Any


def days_of(frame: Any, stride: int = 1) -> Iterator[Day]:
    """Yield the days of ``frame`` in time order, keeping every ``stride``-th flight."""
    if stride < 1:
        raise ValueError(f"stride must be at least 1, got {stride}")
    kept = frame.iloc[::stride]
    local_dates = kept["time_hour"].dt.tz_convert("America/New_York").dt.strftime("%Y-%m-%d")
    for date, flights in kept.groupby(local_dates, sort=True):
        yield Day(date=str(date), flights=flights)


def replay(frame: Any, plan: ReplayPlan, predict: Predict, on_tick: OnTick) -> int:
    """Score every day of ``frame`` with ``predict`` on its features; return the flights sent.

    ``on_tick(date, sent)`` runs after every ``plan.tick_days`` days and after the last one.
    """
    sent = 0
    date = ""
    pending = 0
    for day in days_of(frame, plan.stride):
        predict(day.flights.loc[:, list(FEATURES)])
        sent += len(day.flights)
        date = day.date
        pending += 1
        if pending == plan.tick_days:
            on_tick(date, sent)
            pending = 0
    if pending:
        on_tick(date, sent)
    return sent
