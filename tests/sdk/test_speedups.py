"""The C path (``_speedups``) of a decorated sync call does what the Python path does.

Most tests run twice, ``path`` = ``c`` (the extension, as installed) and
``python`` (the extension hidden, as on a machine without a C compiler). Calls
take the C path only with tracing off, so the ``telemetry`` fixture here turns
tracing off.
"""

from __future__ import annotations

import contextvars
import gc
import inspect
import pickle
import time
from collections import deque
from collections.abc import Iterator
from typing import Any

import driftline
import pytest
from driftline import _call, _ids, _native, _runtime, _speedups
from driftline._capture import CaptureQueue
from driftline._config import resolve_settings
from driftline.testing import Telemetry, capture_telemetry
from prometheus_client import CollectorRegistry

from tests.sdk.conftest import MakeQueue
from tests.sdk.test_capture_concurrency import run_in_child
from tests.support.http_sink import HttpSink

LABELS = {"model": "m", "version": "1"}


@pytest.fixture(params=["c", "python"])
def path(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Run the test on the C path, then with the extension hidden."""
    if request.param == "python":
        monkeypatch.setattr(_native, "speedups", None)
    return str(request.param)


@pytest.fixture
def telemetry(path: str) -> Iterator[Telemetry]:
    """In-memory telemetry with tracing off, every call logged."""
    with capture_telemetry(trace_sample_rate=0.0) as captured:
        yield captured


def _metric(telemetry: Telemetry, name: str, **labels: str) -> float:
    value = telemetry.metric(name, **(LABELS | labels))
    return 0.0 if value is None else value


def test_the_extension_is_built() -> None:
    """`make install` builds the extension here, so the suite runs the C path it ships."""
    assert _native.speedups is _speedups


def test_the_c_path_takes_an_untraced_call(telemetry: Telemetry, path: str) -> None:
    """With the extension the wrapper is C and its binding has a plan; hidden, neither."""

    @driftline.monitor(model="m", version="1")
    def predict(features: dict[str, float]) -> float:
        return 0.5

    predict({"x": 1.0})

    if path == "c":
        assert isinstance(predict, _speedups.Wrapper)
        [monitor] = [r for r in gc.get_referents(predict) if type(r).__name__ == "_Monitor"]
    else:
        assert inspect.isfunction(predict)
        monitor = inspect.getclosurevars(predict).nonlocals["mon"]
    assert isinstance(monitor._bound.plan, _speedups.Plan) is (path == "c")


def test_calls_are_counted(telemetry: Telemetry, path: str) -> None:
    """Each call adds a success, a row, a duration and its value to the histograms."""

    @driftline.monitor(model="m", version="1")
    def predict(features: dict[str, float]) -> float:
        return features["x"] / 10

    for x in range(5):
        predict({"x": float(x)})

    assert _metric(telemetry, "driftline_requests_total", outcome="success") == 5
    assert _metric(telemetry, "driftline_prediction_rows_total") == 5
    assert _metric(telemetry, "driftline_request_duration_seconds_count") == 5
    assert _metric(telemetry, "driftline_prediction_value_count", output="value") == 5
    assert _metric(telemetry, "driftline_prediction_value_sum", output="value") == pytest.approx(
        1.0
    )
    assert _metric(telemetry, "driftline_requests_in_flight") == 0


def test_records_carry_the_call_and_its_id(telemetry: Telemetry, path: str) -> None:
    """Each call's record holds a copy of its features, its value and the id the call reports."""

    @driftline.monitor(model="m", version="1")
    def predict(features: dict[str, float]) -> float:
        return features["x"] * 2

    features = {"x": 1.5, "y": 2.0}
    ids = []
    for _ in range(3):
        predict(features)
        ids.append(driftline.last_prediction_id())
    features["x"] = 99.0  # changed after the calls: the records keep what the calls saw

    records = telemetry.records
    assert [r.prediction_id for r in records] == ids
    assert len(set(ids)) == 3
    assert [r.features for r in records] == [{"x": 1.5, "y": 2.0}] * 3
    assert [r.predictions for r in records] == [{"value": 3.0}] * 3
    assert {(r.model, r.version, r.role) for r in records} == {("m", "1", "champion")}


def test_the_record_timestamp_is_the_calls_start(telemetry: Telemetry, path: str) -> None:
    """A record's timestamp lies between the wall-clock times around the call."""

    @driftline.monitor(model="m", version="1")
    def predict(features: dict[str, float]) -> float:
        return 0.0

    before = time.time()
    predict({"x": 1.0})
    after = time.time()

    [record] = telemetry.records
    assert before - 0.01 <= record.timestamp <= after + 0.01


def test_features_given_by_keyword_are_captured(telemetry: Telemetry, path: str) -> None:
    """Features passed by keyword take the Python finisher and are still captured."""

    @driftline.monitor(model="m", version="1")
    def predict(features: dict[str, float]) -> float:
        return 0.25

    predict(features={"x": 4.0})

    [record] = telemetry.records
    assert record.features == {"x": 4.0}
    assert _metric(telemetry, "driftline_requests_total", outcome="success") == 1


def test_a_result_that_is_not_a_float_is_recorded(telemetry: Telemetry, path: str) -> None:
    """An int and a dict result are counted and captured as the Python path does."""

    @driftline.monitor(model="m", version="1")
    def predict(features: dict[str, float]) -> Any:
        return 1 if features["x"] > 0 else {"score": 0.5, "label": "no"}

    predict({"x": 1.0})
    predict({"x": -1.0})

    assert [r.predictions for r in telemetry.records] == [
        {"value": 1},
        {"score": 0.5, "label": "no"},
    ]
    assert _metric(telemetry, "driftline_requests_total", outcome="success") == 2


def test_an_exception_is_reraised_and_counted(telemetry: Telemetry, path: str) -> None:
    """The model's exception reaches the caller unchanged, with its frame, and counts an error."""
    error = ValueError("bad row")

    @driftline.monitor(model="m", version="1")
    def predict(features: dict[str, float]) -> float:
        raise error

    with pytest.raises(ValueError, match="bad row") as raised:
        predict({"x": 1.0})

    assert raised.value is error
    assert raised.traceback[-1].name == "predict"
    assert _metric(telemetry, "driftline_requests_total", outcome="error") == 1
    assert _metric(telemetry, "driftline_requests_in_flight") == 0
    assert telemetry.records == []
    [line] = telemetry.logs
    assert (line["outcome"], line["prediction_id"]) == ("error", driftline.last_prediction_id())


def test_nested_calls_see_their_own_ids(telemetry: Telemetry, path: str) -> None:
    """Inside a nested call its own id is current; after it, the outer call's is again."""
    seen: dict[str, Any] = {}

    @driftline.monitor(model="inner", version="1")
    def inner(features: dict[str, float]) -> float:
        seen["inner"] = driftline.current_prediction_id()
        return 1.0

    @driftline.monitor(model="m", version="1")
    def outer(features: dict[str, float]) -> float:
        seen["outer"] = driftline.current_prediction_id()
        inner(features)
        seen["inner_last"] = driftline.last_prediction_id()
        seen["outer_again"] = driftline.current_prediction_id()
        return 2.0

    outer({"x": 1.0})

    ids = {r.model: r.prediction_id for r in telemetry.records}
    assert seen == {
        "outer": ids["m"],
        "inner": ids["inner"],
        "inner_last": ids["inner"],
        "outer_again": ids["m"],
    }
    assert driftline.last_prediction_id() == ids["m"]
    assert driftline.current_prediction_id() is None


def test_sequential_calls_keep_no_chain(telemetry: Telemetry, path: str) -> None:
    """After many calls, the context holds only the last call's cell, linked to nothing."""
    from driftline._context import STATE

    @driftline.monitor(model="m", version="1")
    def predict(features: dict[str, float]) -> float:
        return 0.0

    for _ in range(50):
        predict({"x": 1.0})

    cell = STATE.get()
    assert cell is not None
    assert (cell[3], cell[2]) == (True, None)


def test_a_call_that_read_its_id_is_recorded_under_it(telemetry: Telemetry, path: str) -> None:
    """A call that read its id is recorded under that string, even if ids are re-drawn meanwhile."""
    seen = []

    @driftline.monitor(model="m", version="1")
    def predict(features: dict[str, float]) -> float:
        if features["x"]:
            seen.append(driftline.current_prediction_id())
            _ids._reset()  # what a fork inside the call does: new random bits, a new clock anchor
        return 0.5

    predict({"x": 0.0})  # the first call binds, on the Python path
    predict({"x": 1.0})

    assert telemetry.records[1].prediction_id == seen[0]


def test_keyboard_interrupt_in_telemetry_reaches_the_caller(
    telemetry: Telemetry, path: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A KeyboardInterrupt raised inside driftline's own work is not swallowed, as in Python."""
    armed = []
    draw = _call.random

    def interrupted() -> float:
        if armed:
            raise KeyboardInterrupt
        return draw()

    monkeypatch.setattr(_call, "random", interrupted)  # the log line's draw

    @driftline.monitor(model="m", version="1")
    def predict(features: dict[str, float]) -> float:
        return 0.5

    predict({"x": 0.0})  # the first call binds, on the Python path
    armed.append(True)
    with pytest.raises(KeyboardInterrupt):
        predict({"x": 1.0})


def test_nothing_is_captured_at_a_zero_capture_rate(path: str) -> None:
    """capture_sample_rate=0 captures no record but still counts the call."""
    with capture_telemetry(trace_sample_rate=0.0, capture_sample_rate=0.0) as telemetry:

        @driftline.monitor(model="m", version="1")
        def predict(features: dict[str, float]) -> float:
            return 0.5

        predict({"x": 1.0})

        assert telemetry.records == []
        assert _metric(telemetry, "driftline_requests_total", outcome="success") == 1


def test_every_call_is_logged_at_a_rate_of_one(telemetry: Telemetry, path: str) -> None:
    """At log_sample_rate=1 each call writes one success line with its id and duration."""

    @driftline.monitor(model="m", version="1")
    def predict(features: dict[str, float]) -> float:
        return 0.5

    predict({"x": 1.0})

    [line] = telemetry.logs
    assert line["outcome"] == "success"
    assert line["prediction_id"] == driftline.last_prediction_id()
    assert line["duration_s"] >= 0.0


def test_a_method_reads_features_after_self(telemetry: Telemetry, path: str) -> None:
    """A decorated method binds to its instance and captures the argument after ``self``."""

    class Model:
        scale = 3.0

        @driftline.monitor(model="m", version="1")
        def predict(self, features: dict[str, float]) -> float:
            return features["x"] * self.scale

        @driftline.monitor(model="m", version="1")
        @staticmethod
        def static(features: dict[str, float]) -> float:
            return features["x"]

    model = Model()
    assert model.predict({"x": 2.0}) == 6.0
    assert Model.predict(model, {"x": 1.0}) == 3.0
    assert Model.static({"x": 5.0}) == 5.0

    assert [r.features for r in telemetry.records] == [{"x": 2.0}, {"x": 1.0}, {"x": 5.0}]


def scored(features: dict[str, float]) -> float:
    """A module-level model, decorated below, for the pickling test."""
    return features["x"]


scored = driftline.monitor(model="m", version="1")(scored)


def test_a_decorated_function_pickles_by_name() -> None:
    """A decorated module-level function pickles to a reference to itself, as a function does."""
    assert pickle.loads(pickle.dumps(scored)) is scored


def test_the_wrapper_looks_like_the_function(path: str) -> None:
    """Name, qualified name, docstring, module, signature and __wrapped__ are the function's."""

    def predict(features: dict[str, float], threshold: float = 0.5) -> float:
        """Score one row."""
        return 0.0

    wrapped = driftline.monitor(model="m", version="1")(predict)

    assert (wrapped.__name__, wrapped.__qualname__) == (predict.__name__, predict.__qualname__)
    assert (wrapped.__doc__, wrapped.__module__) == ("Score one row.", predict.__module__)
    assert wrapped.__wrapped__ is predict  # type: ignore[attr-defined]
    assert inspect.signature(wrapped) == inspect.signature(predict)
    assert not inspect.iscoroutinefunction(wrapped)


def test_a_new_configuration_is_taken_by_the_next_call(path: str) -> None:
    """After configure() installs a new runtime, calls count in the new registry only."""

    @driftline.monitor(model="m", version="1")
    def predict(features: dict[str, float]) -> float:
        return 0.5

    with capture_telemetry(trace_sample_rate=0.0) as first:
        predict({"x": 1.0})
        with capture_telemetry(trace_sample_rate=0.0) as second:
            predict({"x": 1.0})
            predict({"x": 1.0})
        predict({"x": 1.0})

    assert _metric(first, "driftline_requests_total", outcome="success") == 2
    assert _metric(second, "driftline_requests_total", outcome="success") == 2


@pytest.fixture
def shipping(sink: HttpSink, registry: CollectorRegistry, path: str) -> Iterator[CaptureQueue]:
    """driftline configured untraced, unlogged, shipping to the sink; its capture queue."""
    driftline.configure(
        service_name="churn-api",
        sidecar_url=sink.url,
        registry=registry,
        trace_sample_rate=0.0,
        log_sample_rate=0.0,
        capture_flush_interval=60.0,
    )
    queue = _runtime.current().capture
    assert type(queue) is CaptureQueue
    yield queue
    driftline.shutdown(1.0)


def test_records_reach_the_sidecar_through_the_queue(
    sink: HttpSink, shipping: CaptureQueue
) -> None:
    """With a real capture queue, each call's record reaches the sink under the id it reported."""

    @driftline.monitor(model="m", version="1")
    def predict(features: dict[str, float]) -> float:
        return features["x"]

    ids = []
    for x in range(4):
        predict({"x": float(x)})
        ids.append(driftline.last_prediction_id())

    assert driftline.flush(10.0)
    assert sink.accepted_ids() == ids
    [request] = sink.accepted()
    [batch] = request.body["batches"]
    assert batch["features"]["x"] == [0.0, 1.0, 2.0, 3.0]


def test_a_forked_child_ships_its_own_calls_once(sink: HttpSink, shipping: CaptureQueue) -> None:
    """After fork, the child's decorated calls reach the sink from its reset queue, once each."""

    @driftline.monitor(model="m", version="1")
    def predict(features: dict[str, float]) -> float:
        return features["x"]

    predict({"x": -1.0})  # the parent's call, queued before the fork
    parent_id = driftline.last_prediction_id()

    def child() -> bool:
        for x in range(3):
            predict({"x": float(x)})
        return driftline.flush(10.0)

    assert run_in_child(child) == 0
    assert driftline.flush(10.0)
    arrived = sink.accepted_ids()
    xs = [x for r in sink.accepted() for b in r.body["batches"] for x in b["features"]["x"]]
    assert arrived.count(parent_id) == 1
    assert len(set(arrived)) == len(arrived) == 4
    assert sorted(xs) == [-1.0, 0.0, 1.0, 2.0]


@pytest.fixture
def held(make_queue: MakeQueue, registry: CollectorRegistry, path: str) -> Iterator[CaptureQueue]:
    """An untraced, unlogged runtime whose capture queue (3 records) has no shipper thread."""
    queue = make_queue(start=False, queue_size=3, batch_size=3)  # nothing takes records out
    settings = resolve_settings(
        {"registry": registry, "trace_sample_rate": 0.0, "log_sample_rate": 0.0}, environ={}
    )
    previous = _runtime.install(_runtime.build(settings, capture=queue))
    yield queue
    _runtime.install(previous)


def test_a_full_queue_drops_and_counts(held: CaptureQueue, registry: CollectorRegistry) -> None:
    """The record filling a batch wakes the shipper; those past the bound drop as queue_full."""

    @driftline.monitor(model="m", version="1")
    def predict(features: dict[str, float]) -> float:
        return 1.0

    results = [predict({"x": 1.0}) for _ in range(2)]
    woken_early = held._wake.is_set()
    results.append(predict({"x": 1.0}))
    woken = held._wake.is_set()
    results += [predict({"x": 1.0}) for _ in range(4)]

    assert results == [1.0] * 7
    assert (woken_early, woken) == (False, True)
    dropped = registry.get_sample_value(
        "driftline_capture_records_dropped_total", {"reason": "queue_full"}
    )
    assert dropped == 4
    assert registry.get_sample_value("driftline_capture_queue_size") == 3
    success = registry.get_sample_value("driftline_requests_total", LABELS | {"outcome": "success"})
    assert success == 7


def test_a_broken_queue_is_counted_not_raised(
    held: CaptureQueue, registry: CollectorRegistry
) -> None:
    """A capture queue that fails inside a call counts a telemetry error; the call returns."""

    @driftline.monitor(model="m", version="1")
    def predict(features: dict[str, float]) -> float:
        return 1.0

    predict({"x": 1.0})
    slots, full = held._slots, held._full
    held._slots = deque()  # no free slot: the record is counted on _full...
    held._full = None  # type: ignore[assignment]  # ...and next(None) raises TypeError
    try:
        result = predict({"x": 1.0})
    finally:
        held._slots, held._full = slots, full

    assert result == 1.0
    errors = registry.get_sample_value("driftline_telemetry_errors_total", {"signal": "capture"})
    assert errors == 1
    success = registry.get_sample_value("driftline_requests_total", LABELS | {"outcome": "success"})
    assert success == 2


def test_an_emptied_context_cell_is_counted_not_a_crash() -> None:
    """On the C path, a call whose context cell was emptied (private API) returns, counted."""
    from driftline._context import STATE

    with capture_telemetry(trace_sample_rate=0.0) as telemetry:

        @driftline.monitor(model="m", version="1")
        def predict(features: dict[str, float]) -> float:
            cell = STATE.get()
            if features["x"] and cell is not None:
                cell.clear()
            return 0.5

        def calls() -> float:
            predict({"x": 0.0})  # the first call binds, on the Python path
            return predict({"x": 1.0})

        # In a copy of the context: the emptied cell stays there, not in the test's context.
        assert contextvars.copy_context().run(calls) == 0.5
        assert telemetry.metric("driftline_telemetry_errors_total", signal="metric") == 1


def test_the_c_clock_is_perf_counter() -> None:
    """The clock the C path reads lies between two time.perf_counter() readings around it."""
    for _ in range(100):
        before = time.perf_counter()
        now = _speedups.perf_counter()
        after = time.perf_counter()
        assert before <= now <= after


def test_pending_values_are_taken_in_order() -> None:
    """Pending keeps appended values in order; take(n) removes exactly the first n."""
    import numpy as np

    pending = _speedups.Pending()
    for value in (1.5, 2, 3.25, float("nan")):
        pending.append(value)

    first = np.frombuffer(pending.take(2), dtype=float)
    pending.append(4.0)

    assert first.tolist() == [1.5, 2.0]
    assert len(pending) == 3
    rest = np.frombuffer(pending.take(3), dtype=float)
    assert (rest[0], rest[2]) == (3.25, 4.0)
    assert np.isnan(rest[1])
    assert len(pending) == 0


def test_pending_refuses_what_is_not_a_number() -> None:
    """Pending.append of a string raises TypeError, and take() beyond its length ValueError."""
    pending = _speedups.Pending()

    with pytest.raises(TypeError):
        pending.append("1.0")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="take"):
        pending.take(1)
