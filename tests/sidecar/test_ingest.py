"""Decoding protocol v1 bodies into numpy columns, with field paths on every error."""

from __future__ import annotations

import gzip
import json
from typing import Any

import numpy as np
import pytest
from driftline_sidecar.config import Limits
from driftline_sidecar.ingest import IngestError, Kind, Role, decode, decompress


def _no_reference(model: str, version: str, role: Role, name: str) -> Kind | None:
    return None


def _numeric(model: str, version: str, role: Role, name: str) -> Kind | None:
    return "numeric"


def _batch(**overrides: Any) -> dict[str, Any]:
    batch: dict[str, Any] = {
        "model": "churn",
        "version": "1",
        "ids": ["a", "b"],
        "timestamps": [1.0, 2.0],
        "features": {"age": [30, 40.5], "plan": ["pro", None]},
        "predictions": {"value": [0.2, 0.9]},
    }
    batch.update(overrides)
    return batch


def _body(*batches: dict[str, Any], **top: Any) -> bytes:
    return json.dumps({"v": 1, "batches": list(batches), **top}).encode()


def test_numeric_column_is_float64() -> None:
    """A column of numbers decodes to a float64 array."""
    (batch,) = decode(_body(_batch()), Limits(), _no_reference).batches
    np.testing.assert_array_equal(np.array([30.0, 40.5]), batch.features["age"].values)
    assert batch.features["age"].values.dtype == np.float64


def test_categorical_column_keeps_none_for_missing() -> None:
    """A column of strings decodes to an object array with None for null."""
    (batch,) = decode(_body(_batch()), Limits(), _no_reference).batches
    assert batch.features["plan"].values.tolist() == ["pro", None]


def test_non_finite_strings_decode_to_floats() -> None:
    """ "NaN", "Infinity" and "-Infinity" in a numeric column become the floats."""
    body = _body(
        _batch(
            ids=["a", "b", "c"],
            timestamps=[1, 2, 3],
            features={"x": [1.0, "Infinity", "NaN"]},
            predictions={},
        )
    )
    values = decode(body, Limits(), _no_reference).batches[0].features["x"].values
    assert (1.0, float("inf"), True) == (values[0], values[1], bool(np.isnan(values[2])))


def test_strings_in_a_numeric_column_are_type_mismatches() -> None:
    """A non-numeric string in a column the reference says is numeric becomes NaN and is flagged."""
    body = _body(_batch(features={"age": ["old", 3]}, predictions={}))
    column = decode(body, Limits(), _numeric).batches[0].features["age"]
    assert (column.type_mismatch.tolist() if column.type_mismatch is not None else None) == [
        True,
        False,
    ]
    assert (bool(np.isnan(column.values[0])), column.values[1]) == (True, 3.0)


def test_booleans_are_categories() -> None:
    """JSON booleans in a column without a reference are the categories "true" and "false"."""
    body = _body(_batch(features={"flag": [True, False]}, predictions={}))
    assert decode(body, Limits(), _no_reference).batches[0].features["flag"].values.tolist() == [
        "true",
        "false",
    ]


def test_numbers_in_a_categorical_column_use_profile_labels() -> None:
    """Numbers in a categorical column become the labels a profile stores (3.0 -> "3")."""
    body = _body(_batch(features={"zip": ["a", 3.0]}, predictions={}))
    assert decode(body, Limits(), _no_reference).batches[0].features["zip"].values.tolist() == [
        "a",
        "3",
    ]


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        (b"not json", 400, "body"),
        (b"[1, 2]", 400, "body"),
        (json.dumps({"batches": []}).encode(), 400, "v"),
        (json.dumps({"v": 2, "batches": []}).encode(), 400, "v"),
        (json.dumps({"v": True, "batches": []}).encode(), 400, "v"),
        (json.dumps({"v": 1}).encode(), 400, "batches"),
        (json.dumps({"v": 1, "batches": {}}).encode(), 400, "batches"),
        (b"\xff\xfe", 400, "body"),
        (b"[" * 100_000 + b"]" * 100_000, 400, "body"),
    ],
)
def test_bad_bodies_raise_with_field(body: bytes, status: int, field: str) -> None:
    """A body that is not a protocol v1 object is refused as a whole, naming the field."""
    with pytest.raises(IngestError) as caught:
        decode(body, Limits(), _no_reference)
    assert (status, field) == (caught.value.status, caught.value.field)


def test_too_many_batches_is_422() -> None:
    """More batches than limits.max_batches refuses the body with 422 on batches."""
    with pytest.raises(IngestError) as caught:
        decode(_body(_batch(), _batch()), Limits(max_batches=1), _no_reference)
    assert (caught.value.status, caught.value.field) == (422, "batches")


def test_too_many_records_is_422() -> None:
    """More records than limits.max_records in one body refuses it with 422."""
    with pytest.raises(IngestError) as caught:
        decode(_body(_batch()), Limits(max_records=1), _no_reference)
    assert (caught.value.status, caught.value.field) == (422, "batches")


@pytest.mark.parametrize(
    ("override", "status", "field"),
    [
        ({"model": None}, 400, "batches[1].model"),
        ({"model": ""}, 400, "batches[1].model"),
        ({"model": "m" * 129}, 422, "batches[1].model"),
        ({"version": 3}, 400, "batches[1].version"),
        ({"role": "boss"}, 400, "batches[1].role"),
        ({"ids": "a,b"}, 400, "batches[1].ids"),
        ({"ids": ["a", 2]}, 400, "batches[1].ids[1]"),
        ({"timestamps": [1.0]}, 400, "batches[1].timestamps"),
        ({"timestamps": [1.0, None]}, 400, "batches[1].timestamps[1]"),
        ({"timestamps": [1.0, "NaN"]}, 400, "batches[1].timestamps[1]"),
        ({"trace_ids": ["a"]}, 400, "batches[1].trace_ids"),
        ({"trace_ids": ["a", 5]}, 400, "batches[1].trace_ids[1]"),
        ({"features": []}, 400, "batches[1].features"),
        ({"features": {"age": [1.0]}}, 400, "batches[1].features.age"),
        ({"features": {"age": 1.0}}, 400, "batches[1].features.age"),
        ({"features": {"age": [1.0, {"a": 1}]}}, 400, "batches[1].features.age[1]"),
        ({"features": {"plan": ["x", [1]]}}, 400, "batches[1].features.plan[1]"),
        ({"features": {"": [1, 2]}}, 400, "batches[1].features."),
        ({"features": {"f" * 200: [1, 2]}}, 422, "batches[1].features." + "f" * 64 + "..."),
        ({"predictions": {"value": [1]}}, 400, "batches[1].predictions.value"),
        ({"features": {f"f{i}": [1, 2] for i in range(600)}}, 422, "batches[1].features"),
        ("not an object", 400, "batches[1]"),
    ],
)
def test_bad_batch_is_reported_and_good_batch_kept(override: Any, status: int, field: str) -> None:
    """A bad batch is reported with status and field path; the valid batch beside it is kept."""
    bad = _batch(**override) if isinstance(override, dict) else override
    decoded = decode(_body(_batch(), bad), Limits(), _no_reference)
    (error,) = decoded.errors
    assert (1, 1, status, field) == (len(decoded.batches), error.index, error.status, error.field)


def test_gzip_round_trip() -> None:
    """A gzip body decompresses to the original bytes."""
    assert decompress(gzip.compress(b"hello"), "gzip", 100) == b"hello"


def test_zip_bomb_is_413() -> None:
    """A small gzip body inflating past the limit is refused with 413 before inflating it all."""
    bomb = gzip.compress(b"\0" * 50_000_000)
    with pytest.raises(IngestError) as caught:
        decompress(bomb, "gzip", 1_000_000)
    assert (caught.value.status, caught.value.field) == (413, "body")


def test_corrupt_gzip_is_400() -> None:
    """Bytes that are not gzip under Content-Encoding: gzip are refused with 400."""
    with pytest.raises(IngestError) as caught:
        decompress(b"plain", "gzip", 100)
    assert caught.value.status == 400


def test_truncated_gzip_is_400() -> None:
    """A gzip stream cut short is refused with 400."""
    with pytest.raises(IngestError) as caught:
        decompress(gzip.compress(b"x" * 1000)[:-10], "gzip", 10_000)
    assert (caught.value.status, caught.value.field) == (400, "body")


def test_unknown_encoding_is_415() -> None:
    """An encoding other than gzip or identity is refused with 415."""
    with pytest.raises(IngestError) as caught:
        decompress(b"x", "br", 100)
    assert (caught.value.status, caught.value.field) == (415, "Content-Encoding")
