"""monitor() on every kind of callable: sync, async, methods, batch; errors re-raised unchanged."""

from __future__ import annotations

import asyncio
import io
import threading
import time
from typing import Any

import driftline
import numpy as np
import pandas as pd
import pytest
from driftline import ConfigurationError
from driftline.testing import Telemetry, capture_telemetry
from prometheus_client import CollectorRegistry

LABELS = {"model": "m", "version": "1"}


def _requests(telemetry: Telemetry, outcome: str = "success") -> float | None:
    return telemetry.metric("driftline_requests_total", outcome=outcome, **LABELS)


def _duration_sum(telemetry: Telemetry) -> float:
    value = telemetry.metric("driftline_request_duration_seconds_sum", **LABELS)
    assert value is not None
    return value


def test_sync_function_returns_its_result(telemetry: Telemetry) -> None:
    """A decorated sync function returns what the function returns."""

    @driftline.monitor(model="m", version="1")
    def predict(features: dict[str, float]) -> float:
        return features["x"] * 2

    assert predict({"x": 2.0}) == 4.0


def test_sync_call_is_counted(telemetry: Telemetry) -> None:
    """Each sync call adds one success."""

    @driftline.monitor(model="m", version="1")
    def predict(features: dict[str, float]) -> float:
        return 0.5

    predict({"x": 1.0})
    predict({"x": 2.0})
    assert _requests(telemetry) == 2


def test_wraps_keeps_name_and_doc() -> None:
    """The wrapper keeps the function's name, docstring and wrapped function."""

    def predict(features: dict[str, float]) -> float:
        """Predict."""
        return 0.5

    wrapped = driftline.monitor(model="m", version="1")(predict)
    assert (wrapped.__name__, wrapped.__doc__, wrapped.__wrapped__) == (  # type: ignore[attr-defined]
        "predict",
        "Predict.",
        predict,
    )


def test_async_duration_covers_the_await(telemetry: Telemetry) -> None:
    """An awaited 0.2 s coroutine is recorded as at least 0.2 s, not as the coroutine's creation."""

    @driftline.monitor(model="m", version="1")
    async def predict(features: dict[str, float]) -> float:
        await asyncio.sleep(0.2)
        return 0.5

    assert asyncio.run(predict({"x": 1.0})) == 0.5
    assert _duration_sum(telemetry) >= 0.2


def test_async_function_stays_a_coroutine_function() -> None:
    """Decorating an async def gives an async def."""

    @driftline.monitor(model="m", version="1")
    async def predict(features: dict[str, float]) -> float:
        return 0.5

    assert asyncio.iscoroutinefunction(predict)


class Model:
    """A model with every kind of method, decorated in both orders."""

    factor = 3.0

    @driftline.monitor(model="m", version="1")
    def method(self, features: dict[str, float]) -> float:
        return features["x"] * self.factor

    @driftline.monitor(model="m", version="1")
    @classmethod
    def class_outer(cls, features: dict[str, float]) -> float:
        return features["x"] * cls.factor

    @classmethod
    @driftline.monitor(model="m", version="1")
    def class_inner(cls, features: dict[str, float]) -> float:
        return features["x"] * cls.factor

    @driftline.monitor(model="m", version="1")
    @staticmethod
    def static_outer(features: dict[str, float]) -> float:
        return features["x"]

    @staticmethod
    @driftline.monitor(model="m", version="1")
    def static_inner(features: dict[str, float]) -> float:
        return features["x"]


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("method", 6.0),
        ("class_outer", 6.0),
        ("class_inner", 6.0),
        ("static_outer", 2.0),
        ("static_inner", 2.0),
    ],
)
def test_methods_return_and_capture_features(
    telemetry: Telemetry, name: str, expected: float
) -> None:
    """Every kind of method returns its result and captures the argument after self/cls."""
    assert getattr(Model(), name)({"x": 2.0}) == expected
    assert [r.features for r in telemetry.records] == [{"x": 2.0}]


def test_classmethod_callable_on_the_class(telemetry: Telemetry) -> None:
    """A decorated classmethod works when called on the class itself."""
    assert Model.class_outer({"x": 1.0}) == 3.0


def test_feature_argument_given_by_keyword(telemetry: Telemetry) -> None:
    """Features are found when the argument is passed by keyword."""
    Model().method(features={"x": 1.0})
    assert [r.features for r in telemetry.records] == [{"x": 1.0}]


def test_exception_is_reraised_unchanged(telemetry: Telemetry) -> None:
    """The model's own exception reaches the caller as the same object, with its traceback."""
    original = ValueError("bad input")

    @driftline.monitor(model="m", version="1")
    def predict(features: dict[str, float]) -> float:
        raise original

    with pytest.raises(ValueError, match="bad input") as caught:
        predict({"x": 1.0})
    assert caught.value is original
    assert caught.traceback[-1].name == "predict"


def test_exception_is_counted_as_error(telemetry: Telemetry) -> None:
    """A raising call counts as outcome error and adds no rows."""

    @driftline.monitor(model="m", version="1")
    def predict(features: dict[str, float]) -> float:
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        predict({"x": 1.0})
    rows = telemetry.metric("driftline_prediction_rows_total", **LABELS)
    assert (_requests(telemetry, "error"), _requests(telemetry), rows) == (1, 0, 0)


def test_async_exception_is_reraised_unchanged(telemetry: Telemetry) -> None:
    """An async model's exception reaches the caller unchanged and counts as an error."""
    original = KeyError("k")

    @driftline.monitor(model="m", version="1")
    async def predict(features: dict[str, float]) -> float:
        raise original

    with pytest.raises(KeyError) as caught:
        asyncio.run(predict({"x": 1.0}))
    assert (caught.value, _requests(telemetry, "error")) == (original, 1)


def test_batch_of_dicts(telemetry: Telemetry) -> None:
    """A batch of dicts counts one call, n rows and n records."""

    @driftline.monitor(model="m", version="1", batch=True)
    def predict(rows: list[dict[str, float]]) -> list[float]:
        return [r["x"] / 10 for r in rows]

    assert predict([{"x": 1.0}, {"x": 2.0}, {"x": 3.0}]) == [0.1, 0.2, 0.3]
    rows = telemetry.metric("driftline_prediction_rows_total", **LABELS)
    assert (_requests(telemetry), rows, len(telemetry.records), len(telemetry.spans)) == (
        1,
        3,
        3,
        1,
    )
    assert [r.features for r in telemetry.records] == [{"x": 1.0}, {"x": 2.0}, {"x": 3.0}]
    assert [r.predictions for r in telemetry.records] == [
        {"value": 0.1},
        {"value": 0.2},
        {"value": 0.3},
    ]


def test_batch_of_dataframe(telemetry: Telemetry) -> None:
    """A DataFrame batch gives one record per row with its columns as features."""

    @driftline.monitor(model="m", version="1", batch=True)
    def predict(frame: pd.DataFrame) -> np.ndarray:
        return frame["a"].to_numpy() * 0.1

    predict(pd.DataFrame({"a": [1.0, 2.0], "plan": ["pro", "free"]}))
    assert [r.features for r in telemetry.records] == [
        {"a": 1.0, "plan": "pro"},
        {"a": 2.0, "plan": "free"},
    ]


def test_batch_of_numpy_with_feature_names(telemetry: Telemetry) -> None:
    """A 2-D array batch is read with feature_names, one record per row."""

    @driftline.monitor(model="m", version="1", batch=True, feature_names=["a", "b"])
    def predict(matrix: np.ndarray) -> np.ndarray:
        return matrix.sum(axis=1)

    predict(np.array([[1.0, 2.0], [3.0, 4.0]]))
    assert [(r.features, r.predictions) for r in telemetry.records] == [
        ({"a": 1.0, "b": 2.0}, {"value": 3.0}),
        ({"a": 3.0, "b": 4.0}, {"value": 7.0}),
    ]


def test_batch_features_callable_gives_the_captured_rows(telemetry: Telemetry) -> None:
    """With batch=True, features= is called with the call's arguments and its rows are captured."""

    @driftline.monitor(
        model="m", version="1", batch=True, features=lambda ids, rows: [{"x": r} for r in rows]
    )
    def predict(ids: list[str], rows: list[float]) -> list[float]:
        return [r / 10 for r in rows]

    predict(["a", "b"], [1.0, 2.0])
    assert [(r.features, r.predictions) for r in telemetry.records] == [
        ({"x": 1.0}, {"value": 0.1}),
        ({"x": 2.0}, {"value": 0.2}),
    ]


def test_async_batch(telemetry: Telemetry) -> None:
    """An async batch function is recorded like a sync one."""

    @driftline.monitor(model="m", version="1", batch=True)
    async def predict(rows: list[dict[str, float]]) -> list[float]:
        return [0.5 for _ in rows]

    asyncio.run(predict([{"x": 1.0}, {"x": 2.0}]))
    assert telemetry.metric("driftline_prediction_rows_total", **LABELS) == 2


def test_batch_output_of_wrong_length_is_returned_and_dropped(telemetry: Telemetry) -> None:
    """A batch output of the wrong length is still returned; its records are dropped and counted."""

    @driftline.monitor(model="m", version="1", batch=True)
    def predict(rows: list[dict[str, float]]) -> list[float]:
        return [0.5]

    assert predict([{"x": 1.0}, {"x": 2.0}]) == [0.5]
    assert (telemetry.records, telemetry.dropped) == ([], {"extraction_error": 2})


def test_batch_rows_get_distinct_ids_visible_inside(telemetry: Telemetry) -> None:
    """Inside a batch call current_prediction_ids() has one id per row, the ones captured."""
    seen: list[tuple[str, ...]] = []

    @driftline.monitor(model="m", version="1", batch=True)
    def predict(rows: list[dict[str, float]]) -> list[float]:
        seen.append(driftline.current_prediction_ids())
        return [0.5 for _ in rows]

    predict([{"x": 1.0}, {"x": 2.0}])
    ids = tuple(r.prediction_id for r in telemetry.records)
    assert (seen, driftline.last_prediction_ids()) == ([ids], ids)


def test_decorating_before_configure_uses_the_later_configuration() -> None:
    """A function decorated before configure() reports to the configured registry."""

    @driftline.monitor(model="m", version="1")
    def predict(features: dict[str, float]) -> float:
        return 0.5

    predict({"x": 1.0})
    registry = CollectorRegistry()
    driftline.configure(registry=registry, log_output=io.StringIO())
    predict({"x": 1.0})
    labels = {**LABELS, "outcome": "success"}
    assert registry.get_sample_value("driftline_requests_total", labels) == 1


def test_unconfigured_call_works() -> None:
    """With no configure() a decorated function runs and returns its result."""

    @driftline.monitor(model="m-unconfigured", version="1")
    def predict(features: dict[str, float]) -> float:
        return 0.5

    assert predict({"x": 1.0}) == 0.5


def test_concurrent_calls_add_up(telemetry: Telemetry) -> None:
    """8 threads of 500 calls each count exactly 4000 successes, rows and records."""

    @driftline.monitor(model="m", version="1")
    def predict(features: dict[str, float]) -> float:
        return 0.5

    def work() -> None:
        for i in range(500):
            predict({"x": float(i)})

    threads = [threading.Thread(target=work) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    rows = telemetry.metric("driftline_prediction_rows_total", **LABELS)
    in_flight = telemetry.metric("driftline_requests_in_flight", **LABELS)
    assert (_requests(telemetry), rows, len(telemetry.records), in_flight) == (4000, 4000, 4000, 0)


def test_in_flight_counts_running_calls(telemetry: Telemetry) -> None:
    """driftline_requests_in_flight is 1 while a call runs."""
    seen: list[float | None] = []

    @driftline.monitor(model="m", version="1")
    def predict(features: dict[str, float]) -> float:
        seen.append(telemetry.metric("driftline_requests_in_flight", **LABELS))
        return 0.5

    predict({"x": 1.0})
    assert seen == [1]


@pytest.mark.parametrize(
    ("kwargs", "key"),
    [
        ({"model": "", "version": "1"}, "model"),
        ({"model": "m", "version": "x" * 129}, "version"),
        ({"model": "m", "version": "1", "role": "shadow"}, "role"),
        ({"model": "m", "version": "1", "info": {"model": "x"}}, "info"),
        ({"model": "m", "version": "1", "features": 3}, "features"),
        ({"model": "m", "version": "1", "feature_names": "ab"}, "feature_names"),
    ],
)
def test_bad_monitor_arguments_fail_at_decoration(kwargs: dict[str, Any], key: str) -> None:
    """monitor() raises ConfigurationError naming the bad argument."""
    with pytest.raises(ConfigurationError) as caught:
        driftline.monitor(**kwargs)
    assert caught.value.key == key


def test_telemetry_failure_never_reaches_the_caller() -> None:
    """A capture sink that raises is counted as a telemetry error; the prediction is returned."""

    class Broken:
        def submit_row(self, *args: object) -> None:
            raise OSError("disk on fire")

        submit_call = submit_row

    @driftline.monitor(model="m", version="1")
    def predict(features: dict[str, float]) -> float:
        return 0.5

    with capture_telemetry() as telemetry:
        driftline._runtime.current().capture = Broken()  # type: ignore[assignment]
        assert predict({"x": 1.0}) == 0.5
        assert telemetry.metric("driftline_telemetry_errors_total", signal="capture") == 1


def test_slow_sync_duration(telemetry: Telemetry) -> None:
    """A sync call's duration includes the time the function ran."""

    @driftline.monitor(model="m", version="1")
    def predict(features: dict[str, float]) -> float:
        time.sleep(0.05)
        return 0.5

    predict({"x": 1.0})
    assert _duration_sum(telemetry) >= 0.05
