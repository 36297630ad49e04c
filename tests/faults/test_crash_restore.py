"""A sidecar killed with SIGKILL comes back with exactly the state of its last snapshot."""

from __future__ import annotations

from pathlib import Path

import pytest
from driftline_sidecar.snapshot import load_snapshot

from tests.faults._sidecar import (
    MODEL,
    VERSION,
    SidecarProcess,
    records_body,
    write_config,
)
from tests.faults._sidecar import wait_until as wait

pytestmark = pytest.mark.integration


def _snapshot_window(state_dir: Path) -> int:
    """Records in the window of the snapshot on disk now (0 when there is none yet)."""
    snapshot = load_snapshot(state_dir)
    if snapshot is None:
        return 0
    return len(snapshot.windows[(MODEL, VERSION)].timestamps)


def test_sigkill_then_restart_restores_the_last_snapshot(
    tmp_path: Path, profile_path: Path
) -> None:
    """After SIGKILL mid-traffic and a restart, the window holds what the last snapshot held."""
    state_dir = tmp_path / "state"
    config = write_config(
        tmp_path, profile_path, state_dir=str(state_dir), snapshot_interval=0.2, window_size=5_000
    )
    sidecar = SidecarProcess(config, tmp_path)
    try:
        sidecar.start()
        sidecar.send(records_body(300))
        wait(lambda: _snapshot_window(state_dir) == 300, message="a snapshot of 300 records")
        for i in range(5):  # keep records arriving while the process is killed
            sidecar.send(records_body(100, seed=i + 2))
        sidecar.kill()
        on_disk = _snapshot_window(state_dir)
        sidecar.start()
        restored = sidecar.window_records()
        failures = sidecar.metric("driftline_sidecar_snapshot_failures_total", operation="restore")
    finally:
        sidecar.close()
    assert (restored, failures, 300 <= on_disk <= 800) == (on_disk, 0.0, True)


def test_repeated_sigkill_during_snapshots_never_leaves_an_unreadable_one(
    tmp_path: Path, profile_path: Path
) -> None:
    """Killing the sidecar while it snapshots every 0.1 s leaves a snapshot that restores."""
    state_dir = tmp_path / "state"
    config = write_config(
        tmp_path, profile_path, state_dir=str(state_dir), snapshot_interval=0.1, window_size=20_000
    )
    sidecar = SidecarProcess(config, tmp_path)
    outcomes = []
    try:
        sidecar.start()
        for round_ in range(2):
            sidecar.send(records_body(5_000, seed=round_))
            sidecar.kill()
            on_disk = _snapshot_window(state_dir)
            sidecar.start()
            outcomes.append(
                (
                    sidecar.window_records() == on_disk,
                    sidecar.metric(
                        "driftline_sidecar_snapshot_failures_total", operation="restore"
                    ),
                )
            )
    finally:
        sidecar.close()
    assert outcomes == [(True, 0.0)] * 2
