"""The C encoder of the shipper's common body, ``driftline._body`` (docs/reliability.md)."""

from __future__ import annotations

import json
import math
import sys
import threading
import time
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
from driftline import _body, _ids, _native
from driftline._wire import CALL, Entry, encode, encode_general
from hypothesis import given
from hypothesis import strategies as st

from tests.sdk.test_wire import TRACE, decode, row

CLOCK = (1795766400.0, 1000.0)


def c_document(entries: list[Entry], *, service: str = "svc", sent_at: float = 0.0) -> Any:
    """Return the C encoder's document of ``entries``, or None when it leaves them to Python."""
    raw = _body.encode_batch(service, sent_at, entries, *CLOCK, _ids.format_id)
    return None if raw is None else json.loads(raw)


def python_document(entries: list[Entry], *, service: str = "svc", sent_at: float = 0.0) -> Any:
    """Return the general path's document of ``entries``."""
    return decode(encode_general(service, entries, sent_at, CLOCK))


def call(number: int, features: object, prediction: object, *, start: float = 999.5) -> Entry:
    """Build a call entry the way CaptureQueue.submit_call queues it."""
    return (CALL, "churn", "2.3.0", "champion", number, start, None, features, prediction)


def test_the_extension_is_built() -> None:
    """encode gets ``_body`` from ``_native``: CI always runs its C path."""
    assert _native.body is _body


cells = st.one_of(
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(),
    st.none(),
    st.booleans(),
    st.integers(-(2**63), 2**63 - 1),
)


@given(
    st.lists(
        st.fixed_dictionaries(
            {
                "a": st.floats(allow_nan=False, allow_infinity=False),
                "b": st.text(),
                "c": st.one_of(st.none(), st.booleans(), st.integers(-(2**63), 2**63 - 1)),
            }
        ),
        min_size=1,
        max_size=30,
    ),
    st.lists(st.floats(allow_nan=False, allow_infinity=False), min_size=1),
    st.lists(st.booleans(), min_size=1, max_size=5),
    st.text(),
    st.one_of(st.none(), st.text(min_size=1)),
)
def test_the_c_encoder_writes_what_the_general_path_writes(
    records: list[dict[str, object]],
    outputs: list[float],
    calls: list[bool],
    service: str,
    trace_id: str | None,
) -> None:
    """Calls, rows or both, any finite float, any text, bools, None and 64-bit ints: the C
    encoder's document is the general path's, every double read back exactly, with its sign
    and type."""
    entries: list[Entry] = [
        call(i, features, outputs[i % len(outputs)])
        if calls[i % len(calls)]
        else row(f"id-{i}", features, {"value": outputs[i % len(outputs)]}, trace_id=trace_id)
        for i, features in enumerate(records)
    ]
    expected = python_document(entries, service=service, sent_at=1795766400.25)
    # repr tells -0.0 from 0.0 and 1 from 1.0, which == does not
    assert repr(c_document(entries, service=service, sent_at=1795766400.25)) == repr(expected)


@given(st.lists(st.lists(cells, min_size=3, max_size=3), min_size=1, max_size=20))
def test_the_c_encoder_agrees_with_the_general_path_or_leaves_the_body_to_it(
    values: list[list[object]],
) -> None:
    """Whatever mix of types the columns hold, the C encoder writes the general path's
    document or returns None."""
    entries = [row(f"id-{i}", dict(zip("xyz", v, strict=True))) for i, v in enumerate(values)]
    document = c_document(entries)
    assert document is None or repr(document) == repr(python_document(entries))


def test_signed_zeros_and_integral_floats_keep_their_sign_and_type() -> None:
    """-0.0 stays -0.0 and 1.0 a float, as the general path writes them."""
    entries = [row("a", {"x": -0.0, "y": 1.0, "n": 1}), row("b", {"x": 0.0, "y": 2.0, "n": -0})]
    assert repr(c_document(entries)) == repr(python_document(entries))
    assert repr(c_document(entries)["batches"][0]["features"]) == repr(
        {"x": [-0.0, 0.0], "y": [1.0, 2.0], "n": [1, 0]}
    )


def test_an_entry_kind_beyond_a_c_long_is_left_to_python() -> None:
    """A kind no entry has, too large for a C long, gets None, not an error."""
    entry = (2**64, "churn", "2.3.0", "champion", 5, 999.5, None, {"x": 1.0}, 0.5)
    assert c_document([entry]) is None  # type: ignore[list-item]


def test_a_call_entry_gets_its_formatted_id_and_wall_clock_timestamp() -> None:
    """A call's id is format_id(number, start) and its timestamp start's time on the wall clock."""
    number = next(_ids.numbers)
    batch = c_document([call(number, {"x": 1.0}, 0.5, start=970.0)])["batches"][0]
    assert (batch["ids"], batch["timestamps"]) == (
        [_ids.format_id(number, 970.0)],
        [CLOCK[0] - (CLOCK[1] - 970.0)],
    )


def test_a_bare_float_prediction_and_a_value_record_share_one_column() -> None:
    """A call's bare float is the output "value", in one column with a row's {"value": x}."""
    entries = [call(1, {"x": 1.0}, 0.25), row("r", {"x": 2.0}, {"value": 0.75})]
    batch = c_document(entries)["batches"][0]
    assert batch["predictions"] == {"value": [0.25, 0.75]}


def test_names_in_another_order_are_read_by_name() -> None:
    """A record whose names come in another order than the first record's has its values
    put under the right names."""
    entries = [row("a", {"x": 1.0, "y": "p", "z": 3}), row("b", {"x": 2.0, "z": 4, "y": "q"})]
    assert c_document(entries)["batches"][0]["features"] == {
        "x": [1.0, 2.0],
        "y": ["p", "q"],
        "z": [3, 4],
    }


class Label(str):
    """A str subclass, which the general path refuses as a model, version or role."""


@pytest.mark.parametrize(
    "entries",
    [
        [row("a", {"x": 1.0}), row("b", {"x": math.nan})],  # a non-finite float
        [row("a", {"x": 1.0}), row("b", {"y": 1.0})],  # names that differ
        [row("a", {"x": 1.0}), row("b", {"x": 1.0, "y": 1.0})],  # more names than the first
        [row("a", {"x": 1.0, "y": 1.0}), row("b", {"x": 1.0})],  # fewer
        [row("a", {"x": 1.0}), row("b", {"x": "s"})],  # a column of floats and strings
        [row("a", {"x": 1.0}), row("b", {"x": 1})],  # a column of floats and ints
        [row("a", {"x": np.float32(1.0)})],  # a foreign type
        [row("a", {"x": 2**63})],  # an int beyond 64 bits
        [row("a", {"x": "\ud800"})],  # a lone surrogate
        [row("a", {1: 1.0})],  # a name that is not a str
        [row("a", {Label("x"): 1.0})],  # a name that is a str subclass
        [row("a", {"x": 1.0}), row("b", {"x": 1.0}, model="other")],  # two models
        [row("a", {"x": 1.0}), row("b", {"x": 1.0}, role=Label("champion"))],
        [row("a", {"x": 1.0}, timestamp=math.inf)],  # a non-finite timestamp
        [row("a", {"x": 1.0}, {"value": 0.5}), row("b", {"x": 1.0}, 0.5)],  # a row's bare float
        [(1, "churn", "2.3.0", "champion", ["a"], 1.0, None, {"x": [1.0]}, {"v": [1.0]})],
        [call(1, {"x": 1.0}, 0.5), (CALL, "churn", "2.3.0", "champion", "1", 1.0, None, {}, 0.5)],
        [],
    ],
)
def test_bodies_the_c_encoder_does_not_write_are_left_to_the_python_path(
    entries: list[Entry],
) -> None:
    """A body with a value, a name or a layout the C encoder does not write gets None, and
    encode still encodes it in Python."""
    assert c_document(entries) is None
    if entries:
        body = encode("svc", entries, sent_at=0.0)
        assert body.records + body.encode_errors == len(entries)


@pytest.mark.parametrize("last", [{"x": 1.5, "plan": "pro"}, {"x": 1, "plan": "pro"}])
def test_the_c_encoder_leaves_reference_counts_as_it_found_them(last: dict[str, object]) -> None:
    """Whether it writes the body or leaves it to Python (the last column mixes an int in),
    every object it read has its reference count back: nothing leaks, nothing is freed early."""
    plan = "".join(["p", "ro"])  # a str of its own, counted only here
    features = [{"x": 1.5, "plan": plan} for _ in range(50)]
    entries = [row(f"id-{i}", f, trace_id=TRACE) for i, f in enumerate([*features, last])]
    before = [sys.getrefcount(plan), *map(sys.getrefcount, entries)]
    for _ in range(3):
        _body.encode_batch("svc", 0.0, entries, *CLOCK, _ids.format_id)
    assert [sys.getrefcount(plan), *map(sys.getrefcount, entries)] == before


def test_encode_writes_the_same_document_with_and_without_the_c_encoder(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """encode's body is the same document whether _body is built or not (the call
    timestamps within the time between the two encodings, which read the clock each)."""
    entries = [call(i, {"x": i / 7, "plan": "pro"}, i / 3) for i in range(700)]
    with_c = encode("svc", entries, sent_at=1.0)
    monkeypatch.setattr(_native, "body", None)
    without_c = encode("svc", entries, sent_at=1.0)
    documents = [decode(with_c), decode(without_c)]
    times = [document["batches"][0].pop("timestamps") for document in documents]
    assert (with_c.records, with_c.gzipped, documents[0]) == (
        without_c.records,
        without_c.gzipped,
        documents[1],
    )
    assert times[0] == pytest.approx(times[1], abs=0.05)


@pytest.fixture
def long_switch_interval() -> Iterator[None]:
    """Make the interpreter hand the GIL over only when a thread gives it up itself."""
    before = sys.getswitchinterval()
    sys.setswitchinterval(10.0)
    yield
    sys.setswitchinterval(before)


@pytest.mark.usefixtures("long_switch_interval")
def test_the_json_is_written_while_other_threads_run() -> None:
    """Another Python thread runs while encode_batch writes, so the writing does not hold
    the GIL (with a 10 s switch interval only a thread that gives it up lets another run)."""
    entries = [call(i, {f"x{j}": i + j / 3 for j in range(10)}, i / 3) for i in range(20_000)]
    count = 0
    stop = threading.Event()

    def counter() -> None:
        nonlocal count
        while not stop.is_set():
            count += 1
            time.sleep(0)  # gives the GIL back at once

    thread = threading.Thread(target=counter)
    thread.start()
    try:
        ran = []
        for _ in range(20):  # the counter may not get a CPU in time on a busy machine
            before = count
            _body.encode_batch("svc", 0.0, entries, *CLOCK, _ids.format_id)
            ran.append(count - before)
            if ran[-1]:
                break
    finally:
        stop.set()
        thread.join()
    assert ran[-1] > 0
