"""Decoding ``POST /v1/outcomes`` bodies (protocol v1, "Outcomes") with field-path errors.

An outcomes body is one batch, so it is accepted or refused whole: 400 for a malformed
body (naming the field), 422 for more outcomes than ``limits.max_records``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from driftline_sidecar.config import Limits
from driftline_sidecar.ingest import IngestError, check_length, parse_document

__all__ = ["DecodedOutcomes", "decode_outcomes"]

_MAX_ID_LENGTH = 128


@dataclass(frozen=True)
class DecodedOutcomes:
    """The outcomes of one body: ids, actual values and timestamps (None where not sent)."""

    ids: tuple[str, ...]
    actuals: tuple[float | str | bool, ...]
    timestamps: tuple[float, ...] | None


def decode_outcomes(payload: bytes, limits: Limits) -> DecodedOutcomes:
    """Return the outcomes of a body, or raise IngestError (400 or 422) naming the field."""
    document = parse_document(payload)
    outcomes = document.get("outcomes")
    if not isinstance(outcomes, dict):
        reason = "required field is missing" if "outcomes" not in document else "expected an object"
        raise IngestError(400, "outcomes", reason)
    ids = outcomes.get("ids")
    if type(ids) is not list:
        raise IngestError(
            400, "outcomes.ids", "required array of strings is missing or not an array"
        )
    if len(ids) > limits.max_records:
        raise IngestError(
            422, "outcomes.ids", f"{len(ids)} outcomes, the limit is {limits.max_records}"
        )
    for i, item in enumerate(ids):
        if type(item) is not str or not item:
            raise IngestError(400, f"outcomes.ids[{i}]", "expected a non-empty string")
        if len(item) > _MAX_ID_LENGTH:
            raise IngestError(422, f"outcomes.ids[{i}]", f"longer than {_MAX_ID_LENGTH} characters")
    actuals = _actuals(outcomes.get("actuals"), len(ids), "actuals" in outcomes)
    timestamps = _timestamps(outcomes.get("timestamps"), len(ids), "timestamps" in outcomes)
    return DecodedOutcomes(tuple(ids), actuals, timestamps)


def _actuals(values: Any, n: int, present: bool) -> tuple[float | str | bool, ...]:
    field = "outcomes.actuals"
    if type(values) is not list:
        reason = "expected an array" if present else "required field is missing"
        raise IngestError(400, field, reason)
    check_length(values, field, n)
    decoded: list[float | str | bool] = []
    for i, value in enumerate(values):
        kind = type(value)
        if kind is bool or kind is str:
            decoded.append(value)
        elif kind is int or kind is float:
            if not math.isfinite(value):
                raise IngestError(400, f"{field}[{i}]", "expected a finite number")
            decoded.append(float(value))
        else:
            raise IngestError(400, f"{field}[{i}]", "expected a number, string or boolean")
    return tuple(decoded)


def _timestamps(values: Any, n: int, present: bool) -> tuple[float, ...] | None:
    field = "outcomes.timestamps"
    if values is None and not present:
        return None
    if type(values) is not list:
        raise IngestError(400, field, "expected an array")
    check_length(values, field, n)
    for i, value in enumerate(values):
        if type(value) not in (int, float) or not math.isfinite(value):
            raise IngestError(400, f"{field}[{i}]", "expected a finite number (Unix seconds)")
    return tuple(float(value) for value in values)
