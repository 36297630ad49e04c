"""Replaying the flights: day by day, in time order, with a tick every few days."""

from __future__ import annotations

from typing import Any

import pytest
from driftline_sidecar.demo.data import FEATURES
from driftline_sidecar.demo.replay import ReplayPlan, days_of, replay


def test_days_come_in_calendar_order(february: Any) -> None:
    """February replays as its 28 local days, first to last."""
    dates = [day.date for day in days_of(february)]
    assert dates == [f"2013-02-{d:02d}" for d in range(1, 29)]


def test_a_stride_keeps_every_nth_flight(february: Any) -> None:
    """With stride 4 the days hold a quarter of the flights, rounded up."""
    kept = sum(len(day.flights) for day in days_of(february, stride=4))
    assert kept == -(-len(february) // 4)


def test_a_stride_below_one_is_refused(february: Any) -> None:
    """A stride of 0 raises ValueError naming the stride."""
    with pytest.raises(ValueError, match="stride"):
        next(days_of(february, stride=0))


def test_replay_scores_each_day_once_with_the_features_only(february: Any) -> None:
    """predict is called once per day with exactly the feature columns, and every flight is sent."""
    calls: list[Any] = []
    sent = replay(february, ReplayPlan(), calls.append, lambda date, sent: None)
    assert len(calls) == 28
    assert all(list(call.columns) == list(FEATURES) for call in calls)
    assert sent == sum(len(call) for call in calls) == len(february)


def test_ticks_fall_every_tick_days_and_after_the_last_day(february: Any) -> None:
    """With ticks every 10 days February ticks on the 10th, the 20th and the 28th."""
    ticks: list[str] = []
    replay(february, ReplayPlan(tick_days=10), lambda frame: None, lambda d, s: ticks.append(d))
    assert ticks == ["2013-02-10", "2013-02-20", "2013-02-28"]
