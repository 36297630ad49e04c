"""Encoding captured entries to the protocol v1 body (docs/protocol.md)."""

from __future__ import annotations

import gzip
import json
import math
import time
from typing import Any

import numpy as np
import pytest
from driftline import _ids
from driftline._wire import (
    CALL,
    GZIP_THRESHOLD,
    ROW,
    Body,
    Entry,
    encode,
    encode_general,
    entry_rows,
    split_entry,
    split_rows,
)
from driftline._wire_fast import fast_batch
from hypothesis import given
from hypothesis import strategies as st

TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"


def row(
    pid: str,
    features: object,
    predictions: object = None,
    *,
    model: str = "churn",
    version: str = "2.3.0",
    role: str = "champion",
    timestamp: float = 1795766399.5,
    trace_id: str | None = None,
) -> Entry:
    """Build a row entry the way CaptureQueue.submit_row queues it."""
    preds = {"value": 0.5} if predictions is None else predictions
    return (ROW, model, version, role, pid, timestamp, trace_id, features, preds)


def columns(
    ids: list[str], features: object, predictions: object, *, timestamp: float = 1.0
) -> Entry:
    """Build a columns entry the way CaptureQueue.submit_columns queues it."""
    return (len(ids), "churn", "2.3.0", "champion", ids, timestamp, None, features, predictions)


def decode(body: Body) -> dict[str, Any]:
    """Return the JSON document of a body, gunzipping when needed."""
    raw = gzip.decompress(body.payload) if body.gzipped else body.payload
    document: dict[str, Any] = json.loads(raw)
    return document


def only_batch(body: Body) -> dict[str, Any]:
    """Return the single batch of a body."""
    batches = decode(body)["batches"]
    assert len(batches) == 1
    batch: dict[str, Any] = batches[0]
    return batch


def test_envelope_has_version_service_and_sent_at() -> None:
    """The body carries v=1, the service name and the sent_at time given."""
    document = decode(encode("churn-api", [row("a", {"x": 1})], sent_at=1795766400.25))

    assert (document["v"], document["service"], document["sent_at"]) == (
        1,
        "churn-api",
        1795766400.25,
    )


def test_rows_are_pivoted_to_columns() -> None:
    """Two row records become one batch with one array per field."""
    entries = [
        row("a", {"tenure": 12.0, "plan": "pro"}, {"value": 0.82}, timestamp=1.5, trace_id=TRACE),
        row("b", {"tenure": 3.5, "plan": "free"}, {"value": 0.11}, timestamp=2.5),
    ]

    batch = only_batch(encode("svc", entries, sent_at=3.0))

    assert batch == {
        "model": "churn",
        "version": "2.3.0",
        "role": "champion",
        "ids": ["a", "b"],
        "timestamps": [1.5, 2.5],
        "trace_ids": [TRACE, None],
        "features": {"tenure": [12.0, 3.5], "plan": ["pro", "free"]},
        "predictions": {"value": [0.82, 0.11]},
    }


def test_a_feature_missing_from_some_records_is_null_there() -> None:
    """A name absent from a record, before or after it first appears, is null in that record."""
    entries = [row("a", {"x": 1}), row("b", {"x": 2, "y": "u"}), row("c", {"z": None})]

    features = only_batch(encode("svc", entries, sent_at=0.0))["features"]

    assert features == {"x": [1, 2, None], "y": [None, "u", None], "z": [None, None, None]}


def test_non_finite_floats_are_strings() -> None:
    """NaN and the infinities are written as "NaN", "Infinity" and "-Infinity"."""
    entries = [row(str(i), {"v": v}) for i, v in enumerate([math.nan, math.inf, -math.inf, 1.0])]

    features = only_batch(encode("svc", entries, sent_at=0.0))["features"]

    assert features == {"v": ["NaN", "Infinity", "-Infinity", 1.0]}


def test_numpy_scalars_and_bools_become_json_scalars() -> None:
    """numpy scalars encode as JSON numbers and booleans as JSON true/false, not 1/0."""
    features = {
        "i": np.int64(7),
        "f": np.float32(0.5),
        "n": np.float64("nan"),
        "b": np.bool_(True),
        "p": False,
        "s": np.str_("pro"),
    }

    body = encode("svc", [row("a", features)], sent_at=0.0)

    assert b'"b":[true],"p":[false]' in body.payload
    assert only_batch(body)["features"] == {
        "i": [7],
        "f": [0.5],
        "n": ["NaN"],
        "b": [True],
        "p": [False],
        "s": ["pro"],
    }


def test_an_unencodable_value_drops_only_its_record() -> None:
    """A record holding a value JSON cannot carry is left out and counted; the others go."""
    entries = [row("a", {"x": 1}), row("b", {"x": object()}), row("c", {"x": 3})]

    body = encode("svc", entries, sent_at=0.0)

    assert (body.records, body.encode_errors, only_batch(body)["ids"]) == (2, 1, ["a", "c"])


def test_bad_ids_timestamps_names_and_mappings_are_encode_errors() -> None:
    """A non-string id, a NaN timestamp, a non-string name or a non-mapping is an encode error."""
    entries = [
        row(7, {"x": 1}),  # type: ignore[arg-type]
        row("b", {"x": 1}, timestamp=math.nan),
        row("c", {1: 1}),
        row("d", [1, 2]),
        row("e", {"x": 1}, model=None),  # type: ignore[arg-type]
    ]

    body = encode("svc", entries, sent_at=0.0)

    assert (body.records, body.encode_errors, body.payload) == (0, 5, b"")


def test_column_entries_encode_numpy_arrays() -> None:
    """A columns entry turns float, int, bool and string arrays into JSON columns."""
    entry = columns(
        ["a", "b"],
        {
            "f": np.array([1.5, np.nan]),
            "i": np.array([1, 2], dtype=np.int32),
            "b": np.array([True, False]),
            "s": np.array(["x", "y"]),
            "l": ["p", None],
        },
        {"value": np.array([np.inf, -np.inf])},
    )

    batch = only_batch(encode("svc", [entry], sent_at=0.0))

    assert (batch["ids"], batch["features"], batch["predictions"]) == (
        ["a", "b"],
        {"f": [1.5, "NaN"], "i": [1, 2], "b": [True, False], "s": ["x", "y"], "l": ["p", None]},
        {"value": ["Infinity", "-Infinity"]},
    )


def test_column_entries_repeat_timestamp_and_trace_id_per_record() -> None:
    """The call's one timestamp and trace id are written once per record of a columns entry."""
    entry: Entry = (2, "m", "1", "champion", ["a", "b"], 9.5, TRACE, {"x": [1, 2]}, {})

    batch = only_batch(encode("svc", [entry], sent_at=0.0))

    assert (batch["timestamps"], batch["trace_ids"]) == ([9.5, 9.5], [TRACE, TRACE])


def test_a_bad_cell_drops_only_its_row_of_a_columns_entry() -> None:
    """An unencodable cell in an object column drops that row from every column."""
    entry = columns(
        ["a", "b", "c"],
        {"x": np.array([1, {"no": 1}, 3], dtype=object)},
        {"value": [0.1, 0.2, 0.3]},
    )

    body = encode("svc", [entry], sent_at=0.0)

    batch = only_batch(body)
    assert (body.encode_errors, batch["ids"], batch["features"], batch["predictions"]) == (
        1,
        ["a", "c"],
        {"x": [1, 3]},
        {"value": [0.1, 0.3]},
    )


def test_a_column_of_the_wrong_length_drops_the_whole_entry() -> None:
    """A column whose length differs from the ids' drops every record of that entry."""
    entry = columns(["a", "b"], {"x": np.array([1.0, 2.0, 3.0])}, {"value": [1, 2]})

    body = encode("svc", [entry, row("c", {"x": 1.0})], sent_at=0.0)

    assert (body.records, body.encode_errors, only_batch(body)["ids"]) == (1, 2, ["c"])


def test_rows_and_columns_of_one_model_share_a_batch() -> None:
    """A row entry and a columns entry of the same model, version and role are one batch."""
    entries = [row("a", {"x": 1}), columns(["b", "c"], {"y": [2, 3]}, {"value": [0, 1]})]

    batch = only_batch(encode("svc", entries, sent_at=0.0))

    assert (batch["ids"], batch["features"]) == (
        ["a", "b", "c"],
        {"x": [1, None, None], "y": [None, 2, 3]},
    )


def test_entries_are_grouped_by_model_version_and_role() -> None:
    """Each (model, version, role) gets its own batch, in first-seen order."""
    entries = [
        row("a", {"x": 1}),
        row("b", {"x": 1}, version="2.4.0"),
        row("c", {"x": 1}, role="challenger"),
        row("d", {"x": 1}),
    ]

    batches = decode(encode("svc", entries, sent_at=0.0))["batches"]

    assert [(b["version"], b["role"], b["ids"]) for b in batches] == [
        ("2.3.0", "champion", ["a", "d"]),
        ("2.4.0", "champion", ["b"]),
        ("2.3.0", "challenger", ["c"]),
    ]


def test_a_small_body_is_not_compressed() -> None:
    """A body up to 16 KiB is plain JSON."""
    body = encode("svc", [row("a", {"x": 1})], sent_at=0.0)

    assert (body.gzipped, json.loads(body.payload)["batches"][0]["ids"]) == (False, ["a"])


def test_a_body_over_16_kib_is_gzipped() -> None:
    """A body over 16 KiB is gzip-compressed and decompresses to the full document."""
    entries = [row(f"id-{i}", {"text": "x" * 100}) for i in range(200)]

    body = encode("svc", entries, sent_at=0.0)

    assert body.gzipped
    assert len(gzip.decompress(body.payload)) > GZIP_THRESHOLD
    assert len(only_batch(body)["ids"]) == 200


def test_a_body_is_never_gzipped_with_compression_off() -> None:
    """With gzip=False a body over 16 KiB is the plain JSON document."""
    entries = [row(f"id-{i}", {"text": "x" * 100}) for i in range(200)]

    body = encode("svc", entries, sent_at=0.0, gzip=False)

    assert (body.gzipped, len(body.payload) > GZIP_THRESHOLD) == (False, True)
    assert len(only_batch(body)["ids"]) == 200


def test_split_rows_cuts_at_k_records_across_entries() -> None:
    """split_rows keeps order, cuts one columns entry where k falls, and loses no record."""
    ids = [f"c{i}" for i in range(4)]
    entries = [
        row("a", {"x": 1.0}),
        (4, "m", "1", "champion", ids, 1.0, None, {"x": [0, 1, 2, 3]}, {"y": ids}),
        row("b", {"x": 2.0}),
    ]

    head, tail = split_rows(entries, 3)

    assert [entry_rows(e) for e in head] == [1, 2]
    assert [entry_rows(e) for e in tail] == [2, 1]
    assert (head[1][4], tail[0][4], tail[0][7]) == (["c0", "c1"], ["c2", "c3"], {"x": [2, 3]})


def test_split_entry_keeps_order_and_counts() -> None:
    """Splitting a columns entry gives the first k records and the rest, with their counts."""
    entry = columns(["a", "b", "c"], {"x": np.array([1, 2, 3])}, {"value": [7, 8, 9]})

    head, tail = split_entry(entry, 2)

    assert only_batch(encode("s", [head], 0.0))["features"] == {"x": [1, 2]}
    assert (head[0], tail[0], only_batch(encode("s", [tail], 0.0))["predictions"]) == (
        2,
        1,
        {"value": [9]},
    )


def expected_cell(value: object) -> object:
    """Return what a value must read as after json.loads of an encoded body."""
    if isinstance(value, float) and not math.isfinite(value):
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    return value


scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**63), max_value=2**63),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=20),
)
names = st.text(min_size=1, max_size=8)


@given(st.lists(st.dictionaries(names, scalars, max_size=5), min_size=1, max_size=20))
def test_rows_round_trip_through_json(records: list[dict[str, object]]) -> None:
    """Any rows of JSON-able scalars decode back to columns with null where a name was absent."""
    entries = [row(f"id-{i}", features) for i, features in enumerate(records)]

    batch = only_batch(encode("svc", entries, sent_at=0.0))

    all_names = {name for features in records for name in features}
    expected = {
        name: [expected_cell(features.get(name)) for features in records] for name in all_names
    }
    assert batch["features"] == expected
    assert batch["ids"] == [f"id-{i}" for i in range(len(records))]


@given(
    st.lists(st.floats(allow_nan=True, allow_infinity=True, width=64), min_size=1, max_size=50),
    st.lists(st.text(max_size=5), min_size=50, max_size=50),
)
def test_float_and_string_columns_round_trip_through_json(
    floats: list[float], labels: list[str]
) -> None:
    """A float array and a string list of a columns entry decode back to the same values."""
    n = len(floats)
    entry = columns(
        [str(i) for i in range(n)],
        {"f": np.array(floats, dtype=np.float64), "s": labels[:n]},
        {"value": np.arange(n)},
    )

    batch = only_batch(encode("svc", [entry], sent_at=0.0))

    assert batch["features"] == {"f": [expected_cell(v) for v in floats], "s": labels[:n]}
    assert batch["predictions"] == {"value": list(range(n))}


def test_a_call_entry_gets_its_id_and_wall_clock_timestamp_on_encoding() -> None:
    """A call entry is encoded with format_id(number, start) and start's time on the wall clock."""
    number, start = next(_ids.numbers), time.perf_counter() - 30.0  # a call 30 s ago
    wall = time.time()
    entry: Entry = (CALL, "churn", "2.3.0", "champion", number, start, None, {"x": 1}, {"v": 2})
    batch = only_batch(encode("svc", [entry], sent_at=wall))
    assert batch["ids"] == [_ids.format_id(number, start)]
    assert batch["timestamps"][0] == pytest.approx(wall - 30.0, abs=0.05)


def test_a_call_entry_without_an_int_number_is_an_encode_error() -> None:
    """A call entry whose id number is not an int is dropped and counted, the rest kept."""
    bad: Entry = (CALL, "churn", "2.3.0", "champion", "x", 1.0, None, {"x": 1}, {"v": 2})
    body = encode("svc", [bad, row("r1", {"x": 1})], sent_at=1.0)
    assert (body.records, body.encode_errors, only_batch(body)["ids"]) == (1, 1, ["r1"])


def test_a_call_entry_with_a_bare_float_prediction_is_the_output_value() -> None:
    """A call entry whose predictions are a float is encoded as the output "value"."""
    entry: Entry = (CALL, "churn", "2.3.0", "champion", 7, 1.0, None, {"x": 1}, 0.25)
    assert only_batch(encode("svc", [entry], sent_at=1.0))["predictions"] == {"value": [0.25]}


plain_records = st.fixed_dictionaries(
    {
        "a": st.floats(min_value=-1e6, max_value=1e6),
        "b": st.text(max_size=5),
        "c": st.one_of(st.none(), st.booleans(), st.integers(-(2**63), 2**63 - 1)),
    }
)


@given(
    st.lists(plain_records, min_size=1, max_size=30),
    st.lists(st.floats(min_value=-1e6, max_value=1e6), min_size=1),
    st.lists(st.booleans(), min_size=1, max_size=5),
)
def test_the_fast_path_writes_what_the_general_path_writes(
    records: list[dict[str, object]], outputs: list[float], calls: list[bool]
) -> None:
    """Plain rows, calls, or both mixed, of one model take the fast path, which writes the
    general path's JSON."""
    clock = (1795766400.0, 1000.0)
    entries: list[Entry] = [
        (CALL, "churn", "2.3.0", "champion", i, 999.5, None, features, outputs[i % len(outputs)])
        if calls[i % len(calls)]
        else row(f"id-{i}", features, {"value": outputs[i % len(outputs)]})
        for i, features in enumerate(records)
    ]
    fast = fast_batch(entries, clock)
    general = only_batch(encode_general("svc", entries, 0.0, clock))
    assert fast is not None
    assert json.loads(json.dumps(fast)) == general


@pytest.mark.parametrize(
    "features",
    [
        [{"x": 1.0}, {"x": math.nan}],  # a non-finite float is written as a string
        [{"x": 1.0}, {"y": 1.0}],  # names that differ are padded with null
        [{"x": 1.0}, {"x": 1.0, "y": 1.0}],  # more names than the first record's
        [{"x": 1.0, "y": 1.0}, {"x": 1.0}],  # fewer
        [{"x": 1.0}, {"x": "a"}],  # a column of floats and strings
        [{"x": 1.0}, {"x": np.float32(1.0)}],  # a foreign type
    ],
)
def test_bodies_the_fast_path_cannot_write_take_the_general_path(
    features: list[dict[str, object]],
) -> None:
    """A body with a value or a name layout the fast path does not handle is left to the
    general path, which still encodes every record."""
    entries = [row(f"id-{i}", f) for i, f in enumerate(features)]
    assert fast_batch(entries, (0.0, 0.0)) is None
    assert encode("svc", entries, sent_at=0.0).records == len(entries)


class Label(str):
    """A str subclass, which the general path refuses as a model, version or role."""


@pytest.mark.parametrize("field", [1, 2, 3])
def test_a_later_entry_with_a_str_subclass_key_takes_the_general_path(field: int) -> None:
    """Only the first entry's key being a plain str does not let a later one's subclass by."""
    entries = [row(f"id-{i}", {"x": 1.0}) for i in range(2)]
    second = list(entries[1])
    second[field] = Label(second[field])
    entries[1] = tuple(second)  # type: ignore[assignment]
    assert fast_batch(entries, (0.0, 0.0)) is None
    assert encode("svc", entries, sent_at=0.0).encode_errors == 1


@pytest.mark.parametrize(
    "features",
    [
        [{"x": 1.0, "y": "a"}, {"y": "b", "x": 2.0}],  # the names in another order
        [{}, {}],  # no features
        [{"x": 1.0}, {"x": 2.0}],  # one
    ],
)
def test_feature_layouts_of_the_fast_path_write_what_the_general_path_writes(
    features: list[dict[str, object]],
) -> None:
    """Names in another order, no names and a single name: the fast path's JSON is the general's."""
    clock = (1795766400.0, 1000.0)
    entries = [row(f"id-{i}", f) for i, f in enumerate(features)]
    fast = fast_batch(entries, clock)
    assert fast is not None
    assert json.loads(json.dumps(fast)) == only_batch(encode_general("svc", entries, 0.0, clock))


def test_rows_mixed_with_calls_take_the_fast_path() -> None:
    """A traced call (a row) among untraced calls of one model does not leave the fast path."""
    calls = [
        (CALL, "churn", "2.3.0", "champion", i, 999.5, None, {"x": 1.0}, 0.5) for i in range(3)
    ]
    entries: list[Entry] = [*calls[:2], row("traced", {"x": 2.0}, {"value": 0.5}), calls[2]]
    batch = fast_batch(entries, (1795766400.0, 1000.0))
    assert batch is not None
    assert (batch["ids"][2], batch["features"]["x"]) == ("traced", [1.0, 1.0, 2.0, 1.0])


def test_plain_rows_take_the_fast_path() -> None:
    """Rows of one model with the same names and finite values are encoded by the fast path."""
    entries = [row(f"id-{i}", {"x": float(i), "plan": "pro"}) for i in range(3)]
    assert fast_batch(entries, (0.0, 0.0)) is not None


def test_an_int_beyond_64_bits_is_still_encoded() -> None:
    """A feature too large for orjson is written by the standard library instead."""
    batch = only_batch(encode("svc", [row("a", {"big": 2**70})], sent_at=0.0))
    assert batch["features"] == {"big": [2**70]}
