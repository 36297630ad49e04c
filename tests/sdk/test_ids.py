"""Prediction ids: UUIDv7, unique, time-ordered, monotonic across threads and forks."""

from __future__ import annotations

import os
import threading
import time
import uuid

import driftline
import pytest
from driftline import _ids, _speedups
from driftline._ids import new_id, new_ids
from driftline.testing import Telemetry
from hypothesis import given
from hypothesis import strategies as st


def test_ids_are_uuid7() -> None:
    """An id parses as a UUID of version 7 and the RFC variant."""
    parsed = uuid.UUID(new_id())
    assert (parsed.version, parsed.variant) == (7, uuid.RFC_4122)


def test_ids_carry_the_time() -> None:
    """The first 48 bits are the Unix time in milliseconds."""
    before = time.time_ns() // 1_000_000
    millis = uuid.UUID(new_id()).int >> 80
    after = time.time_ns() // 1_000_000
    assert before - 5 <= millis <= after + 5


def test_ids_are_monotonic() -> None:
    """Ids made one after another sort in the order they were made."""
    ids = [new_id() for _ in range(10_000)] + new_ids(5_000)
    assert ids == sorted(ids)
    assert len(set(ids)) == len(ids)


def test_ids_across_threads_are_unique_and_ordered_per_thread() -> None:
    """8 threads making ids concurrently get distinct ids, increasing within each thread."""
    results: list[list[str]] = [[] for _ in range(8)]

    def work(out: list[str]) -> None:
        out.extend(new_id() for _ in range(2_000))

    threads = [threading.Thread(target=work, args=(out,)) for out in results]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    every = [i for out in results for i in out]
    assert len(set(every)) == len(every)
    assert all(out == sorted(out) for out in results)


def test_forked_child_makes_different_ids() -> None:
    """A forked child's ids differ from the parent's, even made in the same millisecond."""
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: send one id and leave without running pytest's teardown
        os.write(write, new_id().encode())
        os._exit(0)
    os.close(write)
    parent = new_id()
    os.waitpid(pid, 0)
    child = os.read(read, 64).decode()
    os.close(read)
    assert child != parent
    assert child[19:] != parent[19:]  # the per-process random bits differ


def test_current_id_inside_call_is_last_id_after(telemetry: Telemetry) -> None:
    """The id seen inside a call is the one last_prediction_id() returns after it."""
    seen: list[str | None] = []

    @driftline.monitor(model="m", version="1")
    def predict(features: dict[str, float]) -> float:
        seen.append(driftline.current_prediction_id())
        return 0.5

    predict({"x": 1.0})
    assert seen == [driftline.last_prediction_id()]
    assert seen == [telemetry.records[0].prediction_id]


def test_no_current_id_outside_a_call() -> None:
    """Outside any decorated call there is no current id."""
    assert (driftline.current_prediction_id(), driftline.current_prediction_ids()) == (None, ())


def test_nested_calls_restore_the_outer_id(telemetry: Telemetry) -> None:
    """After an inner decorated call returns, the outer call's id is current again."""
    seen: list[str | None] = []

    @driftline.monitor(model="inner", version="1")
    def inner(features: dict[str, float]) -> float:
        return 0.5

    @driftline.monitor(model="outer", version="1")
    def outer(features: dict[str, float]) -> float:
        before = driftline.current_prediction_id()
        inner(features)
        seen.extend([before, driftline.current_prediction_id()])
        return 0.5

    outer({"x": 1.0})
    assert seen[0] == seen[1] == driftline.last_prediction_id()


def test_an_id_formatted_later_is_the_same_id() -> None:
    """format_id gives the same id for the same (number, start) whenever it is called."""
    number, start = next(_ids.numbers), time.perf_counter()
    first = _ids.format_id(number, start)
    new_id()
    assert _ids.format_id(number, start) == first


def test_a_formatted_id_sorts_between_ids_made_before_and_after() -> None:
    """An id made from a number and a clock reading orders with new_id() by when it was taken."""
    before = new_id()
    number, start = next(_ids.numbers), time.perf_counter()
    after = new_id()
    assert before < _ids.format_id(number, start) < after


@pytest.mark.parametrize("in_c", [True, False], ids=["c", "python"])
def test_format_ids_formats_each_pair_as_format_id_does(
    in_c: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """format_ids gives, in order, the id format_id_python gives for each (number, start)."""
    if not in_c:
        monkeypatch.setattr(_ids, "_in_c", None)
    pairs = [(next(_ids.numbers), time.perf_counter()) for _ in range(50)]
    pairs.append(((1 << 48) + 5, time.perf_counter()))  # past the wrap
    numbers, starts = [n for n, _ in pairs], [s for _, s in pairs]
    assert _ids.format_ids(numbers, starts) == [_ids.format_id_python(n, s) for n, s in pairs]


def test_format_ids_refuses_lists_of_different_lengths() -> None:
    """A number without its clock reading is an error, not a shorter list."""
    with pytest.raises(ValueError, match="differ in length"):
        _ids.format_ids([1, 2], [time.perf_counter()])


def _c_format() -> _speedups.IdFormat:
    """A C formatter with this process's anchors, as ``_ids`` sets its own."""
    formatter = _speedups.IdFormat()
    formatter.reset(_ids._anchor_ms, _ids._anchor_perf, _ids._middle)
    return formatter


@given(
    number=st.integers(min_value=0, max_value=2**64 - 1),
    seconds=st.floats(min_value=-1e6, max_value=1e9, allow_nan=False, allow_infinity=False),
)
def test_the_c_format_is_the_python_format(number: int, seconds: float) -> None:
    """_speedups.IdFormat formats every number and clock reading as format_id_python does.

    Negative ``seconds``: a forked child formats a parent's call from before its own anchor.
    """
    start = _ids._anchor_perf + seconds
    assert _c_format().format(number, start) == _ids.format_id_python(number, start)


def test_format_id_is_the_c_format_where_it_is_built() -> None:
    """The extension is built here, so format_id is the C formatter, with _ids' anchors."""
    number, start = next(_ids.numbers), time.perf_counter()
    assert _ids.format_id == _ids._in_c.format  # type: ignore[union-attr]
    assert _ids.format_id(number, start) == _ids.format_id_python(number, start)


def test_a_forked_child_formats_with_its_own_anchors_in_c() -> None:
    """After a fork the C formatter has the child's new random bits, as the Python one does."""
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: compare in the child, report one byte, never return to pytest
        try:
            number, start = next(_ids.numbers), time.perf_counter()
            same = _ids.format_id(number, start) == _ids.format_id_python(number, start)
            os.write(write, b"1" if same else b"0")
        finally:
            os._exit(0)
    os.close(write)
    os.waitpid(pid, 0)
    reply = os.read(read, 1)
    os.close(read)
    assert reply == b"1"


def test_the_c_format_refuses_what_it_cannot_format() -> None:
    """A negative number or millisecond, or a non-ASCII middle, is an error, never a wrong id."""
    formatter = _c_format()
    with pytest.raises(OverflowError):
        formatter.format(-1, time.perf_counter())
    formatter.format(1, time.perf_counter())  # a head cached under the old anchors
    formatter.reset(0, 0.0, "xyz-8000-")
    with pytest.raises(OverflowError, match="negative"):
        formatter.format(1, -0.001)  # millisecond -1, which once matched "nothing cached"
    with pytest.raises(ValueError, match="ASCII"):
        formatter.reset(0, 0.0, "é")
