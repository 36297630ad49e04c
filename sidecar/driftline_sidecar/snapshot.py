"""Snapshots of the windows and latest evaluations in ``state_dir``, restored on start.

Layout: ``snapshot.json`` (format version, evaluations, window metadata, the name of
the arrays file) and ``snapshot-<n>.npz`` (plain numpy arrays, read with
``allow_pickle=False``; categories stored as unique strings plus int32 codes). Both are
written to a temporary file and renamed, the arrays first, so a crash leaves either the
old snapshot or the new one. A snapshot that cannot be read is moved aside to
``<name>.corrupt-<unix time>`` and reported; it never stops the sidecar.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from driftline_sidecar.window import WindowColumn, WindowState

__all__ = [
    "FORMAT_VERSION",
    "Snapshot",
    "SnapshotError",
    "load_snapshot",
    "move_aside",
    "save_snapshot",
]

FORMAT_VERSION = 1
_INDEX = "snapshot.json"

Key = tuple[str, str]


class SnapshotError(Exception):
    """A snapshot in ``state_dir`` is unreadable or from an incompatible version."""


@dataclass(frozen=True)
class Snapshot:
    """The restorable state: windows and the latest evaluation summaries (plain JSON) by key."""

    saved_at: float
    windows: Mapping[Key, WindowState]
    evaluations: Mapping[Key, Mapping[str, Any]]


def save_snapshot(state_dir: Path, snapshot: Snapshot) -> Path:
    """Write ``snapshot`` atomically into ``state_dir``; return the index file's path."""
    state_dir.mkdir(parents=True, exist_ok=True)
    arrays_name = f"snapshot-{time.time_ns()}.npz"
    arrays: dict[str, npt.NDArray[Any]] = {}
    windows: list[dict[str, Any]] = []
    for w, ((model, version), state) in enumerate(snapshot.windows.items()):
        arrays[f"w{w}_timestamps"] = state.timestamps
        columns = []
        for c, (name, column) in enumerate(state.columns.items()):
            prefix = f"w{w}_c{c}"
            if column.kind == "numeric":
                arrays[f"{prefix}_values"] = column.values.astype(np.float64, copy=False)
            else:
                categories, codes = _encode_categories(column.values)
                arrays[f"{prefix}_categories"] = categories
                arrays[f"{prefix}_codes"] = codes
            if column.type_mismatch is not None:
                arrays[f"{prefix}_mismatch"] = column.type_mismatch
            columns.append({"name": name, "kind": column.kind, "key": prefix})
        windows.append(
            {
                "model": model,
                "version": version,
                "key": f"w{w}",
                "received": state.received,
                "columns": columns,
            }
        )
    index = {
        "format": FORMAT_VERSION,
        "saved_at": snapshot.saved_at,
        "arrays": arrays_name,
        "windows": windows,
        "evaluations": [
            {"model": m, "version": v, "summary": summary}
            for (m, v), summary in snapshot.evaluations.items()
        ],
    }
    _atomic_write(
        state_dir / arrays_name, lambda handle: np.savez(handle, allow_pickle=False, **arrays)
    )
    payload = json.dumps(index).encode("utf-8")
    try:
        _atomic_write(state_dir / _INDEX, lambda handle: handle.write(payload))
    except BaseException:
        # The old index still names the old arrays: the new ones are only taking space.
        with contextlib.suppress(OSError):
            (state_dir / arrays_name).unlink()
        raise
    # Older arrays, and temporaries a killed process left behind mid-write.
    for old in [*state_dir.glob("snapshot-*.npz"), *state_dir.glob(".snapshot-*.npz.tmp")]:
        if old.name != arrays_name:
            with contextlib.suppress(OSError):
                old.unlink()
    return state_dir / _INDEX


def load_snapshot(state_dir: Path) -> Snapshot | None:
    """Return the snapshot in ``state_dir``, None when there is none; raise SnapshotError if bad."""
    index_path = state_dir / _INDEX
    if not index_path.exists():
        return None
    try:
        index = json.loads(index_path.read_bytes())
        if not isinstance(index, dict) or index.get("format") != FORMAT_VERSION:
            found = index.get("format") if isinstance(index, dict) else None
            raise SnapshotError(
                f"{index_path}: format {found!r}, this sidecar reads {FORMAT_VERSION}"
            )
        arrays_path = state_dir / Path(str(index["arrays"])).name
        with np.load(arrays_path, allow_pickle=False) as archive:
            arrays = {name: archive[name] for name in archive.files}
        windows = {
            (str(entry["model"]), str(entry["version"])): _window(entry, arrays)
            for entry in index["windows"]
        }
        evaluations = {
            (str(entry["model"]), str(entry["version"])): dict(entry["summary"])
            for entry in index["evaluations"]
        }
        return Snapshot(float(index["saved_at"]), windows, evaluations)
    except SnapshotError:
        raise
    except (
        OSError,
        ValueError,
        KeyError,
        TypeError,
        IndexError,
        zipfile.BadZipFile,
        EOFError,
    ) as exc:
        raise SnapshotError(f"{index_path}: unreadable snapshot: {exc!r}") from exc


def move_aside(state_dir: Path) -> list[Path]:
    """Rename the snapshot files to ``*.corrupt-<unix time>``; return the new paths."""
    stamp = int(time.time())
    moved = []
    for path in [state_dir / _INDEX, *state_dir.glob("snapshot-*.npz")]:
        if path.exists():
            target = path.with_name(f"{path.name}.corrupt-{stamp}")
            with contextlib.suppress(OSError):
                path.rename(target)
                moved.append(target)
    return moved


def _window(entry: Mapping[str, Any], arrays: Mapping[str, npt.NDArray[Any]]) -> WindowState:
    timestamps = arrays[f"{entry['key']}_timestamps"]
    if timestamps.dtype != np.float64 or timestamps.ndim != 1:
        raise ValueError(f"{entry['key']}: timestamps are not a float64 vector")
    columns: dict[str, WindowColumn] = {}
    for column in entry["columns"]:
        key = str(column["key"])
        if column["kind"] == "numeric":
            values = arrays[f"{key}_values"]
            if values.dtype != np.float64:
                raise ValueError(f"{key}: values are {values.dtype}, expected float64")
        elif column["kind"] == "categorical":
            values = _decode_categories(arrays[f"{key}_categories"], arrays[f"{key}_codes"])
        else:
            raise ValueError(f"{key}: unknown kind {column['kind']!r}")
        if len(values) != len(timestamps):
            raise ValueError(f"{key}: {len(values)} values, expected {len(timestamps)}")
        mismatch = arrays.get(f"{key}_mismatch")
        columns[str(column["name"])] = WindowColumn(column["kind"], values, mismatch)
    return WindowState(timestamps, columns, int(entry["received"]))


def _encode_categories(
    values: npt.NDArray[Any],
) -> tuple[npt.NDArray[np.str_], npt.NDArray[np.int32]]:
    missing = np.array([value is None for value in values.tolist()], dtype=np.bool_)
    present = values[~missing].astype(str)
    categories, inverse = np.unique(present, return_inverse=True)
    codes = np.full(len(values), -1, dtype=np.int32)
    codes[~missing] = inverse
    return categories, codes


def _decode_categories(categories: npt.NDArray[Any], codes: npt.NDArray[Any]) -> npt.NDArray[Any]:
    if codes.dtype != np.int32 or categories.dtype.kind != "U":
        raise ValueError("categorical column has unexpected dtypes")
    labels = categories.tolist()
    values = np.empty(len(codes), dtype=object)
    values[:] = [labels[code] if code >= 0 else None for code in codes.tolist()]
    return values


def _atomic_write(path: Path, write: Any) -> None:
    """Write through a temporary file renamed over ``path``; on failure remove the temporary.

    A full disk would otherwise keep the partial file, and its space, until the next
    successful snapshot, which that very file could prevent.
    """
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        with tmp.open("wb") as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        tmp.replace(path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
