"""Shadow mode with isolation="process": the challenger runs in a child process at idle priority.

The challengers are module-level functions because a child process unpickles
them by reference (it imports this module).
"""

from __future__ import annotations

import asyncio
import os
import threading
import time
from collections.abc import Callable, Iterator

import driftline
import pytest
from driftline import ConfigurationError, Shadow
from driftline.testing import Telemetry

from tests.sdk._shadow import CHAMPION, LABELS, shadow_calls, wait_until


def process_shadow(fn: Callable[..., object], **options: object) -> Shadow:
    """A challenger in a child process, with a generous timeout for a slow start on a busy host."""
    return Shadow(fn, version="2.4.0", isolation="process", **{"timeout": 30.0, **options})  # type: ignore[arg-type]


def champion(features: dict[str, float]) -> float:
    """The champion of most tests."""
    return 0.5


def pid_challenger(features: dict[str, float]) -> int:
    """Return the id of the process it runs in."""
    return os.getpid()


def id_challenger(features: dict[str, float]) -> str | None:
    """Return the prediction id current inside the challenger."""
    return driftline.current_prediction_id()


def doubling_challenger(features: dict[str, float]) -> float:
    """Return twice the feature ``x``."""
    return features["x"] * 2


def raising_challenger(features: dict[str, float]) -> float:
    """Raise, as a broken challenger does."""
    raise RuntimeError("challenger broke")


def hanging_challenger(features: dict[str, float]) -> float:
    """Hang for a minute when ``x`` is positive, else return at once."""
    if features["x"] > 0:
        time.sleep(60)
    return 0.9


def exiting_challenger(features: dict[str, float]) -> float:
    """End its process when ``x`` is positive, else return."""
    if features["x"] > 0:
        os._exit(3)
    return 0.9


def unpicklable_result_challenger(features: dict[str, float]) -> object:
    """Return a value pickle cannot send back (a lock)."""
    return threading.Lock()


def scheduler_challenger(features: dict[str, float]) -> int:
    """Return the CPU scheduling policy of the process it runs in."""
    return os.sched_getscheduler(0)


def _refuse_to_load() -> None:
    raise RuntimeError("this challenger cannot be loaded")


class UnloadableChallenger:
    """A challenger that pickles but raises when a child process unpickles it."""

    def __call__(self, features: dict[str, float]) -> float:
        return 0.9

    def __reduce__(self) -> tuple[Callable[[], None], tuple[()]]:
        return _refuse_to_load, ()


async def async_challenger(features: dict[str, float]) -> float:
    """An async challenger: it awaits, then returns 0.9."""
    await asyncio.sleep(0.001)
    return 0.9


@pytest.fixture(autouse=True)
def drained() -> Iterator[None]:
    """Let every shadow call of the test settle before the next test."""
    yield
    driftline.flush(30.0)


def test_the_challenger_runs_in_another_process(telemetry: Telemetry) -> None:
    """The challenger's result comes from a process other than the champion's."""
    predict = driftline.monitor(**CHAMPION, shadow=process_shadow(pid_challenger))(champion)

    assert predict({"x": 1.0}) == 0.5
    assert driftline.flush(30.0)

    challenger_pids = [r.predictions["value"] for r in telemetry.records if r.role == "challenger"]
    assert len(challenger_pids) == 1
    assert challenger_pids[0] != os.getpid()


def test_a_process_shadow_pair_shares_the_prediction_id(telemetry: Telemetry) -> None:
    """Champion and process challenger are captured under one id with their roles and versions."""
    predict = driftline.monitor(**CHAMPION, shadow=process_shadow(doubling_challenger))(champion)

    predict({"x": 2.0})
    pid = driftline.last_prediction_id()
    assert driftline.flush(30.0)

    assert [(r.prediction_id, r.role, r.version, r.predictions) for r in telemetry.records] == [
        (pid, "champion", "2.3.0", {"value": 0.5}),
        (pid, "challenger", "2.4.0", {"value": 4.0}),
    ]


def test_the_process_challenger_sees_the_champion_prediction_id(telemetry: Telemetry) -> None:
    """Inside the child process, current_prediction_id() is the champion call's id."""
    predict = driftline.monitor(**CHAMPION, shadow=process_shadow(id_challenger))(champion)

    predict({"x": 1.0})
    pid = driftline.last_prediction_id()
    assert driftline.flush(30.0)

    assert [r.predictions for r in telemetry.records if r.role == "challenger"] == [{"value": pid}]


@pytest.mark.skipif(not hasattr(os, "SCHED_IDLE"), reason="SCHED_IDLE is Linux-only")
def test_the_challenger_process_runs_at_idle_priority(telemetry: Telemetry) -> None:
    """The child process runs under SCHED_IDLE, so it gets only CPU time nothing else wants."""
    predict = driftline.monitor(**CHAMPION, shadow=process_shadow(scheduler_challenger))(champion)

    predict({"x": 1.0})
    assert driftline.flush(30.0)

    assert [r.predictions for r in telemetry.records if r.role == "challenger"] == [
        {"value": os.SCHED_IDLE}
    ]


def test_a_raising_process_challenger_is_counted_not_raised(telemetry: Telemetry) -> None:
    """A challenger that raises in its process leaves the champion alone and counts as an error."""
    predict = driftline.monitor(**CHAMPION, shadow=process_shadow(raising_challenger))(champion)

    assert predict({"x": 1.0}) == 0.5
    assert driftline.flush(30.0)

    assert (shadow_calls(telemetry, "error"), shadow_calls(telemetry, "success")) == (1, 0)


def test_a_hung_process_challenger_is_killed_and_frees_its_slot(telemetry: Telemetry) -> None:
    """A challenger past its deadline counts as timeout and its process is killed, so the next
    call gets the only slot and a fresh process."""
    shadow = process_shadow(hanging_challenger, timeout=0.5, queue_size=1)
    predict = driftline.monitor(**CHAMPION, shadow=shadow)(champion)

    predict({"x": 1.0})
    wait_until(lambda: shadow_calls(telemetry, "timeout") == 1, timeout=30.0)
    assert driftline.flush(30.0)  # the killed call's slot is free again
    predict({"x": 0.0})
    assert driftline.flush(30.0)

    assert [shadow_calls(telemetry, o) for o in ("timeout", "success", "skipped")] == [1, 1, 0]


def test_a_process_that_dies_counts_as_error_and_is_replaced(telemetry: Telemetry) -> None:
    """A challenger whose process exits counts as an error; the next call runs in a new process."""
    predict = driftline.monitor(**CHAMPION, shadow=process_shadow(exiting_challenger))(champion)

    predict({"x": 1.0})
    assert driftline.flush(30.0)
    predict({"x": 0.0})
    assert driftline.flush(30.0)

    assert (shadow_calls(telemetry, "error"), shadow_calls(telemetry, "success")) == (1, 1)


def test_a_challenger_process_that_cannot_start_counts_as_error(telemetry: Telemetry) -> None:
    """A child that dies before it is ready counts the call as an error, with no duration."""
    predict = driftline.monitor(**CHAMPION, shadow=process_shadow(UnloadableChallenger()))(champion)

    assert predict({"x": 1.0}) == 0.5
    assert driftline.flush(30.0)

    assert [
        shadow_calls(telemetry, "error"),
        telemetry.metric("driftline_shadow_duration_seconds_count", **LABELS),
    ] == [1, 0]


def test_unpicklable_arguments_count_as_error(telemetry: Telemetry) -> None:
    """Arguments that cannot be pickled count the shadow call as an error; the champion is fine."""

    def champion_with_lock(features: dict[str, float], lock: object) -> float:
        return 0.5

    predict = driftline.monitor(**CHAMPION, shadow=process_shadow(doubling_challenger))(
        champion_with_lock
    )

    assert predict({"x": 1.0}, threading.Lock()) == 0.5
    assert driftline.flush(30.0)

    assert (shadow_calls(telemetry, "error"), shadow_calls(telemetry, "success")) == (1, 0)


def test_an_unpicklable_result_counts_as_error(telemetry: Telemetry) -> None:
    """A challenger result that cannot be pickled back counts as an error and is not captured."""
    shadow = process_shadow(unpicklable_result_challenger)
    predict = driftline.monitor(**CHAMPION, shadow=shadow)(champion)

    predict({"x": 1.0})
    assert driftline.flush(30.0)

    assert [r.role for r in telemetry.records] == ["champion"]
    assert shadow_calls(telemetry, "error") == 1


class RefusesPickling:
    """A result whose pickling raises an error pickle itself never raises."""

    def __reduce__(self) -> str:
        raise ValueError("not for sending")


def pid_or_refusing_challenger(features: dict[str, float]) -> object:
    """Return a result that refuses pickling for a positive ``x``, else the process id."""
    return RefusesPickling() if features["x"] > 0 else float(os.getpid())


def test_any_error_pickling_a_result_is_counted_and_the_child_serves_on(
    telemetry: Telemetry,
) -> None:
    """A result whose __reduce__ raises ValueError counts as an error; the same child answers
    the next calls (it is not restarted)."""
    predict = driftline.monitor(**CHAMPION, shadow=process_shadow(pid_or_refusing_challenger))(
        champion
    )

    for x in (1.0, -1.0, 1.0, -1.0):
        predict({"x": x})
        assert driftline.flush(30.0)

    pids = [r.predictions["value"] for r in telemetry.records if r.role == "challenger"]
    assert (shadow_calls(telemetry, "error"), len(pids), len(set(pids))) == (2, 2, 1)


def test_an_async_challenger_runs_in_its_process(telemetry: Telemetry) -> None:
    """An async def challenger is awaited in the child process and captured."""
    predict = driftline.monitor(**CHAMPION, shadow=process_shadow(async_challenger))(champion)

    predict({"x": 1.0})
    assert driftline.flush(30.0)

    assert [(r.role, r.predictions) for r in telemetry.records] == [
        ("champion", {"value": 0.5}),
        ("challenger", {"value": 0.9}),
    ]


def test_an_unpicklable_challenger_is_refused() -> None:
    """Shadow(isolation="process") refuses a challenger that cannot be pickled (a lambda)."""
    with pytest.raises(ConfigurationError) as caught:
        Shadow(lambda f: 0.5, version="2.4.0", isolation="process")
    assert caught.value.key == "shadow.fn"


def test_an_unknown_isolation_is_refused() -> None:
    """Shadow() refuses an isolation other than thread or process, naming the key."""
    with pytest.raises(ConfigurationError) as caught:
        Shadow(champion, version="2.4.0", isolation="fiber")
    assert caught.value.key == "shadow.isolation"
