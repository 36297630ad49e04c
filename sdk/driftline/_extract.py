"""Features and predictions out of a call's arguments and result.

Inputs: a mapping, a dataclass, anything with a ``model_dump()`` returning a
mapping (pydantic), a pandas row (Series), a 1-D numpy row with
``feature_names``. Batch inputs: a list of any of these, a pandas DataFrame, or
a 2-D numpy array with ``feature_names``. pandas and pydantic are recognised
without being imported. Every function raises ExtractionError on input it
cannot read; the caller counts it and carries on.
"""

from __future__ import annotations

import dataclasses
import sys
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

__all__ = [
    "ExtractionError",
    "batch_feature_columns",
    "batch_length",
    "batch_prediction_columns",
    "features_of",
    "prediction_of",
]

#: The output name of a prediction that is a plain number or label.
VALUE = "value"


class ExtractionError(Exception):
    """Features or predictions could not be read from the call."""


def _pandas_types() -> tuple[type, type] | None:
    pandas = sys.modules.get("pandas")
    if pandas is None:
        return None
    return pandas.Series, pandas.DataFrame


def _is_series(obj: object) -> bool:
    types = _pandas_types()
    return types is not None and isinstance(obj, types[0])


def _is_frame(obj: object) -> bool:
    types = _pandas_types()
    return types is not None and isinstance(obj, types[1])


def _record(obj: object, feature_names: Sequence[str] | None) -> dict[str, Any]:
    if isinstance(obj, Mapping):
        return {k if type(k) is str else str(k): v for k, v in obj.items()}
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: getattr(obj, f.name) for f in dataclasses.fields(obj)}
    dump = getattr(obj, "model_dump", None)
    if callable(dump):
        dumped = dump()
        if isinstance(dumped, Mapping):
            return {str(k): v for k, v in dumped.items()}
    if _is_series(obj):
        return {str(k): v for k, v in obj.to_dict().items()}  # type: ignore[attr-defined]
    if isinstance(obj, np.ndarray):
        row = obj.reshape(-1) if obj.ndim == 2 and obj.shape[0] == 1 else obj
        if row.ndim != 1:
            raise ExtractionError(f"a numpy row must be 1-D, got shape {obj.shape}")
        if feature_names is None:
            raise ExtractionError("a numpy row needs monitor(feature_names=...)")
        if len(feature_names) != row.shape[0]:
            raise ExtractionError(f"{row.shape[0]} values for {len(feature_names)} feature_names")
        return dict(zip(feature_names, row.tolist(), strict=True))
    raise ExtractionError(f"cannot read features from {type(obj).__name__}")


def features_of(obj: object, feature_names: Sequence[str] | None = None) -> dict[str, Any]:
    """Return a new dict of the features in ``obj``: a shallow copy, later changes do not show."""
    if type(obj) is dict:
        return obj.copy()
    return _record(obj, feature_names)


def _scalar(value: object) -> object:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray) and value.ndim == 0:
        return value.item()
    if value is None or isinstance(value, int | float | str):
        return value
    raise ExtractionError(
        f"a prediction must be a number, a label or None, got {type(value).__name__}"
    )


def prediction_of(result: object) -> dict[str, object]:
    """Return the named outputs of one prediction; a plain number or label is the output ``value``.

    ints and floats (and numpy numbers) are numeric; str and bool are class labels.
    """
    t = type(result)
    if t is float or t is int or t is str or t is bool:
        return {VALUE: result}
    if isinstance(result, Mapping):
        return {str(k): _scalar(v) for k, v in result.items()}
    if isinstance(result, np.generic | np.ndarray | int | float | str):
        return {VALUE: _scalar(result)}
    if (dataclasses.is_dataclass(result) and not isinstance(result, type)) or callable(
        getattr(result, "model_dump", None)
    ):
        return {k: _scalar(v) for k, v in _record(result, None).items()}
    raise ExtractionError(f"cannot read a prediction from {type(result).__name__}")


def batch_length(batch: object) -> int:
    """Return the number of rows of a batch input or output."""
    if isinstance(batch, np.ndarray):
        if batch.ndim == 0:
            raise ExtractionError("a batch cannot be a 0-d array")
        return int(batch.shape[0])
    if isinstance(batch, Sequence | Mapping) and not isinstance(batch, str | bytes):
        return len(batch)
    if _is_frame(batch) or _is_series(batch):
        return len(batch)  # type: ignore[arg-type]
    raise ExtractionError(
        f"a batch must be a list, a DataFrame or an array, got {type(batch).__name__}"
    )


def _columns_of_records(records: Sequence[Mapping[str, Any]]) -> dict[str, list[Any]]:
    names: dict[str, None] = {}
    for record in records:
        names.update(dict.fromkeys(record))
    return {name: [record.get(name) for record in records] for name in names}


def batch_feature_columns(
    batch: object, feature_names: Sequence[str] | None = None
) -> dict[str, Any]:
    """Return the columns of a batch input, copied: name -> list or 1-D array, one value per row."""
    if _is_frame(batch):
        return {str(c): batch[c].to_numpy(copy=True) for c in batch.columns}  # type: ignore[attr-defined,index]
    if isinstance(batch, np.ndarray):
        if batch.ndim != 2:
            raise ExtractionError(f"a numpy batch must be 2-D, got shape {batch.shape}")
        if feature_names is None or len(feature_names) != batch.shape[1]:
            raise ExtractionError("a numpy batch needs one monitor(feature_names=...) per column")
        copy = np.array(batch, copy=True)
        return {name: copy[:, j] for j, name in enumerate(feature_names)}
    if isinstance(batch, Sequence) and not isinstance(batch, str | bytes):
        return _columns_of_records([_record(row, feature_names) for row in batch])
    raise ExtractionError(f"cannot read batch features from {type(batch).__name__}")


def batch_prediction_columns(output: object, rows: int) -> dict[str, Any]:
    """Return the outputs of a batch call as columns of ``rows`` values each."""
    length = batch_length(output)
    if length != rows:
        raise ExtractionError(f"the batch output has {length} rows for {rows} input rows")
    if _is_frame(output):
        return {str(c): output[c].to_numpy(copy=True) for c in output.columns}  # type: ignore[attr-defined,index]
    if _is_series(output):
        return {VALUE: output.to_numpy(copy=True)}  # type: ignore[attr-defined]
    if isinstance(output, np.ndarray):
        if output.ndim != 1:
            raise ExtractionError(f"a numpy batch output must be 1-D, got shape {output.shape}")
        return {VALUE: output.copy()}
    if isinstance(output, Sequence):
        values = list(output)
        if values and all(isinstance(v, Mapping) for v in values):
            return _columns_of_records([prediction_of(v) for v in values])
        return {VALUE: [_scalar(v) for v in values]}
    raise ExtractionError(f"cannot read batch predictions from {type(output).__name__}")
