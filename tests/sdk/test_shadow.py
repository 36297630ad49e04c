"""Shadow mode: the champion is untouched, the challenger is bounded, counted and captured."""

from __future__ import annotations

import asyncio
import random
import threading
from collections.abc import Iterator
from typing import Any

import driftline
import pytest
from driftline import ConfigurationError, Shadow
from driftline.testing import Telemetry, capture_telemetry
from prometheus_client import CollectorRegistry
from scipy import stats

from tests.sdk._shadow import CHAMPION, LABELS, shadow_calls, wait_until


@pytest.fixture
def gate() -> Iterator[threading.Event]:
    """An event that blocked challengers wait on; set at teardown so no worker stays stuck."""
    event = threading.Event()
    yield event
    event.set()
    driftline.flush(5.0)


def test_champion_returns_while_the_challenger_is_still_running(
    telemetry: Telemetry, gate: threading.Event
) -> None:
    """The champion's result comes back while the challenger is blocked, so the call never waits."""
    started = threading.Event()

    def challenger(features: dict[str, float]) -> float:
        started.set()
        gate.wait()
        return 0.9

    @driftline.monitor(**CHAMPION, shadow=Shadow(challenger, version="2.4.0", timeout=30.0))
    def predict(features: dict[str, float]) -> float:
        return 0.5

    assert predict({"x": 1.0}) == 0.5
    assert started.wait(10.0)
    assert shadow_calls(telemetry, "success") == 0


def test_a_raising_challenger_is_counted_not_raised(telemetry: Telemetry) -> None:
    """A challenger that raises leaves the champion's result alone and counts as an error."""

    def challenger(features: dict[str, float]) -> float:
        raise RuntimeError("challenger broke")

    @driftline.monitor(**CHAMPION, shadow=Shadow(challenger, version="2.4.0"))
    def predict(features: dict[str, float]) -> float:
        return 0.5

    assert predict({"x": 1.0}) == 0.5
    assert driftline.flush(10.0)
    assert (shadow_calls(telemetry, "error"), shadow_calls(telemetry, "success")) == (1, 0)


def test_a_raising_champion_raises_unchanged_and_is_not_shadowed(telemetry: Telemetry) -> None:
    """The champion's own exception is re-raised as the same object and no challenger runs."""
    calls: list[object] = []
    error = ValueError("champion broke")

    @driftline.monitor(**CHAMPION, shadow=Shadow(calls.append, version="2.4.0"))
    def predict(features: dict[str, float]) -> float:
        raise error

    with pytest.raises(ValueError, match="champion broke") as caught:
        predict({"x": 1.0})
    assert driftline.flush(10.0)
    assert (caught.value, calls) == (error, [])


def test_a_hung_challenger_counts_as_timeout_at_its_deadline(
    telemetry: Telemetry, gate: threading.Event
) -> None:
    """A sync challenger that never returns is counted as a timeout while it still runs."""

    def challenger(features: dict[str, float]) -> float:
        gate.wait()
        return 0.9

    shadow = Shadow(challenger, version="2.4.0", timeout=0.05)

    @driftline.monitor(**CHAMPION, shadow=shadow)
    def predict(features: dict[str, float]) -> float:
        return 0.5

    assert predict({"x": 1.0}) == 0.5
    wait_until(lambda: shadow_calls(telemetry, "timeout") == 1)
    assert shadow_calls(telemetry, "success") == 0


def test_a_late_result_is_not_captured(telemetry: Telemetry, gate: threading.Event) -> None:
    """A challenger that returns after its timeout stays a timeout and leaves no record."""

    def challenger(features: dict[str, float]) -> float:
        gate.wait()
        return 0.9

    @driftline.monitor(**CHAMPION, shadow=Shadow(challenger, version="2.4.0", timeout=0.05))
    def predict(features: dict[str, float]) -> float:
        return 0.5

    predict({"x": 1.0})
    wait_until(lambda: shadow_calls(telemetry, "timeout") == 1)
    gate.set()
    assert driftline.flush(10.0)
    wait_until(lambda: telemetry.metric("driftline_shadow_duration_seconds_count", **LABELS) == 1)
    assert [r.role for r in telemetry.records] == ["champion"]
    assert (shadow_calls(telemetry, "timeout"), shadow_calls(telemetry, "success")) == (1, 0)


def test_the_bound_holds_and_the_rest_are_skipped(
    telemetry: Telemetry, gate: threading.Event
) -> None:
    """With every worker stuck, exactly ``queue_size`` calls are held and the rest are skipped."""

    def challenger(features: dict[str, float]) -> float:
        gate.wait()
        return 0.9

    shadow = Shadow(challenger, version="2.4.0", workers=2, queue_size=5, timeout=30.0)

    @driftline.monitor(**CHAMPION, shadow=shadow)
    def predict(features: dict[str, float]) -> float:
        return 0.5

    results = [predict({"x": float(i)}) for i in range(40)]

    assert results == [0.5] * 40
    assert shadow_calls(telemetry, "skipped") == 35
    gate.set()
    assert driftline.flush(10.0)
    assert shadow_calls(telemetry, "success") == 5


def test_the_bound_holds_across_threads(telemetry: Telemetry, gate: threading.Event) -> None:
    """Champion calls from many threads at once never hold more than ``queue_size`` shadow calls."""

    def challenger(features: dict[str, float]) -> float:
        gate.wait()
        return 0.9

    shadow = Shadow(challenger, version="2.4.0", workers=1, queue_size=7, timeout=30.0)

    @driftline.monitor(**CHAMPION, shadow=shadow)
    def predict(features: dict[str, float]) -> float:
        return 0.5

    def caller() -> None:
        for i in range(250):
            predict({"x": float(i)})

    threads = [threading.Thread(target=caller) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert shadow_calls(telemetry, "skipped") == 8 * 250 - 7
    gate.set()
    assert driftline.flush(10.0)
    assert shadow_calls(telemetry, "success") == 7


def test_a_hung_challenger_fills_the_queue_then_skips(
    telemetry: Telemetry, gate: threading.Event
) -> None:
    """A hung sync challenger keeps its slot after its timeout, so later calls are skipped."""

    def challenger(features: dict[str, float]) -> float:
        gate.wait()
        return 0.9

    shadow = Shadow(challenger, version="2.4.0", workers=1, queue_size=2, timeout=0.01)

    @driftline.monitor(**CHAMPION, shadow=shadow)
    def predict(features: dict[str, float]) -> float:
        return 0.5

    for i in range(6):
        predict({"x": float(i)})
    wait_until(lambda: shadow_calls(telemetry, "timeout") == 1)

    assert shadow_calls(telemetry, "skipped") == 4


def test_shadow_pair_shares_the_prediction_id(telemetry: Telemetry) -> None:
    """Champion and challenger are captured under one id, with their roles and versions."""

    @driftline.monitor(**CHAMPION, shadow=Shadow(lambda features: 0.9, version="2.4.0"))
    def predict(features: dict[str, float]) -> float:
        return 0.5

    predict({"tenure": 12.0})
    pid = driftline.last_prediction_id()
    assert driftline.flush(10.0)

    assert [
        (r.prediction_id, r.model, r.version, r.role, r.features, r.predictions)
        for r in telemetry.records
    ] == [
        (pid, "churn", "2.3.0", "champion", {"tenure": 12.0}, {"value": 0.5}),
        (pid, "churn", "2.4.0", "challenger", {"tenure": 12.0}, {"value": 0.9}),
    ]


def test_shadow_pair_of_a_batch_call(telemetry: Telemetry) -> None:
    """Each row of a shadowed batch call is captured twice under its own id."""

    def challenger(rows: list[dict[str, float]]) -> list[str]:
        return ["yes" for _ in rows]

    @driftline.monitor(**CHAMPION, batch=True, shadow=Shadow(challenger, version="2.4.0"))
    def predict(rows: list[dict[str, float]]) -> list[str]:
        return ["no" for _ in rows]

    predict([{"x": 1.0}, {"x": 2.0}])
    ids = driftline.last_prediction_ids()
    assert driftline.flush(10.0)

    assert sorted(
        (r.prediction_id, r.role, r.version, r.predictions["value"]) for r in telemetry.records
    ) == sorted(
        [(i, "champion", "2.3.0", "no") for i in ids]
        + [(i, "challenger", "2.4.0", "yes") for i in ids]
    )


def test_challenger_output_is_read_by_its_own_prediction_reader(telemetry: Telemetry) -> None:
    """Shadow(prediction=...) reads the challenger's result; the champion keeps its own reader."""

    @driftline.monitor(
        **CHAMPION,
        prediction=lambda result: result["p"],
        shadow=Shadow(lambda f: (0.9, "x"), version="2.4.0", prediction=lambda r: r[0]),
    )
    def predict(features: dict[str, float]) -> dict[str, float]:
        return {"p": 0.5}

    predict({"x": 1.0})
    assert driftline.flush(10.0)

    assert [r.predictions for r in telemetry.records] == [{"value": 0.5}, {"value": 0.9}]


def test_challenger_uses_the_champion_prediction_reader_by_default(telemetry: Telemetry) -> None:
    """Without Shadow(prediction=...), the champion's prediction reader reads both results."""

    @driftline.monitor(
        **CHAMPION,
        prediction=lambda result: result["p"],
        shadow=Shadow(lambda f: {"p": 0.9}, version="2.4.0"),
    )
    def predict(features: dict[str, float]) -> dict[str, float]:
        return {"p": 0.5}

    predict({"x": 1.0})
    assert driftline.flush(10.0)

    assert [r.predictions for r in telemetry.records] == [{"value": 0.5}, {"value": 0.9}]


def test_unreadable_challenger_output_drops_only_its_record(telemetry: Telemetry) -> None:
    """An unreadable challenger result is dropped as extraction_error; the call still succeeded."""

    @driftline.monitor(**CHAMPION, shadow=Shadow(lambda f: object(), version="2.4.0"))
    def predict(features: dict[str, float]) -> float:
        return 0.5

    predict({"x": 1.0})
    assert driftline.flush(10.0)

    assert [r.role for r in telemetry.records] == ["champion"]
    assert telemetry.dropped == {"extraction_error": 1}
    assert shadow_calls(telemetry, "success") == 1


def test_challenger_sees_the_champion_prediction_id(telemetry: Telemetry) -> None:
    """Inside the challenger, current_prediction_id() is the champion call's id."""
    seen: list[str | None] = []

    def challenger(features: dict[str, float]) -> float:
        seen.append(driftline.current_prediction_id())
        return 0.9

    @driftline.monitor(**CHAMPION, shadow=Shadow(challenger, version="2.4.0"))
    def predict(features: dict[str, float]) -> float:
        return 0.5

    predict({"x": 1.0})
    assert driftline.flush(10.0)

    assert seen == [driftline.last_prediction_id()]


def test_sample_rate_zero_never_runs_the_challenger(telemetry: Telemetry) -> None:
    """With sample_rate=0 the challenger is never called."""
    calls: list[object] = []

    @driftline.monitor(**CHAMPION, shadow=Shadow(calls.append, version="2.4.0", sample_rate=0.0))
    def predict(features: dict[str, float]) -> float:
        return 0.5

    for _ in range(50):
        predict({"x": 1.0})
    assert driftline.flush(10.0)

    assert calls == []


def test_sample_rate_shadows_a_binomial_share() -> None:
    """With sample_rate=0.25 the number of shadowed calls lies in scipy's binomial 1e-6 interval."""
    random.seed(20240607)
    n, rate = 2000, 0.25
    low, high = stats.binom.interval(1 - 1e-6, n, rate)

    @driftline.monitor(
        **CHAMPION, shadow=Shadow(lambda f: 0.9, version="2.4.0", sample_rate=rate, queue_size=n)
    )
    def predict(features: dict[str, float]) -> float:
        return 0.5

    with capture_telemetry(log_sample_rate=0.0) as telemetry:
        for _ in range(n):
            predict({"x": 1.0})
        assert driftline.flush(10.0)
        shadowed = shadow_calls(telemetry, "success")

    assert shadowed is not None
    assert low <= shadowed <= high


def test_async_champion_and_async_challenger(telemetry: Telemetry) -> None:
    """An async champion returns its own result and an async challenger is captured beside it."""

    async def challenger(features: dict[str, float]) -> float:
        await asyncio.sleep(0.001)
        return 0.9

    @driftline.monitor(**CHAMPION, shadow=Shadow(challenger, version="2.4.0"))
    async def predict(features: dict[str, float]) -> float:
        await asyncio.sleep(0.001)
        return 0.5

    assert asyncio.run(predict({"x": 1.0})) == 0.5
    assert driftline.flush(10.0)

    assert [(r.role, r.predictions) for r in telemetry.records] == [
        ("champion", {"value": 0.5}),
        ("challenger", {"value": 0.9}),
    ]


def test_sync_champion_with_async_challenger(telemetry: Telemetry) -> None:
    """An async challenger of a sync champion runs on driftline's private event loop."""

    async def challenger(features: dict[str, float]) -> str:
        return "yes"

    @driftline.monitor(**CHAMPION, shadow=Shadow(challenger, version="2.4.0"))
    def predict(features: dict[str, float]) -> str:
        return "no"

    assert predict({"x": 1.0}) == "no"
    assert driftline.flush(10.0)

    assert [r.predictions for r in telemetry.records] == [{"value": "no"}, {"value": "yes"}]


def test_async_challenger_is_cancelled_at_its_timeout(telemetry: Telemetry) -> None:
    """An async challenger past its timeout is cancelled, counted as timeout and frees its slot."""
    cancelled = threading.Event()

    async def challenger(features: dict[str, float]) -> float:
        try:
            await asyncio.sleep(60)
        except asyncio.CancelledError:
            cancelled.set()
            raise
        return 0.9

    shadow = Shadow(challenger, version="2.4.0", timeout=0.05, queue_size=1)

    @driftline.monitor(**CHAMPION, shadow=shadow)
    async def predict(features: dict[str, float]) -> float:
        return 0.5

    assert asyncio.run(predict({"x": 1.0})) == 0.5
    assert cancelled.wait(10.0)
    assert driftline.flush(10.0)
    asyncio.run(predict({"x": 2.0}))
    wait_until(lambda: shadow_calls(telemetry, "timeout") == 2)

    assert shadow_calls(telemetry, "skipped") == 0


def test_shadow_runs_without_capture() -> None:
    """Without a sidecar the challenger still runs and is counted; nothing is captured."""
    calls: list[object] = []

    @driftline.monitor(**CHAMPION, shadow=Shadow(calls.append, version="2.4.0"))
    def predict(features: dict[str, float]) -> float:
        return 0.5

    registry = CollectorRegistry()
    driftline.configure(registry=registry, sidecar_url=None, log_sample_rate=0.0)
    try:
        predict({"x": 1.0})
        assert driftline.flush(10.0)
    finally:
        driftline.shutdown(1.0)

    labels = {**LABELS, "outcome": "success"}
    assert (calls, registry.get_sample_value("driftline_shadow_calls_total", labels)) == (
        [{"x": 1.0}],
        1,
    )


@pytest.mark.parametrize(
    ("kwargs", "key"),
    [
        ({"fn": 3, "version": "2"}, "shadow.fn"),
        ({"version": ""}, "shadow.version"),
        ({"version": "2", "sample_rate": 1.5}, "shadow.sample_rate"),
        ({"version": "2", "timeout": 0}, "shadow.timeout"),
        ({"version": "2", "workers": 0}, "shadow.workers"),
        ({"version": "2", "queue_size": 0}, "shadow.queue_size"),
        ({"version": "2", "workers": 3, "queue_size": 2}, "shadow.queue_size"),
        ({"version": "2", "prediction": "x"}, "shadow.prediction"),
    ],
)
def test_bad_shadow_arguments_fail_at_construction(kwargs: dict[str, Any], key: str) -> None:
    """Shadow() raises ConfigurationError naming the bad argument."""
    options: dict[str, Any] = {"fn": lambda f: 0.5, **kwargs}
    with pytest.raises(ConfigurationError) as caught:
        Shadow(**options)
    assert caught.value.key == key


def test_challenger_with_the_champion_version_is_refused() -> None:
    """monitor() refuses a challenger whose version equals the champion's."""
    with pytest.raises(ConfigurationError) as caught:
        driftline.monitor(**CHAMPION, shadow=Shadow(lambda f: 0.5, version="2.3.0"))
    assert caught.value.key == "shadow"
