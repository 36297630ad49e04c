"""Reference profiles: what "normal" looked like for each column of one model version.

A profile is built once from training or validation data (a pandas DataFrame, a mapping of
arrays, a CSV or a Parquet file), saved as a portable ``.npz`` file that is never executable
(numpy arrays plus UTF-8 JSON, read with ``allow_pickle=False``), and loaded by the sidecar.
See docs/profiles.md.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import math
import time
import zipfile
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

__all__ = [
    "OTHER_CATEGORY",
    "ColumnProfile",
    "ProfileError",
    "ReferenceProfile",
    "build_profile",
    "load_profile",
    "read_table",
    "save_profile",
]

FORMAT_VERSION = 1
OTHER_CATEGORY = "__other__"
MAX_CATEGORIES = 1_000

Kind = Literal["numeric", "categorical"]
Role = Literal["feature", "prediction"]
FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


class ProfileError(Exception):
    """A profile (or the table it is built from) cannot be built, read or written."""

    def __init__(self, path: str | Path | None, reason: str) -> None:
        where = f"{path}: " if path is not None else ""
        super().__init__(f"{where}{reason}")
        self.path = None if path is None else str(path)
        self.reason = reason


@dataclass(frozen=True)
class ColumnProfile:
    """The reference distribution of one column (numeric fields empty for categories, and back)."""

    name: str
    kind: Kind
    role: Role
    count: int
    missing_rate: float
    sample: FloatArray
    bin_edges: FloatArray
    bin_counts: IntArray
    min: float | None
    max: float | None
    mean: float | None
    std: float | None
    categories: tuple[str, ...] = ()
    category_counts: IntArray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))


@dataclass(frozen=True)
class ReferenceProfile:
    """Every column's reference distribution for one model version, with a content-hash id."""

    model: str
    version: str
    profile_id: str
    created_at: float
    columns: Mapping[str, ColumnProfile]
    performance: Mapping[str, float] | None = None

    @property
    def features(self) -> tuple[ColumnProfile, ...]:
        """The input-feature columns, in profile order."""
        return tuple(c for c in self.columns.values() if c.role == "feature")

    @property
    def predictions(self) -> tuple[ColumnProfile, ...]:
        """The model-output columns, in profile order."""
        return tuple(c for c in self.columns.values() if c.role == "prediction")


# --- building -------------------------------------------------------------------------------


def build_profile(
    data: Any,
    *,
    model: str,
    version: str,
    categorical: Sequence[str] = (),
    exclude: Sequence[str] = (),
    prediction_columns: Sequence[str] = (),
    sample_size: int = 50_000,
    n_bins: int = 10,
    seed: int = 0,
    label_column: str | None = None,
    performance_column: str | None = None,
    task: Literal["classification", "regression"] | None = None,
    threshold: float = 0.5,
) -> ReferenceProfile:
    """Return the reference profile of ``data`` (a DataFrame or a mapping of column → values).

    With ``label_column`` (left out of the profile), the profile also stores the model's
    performance: ``performance_column`` (default: the only prediction column) scored
    against the labels (`driftline_sidecar.performance`).
    """
    if sample_size < 1:
        raise ProfileError(None, f"sample_size must be >= 1, got {sample_size}")
    if n_bins < 1:
        raise ProfileError(None, f"n_bins must be >= 1, got {n_bins}")
    columns = _columns_of(data)
    performance = _performance(
        columns, label_column, performance_column, prediction_columns, task, threshold
    )
    if label_column is not None:
        exclude = (*exclude, label_column)
    unknown = [n for n in (*categorical, *prediction_columns) if n not in columns]
    if unknown:
        raise ProfileError(None, f"columns not in the data: {', '.join(sorted(unknown))}")
    profiles: dict[str, ColumnProfile] = {}
    for name, raw in columns.items():
        if name in exclude:
            continue
        role: Role = "prediction" if name in prediction_columns else "feature"
        values = np.asarray(raw)
        if name in categorical or not _is_numeric(values):
            profiles[name] = _categorical_profile(name, role, values)
        else:
            profiles[name] = _numeric_profile(name, role, values, sample_size, n_bins, seed)
    if not profiles:
        raise ProfileError(None, "no columns to profile")
    return _assemble(model, version, profiles, created_at=time.time(), performance=performance)


def _performance(
    columns: Mapping[str, Any],
    label: str | None,
    scored: str | None,
    predictions: Sequence[str],
    task: Literal["classification", "regression"] | None,
    threshold: float,
) -> dict[str, float] | None:
    if label is None:
        if scored is not None:
            raise ProfileError(None, "a performance column needs a label column")
        return None
    if scored is None:
        if len(predictions) != 1:
            raise ProfileError(
                None, "with a label column, name the scored prediction column (one of several)"
            )
        scored = predictions[0]
    missing = [name for name in (label, scored) if name not in columns]
    if missing:
        raise ProfileError(None, f"columns not in the data: {', '.join(sorted(missing))}")
    from driftline_sidecar.performance import compute_performance

    found = compute_performance(
        _python_values(columns[scored]),
        _python_values(columns[label]),
        task=task,
        threshold=threshold,
    )
    return {name: float(value) for name, value in found.metrics.items()}


def _python_values(values: Any) -> list[Any]:
    """Values as Python objects, NaN and None as None (pairs with a missing side are skipped)."""
    out: list[Any] = []
    for value in np.asarray(values).tolist():
        if value is None or (isinstance(value, float) and math.isnan(value)):
            out.append(None)
        else:
            out.append(value)
    return out


def _columns_of(data: Any) -> dict[str, Any]:
    if isinstance(data, Mapping):
        columns = {str(k): v for k, v in data.items()}
    elif hasattr(data, "columns") and hasattr(data, "__getitem__"):  # a pandas DataFrame
        columns = {str(k): _from_pandas(data[k]) for k in data.columns}
    else:
        raise ProfileError(None, f"expected a DataFrame or a mapping of columns, got {type(data)}")
    lengths = {len(v) for v in columns.values()}
    if len(lengths) > 1:
        raise ProfileError(None, f"columns have different lengths: {sorted(lengths)}")
    return columns


def _from_pandas(series: Any) -> Any:
    dtype = str(series.dtype)
    if dtype in ("category", "bool", "boolean") or dtype.startswith(("str", "string", "object")):
        return np.asarray(series.astype(object).where(series.notna(), None), dtype=object)
    if hasattr(series, "to_numpy"):
        try:
            return series.to_numpy(dtype=np.float64, na_value=np.nan)
        except (TypeError, ValueError):
            return np.asarray(series.astype(object), dtype=object)
    return np.asarray(series)


def _is_numeric(values: np.ndarray) -> bool:
    if values.dtype.kind in "iuf":
        return True
    if values.dtype.kind != "O":
        return False
    present = [v for v in values.tolist() if v is not None]
    return bool(present) and all(
        isinstance(v, int | float) and not isinstance(v, bool) for v in present
    )


def _numeric_profile(
    name: str, role: Role, values: np.ndarray, sample_size: int, n_bins: int, seed: int
) -> ColumnProfile:
    if values.dtype.kind == "O":
        values = np.array([np.nan if v is None else v for v in values.tolist()], dtype=np.float64)
    as_float = values.astype(np.float64, copy=False)
    count = int(as_float.size)
    missing = int(np.count_nonzero(np.isnan(as_float)))
    finite = as_float[np.isfinite(as_float)]
    if finite.size > sample_size:
        rng = np.random.default_rng(seed)
        sample = np.sort(finite[rng.choice(finite.size, size=sample_size, replace=False)])
    else:
        sample = np.sort(finite)
    if finite.size:
        levels = np.linspace(0.0, 1.0, n_bins + 1)[1:-1]
        # Edges are observed values, so a discrete column keeps one value per edge.
        inner = np.unique(np.quantile(finite, levels, method="inverted_cdf"))
        stats: tuple[float | None, ...] = (
            float(finite.min()),
            float(finite.max()),
            float(finite.mean()),
            float(finite.std()),
        )
    else:
        inner = np.zeros(0)
        stats = (None, None, None, None)
    edges = np.concatenate(([-np.inf], inner, [np.inf])).astype(np.float64)
    counts = np.bincount(bin_index(edges, finite), minlength=edges.size - 1).astype(np.int64)
    return ColumnProfile(
        name=name,
        kind="numeric",
        role=role,
        count=count,
        missing_rate=missing / count if count else 0.0,
        sample=sample,
        bin_edges=edges,
        bin_counts=counts,
        min=stats[0],
        max=stats[1],
        mean=stats[2],
        std=stats[3],
    )


def bin_index(edges: FloatArray, values: FloatArray) -> npt.NDArray[np.intp]:
    """Return each value's bin under ``edges``; bins are closed on the right: ``(e[i], e[i+1]]``."""
    return np.searchsorted(edges[1:-1], values, side="left")


def category_label(value: Any) -> str | None:
    """Return a value as the category label a profile stores, or None when it is missing."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if isinstance(value, bool | np.bool_):
        return "true" if value else "false"
    if isinstance(value, float | np.floating) and float(value).is_integer():
        return str(int(value))
    return str(value)


def _categorical_profile(name: str, role: Role, values: np.ndarray) -> ColumnProfile:
    labels = [category_label(v) for v in values.tolist()]
    tally = Counter(label for label in labels if label is not None)
    missing = len(labels) - sum(tally.values())
    ranked = sorted(tally.items(), key=lambda kv: (-kv[1], kv[0]))
    kept = ranked[:MAX_CATEGORIES]
    folded = sum(count for _, count in ranked[MAX_CATEGORIES:])
    if folded:
        kept.append((OTHER_CATEGORY, folded))
    empty = np.zeros(0, dtype=np.float64)
    return ColumnProfile(
        name=name,
        kind="categorical",
        role=role,
        count=len(labels),
        missing_rate=missing / len(labels) if labels else 0.0,
        sample=empty,
        bin_edges=empty,
        bin_counts=np.zeros(0, dtype=np.int64),
        min=None,
        max=None,
        mean=None,
        std=None,
        categories=tuple(label for label, _ in kept),
        category_counts=np.array([count for _, count in kept], dtype=np.int64),
    )


# --- the file format ------------------------------------------------------------------------

_ARRAYS = ("sample", "bin_edges", "bin_counts", "category_counts")
_DTYPES = {
    "sample": np.float64,
    "bin_edges": np.float64,
    "bin_counts": np.int64,
    "category_counts": np.int64,
}


def _column_meta(column: ColumnProfile) -> dict[str, Any]:
    return {
        "name": column.name,
        "kind": column.kind,
        "role": column.role,
        "count": column.count,
        "missing_rate": column.missing_rate,
        "min": column.min,
        "max": column.max,
        "mean": column.mean,
        "std": column.std,
        "categories": list(column.categories),
    }


def _content_hash(
    model: str, version: str, columns: Mapping[str, ColumnProfile], performance: Any
) -> str:
    digest = hashlib.sha256()
    head = {"model": model, "version": version, "performance": performance}
    digest.update(json.dumps(head, sort_keys=True).encode())
    for column in columns.values():
        digest.update(json.dumps(_column_meta(column), sort_keys=True).encode())
        for name in _ARRAYS:
            digest.update(np.ascontiguousarray(getattr(column, name)).tobytes())
    return digest.hexdigest()[:16]


def _assemble(
    model: str,
    version: str,
    columns: Mapping[str, ColumnProfile],
    *,
    created_at: float,
    performance: Mapping[str, float] | None,
) -> ReferenceProfile:
    perf = None if performance is None else dict(sorted(performance.items()))
    return ReferenceProfile(
        model=model,
        version=version,
        profile_id=_content_hash(model, version, columns, perf),
        created_at=created_at,
        columns=MappingProxyType(dict(columns)),
        performance=None if perf is None else MappingProxyType(perf),
    )


def save_profile(profile: ReferenceProfile, path: str | Path) -> None:
    """Write ``profile`` to ``path`` as a versioned ``.npz`` of plain arrays and UTF-8 JSON."""
    meta = {
        "format_version": FORMAT_VERSION,
        "model": profile.model,
        "version": profile.version,
        "profile_id": profile.profile_id,
        "created_at": profile.created_at,
        "performance": None if profile.performance is None else dict(profile.performance),
        "columns": [_column_meta(c) for c in profile.columns.values()],
    }
    arrays: dict[str, np.ndarray] = {
        "meta": np.frombuffer(json.dumps(meta).encode("utf-8"), dtype=np.uint8)
    }
    for i, column in enumerate(profile.columns.values()):
        for name in _ARRAYS:
            arrays[f"c{i}_{name}"] = getattr(column, name)
    try:
        with Path(path).open("wb") as handle:
            np.savez_compressed(handle, allow_pickle=False, **arrays)
    except OSError as exc:
        raise ProfileError(path, f"cannot write: {exc.strerror or exc}") from exc


def load_profile(path: str | Path) -> ReferenceProfile:
    """Return the profile saved at ``path``; raise `ProfileError` naming the path and the reason."""
    try:
        loaded = np.load(path, allow_pickle=False)
        if not isinstance(loaded, np.lib.npyio.NpzFile):
            raise ProfileError(path, "not a driftline profile: a single .npy array, not an .npz")
        with loaded as archive:
            contents = {name: archive[name] for name in archive.files}
    except FileNotFoundError as exc:
        raise ProfileError(path, "no such file") from exc
    except ValueError as exc:
        raise ProfileError(
            path, f"refused: {exc} (profiles never contain pickled objects)"
        ) from exc
    except (OSError, zipfile.BadZipFile, EOFError) as exc:
        raise ProfileError(path, f"not a driftline profile (.npz): {exc}") from exc
    try:
        return _decode(contents)
    except (KeyError, TypeError, ValueError, UnicodeDecodeError) as exc:
        raise ProfileError(path, f"corrupt profile: {exc!r}") from exc


def _decode(contents: Mapping[str, np.ndarray]) -> ReferenceProfile:
    meta_raw = contents["meta"]
    if meta_raw.dtype != np.uint8:
        raise ValueError("metadata is not a uint8 array")
    meta = json.loads(meta_raw.tobytes().decode("utf-8"))
    if meta.get("format_version") != FORMAT_VERSION:
        raise _UnknownVersion(meta.get("format_version"))
    columns: dict[str, ColumnProfile] = {}
    for i, entry in enumerate(meta["columns"]):
        arrays = {}
        for name in _ARRAYS:
            array = contents[f"c{i}_{name}"]
            if array.dtype != _DTYPES[name]:
                raise ValueError(f"column {entry['name']!r}: {name} has dtype {array.dtype}")
            arrays[name] = array
        columns[entry["name"]] = ColumnProfile(
            name=entry["name"],
            kind=_choice(entry["kind"], ("numeric", "categorical")),
            role=_choice(entry["role"], ("feature", "prediction")),
            count=int(entry["count"]),
            missing_rate=float(entry["missing_rate"]),
            min=entry["min"],
            max=entry["max"],
            mean=entry["mean"],
            std=entry["std"],
            categories=tuple(str(c) for c in entry["categories"]),
            **arrays,
        )
    profile = _assemble(
        meta["model"],
        meta["version"],
        columns,
        created_at=float(meta["created_at"]),
        performance=meta.get("performance"),
    )
    if profile.profile_id != meta["profile_id"]:
        raise ValueError(f"content does not match profile_id {meta['profile_id']}")
    return profile


class _UnknownVersion(ValueError):
    def __init__(self, version: Any) -> None:
        super().__init__(
            f"unknown format_version {version!r}; this driftline reads {FORMAT_VERSION}"
        )


def _choice(value: Any, allowed: tuple[str, ...]) -> Any:
    if value not in allowed:
        raise ValueError(f"{value!r} is not one of {allowed}")
    return value


# --- reading tables -------------------------------------------------------------------------


def read_table(path: str | Path) -> dict[str, np.ndarray]:
    """Return the columns of a CSV or Parquet file as numpy arrays (numbers as float64)."""
    file = Path(path)
    if not file.is_file():
        raise ProfileError(file, "no such file")
    suffix = file.suffix.lower()
    if suffix in (".parquet", ".pq"):
        return _read_parquet(file)
    if suffix in (".csv", ".txt"):
        return _read_csv(file)
    raise ProfileError(file, f"unsupported file type {suffix!r}: use .csv or .parquet")


def _read_parquet(file: Path) -> dict[str, np.ndarray]:
    try:
        import pyarrow.parquet as pq
    except ImportError as exc:
        raise ProfileError(file, "reading Parquet needs pyarrow: pip install pyarrow") from exc
    try:
        table = pq.read_table(file)
    except Exception as exc:  # pyarrow raises many types for a bad file
        raise ProfileError(file, f"cannot read Parquet: {exc}") from exc
    columns: dict[str, np.ndarray] = {}
    for name in table.column_names:
        column = table.column(name)
        if column.type.id in _ARROW_NUMERIC:
            columns[name] = np.asarray(column.to_numpy(zero_copy_only=False), dtype=np.float64)
        else:
            columns[name] = np.array(column.to_pylist(), dtype=object)
    return columns


# pyarrow type ids for ints, unsigned ints and floats (stable across versions).
_ARROW_NUMERIC = frozenset(range(2, 13))


def _read_csv(file: Path) -> dict[str, np.ndarray]:
    try:
        text = file.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise ProfileError(file, f"cannot read CSV: {exc}") from exc
    rows = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(rows)
    except StopIteration:
        raise ProfileError(file, "empty CSV: no header row") from None
    cells: list[list[str]] = [[] for _ in header]
    for line, row in enumerate(rows, start=2):
        if not row:
            continue
        if len(row) != len(header):
            raise ProfileError(file, f"line {line}: {len(row)} fields, header has {len(header)}")
        for column, cell in zip(cells, row, strict=True):
            column.append(cell)
    return {name: _parse_cells(column) for name, column in zip(header, cells, strict=True)}


_MISSING = frozenset({"", "na", "nan", "null", "none"})


def _parse_cells(cells: list[str]) -> np.ndarray:
    present = [c for c in cells if c.strip().lower() not in _MISSING]
    try:
        [float(c) for c in present]
    except ValueError:
        return np.array([None if c.strip().lower() in _MISSING else c for c in cells], dtype=object)
    return np.array(
        [np.nan if c.strip().lower() in _MISSING else float(c) for c in cells], dtype=np.float64
    )
