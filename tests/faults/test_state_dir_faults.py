"""A state directory that is full, read-only or impossible: counted, logged, and evaluation goes on.

Full and read-only are real filesystems: a 64 KiB tmpfs mounted by the test (it
runs as root; where mounting is not permitted those two tests skip, saying so).
"Impossible" needs no privilege: ``state_dir`` is a path under a regular file,
so creating it fails with ENOTDIR whoever runs the sidecar.
"""

from __future__ import annotations

import contextlib
import re
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.faults._sidecar import (
    MODEL,
    VERSION,
    SidecarProcess,
    records_body,
    running_sidecar,
    write_config,
)
from tests.faults._sidecar import wait_until as wait

pytestmark = pytest.mark.integration

_FAILURES = "driftline_sidecar_snapshot_failures_total"


@contextlib.contextmanager
def _tmpfs(directory: Path, options: str) -> Iterator[Path]:
    """Mount a tmpfs with ``options`` on ``directory`` for the block (skip when not permitted)."""
    directory.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(directory)],
        capture_output=True,
        text=True,
        check=False,
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here (needs root): {mounted.stderr.strip()}")
    try:
        yield directory
    finally:
        subprocess.run(["umount", str(directory)], check=True)


def _drift_evaluated(sidecar: SidecarProcess) -> bool:
    answer = httpx.get(f"{sidecar.url}/v1/drift/{MODEL}/{VERSION}", timeout=30.0)
    return answer.status_code == 200 and bool(answer.json()["drifted_count"])


def _exercise(sidecar: SidecarProcess) -> tuple[float, bool, bool]:
    """Send records, wait for two failed saves, then drifted records and their evaluation.

    Returns (restore failures, whether the log names the failed write, whether the
    process still runs); the drifted window's evaluation after the failures is awaited
    (AssertionError when it never comes).
    """
    sidecar.send(records_body(3_000))
    wait(lambda: sidecar.metric(_FAILURES, operation="save") >= 2, message="two failed saves")
    sidecar.send(records_body(3_000, seed=7, shift=15.0))
    wait(lambda: _drift_evaluated(sidecar), message="an evaluation of the drifted window")
    return (
        sidecar.metric(_FAILURES, operation="restore"),
        "cannot write the snapshot" in sidecar.log(),
        sidecar.process.running(),
    )


def _left_behind(sidecar: SidecarProcess, state_dir: Path) -> list[str]:
    """Temporary files that a finished save left behind.

    Saves run every 0.1 s, so one may be writing its temporary file while we look. Saves
    run one after another on one thread and each names its arrays file by ``time_ns()``
    at its start: once two more failures are counted after ``start``, any save still
    writing began after ``start``, and any temporary file from before it is a leftover.
    """
    start = time.time_ns()
    failed = sidecar.metric(_FAILURES, operation="save")
    wait(lambda: sidecar.metric(_FAILURES, operation="save") >= failed + 2, message="two more")
    in_flight = re.compile(r"\.snapshot-(\d+)\.npz\.tmp")
    return sorted(
        path.name
        for path in state_dir.iterdir()
        if path.name.endswith(".tmp")
        and not ((match := in_flight.fullmatch(path.name)) and int(match[1]) >= start)
    )


def _config(tmp_path: Path, profile_path: Path, state_dir: Path) -> Path:
    return write_config(
        tmp_path,
        profile_path,
        state_dir=str(state_dir),
        snapshot_interval=0.1,
        interval=0.1,
        window_size=5_000,
    )


def test_state_dir_under_a_file_is_counted_logged_and_evaluation_goes_on(
    tmp_path: Path, profile_path: Path
) -> None:
    """With state_dir under a regular file (ENOTDIR), saves fail, counted and logged; drift runs."""
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("", encoding="utf-8")
    with running_sidecar(_config(tmp_path, profile_path, blocker / "state"), tmp_path) as sidecar:
        outcome = _exercise(sidecar)
    assert outcome == (0.0, True, True)


def test_read_only_state_dir_is_counted_logged_and_evaluation_goes_on(
    tmp_path: Path, profile_path: Path
) -> None:
    """On a read-only filesystem (EROFS), saves fail, counted and logged; drift is evaluated."""
    with (
        _tmpfs(tmp_path / "ro", "ro,size=64k") as state_dir,
        running_sidecar(_config(tmp_path, profile_path, state_dir), tmp_path) as sidecar,
    ):
        outcome = _exercise(sidecar)
    assert outcome == (0.0, True, True)


def test_full_disk_is_counted_leaves_no_partial_files_and_recovers(
    tmp_path: Path, profile_path: Path
) -> None:
    """On a full disk (ENOSPC) saves fail without leaving partial files; once space is back, they
    succeed again and a restart restores the window."""
    with _tmpfs(tmp_path / "full", "size=64k") as state_dir:
        sidecar = SidecarProcess(_config(tmp_path, profile_path, state_dir), tmp_path)
        try:
            sidecar.start()
            outcome = _exercise(sidecar)
            partial = _left_behind(sidecar, state_dir)
            subprocess.run(
                ["mount", "-o", "remount,size=16m", str(state_dir)], check=True, capture_output=True
            )
            wait(
                lambda: (state_dir / "snapshot.json").exists(),
                message="a snapshot once space is back",
            )
            sidecar.process.stop()
            sidecar.start()
            restored = sidecar.window_records()
        finally:
            sidecar.close()
    assert (outcome, partial, restored) == ((0.0, True, True), [], 5_000)
