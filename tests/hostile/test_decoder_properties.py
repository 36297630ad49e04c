"""Property-based tests of the ingest decoder against hostile bytes, depths, numbers and names."""

from __future__ import annotations

import json
import math
from typing import Any

from driftline_sidecar.config import Limits
from driftline_sidecar.ingest import DecodedBody, IngestError, Kind, Role, decode
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

LIMITS = Limits(max_batches=4, max_records=1_000, max_features=8, max_name_length=32)
_PROPERTY = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _kinds(model: str, version: str, role: Role, name: str) -> Kind | None:
    return {"x": "numeric", "c": "categorical"}.get(name)


def _outcome(payload: bytes) -> DecodedBody | IngestError:
    try:
        return decode(payload, LIMITS, _kinds)
    except IngestError as exc:
        return exc


def _body(features: dict[str, Any], **fields: Any) -> dict[str, Any]:
    batch = {"model": "m", "version": "1", "ids": ["a"], "timestamps": [1.0], "features": features}
    batch.update(fields)
    return {"v": 1, "batches": [batch]}


def _raw_body(column_json: bytes, name: bytes = b"x", timestamps: bytes = b"[1]") -> bytes:
    return (
        b'{"v":1,"batches":[{"model":"m","version":"1","ids":["a"],"timestamps":'
        + timestamps
        + b',"features":{"'
        + name
        + b'":['
        + column_json
        + b"]}}]}"
    )


@_PROPERTY
@given(st.binary(max_size=512))
def test_any_bytes_decode_or_answer_a_client_error(payload: bytes) -> None:
    """Arbitrary bytes either decode or raise IngestError with a 4xx status, never anything else."""
    outcome = _outcome(payload)
    assert isinstance(outcome, DecodedBody) or 400 <= outcome.status < 500


@_PROPERTY
@given(
    st.integers(min_value=1, max_value=20_000), st.sampled_from([(b"[", b"]"), (b'{"a":', b"}")])
)
def test_any_nesting_depth_is_decoded_or_refused_with_400(depth: int, brackets: Any) -> None:
    """Nesting of any depth, even far past the parser's limit, is a 400 for the body or decodes."""
    opening, closing = brackets
    inner = opening * depth + b"1" + closing * depth
    outcome = _outcome(_raw_body(inner))
    assert isinstance(outcome, DecodedBody) or (outcome.status, outcome.field) in {
        (400, "body"),
        (400, "batches[0].features.x[0]"),
    }


def test_nesting_past_the_parser_limit_names_the_depth_limit() -> None:
    """A body nested 100,000 levels deep is refused as not valid JSON, naming the depth limit."""
    outcome = _outcome(b"[" * 100_000 + b"]" * 100_000)
    assert isinstance(outcome, IngestError)
    assert (outcome.status, outcome.field) == (400, "body")
    assert "depth" in outcome.reason


@_PROPERTY
@given(st.integers(min_value=-400, max_value=400), st.integers(min_value=1, max_value=9))
def test_a_number_of_any_magnitude_in_a_numeric_column_becomes_a_float(
    exponent: int, mantissa: int
) -> None:
    """A JSON number of any exponent in a numeric column is kept as Python's float of it."""
    text = f"{mantissa}e{exponent}"
    outcome = _outcome(_raw_body(text.encode()))
    assert isinstance(outcome, DecodedBody)
    assert outcome.batches[0].features["x"].values[0] == float(text)


@_PROPERTY
@given(st.integers(min_value=2**64, max_value=10**4000))
def test_an_integer_of_any_size_in_a_numeric_column_becomes_a_float(value: int) -> None:
    """An integer beyond 64 bits in a numeric column is its float, or infinity past float range."""
    outcome = _outcome(_raw_body(str(value).encode()))
    assert isinstance(outcome, DecodedBody)
    assert outcome.batches[0].features["x"].values[0] == _float_or_inf(value)


def _float_or_inf(value: int) -> float:
    try:
        return float(value)
    except OverflowError:
        return math.inf


def test_an_integer_beyond_the_interpreter_digit_limit_is_a_400_for_the_body() -> None:
    """An integer of 5,000 digits is refused as not valid JSON (Python's 4,300-digit limit)."""
    outcome = _outcome(_raw_body(b"9" * 5_000))
    assert isinstance(outcome, IngestError)
    assert (outcome.status, outcome.field) == (400, "body")


@_PROPERTY
@given(st.sampled_from(["1e400", "-1e400", "9" * 400]))
def test_a_timestamp_beyond_float_range_is_a_400_naming_it(text: str) -> None:
    """A timestamp too large for a float is refused with its own field path."""
    outcome = _outcome(_raw_body(b"1", timestamps=f"[{text}]".encode()))
    assert isinstance(outcome, DecodedBody)
    error = outcome.errors[0]
    assert (error.status, error.field) == (400, "batches[0].timestamps[0]")


@_PROPERTY
@given(st.sampled_from(["1e400", "-1e400"]))
def test_a_number_beyond_float_range_in_a_category_is_its_label(text: str) -> None:
    """In a categorical column a number beyond float range becomes the label inf or -inf."""
    outcome = _outcome(_raw_body(text.encode(), name=b"c"))
    assert isinstance(outcome, DecodedBody)
    assert outcome.batches[0].features["c"].values[0] == str(float(text))


@_PROPERTY
@given(st.sampled_from(["NaN", "Infinity", "-Infinity"]))
def test_bare_non_finite_literals_are_refused_even_on_the_overflow_path(literal: str) -> None:
    """NaN and Infinity are not JSON: refused for the body also when 1e400 forces the slow path."""
    outcome = _outcome(_raw_body(f"1e400, {literal}".encode()))
    assert isinstance(outcome, IngestError)
    assert (outcome.status, outcome.field) == (400, "body")


@_PROPERTY
@given(st.sampled_from(["NaN", "nan", "Infinity", "-Infinity", "inf", "1e400", "", "<x>"]))
def test_strings_in_a_numeric_column_are_floats_or_type_mismatches(text: str) -> None:
    """Only the protocol's three tokens become floats; any other string is NaN and a mismatch."""
    outcome = _outcome(json.dumps(_body({"x": [text]})).encode())
    assert isinstance(outcome, DecodedBody)
    column = outcome.batches[0].features["x"]
    tokens = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}
    if text in tokens:
        assert column.type_mismatch is None
        assert str(column.values[0]) == str(tokens[text])
    else:
        assert column.type_mismatch is not None
        assert bool(column.type_mismatch[0])
        assert math.isnan(column.values[0])


@_PROPERTY
@given(st.binary(min_size=1, max_size=8).filter(lambda data: not _is_utf8(data)))
def test_non_utf8_bytes_in_a_string_are_a_400_for_the_body(garbage: bytes) -> None:
    """Bytes that are not UTF-8 inside a JSON string are refused as not valid JSON."""
    outcome = _outcome(_raw_body(b'"' + garbage + b'"', name=b"c"))
    assert isinstance(outcome, IngestError)
    assert (outcome.status, outcome.field) == (400, "body")


def _is_utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


@_PROPERTY
@given(st.text(min_size=1, max_size=300))
def test_an_error_never_echoes_more_than_64_characters_of_a_name(name: str) -> None:
    """A column name shown in an error's field is cut to 64 characters plus an ellipsis."""
    outcome = _outcome(json.dumps(_body({name: [{"nested": 1}]})).encode())
    assert isinstance(outcome, DecodedBody)
    field = outcome.errors[0].field
    assert len(field) <= len("batches[0].features.") + 64 + len("...") + len("[0]")


@_PROPERTY
@given(st.integers(min_value=LIMITS.max_features + 1, max_value=5_000))
def test_too_many_columns_is_a_422_naming_the_limit(count: int) -> None:
    """A batch with more columns than max_features gets 422 with the limit in the reason."""
    features = {f"f{i}": [1.0] for i in range(count)}
    outcome = _outcome(json.dumps(_body(features)).encode())
    assert isinstance(outcome, DecodedBody)
    error = outcome.errors[0]
    assert error.status == 422
    assert f"the limit is {LIMITS.max_features}" in error.reason


@_PROPERTY
@given(st.integers(min_value=LIMITS.max_records + 1, max_value=50_000))
def test_too_many_records_is_a_422_naming_the_limit(count: int) -> None:
    """A body with more records than max_records is refused whole with 422 naming the limit."""
    body = {"v": 1, "batches": [{"ids": ["a"] * count}]}
    outcome = _outcome(json.dumps(body).encode())
    assert isinstance(outcome, IngestError)
    assert outcome.status == 422
    assert f"the limit is {LIMITS.max_records}" in outcome.reason
