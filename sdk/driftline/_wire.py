"""Encoding captured records to the columnar JSON body of protocol v1 (docs/protocol.md).

The capture queue holds *entries*, plain tuples built on the caller's thread
without copying or converting anything:

- a row entry, ``(ROW, model, version, role, prediction_id, timestamp, trace_id,
  features, predictions)``, is one record (``ROW`` is 0);
- a call entry, ``(CALL, model, version, role, number, start, trace_id,
  features, predictions)``, is one record whose id and timestamp are still the
  two numbers the decorator took (``_ids``): the id's sequence number and the
  ``perf_counter`` reading at the call's start (``CALL`` is -1); its
  predictions may be a bare float, meaning ``{"value": x}``;
- a columns entry, ``(n, model, version, role, prediction_ids, timestamp,
  trace_id, features, predictions)`` with ``n = len(prediction_ids) >= 1``, is
  ``n`` records whose features and predictions are columns (sequences or 1-d
  numpy arrays). The count is taken once, at submit time, so the queue's
  accounting holds even if the caller later mutates its lists.

Everything below runs on the shipper thread: ``encode`` groups entries by
(model, version, role), pivots rows into columns, turns every value into a JSON
scalar and drops, record by record, what cannot be encoded. The common body,
plain rows of one model version, takes a shorter path that gives the same
document: ``_body.c`` where it is built, which reads the records holding the
GIL and writes the JSON without it, else ``_wire_fast``, which holds the GIL a
tenth as long as the general path. Other bodies are serialised with orjson when
the process can import it (the SDK does not depend on it), else with the
standard library. Bodies are compressed at gzip level 1: about 5% larger than
at level 5 for a quarter of the CPU.
"""

from __future__ import annotations

import gzip as _gzip
import json
import math
import numbers
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Final, TypeAlias

import numpy as np

from . import _native
from ._ids import format_id
from ._wire_fast import fast_batch

try:  # optional: about 20 times faster than json.dumps on a body
    import orjson
except ImportError:  # pragma: no cover - depends on what the app installed
    orjson = None  # type: ignore[assignment]

__all__ = [
    "CALL",
    "GZIP_THRESHOLD",
    "PROTOCOL_VERSION",
    "ROW",
    "Body",
    "Entry",
    "JsonScalar",
    "cell",
    "encode",
    "encode_general",
    "encode_outcomes",
    "entry_rows",
    "split_entry",
    "split_rows",
]

PROTOCOL_VERSION: Final = 1
GZIP_THRESHOLD: Final = 16 * 1024
"""Bodies larger than this many bytes are sent gzip-compressed (when compression is on)."""
GZIP_LEVEL: Final = 1

ROW: Final = 0
"""The first item of a row entry; a columns entry has its row count there instead."""
CALL: Final = -1
"""The first item of a call entry: one record, its id and timestamp not yet formatted."""

Entry: TypeAlias = tuple[int, str, str, str, object, float, str | None, object, object]
"""One queued call: ``(ROW, CALL or n, model, version, role, id or id number or ids,
timestamp or start, trace_id, features, predictions)``; see the module docstring."""

JsonScalar: TypeAlias = str | int | float | bool | None

_NON_FINITE: Final[dict[float, str]] = {math.inf: "Infinity", -math.inf: "-Infinity"}


class _UnencodableError(ValueError):
    """A value that protocol v1 cannot carry; its record is dropped as ``encode_error``."""


@dataclass(frozen=True)
class Body:
    """An encoded request body: the bytes to POST and what they account for."""

    payload: bytes
    """The JSON document, gzip-compressed when ``gzipped``; empty when ``records`` is 0."""
    gzipped: bool
    records: int
    """Records in the body."""
    encode_errors: int
    """Records left out because a value could not be encoded."""


def entry_rows(entry: Entry) -> int:
    """Return how many records an entry holds: 1 for a row or a call, the id count for columns."""
    n = entry[0]
    return n if n > 0 else 1


def split_entry(entry: Entry, k: int) -> tuple[Entry, Entry]:
    """Split a columns entry into its first ``k`` records and the rest (views, no copies of arrays).

    Only the shipper calls this, to keep a body within ``batch_size`` records.
    Columns of the wrong length are passed through unsliced; ``encode`` rejects them.
    """
    n, model, version, role, ids, timestamp, trace_id, features, predictions = entry

    def cut(columns: object, start: int, stop: int) -> object:
        if not isinstance(columns, Mapping):
            return columns
        return {name: col[start:stop] if _has_len(col, n) else col for name, col in columns.items()}

    head: Entry = (
        k,
        model,
        version,
        role,
        ids[:k],  # type: ignore[index]
        timestamp,
        trace_id,
        cut(features, 0, k),
        cut(predictions, 0, k),
    )
    tail: Entry = (
        n - k,
        model,
        version,
        role,
        ids[k:],  # type: ignore[index]
        timestamp,
        trace_id,
        cut(features, k, n),
        cut(predictions, k, n),
    )
    return head, tail


def split_rows(entries: Sequence[Entry], k: int) -> tuple[list[Entry], list[Entry]]:
    """The first ``k`` records of ``entries`` and the rest; a columns entry may be cut in two."""
    head: list[Entry] = []
    taken = 0
    for i, entry in enumerate(entries):
        n = entry_rows(entry)
        if taken + n <= k:
            head.append(entry)
            taken += n
            continue
        rest = list(entries[i + 1 :])
        if taken < k:  # only a columns entry holds more than one record
            first, second = split_entry(entry, k - taken)
            head.append(first)
            rest.insert(0, second)
        else:
            rest.insert(0, entry)
        return head, rest
    return head, []


def _has_len(col: object, n: int) -> bool:
    try:
        return len(col) == n  # type: ignore[arg-type]
    except TypeError:
        return False


def _non_finite(value: float) -> JsonScalar:
    if math.isnan(value):
        return "NaN"
    return _NON_FINITE.get(value, value)


def _cell(value: object) -> JsonScalar:
    """Return ``value`` as a JSON scalar, or raise ``_UnencodableError``."""
    t = type(value)
    if value is None or t is str or t is int or t is bool:
        return value  # type: ignore[return-value]
    if t is float:
        f: float = value  # type: ignore[assignment]
        # inf - inf and nan - nan are nan, so this is a finite check without a call.
        return f if f - f == 0.0 else _non_finite(f)
    if isinstance(value, bool | np.bool_):
        return bool(value)
    if isinstance(value, str):
        return value  # str subclasses (np.str_, StrEnum) encode as their text
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        return _cell(float(value))
    if isinstance(value, np.ndarray) and value.ndim == 0:
        return _cell(value.item())
    raise _UnencodableError(f"cannot encode a value of type {t.__name__}")


def cell(value: object) -> JsonScalar:
    """Return ``value`` as a JSON scalar (non-finite floats as strings); ValueError otherwise."""
    return _cell(value)


def _row_values(values: object) -> dict[str, JsonScalar]:
    """Convert one record's mapping of name → value; raise on any bad name or value."""
    if not isinstance(values, Mapping):
        raise _UnencodableError("features and predictions must be mappings")
    out: dict[str, JsonScalar] = {}
    for name, value in values.items():
        if not isinstance(name, str):
            raise _UnencodableError(f"names must be strings, got {type(name).__name__}")
        out[name] = _cell(value)
    return out


def _column_values(values: object, n: int, bad: set[int]) -> list[JsonScalar]:
    """Convert one column of ``n`` values; add the index of every unencodable cell to ``bad``.

    Raises ``_UnencodableError`` when the column as a whole is unusable (wrong
    length, not a 1-d sequence): then every record of the entry is dropped.
    """
    if isinstance(values, str | bytes) or not hasattr(values, "__len__"):
        raise _UnencodableError("a column must be a sequence or a 1-d array")
    if not isinstance(values, list | tuple | np.ndarray) and hasattr(values, "__array__"):
        values = np.asarray(values)  # pandas Series and friends: one conversion, not n
    if isinstance(values, np.ndarray):
        if values.ndim != 1 or values.shape[0] != n:
            raise _UnencodableError(f"a column must be 1-d with {n} values")
        kind = values.dtype.kind
        if kind in "biuU":
            return values.tolist()  # type: ignore[no-any-return]
        if kind == "f":
            out: list[JsonScalar] = values.tolist()
            finite = np.isfinite(values)
            if not finite.all():
                for i in np.flatnonzero(~finite).tolist():
                    out[i] = _non_finite(out[i])  # type: ignore[arg-type]
            return out
        values = values.tolist()  # object, datetime, complex...: judged cell by cell
    seq: Sequence[object] = values  # type: ignore[assignment]
    if len(seq) != n:
        raise _UnencodableError(f"a column must have {n} values, got {len(seq)}")
    out = []
    for i, value in enumerate(seq):
        try:
            out.append(_cell(value))
        except _UnencodableError:
            bad.add(i)
            out.append(None)
    return out


def _columns(values: object, n: int, bad: set[int]) -> dict[str, list[JsonScalar]]:
    if not isinstance(values, Mapping):
        raise _UnencodableError("features and predictions must be mappings of columns")
    out: dict[str, list[JsonScalar]] = {}
    for name, column in values.items():
        if not isinstance(name, str):
            raise _UnencodableError(f"names must be strings, got {type(name).__name__}")
        out[name] = _column_values(column, n, bad)
    return out


def _timestamp(value: object) -> float:
    if isinstance(value, numbers.Real) and not isinstance(value, bool):
        ts = float(value)
        if math.isfinite(ts):
            return ts
    raise _UnencodableError("the timestamp must be a finite number")


def _trace_id(value: object) -> str | None:
    if value is None or isinstance(value, str):
        return value
    raise _UnencodableError("the trace id must be a string or None")


class _Batch:
    """The columns of one (model, version, role) batch, grown record by record."""

    __slots__ = ("features", "ids", "predictions", "timestamps", "trace_ids")

    def __init__(self) -> None:
        self.ids: list[str] = []
        self.timestamps: list[float] = []
        self.trace_ids: list[str | None] = []
        self.features: dict[str, list[JsonScalar]] = {}
        self.predictions: dict[str, list[JsonScalar]] = {}

    def add(
        self,
        ids: list[str],
        timestamp: float,
        trace_id: str | None,
        features: dict[str, list[JsonScalar]],
        predictions: dict[str, list[JsonScalar]],
    ) -> None:
        before, k = len(self.ids), len(ids)
        self.ids.extend(ids)
        self.timestamps.extend([timestamp] * k)
        self.trace_ids.extend([trace_id] * k)
        _merge(self.features, features, before, k)
        _merge(self.predictions, predictions, before, k)

    def to_json(self, model: str, version: str, role: str) -> dict[str, object]:
        return {
            "model": model,
            "version": version,
            "role": role,
            "ids": self.ids,
            "timestamps": self.timestamps,
            "trace_ids": self.trace_ids,
            "features": self.features,
            "predictions": self.predictions,
        }


def _merge(
    columns: dict[str, list[JsonScalar]],
    new: dict[str, list[JsonScalar]],
    before: int,
    k: int,
) -> None:
    """Append ``k`` records' columns; a name absent on either side is padded with null."""
    for name, values in new.items():
        column = columns.get(name)
        if column is None:
            columns[name] = [None] * before + values
        else:
            column.extend(values)
    for name, column in columns.items():
        if name not in new:
            column.extend([None] * k)


def _keep(values: list[JsonScalar], bad: set[int]) -> list[JsonScalar]:
    return [v for i, v in enumerate(values) if i not in bad]


def _add_row(batch: _Batch, entry: Entry, clock: tuple[float, float]) -> None:
    kind, _, _, _, prediction_id, timestamp, trace_id, features, predictions = entry
    if kind == CALL:
        if type(prediction_id) is not int or type(timestamp) is not float:
            raise _UnencodableError("a call's id number and start must be an int and a float")
        prediction_id = format_id(prediction_id, timestamp)
        timestamp = clock[0] - (clock[1] - timestamp)  # its perf_counter start on the wall clock
    if not isinstance(prediction_id, str):
        raise _UnencodableError("the prediction id must be a string")
    feats = {k: [v] for k, v in _row_values(features).items()}
    if kind == CALL and type(predictions) is float:  # a plain number: the output "value"
        preds = {"value": [_cell(predictions)]}
    else:
        preds = {k: [v] for k, v in _row_values(predictions).items()}
    batch.add([prediction_id], _timestamp(timestamp), _trace_id(trace_id), feats, preds)


def _add_columns(batch: _Batch, entry: Entry) -> int:
    """Add a columns entry; return how many of its records were dropped."""
    n, _, _, _, ids, timestamp, trace_id, features, predictions = entry
    if isinstance(ids, str) or not isinstance(ids, Sequence | np.ndarray):
        raise _UnencodableError("prediction ids must be a sequence of strings")
    id_list: list[object] = list(ids)
    if len(id_list) != n:
        raise _UnencodableError(f"expected {n} prediction ids, got {len(id_list)}")
    bad = {i for i, pid in enumerate(id_list) if not isinstance(pid, str)}
    ts, trace = _timestamp(timestamp), _trace_id(trace_id)
    feats = _columns(features, n, bad)
    preds = _columns(predictions, n, bad)
    if bad:
        id_list = [pid for i, pid in enumerate(id_list) if i not in bad]
        feats = {name: _keep(col, bad) for name, col in feats.items()}
        preds = {name: _keep(col, bad) for name, col in preds.items()}
    batch.add(id_list, ts, trace, feats, preds)  # type: ignore[arg-type]
    return len(bad)


def encode(service: str, entries: Iterable[Entry], sent_at: float, *, gzip: bool = True) -> Body:
    """Encode entries into one protocol-v1 body, dropping unencodable records and counting them.

    Never raises for bad values: a row whose id, timestamp, trace id, a name or
    a value cannot be encoded is left out; a columns entry loses the rows with a
    bad cell, or all its rows when a column has the wrong length or shape.
    """
    entries = list(entries)
    clock = (time.time(), time.perf_counter())  # for the start times of call entries
    if _native.body is not None:
        raw = _native.body.encode_batch(service, sent_at, entries, *clock, format_id)
        if raw is not None:
            return _compressed(raw, len(entries), 0, gzip)
    fast = fast_batch(entries, clock)
    if fast is not None:
        return _body(_document(service, sent_at, [fast]), len(entries), 0, gzip)
    return encode_general(service, entries, sent_at, clock, gzip=gzip)


def encode_general(
    service: str,
    entries: Iterable[Entry],
    sent_at: float,
    clock: tuple[float, float],
    *,
    gzip: bool = True,
) -> Body:
    """``encode`` without the fast path: every record converted value by value."""
    batches: dict[tuple[str, str, str], _Batch] = {}
    records = errors = 0
    for entry in entries:
        rows, model, version, role = entry[0], entry[1], entry[2], entry[3]
        try:
            if type(model) is not str or type(version) is not str or type(role) is not str:
                raise _UnencodableError("model, version and role must be strings")
            key = (model, version, role)
            batch = batches.get(key)
            if batch is None:
                batch = batches[key] = _Batch()
            if rows <= ROW:
                _add_row(batch, entry, clock)
                records += 1
            else:
                dropped = _add_columns(batch, entry)
                records += rows - dropped
                errors += dropped
        except Exception:  # a bad record never takes the body down with it
            errors += entry_rows(entry)
    if records == 0:
        return Body(payload=b"", gzipped=False, records=0, encode_errors=errors)
    document = _document(service, sent_at, [b.to_json(*key) for key, b in batches.items() if b.ids])
    return _body(document, records, errors, gzip)


def _document(service: str, sent_at: float, batches: list[dict[str, object]]) -> dict[str, object]:
    return {"v": PROTOCOL_VERSION, "sent_at": sent_at, "service": service, "batches": batches}


def _body(document: dict[str, object], records: int, errors: int, gzip: bool) -> Body:
    """Serialise ``document`` and compress it as ``_compressed`` does."""
    raw = b""
    if orjson is not None:
        try:
            raw = orjson.dumps(document)
        except TypeError:  # an int beyond 64 bits: the standard library writes it
            raw = b""
    if not raw:
        raw = json.dumps(document, separators=(",", ":"), allow_nan=False).encode("ascii")
    return _compressed(raw, records, errors, gzip)


def _compressed(raw: bytes, records: int, errors: int, gzip: bool) -> Body:
    """The body of JSON ``raw``, gzipped when ``gzip`` and it is over ``GZIP_THRESHOLD`` bytes."""
    if gzip and len(raw) > GZIP_THRESHOLD:
        return Body(_gzip.compress(raw, compresslevel=GZIP_LEVEL, mtime=0), True, records, errors)
    return Body(raw, False, records, errors)


def encode_outcomes(
    service: str,
    outcomes: Sequence[tuple[str, JsonScalar, float]],
    sent_at: float,
    *,
    gzip: bool = True,
) -> Body:
    """Encode validated outcomes ``(id, actual, timestamp)`` into one ``/v1/outcomes`` body."""
    document = {
        "v": PROTOCOL_VERSION,
        "sent_at": sent_at,
        "service": service,
        "outcomes": {
            "ids": [o[0] for o in outcomes],
            "actuals": [o[1] for o in outcomes],
            "timestamps": [o[2] for o in outcomes],
        },
    }
    return _body(document, len(outcomes), 0, gzip)
