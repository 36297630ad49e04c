"""Decoding ``POST /v1/records`` bodies (protocol v1) into numpy columns, with field-path errors.

One ``orjson.loads`` per body and one numpy conversion per column on the usual path;
the per-value loop runs only for a column that the fast conversion refuses, to name
the bad value or to count strings in a numeric column as type mismatches.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal, cast

import numpy as np
import numpy.typing as npt
import orjson
from isal import isal_zlib

from driftline_sidecar.config import Limits
from driftline_sidecar.profile import category_label

__all__ = [
    "BatchError",
    "Column",
    "DecodedBatch",
    "DecodedBody",
    "IngestError",
    "Kind",
    "KindLookup",
    "check_length",
    "decode",
    "decompress",
    "parse_document",
]

Kind = Literal["numeric", "categorical"]
Role = Literal["feature", "prediction"]
KindLookup = Callable[[str, str, Role, str], Kind | None]
"""(model, version, role, wire name) -> the column kind the reference expects, None if unknown."""

PROTOCOL_VERSION = 1
_NON_FINITE = {"NaN": float("nan"), "Infinity": float("inf"), "-Infinity": float("-inf")}
_ROLES = frozenset({"champion", "challenger"})
_MAX_SHOWN_NAME = 64
_OVERFLOW = "number is infinity"
_LABEL_TYPES = frozenset({str, type(None)})
_NUMBER_TYPES = frozenset({int, float})
_GZIP_MAGIC = b"\x1f\x8b"
_GzipError = cast("type[Exception]", isal_zlib.error)
"""isal's stubs declare its error as an instance: it is the class ``IsalError``."""


class IngestError(Exception):
    """A body or batch the sidecar refuses: HTTP ``status``, JSON ``field`` path, a reason."""

    def __init__(self, status: int, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.status = status
        self.field = field
        self.reason = reason

    def to_dict(self) -> dict[str, dict[str, str]]:
        """The protocol's error body."""
        return {"error": {"field": self.field, "reason": self.reason}}


@dataclass(frozen=True)
class Column:
    """One decoded column: float64 with NaN for numeric, object (str or None) for categorical."""

    kind: Kind
    values: npt.NDArray[Any]
    type_mismatch: npt.NDArray[np.bool_] | None = None
    """For numeric columns: True where a non-numeric string was replaced by NaN."""


@dataclass(frozen=True)
class DecodedBatch:
    """One valid batch of records for a model version."""

    model: str
    version: str
    role: str
    n: int
    timestamps: npt.NDArray[np.float64]
    features: dict[str, Column]
    predictions: dict[str, Column]
    ids: tuple[str, ...] = ()
    """The prediction id of each record (shadow pairs and outcomes join on it)."""


@dataclass(frozen=True)
class BatchError:
    """An invalid batch: its index, status, field path, reason and how many records it held."""

    index: int
    status: int
    field: str
    reason: str
    records: int

    def to_dict(self) -> dict[str, Any]:
        """The entry in the 202 answer's ``errors`` list."""
        return {"batch": self.index, "field": self.field, "reason": self.reason}


@dataclass(frozen=True)
class DecodedBody:
    """What one body held: the valid batches and the errors of the invalid ones."""

    batches: tuple[DecodedBatch, ...]
    errors: tuple[BatchError, ...]


def decompress(body: bytes, encoding: str, max_bytes: int) -> bytes:
    """Return the body decoded from ``encoding`` (identity or gzip), at most ``max_bytes``."""
    if encoding in ("", "identity"):
        return body
    if encoding != "gzip":
        raise IngestError(415, "Content-Encoding", "only gzip or identity is accepted")
    if not body.startswith(_GZIP_MAGIC):
        raise IngestError(400, "body", "not valid gzip: no gzip header")
    # ISA-L inflates 2-3x faster than zlib, and also releases the GIL while it works.
    inflater = isal_zlib.decompressobj(wbits=31)
    try:
        # max_length bounds the output, so a zip bomb costs at most max_bytes + 1 of memory.
        data = inflater.decompress(body, max_bytes + 1)
    except _GzipError as exc:
        raise IngestError(400, "body", f"not valid gzip: {exc}") from None
    if len(data) > max_bytes:
        raise IngestError(413, "body", f"the decompressed body is over {max_bytes} bytes")
    if not inflater.eof:
        raise IngestError(400, "body", "the gzip stream is truncated")
    return data


def decode(payload: bytes, limits: Limits, kinds: KindLookup) -> DecodedBody:
    """Return the valid batches and per-batch errors, or raise IngestError for the body."""
    document = parse_document(payload)
    batches = document.get("batches")
    if not isinstance(batches, list):
        raise IngestError(
            400, "batches", _missing_or_type(batches, "an array", "batches" in document)
        )
    if len(batches) > limits.max_batches:
        raise IngestError(
            422, "batches", f"{len(batches)} batches, the limit is {limits.max_batches}"
        )
    total = sum(
        len(b["ids"]) for b in batches if isinstance(b, dict) and type(b.get("ids")) is list
    )
    if total > limits.max_records:
        raise IngestError(422, "batches", f"{total} records, the limit is {limits.max_records}")
    valid: list[DecodedBatch] = []
    errors: list[BatchError] = []
    for index, raw in enumerate(batches):
        try:
            valid.append(_batch(index, raw, limits, kinds))
        except IngestError as exc:
            records = (
                len(raw["ids"]) if isinstance(raw, dict) and type(raw.get("ids")) is list else 0
            )
            errors.append(BatchError(index, exc.status, exc.field, exc.reason, records))
    return DecodedBody(tuple(valid), tuple(errors))


def parse_document(payload: bytes) -> dict[str, Any]:
    """Return a protocol body's top-level object, or raise IngestError (400) for JSON or ``v``."""
    document = _parse(payload)
    if not isinstance(document, dict):
        raise IngestError(400, "body", f"expected a JSON object, got {_json_type(document)}")
    _check_version(document)
    return document


def _parse(payload: bytes) -> Any:
    """Parse the body; orjson's own limits (depth 1024, UTF-8 only) answer 400 for the body."""
    try:
        return orjson.loads(payload)
    except orjson.JSONDecodeError as exc:
        if _OVERFLOW not in str(exc):
            raise IngestError(400, "body", f"not valid JSON: {_short(str(exc))}") from None
    # orjson refuses a number beyond float range (1e400); the standard library reads it as
    # ±inf (an integer as an int), so the value's own field can be named, or counted as
    # non-finite in a numeric column, like "Infinity". This slower path runs only then.
    try:
        return json.loads(payload.decode("utf-8"), parse_constant=_no_constant)
    except (ValueError, RecursionError) as exc:
        raise IngestError(400, "body", f"not valid JSON: {_short(str(exc))}") from None


def _no_constant(name: str) -> Any:
    raise ValueError(f'{name} is not JSON; write the string "{name}"')


def _check_version(document: dict[str, Any]) -> None:
    version = document.get("v")
    if "v" not in document:
        raise IngestError(400, "v", "required field is missing")
    if type(version) is not int:
        raise IngestError(400, "v", f"expected an integer, got {_json_type(version)}")
    if version != PROTOCOL_VERSION:
        raise IngestError(
            400,
            "v",
            f"unsupported protocol version {_short(str(version))}; "
            f"this sidecar reads {PROTOCOL_VERSION}",
        )


def _batch(index: int, raw: Any, limits: Limits, kinds: KindLookup) -> DecodedBatch:
    path = f"batches[{index}]"
    if not isinstance(raw, dict):
        raise IngestError(400, path, f"expected an object, got {_json_type(raw)}")
    model = _name(raw, "model", path, limits)
    version = _name(raw, "version", path, limits)
    role = raw.get("role", "champion")
    if type(role) is not str or role not in _ROLES:
        raise IngestError(400, f"{path}.role", "expected 'champion' or 'challenger'")
    ids = raw.get("ids")
    if type(ids) is not list:
        raise IngestError(400, f"{path}.ids", _missing_or_type(ids, "an array", "ids" in raw))
    n = len(ids)
    if not _all_strings(ids):
        bad = next(i for i, item in enumerate(ids) if type(item) is not str)
        raise IngestError(400, f"{path}.ids[{bad}]", "expected a string")
    timestamps = _timestamps(raw, path, n)
    _trace_ids(raw, path, n)
    features_raw = _object(raw, "features", path)
    predictions_raw = _object(raw, "predictions", path)
    if len(features_raw) + len(predictions_raw) > limits.max_features:
        count = len(features_raw) + len(predictions_raw)
        raise IngestError(
            422,
            f"{path}.features",
            f"{count} columns (features and predictions), the limit is {limits.max_features}",
        )
    features = _columns(
        features_raw, f"{path}.features", n, limits, model, version, "feature", kinds
    )
    predictions = _columns(
        predictions_raw, f"{path}.predictions", n, limits, model, version, "prediction", kinds
    )
    return DecodedBatch(
        model, version, str(role), n, timestamps, features, predictions, ids=tuple(ids)
    )


def _name(raw: dict[str, Any], key: str, path: str, limits: Limits) -> str:
    value = raw.get(key)
    if type(value) is not str:
        raise IngestError(400, f"{path}.{key}", _missing_or_type(value, "a string", key in raw))
    if not value:
        raise IngestError(400, f"{path}.{key}", "must not be empty")
    limit = min(limits.max_name_length, 128)
    if len(value) > limit:
        raise IngestError(422, f"{path}.{key}", f"{len(value)} characters, the limit is {limit}")
    return value


def _timestamps(raw: dict[str, Any], path: str, n: int) -> npt.NDArray[np.float64]:
    values = raw.get("timestamps")
    field = f"{path}.timestamps"
    if type(values) is not list:
        raise IngestError(400, field, _missing_or_type(values, "an array", "timestamps" in raw))
    check_length(values, field, n)
    array: npt.NDArray[np.float64] | None = None
    # numpy would parse the string "1.5" (and read true as 1): only JSON numbers are timestamps.
    if set(map(type, values)) <= _NUMBER_TYPES:
        try:
            array = np.array(values, dtype=np.float64)
        except OverflowError:
            array = None
    if array is None or array.ndim != 1 or not bool(np.isfinite(array).all()):
        bad = _first_bad_timestamp(values)
        raise IngestError(400, f"{field}[{bad}]", "expected a finite number (Unix seconds)")
    return array


def _first_bad_timestamp(values: list[Any]) -> int:
    for i, value in enumerate(values):
        if type(value) not in (int, float) or not math.isfinite(_to_float(value)):
            return i
    return 0


def _trace_ids(raw: dict[str, Any], path: str, n: int) -> None:
    values = raw.get("trace_ids")
    if values is None:
        return
    field = f"{path}.trace_ids"
    if type(values) is not list:
        raise IngestError(400, field, f"expected an array, got {_json_type(values)}")
    check_length(values, field, n)
    for i, value in enumerate(values):
        if value is not None and type(value) is not str:
            raise IngestError(400, f"{field}[{i}]", "expected a string or null")


def _object(raw: dict[str, Any], key: str, path: str) -> dict[str, Any]:
    value = raw.get(key)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise IngestError(400, f"{path}.{key}", f"expected an object, got {_json_type(value)}")
    return value


def _columns(
    raw: dict[str, Any],
    path: str,
    n: int,
    limits: Limits,
    model: str,
    version: str,
    role: Role,
    kinds: KindLookup,
) -> dict[str, Column]:
    columns: dict[str, Column] = {}
    for name, values in raw.items():
        field = f"{path}.{_shown(name)}"
        if not name:
            raise IngestError(400, field, "a column name must not be empty")
        if len(name) > limits.max_name_length:
            raise IngestError(
                422, field, f"name of {len(name)} characters, the limit is {limits.max_name_length}"
            )
        if type(values) is not list:
            raise IngestError(400, field, f"expected an array, got {_json_type(values)}")
        check_length(values, field, n)
        kind = kinds(model, version, role, name) or _infer(values)
        columns[name] = (
            _numeric(values, field) if kind == "numeric" else _categorical(values, field)
        )
    return columns


def check_length(values: list[Any], field: str, n: int) -> None:
    """Raise IngestError (400) naming ``field`` unless it has ``n`` values (the length of ids)."""
    if len(values) != n:
        raise IngestError(400, field, f"has {len(values)} values, expected {n} (the length of ids)")


def _infer(values: list[Any]) -> Kind:
    """A column without a reference is numeric when its first present value is a number."""
    first = next((value for value in values if value is not None), None)
    if type(first) in (int, float) or (type(first) is str and first in _NON_FINITE):
        return "numeric"
    return "categorical"


def _numeric(values: list[Any], field: str) -> Column:
    # numpy would parse strings ("1.5", "nan", " inf") into a float array, so only a column
    # numpy itself finds all numbers (or booleans) is converted in one go: one C pass finds
    # the type and converts. A null makes the type object, so the check for strings runs;
    # a column with a string takes the loop, where only the protocol's three tokens are
    # numbers and any other string is a mismatch.
    try:
        array = np.array(values)
        if array.ndim == 1 and array.dtype.kind in "fiub":
            return Column("numeric", array.astype(np.float64, copy=False))
        if str not in set(map(type, values)):
            array = np.array(values, dtype=np.float64)
            if array.ndim == 1:
                return Column("numeric", array)
    except (ValueError, TypeError, OverflowError):
        pass
    array = np.empty(len(values), dtype=np.float64)
    mismatch = np.zeros(len(values), dtype=np.bool_)
    for i, value in enumerate(values):
        kind = type(value)
        if value is None:
            array[i] = np.nan
        elif kind is float or kind is int or kind is bool:
            array[i] = _to_float(value)
        elif kind is str:
            token = _NON_FINITE.get(value)
            if token is None:
                array[i] = np.nan
                mismatch[i] = True
            else:
                array[i] = token
        else:
            raise IngestError(
                400, f"{field}[{i}]", f"expected a number, string or null, got {_json_type(value)}"
            )
    return Column("numeric", array, mismatch if bool(mismatch.any()) else None)


def _all_strings(values: list[Any]) -> bool:
    """Whether every value is a str: ``str.join`` checks the types in C, 4x faster than a set."""
    try:
        "".join(values)
    except TypeError:
        return False
    return True


def _to_float(value: float) -> float:
    try:
        return float(value)
    except OverflowError:
        return float("inf") if value > 0 else float("-inf")


def _categorical(values: list[Any], field: str) -> Column:
    array = np.empty(len(values), dtype=object)
    if _all_strings(values) or set(map(type, values)) <= _LABEL_TYPES:
        array[:] = values
        return Column("categorical", array)
    array[:] = [
        value if value is None or type(value) is str else _category(value, field, i)
        for i, value in enumerate(values)
    ]
    return Column("categorical", array)


def _category(value: Any, field: str, index: int) -> str | None:
    if type(value) in (bool, int, float):
        # The labels a profile stores: 3.0 is the category "3", true is "true".
        return category_label(value)
    raise IngestError(
        400, f"{field}[{index}]", f"expected a string, number or null, got {_json_type(value)}"
    )


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    names = {dict: "an object", list: "an array", bool: "a boolean", str: "a string"}
    return names.get(type(value), "a number")


def _missing_or_type(value: Any, expected: str, present: bool) -> str:
    if not present:
        return "required field is missing"
    return f"expected {expected}, got {_json_type(value)}"


def _shown(name: str) -> str:
    return name if len(name) <= _MAX_SHOWN_NAME else name[:_MAX_SHOWN_NAME] + "..."


def _short(text: str) -> str:
    return text if len(text) <= 200 else text[:200] + "..."
