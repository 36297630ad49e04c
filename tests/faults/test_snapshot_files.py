"""Snapshot writes leave nothing behind: no temporary after a failure or after a killed write."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from driftline_sidecar.snapshot import Snapshot, save_snapshot
from driftline_sidecar.window import WindowColumn, WindowState


def _snapshot() -> Snapshot:
    values = np.arange(10, dtype=np.float64)
    window = WindowState(values, {"tenure": WindowColumn("numeric", values)}, 10)
    return Snapshot(1.0, {("churn", "1.0"): window}, {})


def test_a_save_removes_temporaries_a_killed_write_left(tmp_path: Path) -> None:
    """A ``.snapshot-<n>.npz.tmp`` that a process killed mid-write left is removed by a save."""
    stale = tmp_path / ".snapshot-1.npz.tmp"
    stale.write_bytes(b"partial")
    save_snapshot(tmp_path, _snapshot())
    assert stale.exists() is False


def test_a_failed_index_write_keeps_the_old_snapshot_only(tmp_path: Path) -> None:
    """When the index cannot be written, the new arrays file is removed and the old pair stays."""
    save_snapshot(tmp_path, _snapshot())
    before = sorted(p.name for p in tmp_path.iterdir())
    (tmp_path / ".snapshot.json.tmp").mkdir()  # the index's temporary cannot be opened
    with pytest.raises(IsADirectoryError):
        save_snapshot(tmp_path, _snapshot())
    (tmp_path / ".snapshot.json.tmp").rmdir()
    assert sorted(p.name for p in tmp_path.iterdir()) == before
