"""The shipper's fast path: one batch of plain rows encoded with a few C-level passes.

``_wire.encode`` converts records value by value, which holds the GIL for
about 8 ms per 500 records while the caller's threads wait for it. Most bodies
are simpler than that: rows of one (model, version, role), every record with
the same feature and output names, every value a string, an int, a bool, None
or a finite float. ``fast_batch`` recognises such a body with a handful of
C-level checks per column (``set(map(type, column))``, ``math.isfinite(sum(...))``)
and builds its columns with list comprehensions; anything else returns None
and takes the general path, which gives the same JSON for these inputs.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from itertools import compress
from operator import itemgetter, not_
from typing import Any, Final

from ._ids import format_ids

__all__ = ["fast_batch"]

_ROW: Final = 0
_CALL: Final = -1
_FIELDS: Final = 9
"""Fields of an entry (``_wire.Entry``)."""
_PLAIN: Final = frozenset({str, int, bool, type(None)})
_FLOAT: Final = {float}
_STR: Final = {str}
_TRACE: Final = frozenset({str, type(None)})


def _column_ok(column: Sequence[Any]) -> bool:
    """True when every value is written to JSON as it is: no NaN, infinity or foreign type."""
    types = set(map(type, column))
    if types == _FLOAT:
        return math.isfinite(sum(column))  # a NaN or an infinity anywhere makes the sum one
    return types <= _PLAIN


def _columns(mappings: Sequence[Any]) -> dict[str, list[Any]] | None:
    """The columns of records that all have the same string names and plain values, else None.

    Records with as many names as the first, each of which they have, have its
    names: a length check and one ``itemgetter`` per record instead of comparing
    every record's keys.
    """
    if set(map(type, mappings)) != {dict}:
        return None
    names = tuple(mappings[0])
    if set(map(type, names)) - _STR or set(map(len, mappings)) != {len(names)}:
        return None
    try:  # the star unpacks every record's values here, so a missing name raises here
        if len(names) == 1:
            values: Iterable[Sequence[Any]] = (list(map(itemgetter(names[0]), mappings)),)
        else:  # a tuple of values per record, transposed into one tuple per name
            values = zip(*map(itemgetter(*names), mappings), strict=True) if names else ()
    except KeyError:  # a record without one of the first record's names
        return None
    columns = dict(zip(names, map(list, values), strict=True))
    return columns if all(map(_column_ok, columns.values())) else None


def _mixed(
    kinds: Sequence[int],
    numbers: Sequence[Any],
    starts: Sequence[float],
    predictions: Sequence[Any],
    clock: tuple[float, float],
) -> tuple[list[Any], list[float], tuple[Any, ...]] | None:
    """Ids, timestamps and predictions of calls mixed with rows, in their order, else None."""
    is_call = [kind == _CALL for kind in kinds]
    call_numbers = list(compress(numbers, is_call))
    call_starts = list(compress(starts, is_call))
    if set(map(type, call_numbers)) != {int}:
        return None
    if set(map(type, compress(numbers, map(not_, is_call)))) != _STR:
        return None
    wall, perf = clock
    call_ids = iter(format_ids(call_numbers, call_starts))
    pairs = zip(is_call, numbers, starts, predictions, strict=True)
    ids, timestamps, outputs = [], [], []
    for call, number, start, prediction in pairs:
        ids.append(next(call_ids) if call else number)
        timestamps.append(wall - (perf - start) if call else start)
        outputs.append({"value": prediction} if call and type(prediction) is float else prediction)
    return ids, timestamps, tuple(outputs)


def fast_batch(entries: Sequence[Any], clock: tuple[float, float]) -> dict[str, Any] | None:
    """Return the protocol-v1 batch of ``entries``, or None when the general path is needed.

    ``clock`` is ``(time.time(), time.perf_counter())`` read together, for the
    start times of call entries.
    """
    n = len(entries)
    if not n or set(map(type, entries)) != {tuple} or set(map(len, entries)) != {_FIELDS}:
        return None
    # One C-level transposition instead of a comprehension per field.
    kinds, models, versions, roles, numbers, starts, trace_ids, mappings, predictions = zip(
        *entries, strict=True
    )
    key = (models[0], versions[0], roles[0])
    if any(set(map(type, names)) != _STR for names in (models, versions, roles)):
        return None  # a str subclass is the general path's encode error
    if models.count(key[0]) != n or versions.count(key[1]) != n or roles.count(key[2]) != n:
        return None
    if set(map(type, starts)) != _FLOAT:  # a call's perf_counter reading or a row's time
        return None
    calls = kinds.count(_CALL)
    outputs: dict[str, list[Any]] | None = None
    if calls == n:
        if set(map(type, numbers)) != {int}:
            return None
        ids = format_ids(numbers, starts)
        wall, perf = clock
        timestamps = [wall - (perf - s) for s in starts]
        if set(map(type, predictions)) == _FLOAT:  # bare numbers: the output "value"
            if not math.isfinite(sum(predictions)):
                return None
            outputs = {"value": list(predictions)}
        else:
            predictions = tuple({"value": p} if type(p) is float else p for p in predictions)
    elif kinds.count(_ROW) == n:
        if set(map(type, numbers)) != _STR:
            return None
        ids, timestamps = list(numbers), list(starts)
    else:  # calls mixed with rows: traced calls and calls that read their id are rows
        if calls + kinds.count(_ROW) != n:
            return None
        mixed = _mixed(kinds, numbers, starts, predictions, clock)
        if mixed is None:
            return None
        ids, timestamps, predictions = mixed
    if not math.isfinite(sum(timestamps)) or not set(map(type, trace_ids)) <= _TRACE:
        return None
    features = _columns(mappings)
    if features is None:
        return None
    if outputs is None:
        outputs = _columns(predictions)
        if outputs is None:
            return None
    return {
        "model": key[0],
        "version": key[1],
        "role": key[2],
        "ids": ids,
        "timestamps": timestamps,
        "trace_ids": list(trace_ids),
        "features": features,
        "predictions": outputs,
    }
